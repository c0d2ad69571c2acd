// What a write to jobs/status is checked for (ValidateJobUpdateStatus): counters that never
// go negative or back, terminal conditions that stay, and times in order. As upstream, a
// rule about a field applies only when the write changes that field, so a status that broke
// a rule added later can still be written.
import type { FieldCause, Obj } from './field.ts'
import { arr, deepEqual, duplicate, invalid, invalidWithoutValue, isObj, nonNegative, num, obj, required, str } from './field.ts'

function conditionTrue(status: Obj, type: string): boolean {
  return arr(status.conditions).some((c) => obj(c).type === type && obj(c).status === 'True')
}

function time(value: unknown): number | undefined {
  const t = typeof value === 'string' ? Date.parse(value) : Number.NaN
  return Number.isNaN(t) ? undefined : t
}

function validateUncounted(status: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  if (!isObj(status.uncountedTerminatedPods)) return errs
  const seen = new Set<string>()
  for (const key of ['succeeded', 'failed']) {
    arr(obj(status.uncountedTerminatedPods)[key]).forEach((uid, i) => {
      const path = `status.uncountedTerminatedPods.${key}[${i}]`
      if (str(uid) === '') errs.push(invalid(path, str(uid), 'must not be empty'))
      else if (seen.has(str(uid))) errs.push(duplicate(path, uid))
      seen.add(str(uid))
    })
  }
  return errs
}

export function validateJobStatusUpdate(job: Obj, old: Obj): FieldCause[] {
  const status = obj(job.status)
  const before = obj(old.status)
  const errs: FieldCause[] = []
  for (const key of ['active', 'succeeded', 'failed', 'ready', 'terminating']) errs.push(...nonNegative(`status.${key}`, status[key]))
  errs.push(...validateUncounted(status))
  const complete = conditionTrue(status, 'Complete')
  const failed = conditionTrue(status, 'Failed')
  const finished = complete || failed
  const changed = (key: string): boolean => !deepEqual(status[key], before[key])
  const finishedChanged = finished !== (conditionTrue(before, 'Complete') || conditionTrue(before, 'Failed'))
  if (complete && failed && finishedChanged) errs.push(invalidWithoutValue('status.conditions', 'cannot set Complete=True and Failed=true conditions'))
  for (const type of ['Failed', 'Complete', 'FailureTarget']) {
    if (conditionTrue(before, type) && !conditionTrue(status, type)) errs.push(invalidWithoutValue('status.conditions', `cannot disable the terminal ${type}=True condition`))
  }
  if (conditionTrue(before, 'SuccessCriteriaMet') && !conditionTrue(status, 'SuccessCriteriaMet'))
    errs.push(invalidWithoutValue('status.conditions', 'cannot disable the SuccessCriteriaMet=True condition'))
  if (changed('failed') && (num(status.failed) ?? 0) < (num(before.failed) ?? 0)) errs.push(invalid('status.failed', status.failed ?? 0, 'cannot decrease the failed counter'))
  if (changed('completionTime') && complete === false && status.completionTime !== undefined && status.completionTime !== null)
    errs.push(invalid('status.completionTime', status.completionTime, 'cannot set completionTime when there is no Complete=True condition'))
  if (finishedChanged && complete && (status.completionTime === undefined || status.completionTime === null))
    errs.push(required('status.completionTime', 'completionTime is required for Complete jobs'))
  const start = time(status.startTime)
  const end = time(status.completionTime)
  if ((changed('startTime') || changed('completionTime')) && start !== undefined && end !== undefined && end < start)
    errs.push(invalid('status.completionTime', status.completionTime, 'completionTime cannot be set before startTime'))
  if (before.completionTime && status.completionTime && changed('completionTime')) errs.push(invalid('status.completionTime', status.completionTime, 'completionTime cannot be mutated'))
  if (finishedChanged && (num(status.active) ?? 0) > 0) errs.push(invalid('status.active', status.active, 'active>0 is invalid for finished job'))
  if (changed('ready') && (num(status.ready) ?? 0) > (num(status.active) ?? 0)) errs.push(invalid('status.ready', status.ready, 'cannot set more ready pods than active'))
  return errs
}
