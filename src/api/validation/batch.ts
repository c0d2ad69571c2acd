// Jobs and CronJobs (pkg/apis/batch/validation): counts, completion modes, the generated
// selector, pod templates that never restart Always, immutability, and cron schedules.
import { scheduleError } from '../cron/parse.ts'
import { zoneError } from '../cron/zone.ts'
import { isDNS1123Label, isDomainPrefixedPath } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { deepEqual, each, immutable, invalid, isObj, nonNegative, notSupported, num, obj, required, str, strMap, tooLong } from './field.ts'
import { selectorMatches, validateAnnotations, validateLabelSelector, validateLabels } from './meta.ts'
import { validatePodFailurePolicy, validatePodReplacementPolicy, validateSuccessPolicy } from './job-policies.ts'
import { validatePodSpec } from './pod.ts'

const maxParallelismIndexed = 100_000
const maxFailedIndexes = 100_000
const completionsSoftLimit = 100_000
const parallelismLimitForHighCompletions = 10_000
const maxFailedIndexesForHighCompletions = 10_000
const maxManagedByLength = 63
/** A Job's name is the CronJob's plus `-` and ten digits of minutes, within 63 characters. */
const maxCronJobNameLength = 52

const modes = ['NonIndexed', 'Indexed']
const concurrencyPolicies = ['Allow', 'Forbid', 'Replace']

export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid'
export const LEGACY_JOB_NAME_LABEL = 'job-name'
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid'
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name'

const isSet = (v: unknown): boolean => v !== undefined && v !== null

