// The pvc-protection and pv-protection controllers: a claim being deleted keeps its
// finalizer while a scheduled pod that has not finished uses it; a volume being deleted
// keeps its finalizer while it is Bound.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node'
import { PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER } from '../../api/storage.ts'
import type { Action, KubeObject } from '../actions.ts'
import { infoOf } from '../apply-actions.ts'

const pvInfo = infoOf('PersistentVolume')
const pvcInfo = infoOf('PersistentVolumeClaim')

/** podUsesPVC: only a scheduled pod can have the claim mounted; a finished one no longer does. */
export function podHoldsClaim(pod: V1Pod): boolean {
  return Boolean(pod.spec?.nodeName) && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed'
}

function withoutFinalizer(obj: V1PersistentVolume | V1PersistentVolumeClaim, finalizer: string): KubeObject {
  const next = structuredClone(obj) as KubeObject
  next.metadata!.finalizers = (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer)
  return next
}

export function syncClaimProtection(pvc: V1PersistentVolumeClaim, users: readonly V1Pod[]): Action[] {
  if (!pvc.metadata?.deletionTimestamp || !pvc.metadata.finalizers?.includes(PVC_PROTECTION_FINALIZER)) return []
  if (users.some(podHoldsClaim)) return []
  return [{ verb: 'update', info: pvcInfo, object: withoutFinalizer(pvc, PVC_PROTECTION_FINALIZER) }]
}

export function syncVolumeProtection(pv: V1PersistentVolume): Action[] {
  if (!pv.metadata?.deletionTimestamp || !pv.metadata.finalizers?.includes(PV_PROTECTION_FINALIZER)) return []
  if (pv.status?.phase === 'Bound') return []
  return [{ verb: 'update', info: pvInfo, object: withoutFinalizer(pv, PV_PROTECTION_FINALIZER) }]
}
