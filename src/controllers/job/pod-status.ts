// What the Job controller reads off its pods: the tracking finalizer, completion indexes,
// failure counts per index, and when a pod finished.
import type { V1Job, V1Pod } from '@kubernetes/client-node'
import { toMillis } from '../replicaset/pod-state.ts'

/** Keeps a pod until the Job's status has counted it. */
export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking'
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index'
export const INDEX_FAILURE_COUNT = 'batch.kubernetes.io/job-index-failure-count'
export const INDEX_IGNORED_FAILURE_COUNT = 'batch.kubernetes.io/job-index-ignored-failure-count'
const maxInt32 = 2147483647

export function hasTrackingFinalizer(pod: V1Pod): boolean {
  return pod.metadata?.finalizers?.includes(JOB_TRACKING_FINALIZER) ?? false
}

/** The pod's completion index, or -1 when it has none (or a malformed one). */
export function completionIndex(pod: V1Pod): number {
  const value = pod.metadata?.annotations?.[COMPLETION_INDEX]
  if (value === undefined || !/^[+-]?\d+$/.test(value)) return -1
  const i = Number(value)
  return i < 0 ? -1 : i
}

function annotationCount(pod: V1Pod, key: string): number {
  const value = pod.metadata?.annotations?.[key]
  if (value === undefined || !/^[+-]?\d+$/.test(value)) return 0
  const n = Number(value)
  return n < 0 || n > maxInt32 ? 0 : n
}

/** Failures of this pod's index so far that count towards backoffLimitPerIndex. */
export function indexFailureCount(pod: V1Pod): number {
  return annotationCount(pod, INDEX_FAILURE_COUNT)
}

/** Failures of this pod's index so far, the ignored ones included. */
export function indexAbsoluteFailureCount(pod: V1Pod): number {
  return annotationCount(pod, INDEX_FAILURE_COUNT) + annotationCount(pod, INDEX_IGNORED_FAILURE_COUNT)
}

/** With podReplacementPolicy Failed (always so with a pod failure policy), a pod is replaced only once it has failed. */
export function onlyReplaceFailedPods(job: V1Job): boolean {
  return job.spec?.podReplacementPolicy === 'Failed' || job.spec?.podFailurePolicy !== undefined
}

/** Failed, or (unless only failed pods are replaced) deleted before it could succeed. */
export function isPodFailed(pod: V1Pod, job: V1Job): boolean {
  const phase = pod.status?.phase
  if (phase === 'Failed') return true
  if (onlyReplaceFailedPods(job)) return false
  return Boolean(pod.metadata?.deletionTimestamp) && phase !== 'Succeeded'
}

export function isTerminating(pod: V1Pod): boolean {
  const phase = pod.status?.phase
  return Boolean(pod.metadata?.deletionTimestamp) && phase !== 'Failed' && phase !== 'Succeeded'
}

/**
 * When the pod finished: its last container's finish, else when it turned not Ready, else
 * its deletion less the grace period, else its creation (upstream's getFinishedTime).
 */
export function finishedTime(pod: V1Pod): number {
  let fromContainers: number | undefined
  const statuses = pod.status?.containerStatuses ?? []
  for (const s of statuses) {
    const at = toMillis(s.state?.terminated?.finishedAt as Date | string | undefined)
    if (at === undefined) {
      fromContainers = undefined
      break
    }
    fromContainers = fromContainers === undefined ? at : Math.max(fromContainers, at)
  }
  if (fromContainers !== undefined) return fromContainers
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')
  const readyFalse = ready?.status === 'False' ? toMillis(ready.lastTransitionTime as Date | string | undefined) : undefined
  if (readyFalse !== undefined) return readyFalse
  const deleted = toMillis(pod.metadata?.deletionTimestamp as Date | string | undefined)
  if (deleted !== undefined) return deleted - (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000
  return toMillis(pod.metadata?.creationTimestamp as Date | string | undefined) ?? 0
}
