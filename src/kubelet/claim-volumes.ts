// A pod's persistentVolumeClaim volumes on the node, as the kubelet's volume manager finds
// them: each claim must exist, not be being deleted, and be Bound to a volume whose claimRef
// points back at it; the volume's directory is then bound into the containers like a
// hostPath volume (weft mounts hostPath and local volumes, no other kind). Until then the
// pod waits in ContainerCreating, with a FailedMount event saying what it waits for.
//
// Where directories come from: a local-path volume's directory is made here, by the agent of
// the node that holds it, when a pod first mounts it (mode 0777 as local-path's setup script
// makes it, so containers of any user can write; the storage dir above it is 0700, so other
// users of the host cannot reach it). A hostPath volume of type DirectoryOrCreate is made
// 0755 as the kubelet makes it; any other path must exist, and must be under the agent's
// storage dir or a prefix `--allow-host-path` allows.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node'
import { dirname, resolve } from 'node:path'
import { ANN_PROVISIONED_BY, LOCAL_PATH_PROVISIONER } from '../api/storage.ts'
import { PV_SOURCES } from '../api/validation/storage.ts'
import { hostPathRefusal } from './host-path-policy.ts'

export interface ClaimMount {
  volume: string
  path: string
  /** The claim volume says readOnly: every mount of it is read-only. */
  readOnly: boolean
  /** How the path comes to exist: made by the agent (a local-path dir, or DirectoryOrCreate), or checked. */
  prepare: { make: 'local-path' | 'directory' | 'file' } | { check: string }
}

export interface ClaimObjects {
  claim(name: string): V1PersistentVolumeClaim | undefined
  volume(name: string): V1PersistentVolume | undefined
}

export type ClaimMountsResult = { mounts: ClaimMount[] } | { waiting: string }

/** The claims a pod's volumes name, in order. */
export function podClaimNames(pod: V1Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []))
}

/** Why the volume behind a claim cannot be mounted yet (getPVCExtractPV and getPVSpec's messages), or its mount. */
function mountOf(volumeName: string, claimName: string, readOnly: boolean, ns: string, objects: ClaimObjects, opts: { storageDir: string; allowedHostPaths: readonly string[] }): ClaimMount | string {
  const pvc = objects.claim(claimName)
  const where = `error processing PVC ${ns}/${claimName}`
  if (!pvc) return `${where}: failed to fetch PVC from API server: persistentvolumeclaims "${claimName}" not found`
  if (pvc.metadata?.deletionTimestamp) return `${where}: can't start pod because PVC ${ns}/${claimName} is being deleted`
  if (pvc.status?.phase !== 'Bound') return `${where}: PVC is not bound`
  const pvName = pvc.spec?.volumeName
  if (!pvName) return `${where}: PVC has empty pvc.Spec.VolumeName`
  const pv = objects.volume(pvName)
  if (!pv) return `${where}: failed to fetch PV ${pvName} from API server: persistentvolumes "${pvName}" not found`
  const ref = pv.spec?.claimRef
  if (!ref) return `${where}: found PV object ${pvName} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim`
  if (ref.uid !== pvc.metadata?.uid) return `${where}: found PV object ${pvName} but its pv.Spec.ClaimRef.UID ${ref.uid ?? ''} does not point to claim.UID ${pvc.metadata?.uid ?? ''}`
  const spec = pv.spec!
  const path = spec.hostPath?.path ?? spec.local?.path
  if (path === undefined) {
    const kind = PV_SOURCES.find((k) => (spec as Record<string, unknown>)[k]) ?? 'of no known kind'
    return `${where}: weft mounts only hostPath and local PersistentVolumes, and ${pvName} is ${kind}`
  }
  if (spec.volumeMode === 'Block') return `${where}: weft mounts volumes as directories, and ${pvName} has volumeMode Block`
  const storageDir = resolve(opts.storageDir)
  const localPath = pv.metadata?.annotations?.[ANN_PROVISIONED_BY] === LOCAL_PATH_PROVISIONER && dirname(resolve(path)) === storageDir
  if (!localPath) {
    const refused = hostPathRefusal(volumeName, path, opts.allowedHostPaths)
    if (refused) return `${where}: PersistentVolume ${pvName}: ${refused}`
  }
  const type = spec.hostPath?.type ?? ''
  const prepare: ClaimMount['prepare'] = localPath
    ? { make: 'local-path' }
    : type === 'DirectoryOrCreate'
      ? { make: 'directory' }
      : type === 'FileOrCreate'
        ? { make: 'file' }
        : { check: spec.local ? 'Directory' : type }
  return { volume: volumeName, path: resolve(path), readOnly, prepare }
}

/** The mounts of the pod's claim volumes, or what the pod still waits for (the FailedMount message). */
export function claimMounts(pod: V1Pod, objects: ClaimObjects, opts: { storageDir: string; allowedHostPaths: readonly string[] }): ClaimMountsResult {
  const ns = pod.metadata?.namespace ?? 'default'
  const mounts: ClaimMount[] = []
  const failed: string[] = []
  const errors: string[] = []
  for (const v of pod.spec?.volumes ?? []) {
    const claim = v.persistentVolumeClaim
    if (!claim?.claimName) continue
    const m = mountOf(v.name, claim.claimName, claim.readOnly === true, ns, objects, opts)
    if (typeof m === 'string') {
      failed.push(v.name)
      errors.push(m)
    } else mounts.push(m)
  }
  if (failed.length === 0) return { mounts }
  return { waiting: `Unable to attach or mount volumes: unmounted volumes=[${failed.join(' ')}], failed to process volumes=[${failed.join(' ')}]: ${errors.join('; ')}` }
}