function validateCounts(spec: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  for (const key of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished', 'backoffLimitPerIndex', 'maxFailedIndexes'])
    errs.push(...nonNegative(`${path}.${key}`, spec[key]))
  if (isSet(spec.maxFailedIndexes) && !isSet(spec.backoffLimitPerIndex)) errs.push(required(`${path}.backoffLimitPerIndex`, 'when maxFailedIndexes is specified'))
  if (isSet(spec.managedBy)) {
    const managedBy = str(spec.managedBy)
    if (managedBy === '') errs.push(required(`${path}.managedBy`))
    else errs.push(...each(`${path}.managedBy`, managedBy, isDomainPrefixedPath(managedBy)))
    if (managedBy.length > maxManagedByLength) errs.push(tooLong(`${path}.managedBy`, maxManagedByLength))
  }
  return errs
}

function validateCompletionMode(spec: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  const mode = spec.completionMode
  const completions = num(spec.completions)
  const parallelism = num(spec.parallelism)
  const maxFailed = num(spec.maxFailedIndexes)
  if (isSet(mode) && !modes.includes(str(mode))) errs.push(notSupported(`${path}.completionMode`, mode, modes))
  if (mode === 'Indexed') {
    if (completions === undefined) errs.push(required(`${path}.completions`, 'when completion mode is Indexed'))
    if (parallelism !== undefined && parallelism > maxParallelismIndexed)
      errs.push(invalid(`${path}.parallelism`, parallelism, `must be less than or equal to ${maxParallelismIndexed} when completion mode is Indexed`))
    if (completions !== undefined && maxFailed !== undefined && maxFailed > completions) errs.push(invalid(`${path}.maxFailedIndexes`, maxFailed, 'must be less than or equal to completions'))
    if (maxFailed !== undefined && maxFailed > maxFailedIndexes) errs.push(invalid(`${path}.maxFailedIndexes`, maxFailed, `must be less than or equal to ${maxFailedIndexes}`))
    if (completions !== undefined && completions > completionsSoftLimit && isSet(spec.backoffLimitPerIndex)) {
      const high = `when completions are above ${completionsSoftLimit} and used with backoff limit per index`
      if (maxFailed === undefined) errs.push(required(`${path}.maxFailedIndexes`, `must be specified when completions is above ${completionsSoftLimit}`))
      if (parallelism !== undefined && parallelism > parallelismLimitForHighCompletions)
        errs.push(invalid(`${path}.parallelism`, parallelism, `must be less than or equal to ${parallelismLimitForHighCompletions} ${high}`))
      if (maxFailed !== undefined && maxFailed > maxFailedIndexesForHighCompletions)
        errs.push(invalid(`${path}.maxFailedIndexes`, maxFailed, `must be less than or equal to ${maxFailedIndexesForHighCompletions} ${high}`))
    }
  }
  if (!isSet(mode) || mode === 'NonIndexed') {
    if (isSet(spec.backoffLimitPerIndex)) errs.push(invalid(`${path}.backoffLimitPerIndex`, spec.backoffLimitPerIndex, 'requires indexed completion mode'))
    if (isSet(spec.maxFailedIndexes)) errs.push(invalid(`${path}.maxFailedIndexes`, spec.maxFailedIndexes, 'requires indexed completion mode'))
  }
  return errs
}

function validatePodTemplate(template: unknown, path: string): FieldCause[] {
  if (!isObj(template)) return [required(path)]
  const meta = obj(template.metadata)
  return [
    ...validateLabels(meta.labels, `${path}.metadata.labels`),
    ...validateAnnotations(meta.annotations, `${path}.metadata.annotations`),
    ...validatePodSpec(obj(template.spec), `${path}.spec`, { podTemplate: true }),
  ]
}

/** What a Job's spec and a CronJob's jobTemplate.spec are both checked for (upstream's validateJobSpec). */
export function validateJobSpecCommon(spec: Obj, path: string): FieldCause[] {
  const errs = [...validateCounts(spec, path), ...validateCompletionMode(spec, path)]
  if (isSet(spec.podFailurePolicy)) errs.push(...validatePodFailurePolicy(spec, `${path}.podFailurePolicy`))
  if (isSet(spec.successPolicy)) {
    if (spec.completionMode !== 'Indexed') errs.push(invalid(`${path}.successPolicy`, spec.successPolicy, 'requires indexed completion mode'))
    else errs.push(...validateSuccessPolicy(spec, `${path}.successPolicy`))
  }
  errs.push(...validatePodReplacementPolicy(spec, `${path}.podReplacementPolicy`))
  errs.push(...validatePodTemplate(spec.template, `${path}.template`))
  // Defaulting makes an unset restartPolicy Always, so both read as unset here.
  const restart = obj(obj(spec.template).spec).restartPolicy
  const restartPath = `${path}.template.spec.restartPolicy`
  if (restart === 'Always' || !isSet(restart) || restart === '') errs.push(required(restartPath, 'valid values: "OnFailure", "Never"'))
  else if (restart !== 'OnFailure' && restart !== 'Never') errs.push(notSupported(restartPath, restart, ['OnFailure', 'Never']))
  else if (isSet(spec.podFailurePolicy) && restart !== 'Never') errs.push(invalid(restartPath, restart, 'only "Never" is supported when podFailurePolicy is specified'))
  return errs
}

function validateJobSpec(spec: Obj): FieldCause[] {
  const errs = validateJobSpecCommon(spec, 'spec')
  if (!isObj(spec.selector)) errs.push(required('spec.selector'))
  else errs.push(...validateLabelSelector(spec.selector, 'spec.selector'))
  const labels = strMap(obj(obj(spec.template).metadata).labels)
  // A missing selector selects nothing, so it cannot match the template either.
  if (!isObj(spec.selector) || !selectorMatches(spec.selector, labels))
    errs.push(invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'))
  return errs
}

function hasLabel(labels: Record<string, string>, key: string, want: string): FieldCause[] {
  const path = `spec.template.metadata.labels[${key}]`
  if (!Object.hasOwn(labels, key)) return [required(path, `must be '${want}'`)]
  return labels[key] === want ? [] : [invalid(path, labels, `must be '${want}'`)]
}

/** A generated selector (manualSelector unset or false) must be the one the server generated. */
function validateGeneratedSelector(job: Obj, requirePrefixedLabels: boolean): FieldCause[] {
  const spec = obj(job.spec)
  if (spec.manualSelector === true || !isObj(spec.selector)) return []
  const meta = obj(job.metadata)
  const uid = str(meta.uid)
  const name = str(meta.name)
  const errs: FieldCause[] = []
  if (uid === '') errs.push(required('metadata.uid'))
  const labels = strMap(obj(obj(spec.template).metadata).labels)
  errs.push(...hasLabel(labels, LEGACY_CONTROLLER_UID_LABEL, uid), ...hasLabel(labels, LEGACY_JOB_NAME_LABEL, name))
  const expected: Record<string, string> = { [LEGACY_CONTROLLER_UID_LABEL]: uid, [LEGACY_JOB_NAME_LABEL]: name }
  if (requirePrefixedLabels) {
    errs.push(...hasLabel(labels, CONTROLLER_UID_LABEL, uid), ...hasLabel(labels, JOB_NAME_LABEL, name))
    expected[CONTROLLER_UID_LABEL] = uid
    expected[JOB_NAME_LABEL] = name
  }
  if (!selectorMatches(spec.selector, expected)) errs.push(invalid('spec.selector', spec.selector, '`selector` not auto-generated'))
  return errs
}

/** The template with the fields a suspended, never-started Job may change taken from `template`. */
function withSchedulingDirectives(old: Obj, template: Obj): Obj {
  const out = structuredClone(old)
  const spec = obj(template.spec)
  const outSpec = obj(out.spec)
  const now = spec.affinity
  const before = outSpec.affinity
  if (isObj(now) && isObj(before)) outSpec.affinity = { ...before, nodeAffinity: now.nodeAffinity }
  else if (isObj(now)) outSpec.affinity = { nodeAffinity: now.nodeAffinity }
  else if (isObj(before)) {
    const { nodeAffinity: _, ...rest } = before
    outSpec.affinity = Object.values(rest).some(isSet) ? rest : undefined
  }
  outSpec.nodeSelector = spec.nodeSelector
  outSpec.tolerations = spec.tolerations
  outSpec.schedulingGates = spec.schedulingGates
  out.spec = outSpec
  out.metadata = { ...obj(out.metadata), labels: obj(template.metadata).labels, annotations: obj(template.metadata).annotations }
  return out
}

function validateJobSpecUpdate(spec: Obj, old: Obj, oldStatus: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  if (!deepEqual(spec.completions, old.completions)) {
    if (spec.completionMode !== 'Indexed') errs.push(immutable('spec.completions', spec.completions ?? null))
    else if (isSet(spec.completions) && spec.completions !== spec.parallelism)
      errs.push(invalid('spec.completions', spec.completions, 'can only be modified in tandem with spec.parallelism'))
  }
  if (!deepEqual(spec.selector, old.selector)) errs.push(immutable('spec.selector', spec.selector ?? null))
  // Scheduling directives may change while a Job is suspended and has never started.
  const mutableScheduling = old.suspend === true && !isSet(oldStatus.startTime)
  const oldTemplate = mutableScheduling ? withSchedulingDirectives(obj(old.template), obj(spec.template)) : old.template
  if (!deepEqual(spec.template, oldTemplate)) errs.push(immutable('spec.template', spec.template ?? null))
  for (const key of ['completionMode', 'podFailurePolicy', 'backoffLimitPerIndex', 'managedBy', 'successPolicy'])
    if (!deepEqual(spec[key], old[key])) errs.push(immutable(`spec.${key}`, spec[key] ?? null))
  return errs
}

export function validateJob(job: Obj, old: Obj | undefined): FieldCause[] {
  const spec = obj(job.spec)
  const meta = obj(job.metadata)
  // Jobs created before the batch.kubernetes.io/ labels existed need not carry them.
  const oldLabels = old ? strMap(obj(obj(obj(old.spec).template).metadata).labels) : undefined
  const requirePrefixed = !oldLabels || (Object.hasOwn(oldLabels, JOB_NAME_LABEL) && Object.hasOwn(oldLabels, CONTROLLER_UID_LABEL))
  const errs = [...validateGeneratedSelector(job, requirePrefixed), ...validateJobSpec(spec)]
  const completions = num(spec.completions)
  if (spec.completionMode === 'Indexed' && completions !== undefined && completions > 0) {
    // Pods of an Indexed Job are named `<job>-<index>` as hostnames.
    const hostname = `${str(meta.name)}-${completions - 1}`
    if (isDNS1123Label(hostname).length > 0) errs.push(invalid('metadata.name', str(meta.name), `will not able to create pod with invalid DNS label: ${hostname}`))
  }
  if (old) errs.push(...validateJobSpecUpdate(spec, obj(old.spec), obj(old.status)))
  return errs
}

/** Upstream's validTimeZoneCharacters: each `/` part of an IANA name. */
const zonePart = /^[A-Za-z.\-_0-9+]{1,14}$/

function validateTimeZone(zone: unknown, path: string): FieldCause[] {
  if (!isSet(zone)) return []
  const name = str(zone)
  if (name === '') return [invalid(path, name, 'timeZone must be nil or non-empty string')]
  for (const part of name.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !zonePart.test(part)) return [invalid(path, name, `unknown time zone ${name}`)]
  }
  if (name.toLowerCase() === 'local') return [invalid(path, name, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones')]
  const bad = zoneError(name)
  return bad ? [invalid(path, name, bad)] : []
}

function validateSchedule(spec: Obj, oldSpec: Obj | undefined): FieldCause[] {
  const schedule = str(spec.schedule)
  if (schedule === '') return [required('spec.schedule')]
  const errs: FieldCause[] = []
  const bad = scheduleError(schedule)
  if (bad) errs.push(invalid('spec.schedule', schedule, bad))
  // A TZ= schedule is tolerated only on CronJobs that had one before the timeZone field.
  const allowTZ = oldSpec !== undefined && str(oldSpec.schedule).includes('TZ')
  if (allowTZ && schedule.includes('TZ') && isSet(spec.timeZone)) errs.push(invalid('spec.schedule', schedule, 'cannot use both timeZone field and TZ or CRON_TZ in schedule'))
  else if (!allowTZ && schedule.includes('TZ')) errs.push(invalid('spec.schedule', schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'))
  return errs
}

function validateJobTemplate(template: unknown): FieldCause[] {
  const spec = obj(obj(template).spec)
  const errs = validateJobSpecCommon(spec, 'spec.jobTemplate.spec')
  if (isSet(spec.selector)) errs.push(invalid('spec.jobTemplate.spec.selector', spec.selector, '`selector` will be auto-generated'))
  if (spec.manualSelector === true) errs.push(notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']))
  return errs
}

export function validateCronJob(cronJob: Obj, old: Obj | undefined): FieldCause[] {
  const spec = obj(cronJob.spec)
  const oldSpec = old ? obj(old.spec) : undefined
  const errs = validateSchedule(spec, oldSpec)
  errs.push(...nonNegative('spec.startingDeadlineSeconds', spec.startingDeadlineSeconds))
  if (!oldSpec || !deepEqual(oldSpec.timeZone, spec.timeZone)) errs.push(...validateTimeZone(spec.timeZone, 'spec.timeZone'))
  const policy = str(spec.concurrencyPolicy)
  if (policy === '') errs.push(required('spec.concurrencyPolicy'))
  else if (!concurrencyPolicies.includes(policy)) errs.push(notSupported('spec.concurrencyPolicy', spec.concurrencyPolicy, concurrencyPolicies))
  errs.push(...validateJobTemplate(spec.jobTemplate))
  errs.push(...nonNegative('spec.successfulJobsHistoryLimit', spec.successfulJobsHistoryLimit))
  errs.push(...nonNegative('spec.failedJobsHistoryLimit', spec.failedJobsHistoryLimit))
  // Checked on create only, so CronJobs named before the limit can still be changed and deleted.
  const name = str(obj(cronJob.metadata).name)
  if (!old && name.length > maxCronJobNameLength) errs.push(invalid('metadata.name', name, `must be no more than ${maxCronJobNameLength} characters`))
  return errs
}
