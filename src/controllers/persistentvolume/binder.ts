// The PersistentVolume controller's binder (pkg/controller/volume/persistentvolume
// pv_controller.go), pure: a claim or a volume and the cached state in, the writes out.
//
// Claims: an unbound claim gets its pre-bound volume or the best match (match.ts); one of a
// WaitForFirstConsumer class waits for the scheduler's selected node; one with a class and no
// match asks its provisioner (the storage-provisioner annotations); a bound claim whose volume
// went is Lost. Volumes: Available while free, Bound while their claim is, Released when the
// claim is gone, then reclaimed (Retain keeps it Released, Delete is the provisioner's, a
// volume nobody can delete or recycle is Failed). Binding is several writes; each reconcile
// makes the ones still missing, so a failed write is finished by the next pass.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node'
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  claimClass,
  isDelayBinding,
} from '../../api/storage.ts'
import type { Action, KubeObject } from '../actions.ts'
import { infoOf } from '../apply-actions.ts'
import { findMatchingVolume, isVolumeBoundToClaim } from './match.ts'

const pvInfo = infoOf('PersistentVolume')
const pvcInfo = infoOf('PersistentVolumeClaim')

export interface BinderView {
  volume(name: string): V1PersistentVolume | undefined
  claim(namespace: string, name: string): V1PersistentVolumeClaim | undefined
  /** The volumes a claim could bind: those of its class and those whose claimRef names it. */
  candidates(pvc: V1PersistentVolumeClaim): V1PersistentVolume[]
  storageClass(name: string): V1StorageClass | undefined
  /** The default StorageClass (DefaultStorageClass admission's pick), if any. */
  defaultClass(): V1StorageClass | undefined
  /** Names of the pods not yet scheduled that use the claim. */
  unscheduledPodsUsing(namespace: string, claim: string): string[]
}

const claimRefOf = (pvc: V1PersistentVolumeClaim) => ({
  kind: 'PersistentVolumeClaim',
  namespace: pvc.metadata!.namespace!,
  name: pvc.metadata!.name!,
  uid: pvc.metadata!.uid!,
  apiVersion: 'v1',
  resourceVersion: pvc.metadata!.resourceVersion,
})

const involved = (pvc: V1PersistentVolumeClaim): KubeObject => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: pvc.metadata })
const involvedVolume = (pv: V1PersistentVolume): KubeObject => ({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: pv.metadata })

function claimEvent(pvc: V1PersistentVolumeClaim, type: 'Normal' | 'Warning', reason: string, message: string): Action {
  return { verb: 'event', event: { involved: involved(pvc), type, reason, message } }
}

function claimStatusPatch(pvc: V1PersistentVolumeClaim, status: Record<string, unknown>): Action[] {
  const current = pvc.status ?? {}
  const changed = Object.entries(status).some(([k, v]) => JSON.stringify((current as Record<string, unknown>)[k] ?? null) !== JSON.stringify(v ?? null))
  if (!changed) return []
  return [{ verb: 'patch', info: pvcInfo, namespace: pvc.metadata!.namespace, name: pvc.metadata!.name!, subresource: 'status', type: 'merge', patch: { status } }]
}

/** updateVolumePhase: the phase (and the message that goes with it) when they differ. */
export function volumePhase(pv: V1PersistentVolume, phase: string, message?: string): Action[] {
  if (pv.status?.phase === phase && (pv.status?.message ?? undefined) === message) return []
  return [{ verb: 'patch', info: pvInfo, namespace: undefined, name: pv.metadata!.name!, subresource: 'status', type: 'merge', patch: { status: { phase, message: message ?? null } } }]
}

