// What a StatefulSet reports (updateStatus, completeRollingUpdate, inconsistentStatus) and the
// pod states its rules turn on (stateful_set_utils.go).
import type { V1Pod, V1StatefulSet, V1StatefulSetStatus } from '@kubernetes/client-node'
import { isPodAvailable, isPodReady, podReadySince } from '../replicaset/pod-state.ts'
import { replicasOf, revisionOf } from './pod-identity.ts'

/** Made by the API server (a pod this reconcile only plans has no phase yet). */
export const isCreated = (p: V1Pod): boolean => Boolean(p.status?.phase)
export const isTerminating = (p: V1Pod): boolean => Boolean(p.metadata?.deletionTimestamp)
export const isFailed = (p: V1Pod): boolean => p.status?.phase === 'Failed'
export const isSucceeded = (p: V1Pod): boolean => p.status?.phase === 'Succeeded'
export const isPending = (p: V1Pod): boolean => p.status?.phase === 'Pending'
export const isRunningAndReady = (p: V1Pod): boolean => p.status?.phase === 'Running' && isPodReady(p)
export const isRunningAndAvailable = (p: V1Pod, minReadySeconds: number, now: Date): boolean => isPodAvailable(p, minReadySeconds, now)
export const isHealthy = (p: V1Pod): boolean => isRunningAndReady(p) && !isTerminating(p)

export interface Revisions {
  current: string
  update: string
}

/** computeReplicaStatus over the pods the set has (planned pods are not counted). */
export function countPods(set: V1StatefulSet, pods: V1Pod[], revisions: Revisions, now: Date): Pick<V1StatefulSetStatus, 'replicas' | 'readyReplicas' | 'availableReplicas' | 'currentReplicas' | 'updatedReplicas'> {
  const minReady = set.spec?.minReadySeconds ?? 0
  const out = { replicas: 0, readyReplicas: 0, availableReplicas: 0, currentReplicas: 0, updatedReplicas: 0 }
  for (const p of pods) {
    if (isCreated(p)) out.replicas++
    if (isRunningAndReady(p)) {
      out.readyReplicas++
      if (isRunningAndAvailable(p, minReady, now)) out.availableReplicas++
    }
    if (isCreated(p) && !isTerminating(p)) {
      if (revisionOf(p) === revisions.current) out.currentReplicas++
      if (revisionOf(p) === revisions.update) out.updatedReplicas++
    }
  }
  return out
}

/** completeRollingUpdate: once every replica is updated and ready, the update revision becomes current. */
export function completeRollingUpdate(set: V1StatefulSet, status: V1StatefulSetStatus): V1StatefulSetStatus {
  const want = replicasOf(set)
  if ((set.spec?.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return status
  if (status.updatedReplicas !== want || status.readyReplicas !== want || status.replicas !== want) return status
  return { ...status, currentReplicas: status.updatedReplicas, currentRevision: status.updateRevision }
}

const compared = ['replicas', 'currentReplicas', 'readyReplicas', 'updatedReplicas', 'availableReplicas', 'currentRevision', 'updateRevision', 'collisionCount'] as const

/** inconsistentStatus (plus the collision count, which upstream writes with the rest). */
export function statusDiffers(set: V1StatefulSet, status: V1StatefulSetStatus): boolean {
  const old = set.status ?? { replicas: 0 }
  if ((status.observedGeneration ?? 0) > (old.observedGeneration ?? 0)) return true
  return compared.some((k) => (status[k] ?? 0) !== (old[k] ?? 0))
}

/** When a Ready pod of the set turns available (minReadySeconds), if one is waiting to. */
export function availableAt(set: V1StatefulSet, pods: V1Pod[], now: Date): Date | undefined {
  const minReady = set.spec?.minReadySeconds ?? 0
  if (minReady <= 0) return undefined
  let earliest: number | undefined
  for (const p of pods) {
    if (!isRunningAndReady(p) || isRunningAndAvailable(p, minReady, now)) continue
    const since = podReadySince(p)
    if (since === undefined) continue
    const at = since + minReady * 1000 + 1
    if (earliest === undefined || at < earliest) earliest = at
  }
  return earliest === undefined ? undefined : new Date(earliest)
}
