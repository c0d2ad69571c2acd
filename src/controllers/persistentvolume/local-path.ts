// weft's local-path provisioner (after rancher/local-path-provisioner, which k3s ships), pure.
// A claim of a `weft.dev/local-path` class whose binder named this provisioner and whose
// scheduler chose a node gets a volume `pvc-<claim uid>`: a hostPath directory
// `<node's local-path dir>/<volume>_<namespace>_<claim>` (the node publishes its dir on its
// Node object), pinned to that node, as big as the request, pre-bound to the claim, with the
// class's reclaim policy. The directory itself is made by that node's agent when a pod first
// mounts the volume (no other process can reach that disk), and removed by it when a
// Delete volume goes: a Released Delete volume is deleted here, and its cleanup finalizer
// keeps it until the agent is done.
import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node'
import { isValidLabelValue } from '../../api/names.ts'
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_LOCAL_PATH_DIR,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  claimClass,
  LOCAL_PATH_CLEANUP_FINALIZER,
  LOCAL_PATH_NODE_LABEL,
  LOCAL_PATH_PROVISIONER,
} from '../../api/storage.ts'
import type { Action, KubeObject } from '../actions.ts'
import { infoOf } from '../apply-actions.ts'

const pvInfo = infoOf('PersistentVolume')
const pvcInfo = infoOf('PersistentVolumeClaim')
const HOSTNAME_LABEL = 'kubernetes.io/hostname'

export interface ProvisionerView {
  storageClass(name: string): V1StorageClass | undefined
  node(name: string): V1Node | undefined
  volume(name: string): V1PersistentVolume | undefined
}

/** The name the external-provisioner library gives a claim's volume. */
export function volumeNameFor(pvc: V1PersistentVolumeClaim): string {
  return `pvc-${pvc.metadata?.uid}`
}

/** local-path's folder name: `<volume>_<namespace>_<claim>`. */
export function localPathFolder(pvName: string, pvc: V1PersistentVolumeClaim): string {
  return `${pvName}_${pvc.metadata?.namespace}_${pvc.metadata?.name}`
}

/** Whether this provisioner is asked for the claim: its class names it, and so does the binder's annotation. */
function askedFor(pvc: V1PersistentVolumeClaim, cls: V1StorageClass | undefined): boolean {
  const a = pvc.metadata?.annotations ?? {}
  return cls?.provisioner === LOCAL_PATH_PROVISIONER && (a[ANN_STORAGE_PROVISIONER] ?? a[ANN_BETA_STORAGE_PROVISIONER]) === LOCAL_PATH_PROVISIONER
}

/** Why the claim cannot get a local-path volume on `nodeName`, or the node's local-path dir. */
function refusal(pvc: V1PersistentVolumeClaim, nodeName: string | undefined, view: ProvisionerView): { error: string } | { dir: string; node: V1Node } {
  if (pvc.spec?.selector) return { error: 'claim.Spec.Selector is not supported' }
  if ((pvc.spec?.accessModes ?? []).some((m) => m !== 'ReadWriteOnce' && m !== 'ReadWriteOncePod')) {
    return { error: 'NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes' }
  }
  if (pvc.spec?.volumeMode === 'Block') return { error: 'local-path volumes are directories: volumeMode Block is not supported' }
  if (!nodeName) return { error: 'configuration error, no node was specified' }
  const node = view.node(nodeName)!
  if (isValidLabelValue(nodeName).length > 0) return { error: `node name "${nodeName}" is not a valid label value, which local-path volumes need` }
  const dir = node.metadata?.annotations?.[ANN_LOCAL_PATH_DIR]
  if (!dir) return { error: `node "${nodeName}" has no local-path directory: its agent publishes one in the ${ANN_LOCAL_PATH_DIR} annotation (weft agent does; another kubelet does not)` }
  if (!dir.startsWith('/') || dir.split('/').includes('..')) return { error: `node "${nodeName}" publishes the local-path directory ${JSON.stringify(dir)}, which is not an absolute path without '..'` }
  return { dir: dir.replace(/\/+$/, ''), node }
}

/** The volume for a claim that waits for this provisioner (or a ProvisioningFailed event saying why not). */
export function provisionClaim(pvc: V1PersistentVolumeClaim, view: ProvisionerView): Action[] {
  if (pvc.spec?.volumeName || pvc.metadata?.deletionTimestamp) return []
  const className = claimClass(pvc)
  const cls = view.storageClass(className)
  if (!askedFor(pvc, cls)) return []
  const nodeName = pvc.metadata?.annotations?.[ANN_SELECTED_NODE]
  // Under WaitForFirstConsumer the scheduler names the node; until then there is nothing to do.
  if (!nodeName && cls!.volumeBindingMode === 'WaitForFirstConsumer') return []
  const name = volumeNameFor(pvc)
  if (view.volume(name)) return []
  const involved: KubeObject = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: pvc.metadata }
  if (nodeName && !view.node(nodeName)) {
    // The node went: the scheduler must choose again (the external-provisioner library's rescheduleProvisioning).
    const next = structuredClone(pvc) as KubeObject
    delete next.metadata!.annotations![ANN_SELECTED_NODE]
    return [
      { verb: 'event', event: { involved, type: 'Warning', reason: 'ProvisioningFailed', message: `failed to get target node: node "${nodeName}" not found` } },
      { verb: 'update', info: pvcInfo, object: next },
    ]
  }
  const checked = refusal(pvc, nodeName, view)
  if ('error' in checked) {
    return [{ verb: 'event', event: { involved, type: 'Warning', reason: 'ProvisioningFailed', message: `failed to provision volume with StorageClass "${className}": ${checked.error}` } }]
  }
  const hostname = checked.node.metadata?.labels?.[HOSTNAME_LABEL] ?? nodeName!
  const pv: KubeObject = {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name,
      labels: { [LOCAL_PATH_NODE_LABEL]: nodeName },
      annotations: { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER },
      finalizers: [LOCAL_PATH_CLEANUP_FINALIZER],
    },
    spec: {
      capacity: { storage: pvc.spec?.resources?.requests?.storage },
      accessModes: pvc.spec?.accessModes,
      persistentVolumeReclaimPolicy: cls!.reclaimPolicy ?? 'Delete',
      storageClassName: className,
      volumeMode: 'Filesystem',
      hostPath: { path: `${checked.dir}/${localPathFolder(name, pvc)}`, type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME_LABEL, operator: 'In', values: [hostname] }] }] } },
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: pvc.metadata!.namespace, name: pvc.metadata!.name, uid: pvc.metadata!.uid },
      ...(cls!.mountOptions ? { mountOptions: cls!.mountOptions } : {}),
    },
  }
  return [{ verb: 'create', info: pvInfo, object: pv, event: { involved, type: 'Normal', reason: 'ProvisioningSucceeded', message: `Successfully provisioned volume ${name}` } }]
}

/** shouldDelete: a Released volume of this provisioner under Delete is deleted (the agent then removes its directory). */
export function deleteReleasedVolume(pv: V1PersistentVolume): Action[] {
  if (pv.metadata?.annotations?.[ANN_PROVISIONED_BY] !== LOCAL_PATH_PROVISIONER) return []
  if (pv.spec?.persistentVolumeReclaimPolicy !== 'Delete' || pv.status?.phase !== 'Released' || pv.metadata.deletionTimestamp) return []
  return [{ verb: 'delete', info: pvInfo, namespace: undefined, name: pv.metadata.name!, uid: pv.metadata.uid }]
}