/** bind(): the volume's claimRef, its phase, the claim's volumeName and annotations, the claim's status — whichever are not yet so. */
export function bindActions(pv: V1PersistentVolume, pvc: V1PersistentVolumeClaim): Action[] {
  const actions: Action[] = []
  const ref = pv.spec?.claimRef
  const refDone = ref !== undefined && ref.name === pvc.metadata?.name && ref.namespace === pvc.metadata?.namespace && ref.uid === pvc.metadata?.uid
  // A volume the user pre-bound to this claim stays the user's binding.
  const byController = !isVolumeBoundToClaim(pv, pvc)
  const annotate = byController && pv.metadata?.annotations?.[ANN_BOUND_BY_CONTROLLER] === undefined
  if (!refDone || annotate) {
    const next = structuredClone(pv)
    next.spec = { ...next.spec, claimRef: claimRefOf(pvc) }
    if (annotate) next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [ANN_BOUND_BY_CONTROLLER]: 'yes' } }
    actions.push({ verb: 'update', info: pvInfo, object: next as KubeObject })
  }
  actions.push(...volumePhase(pv, 'Bound'))
  const annotations = pvc.metadata?.annotations ?? {}
  const claimByController = pvc.spec?.volumeName !== pv.metadata?.name && annotations[ANN_BOUND_BY_CONTROLLER] === undefined
  if (pvc.spec?.volumeName !== pv.metadata?.name || annotations[ANN_BIND_COMPLETED] === undefined || claimByController) {
    const next = structuredClone(pvc)
    next.spec = { ...next.spec, volumeName: pv.metadata!.name }
    next.metadata = { ...next.metadata, annotations: { ...annotations, [ANN_BIND_COMPLETED]: 'yes', ...(claimByController ? { [ANN_BOUND_BY_CONTROLLER]: 'yes' } : {}) } }
    actions.push({ verb: 'update', info: pvcInfo, object: next as KubeObject })
  }
  actions.push(...claimStatusPatch(pvc, { phase: 'Bound', accessModes: pv.spec?.accessModes ?? [], capacity: pv.spec?.capacity ?? {} }))
  return actions
}

const pending = (pvc: V1PersistentVolumeClaim): Action[] => claimStatusPatch(pvc, { phase: 'Pending' })

/** A claim that becomes Lost says why, once (as updateClaimStatusWithEvent). */
function lost(pvc: V1PersistentVolumeClaim, reason: string, message: string): Action[] {
  const status = claimStatusPatch(pvc, { phase: 'Lost' })
  return status.length ? [...status, claimEvent(pvc, 'Warning', reason, message)] : []
}

