// Job conditions as the Job controller writes them.
import type { V1Job, V1JobCondition } from '@kubernetes/client-node'

/** A condition as JSON: the timestamps RFC 3339 strings. */
export type JobCondition = Omit<V1JobCondition, 'lastProbeTime' | 'lastTransitionTime'> & { lastProbeTime?: string; lastTransitionTime?: string }

export function timestamp(at: Date | number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function newCondition(type: string, status: 'True' | 'False', reason: string, message: string, now: Date): JobCondition {
  const at = timestamp(now)
  const c: JobCondition = { type, status, lastProbeTime: at, lastTransitionTime: at }
  // Go omits empty strings.
  if (reason) c.reason = reason
  if (message) c.message = message
  return c
}

export function findCondition(conditions: JobCondition[], type: string): JobCondition | undefined {
  return conditions.find((c) => c.type === type)
}

export function conditionTrue(conditions: readonly { type: string; status: string }[] | undefined, type: string): boolean {
  return (conditions ?? []).some((c) => c.type === type && c.status === 'True')
}

/** Complete or Failed: the Job is done, whatever else its conditions say. */
export function isJobFinished(job: V1Job): boolean {
  const conditions = job.status?.conditions
  return conditionTrue(conditions, 'Complete') || conditionTrue(conditions, 'Failed')
}

/**
 * Sets the condition of `type` to `status` (upstream's ensureJobConditionStatus): replaced
 * when status, reason or message differ, added unless it would be added as False. Returns
 * whether the list changed.
 */
export function ensureCondition(conditions: JobCondition[], type: string, status: 'True' | 'False', reason: string, message: string, now: Date): boolean {
  const i = conditions.findIndex((c) => c.type === type)
  if (i >= 0) {
    const c = conditions[i]!
    if (c.status === status && (c.reason ?? '') === reason && (c.message ?? '') === message) return false
    conditions[i] = newCondition(type, status, reason, message, now)
    return true
  }
  if (status === 'False') return false
  conditions.push(newCondition(type, status, reason, message, now))
  return true
}
