// SetDefaults_Job and SetDefaults_CronJob (pkg/apis/batch/v1/defaults.go) with the pod
// template defaults beneath them. A CronJob's jobTemplate gets only its pod template's and
// pod failure policy's defaults: parallelism, backoffLimit and the rest are the Job's, filled
// in when the CronJob controller creates one.
type Obj = Record<string, any>

const maxInt32 = 2147483647

function obj(parent: Obj, key: string): Obj {
  if (parent[key] === undefined || parent[key] === null) parent[key] = {}
  return parent[key]
}

function unset(value: unknown): boolean {
  return value === undefined || value === null
}

/** SetDefaults_PodFailurePolicyOnPodConditionsPattern: a pattern without status matches True. */
function defaultPodFailurePolicy(spec: Obj): void {
  const rules = spec.podFailurePolicy?.rules
  if (!Array.isArray(rules)) return
  for (const rule of rules) {
    if (!rule || typeof rule !== 'object' || !Array.isArray(rule.onPodConditions)) continue
    for (const pattern of rule.onPodConditions) if (pattern && typeof pattern === 'object' && !pattern.status) pattern.status = 'True'
  }
}

/** What every Job spec and every jobTemplate spec gets: pod template and pod failure policy defaults. */
export function defaultJobTemplateSpec(spec: Obj, defaultPodSpec: (spec: Obj) => void): void {
  defaultPodSpec(obj(obj(spec, 'template'), 'spec'))
  defaultPodFailurePolicy(spec)
}

export function defaultJob(job: Obj, defaultPodSpec: (spec: Obj) => void): void {
  const spec = obj(job, 'spec')
  // A non-parallel Job may leave both unset: both are then 1.
  if (unset(spec.completions) && unset(spec.parallelism)) {
    spec.completions = 1
    spec.parallelism = 1
  }
  if (unset(spec.parallelism)) spec.parallelism = 1
  if (unset(spec.backoffLimit)) spec.backoffLimit = unset(spec.backoffLimitPerIndex) ? 6 : maxInt32
  const templateLabels = spec.template?.metadata?.labels
  const meta = obj(job, 'metadata')
  if (templateLabels && typeof templateLabels === 'object' && Object.keys(meta.labels ?? {}).length === 0) meta.labels = { ...templateLabels }
  if (unset(spec.completionMode)) spec.completionMode = 'NonIndexed'
  if (unset(spec.suspend)) spec.suspend = false
  if (unset(spec.podReplacementPolicy)) spec.podReplacementPolicy = unset(spec.podFailurePolicy) ? 'TerminatingOrFailed' : 'Failed'
  if (unset(spec.manualSelector)) spec.manualSelector = false
  defaultJobTemplateSpec(spec, defaultPodSpec)
  obj(job, 'status')
}

export function defaultCronJob(cronJob: Obj, defaultPodSpec: (spec: Obj) => void): void {
  const spec = obj(cronJob, 'spec')
  if (unset(spec.concurrencyPolicy) || spec.concurrencyPolicy === '') spec.concurrencyPolicy = 'Allow'
  if (unset(spec.suspend)) spec.suspend = false
  if (unset(spec.successfulJobsHistoryLimit)) spec.successfulJobsHistoryLimit = 3
  if (unset(spec.failedJobsHistoryLimit)) spec.failedJobsHistoryLimit = 1
  defaultJobTemplateSpec(obj(obj(spec, 'jobTemplate'), 'spec'), defaultPodSpec)
  obj(cronJob, 'status')
}
