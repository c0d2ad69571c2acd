// How long the Job controller waits before replacing failed pods: 10 s after the first
// failure since the last success, doubling per further failure, at most 10 minutes
// (DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff in job_controller.go; the
// Kubernetes documentation's "six minutes" is older than the code).
//
// Upstream keeps the count in the controller's memory as it sees pods fail. Here it is
// derived from the Job's pods each time, so it survives a restart; a failed pod someone
// deleted stops counting.
import type { V1Job, V1Pod } from '@kubernetes/client-node'
import { matchPodFailurePolicy } from './failure-policy.ts'
import { finishedTime, hasTrackingFinalizer, indexAbsoluteFailureCount, indexFailureCount, onlyReplaceFailedPods } from './pod-status.ts'

export const POD_FAILURE_BACKOFF_MS = 10_000
export const MAX_POD_FAILURE_BACKOFF_MS = 600_000

/** Time left before a replacement may be created, after `failures` failures, the last at `lastFailureMs`. */
export function remainingBackoffMs(failures: number, lastFailureMs: number | undefined, now: number): number {
  if (failures === 0 || lastFailureMs === undefined) return 0
  let delay = POD_FAILURE_BACKOFF_MS
  for (let i = 1; i < failures; i++) {
    delay *= 2
    if (delay >= MAX_POD_FAILURE_BACKOFF_MS) {
      delay = MAX_POD_FAILURE_BACKOFF_MS
      break
    }
  }
  const elapsed = now - lastFailureMs
  return delay < elapsed ? 0 : delay - elapsed
}

/** Failures since the last success among the Job's pods: failed ones, and deleted ones still tracked as failures. */
export function failuresSinceSuccess(job: V1Job, pods: V1Pod[]): { failures: number; lastFailureMs?: number } {
  let lastSuccess = -Infinity
  for (const p of pods) if (p.status?.phase === 'Succeeded') lastSuccess = Math.max(lastSuccess, finishedTime(p))
  const replaceDeleted = !onlyReplaceFailedPods(job)
  let failures = 0
  let lastFailureMs: number | undefined
  for (const p of pods) {
    const phase = p.status?.phase
    const failed = phase === 'Failed' || (replaceDeleted && Boolean(p.metadata?.deletionTimestamp) && phase !== 'Succeeded' && hasTrackingFinalizer(p))
    if (!failed) continue
    const at = finishedTime(p)
    if (at <= lastSuccess) continue
    failures++
    lastFailureMs = lastFailureMs === undefined ? at : Math.max(lastFailureMs, at)
  }
  return { failures, lastFailureMs }
}

/** The wait before index's replacement of `lastFailed` (backoffLimitPerIndex), from the failure count it carries. */
export function remainingIndexBackoffMs(lastFailed: V1Pod | undefined, now: number): number {
  if (!lastFailed) return 0
  return remainingBackoffMs(indexAbsoluteFailureCount(lastFailed) + 1, finishedTime(lastFailed), now)
}

/** The failure-count annotations of the pod that replaces `replaced` in its index. */
export function replacementFailureCounts(job: V1Job, replaced: V1Pod | undefined): { counted: number; ignored: number } {
  if (!replaced) return { counted: 0, ignored: 0 }
  let counted = indexFailureCount(replaced)
  let ignored = indexAbsoluteFailureCount(replaced) - counted
  if (matchPodFailurePolicy(job.spec?.podFailurePolicy, replaced).counts) counted++
  else ignored++
  return { counted, ignored }
}