function waitForConsumer(pvc: V1PersistentVolumeClaim, view: BinderView): Action {
  const pods = view.unscheduledPodsUsing(pvc.metadata!.namespace!, pvc.metadata!.name!)
  if (pods.length === 0) return claimEvent(pvc, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding')
  const message = pods.length > 1 ? `waiting for pods ${pods.join(',')} to be scheduled` : `waiting for pod ${pods[0]} to be scheduled`
  return claimEvent(pvc, 'Normal', 'WaitForPodScheduled', message)
}

/** provisionClaim for a provisioner outside the controller: name it on the claim and say so. */
function askProvisioner(pvc: V1PersistentVolumeClaim, view: BinderView): Action[] {
  const name = claimClass(pvc)
  const cls = view.storageClass(name)
  if (!cls) return [...pending(pvc), claimEvent(pvc, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${name}" not found`)]
  const provisioner = cls.provisioner
  const actions: Action[] = []
  const annotations = pvc.metadata?.annotations ?? {}
  if (annotations[ANN_STORAGE_PROVISIONER] !== provisioner || annotations[ANN_BETA_STORAGE_PROVISIONER] !== provisioner) {
    const next = structuredClone(pvc)
    next.metadata = { ...next.metadata, annotations: { ...annotations, [ANN_STORAGE_PROVISIONER]: provisioner, [ANN_BETA_STORAGE_PROVISIONER]: provisioner } }
    actions.push({ verb: 'update', info: pvcInfo, object: next as KubeObject })
  }
  actions.push(
    ...pending(pvc),
    claimEvent(pvc, 'Normal', 'ExternalProvisioning', `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`),
  )
  return actions
}

function syncUnboundClaim(pvc: V1PersistentVolumeClaim, view: BinderView): Action[] {
  const volumeName = pvc.spec?.volumeName
  if (volumeName) {
    // The user asked for this volume.
    const pv = view.volume(volumeName)
    if (!pv) return pending(pvc)
    if (!pv.spec?.claimRef || isVolumeBoundToClaim(pv, pvc)) return bindActions(pv, pvc)
    // Taken by another claim: wait, unless this binding was ours (then someone undid half of it).
    return pending(pvc)
  }
  if (pvc.metadata?.deletionTimestamp) return []
  const delay = isDelayBinding(pvc, (n) => view.storageClass(n))
  const pv = findMatchingVolume(pvc, view.candidates(pvc), { delayBinding: delay })
  if (pv) return bindActions(pv, pvc)
  // RetroactiveDefaultStorageClass: a claim made before any default class gets it now.
  const unset = pvc.spec?.storageClassName === undefined || pvc.spec.storageClassName === null
  const fallback = unset && claimClass(pvc) === '' ? view.defaultClass() : undefined
  if (fallback) {
    const next = structuredClone(pvc)
    next.spec = { ...next.spec, storageClassName: fallback.metadata!.name }
    return [{ verb: 'update', info: pvcInfo, object: next as KubeObject }]
  }
  if (delay && !pvc.metadata?.annotations?.[ANN_SELECTED_NODE]) return [...pending(pvc), waitForConsumer(pvc, view)]
  if (claimClass(pvc) !== '') return askProvisioner(pvc, view)
  return [...pending(pvc), claimEvent(pvc, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set')]
}

function syncBoundClaim(pvc: V1PersistentVolumeClaim, view: BinderView): Action[] {
  const volumeName = pvc.spec?.volumeName
  if (!volumeName) return lost(pvc, 'ClaimLost', 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!')
  const pv = view.volume(volumeName)
  if (!pv) return lost(pvc, 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!')
  const ref = pv.spec?.claimRef
  if (!ref || ref.uid === pvc.metadata?.uid) return bindActions(pv, pvc)
  return lost(pvc, 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly')
}

/** syncClaim. */
export function syncClaim(pvc: V1PersistentVolumeClaim, view: BinderView): Action[] {
  return pvc.metadata?.annotations?.[ANN_BIND_COMPLETED] === undefined ? syncUnboundClaim(pvc, view) : syncBoundClaim(pvc, view)
}

/** unbindVolume: a binding the controller made goes; a user's pre-binding stays, without the old claim's uid. */
function unbind(pv: V1PersistentVolume): Action[] {
  const next = structuredClone(pv)
  if (pv.metadata?.annotations?.[ANN_BOUND_BY_CONTROLLER] !== undefined) {
    delete next.spec!.claimRef
    const annotations = { ...next.metadata?.annotations }
    delete annotations[ANN_BOUND_BY_CONTROLLER]
    next.metadata = { ...next.metadata, annotations }
  } else {
    next.spec!.claimRef = { ...next.spec!.claimRef, uid: '' }
  }
  return [{ verb: 'update', info: pvInfo, object: next as KubeObject }, ...volumePhase(pv, 'Available')]
}

/**
 * reclaimVolume for a volume whose claim is gone: Retain keeps it, Recycle is refused, and
 * Delete is the work of the provisioner that made the volume; weft deletes no volume made
 * by hand.
 */
function reclaim(pv: V1PersistentVolume): Action[] {
  const name = pv.metadata!.name!
  const policy = pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain'
  const fail = (reason: string, message: string): Action[] => {
    const phase = volumePhase(pv, 'Failed', message)
    return phase.length ? [...phase, { verb: 'event', event: { involved: involvedVolume(pv), type: 'Warning', reason, message } }] : []
  }
  if (policy === 'Recycle') {
    return fail('VolumeFailedRecycle', 'weft does not recycle volumes (the Recycle policy is deprecated upstream): delete and re-create the PersistentVolume, or give it the Retain or Delete policy')
  }
  if (policy !== 'Delete') return []
  // A provisioned volume is its provisioner's to delete (weft's local-path provisioner, or another one).
  if (pv.metadata?.annotations?.[ANN_PROVISIONED_BY] !== undefined) return []
  return fail('VolumeFailedDelete', `error getting deleter volume plugin for volume "${name}": no deletable volume plugin matched`)
}

/** syncVolume. */
export function syncVolume(pv: V1PersistentVolume, view: BinderView): Action[] {
  const ref = pv.spec?.claimRef
  if (!ref || !ref.uid) return volumePhase(pv, 'Available')
  let pvc = view.claim(ref.namespace ?? '', ref.name ?? '')
  // A claim of the same name but another uid: the volume's claim was deleted.
  if (pvc && pvc.metadata?.uid !== ref.uid) pvc = undefined
  if (!pvc) {
    const phase = pv.status?.phase === 'Released' || pv.status?.phase === 'Failed' ? [] : volumePhase(pv, 'Released')
    return [...phase, ...reclaim(pv)]
  }
  // Half-bound: the claim's sync finishes it.
  if (!pvc.spec?.volumeName) return []
  if (pvc.spec.volumeName === pv.metadata?.name) return volumePhase(pv, 'Bound')
  // The claim is bound to another volume.
  if (pv.metadata?.annotations?.[ANN_PROVISIONED_BY] !== undefined && pv.spec?.persistentVolumeReclaimPolicy === 'Delete') {
    const phase = pv.status?.phase === 'Released' || pv.status?.phase === 'Failed' ? [] : volumePhase(pv, 'Released')
    return [...phase, ...reclaim(pv)]
  }
  return unbind(pv)
}
