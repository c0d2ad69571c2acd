import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.ts'
import { findByKind } from '../../src/api/registry.ts'
import { validateObject, type FieldCause } from '../../src/api/validation/index.ts'
import { prepareForCreate, warningsOnCreate } from '../../src/apiserver/strategies.ts'

type Obj = Record<string, any>
const jobInfo = findByKind('batch/v1', 'Job')!
const cronInfo = findByKind('batch/v1', 'CronJob')!
const identity = { user: 'admin', groups: [] }

/** A Job as the API server would store it: selector generated, defaults filled. */
function job(mutate: (j: Obj) => void = () => {}): Obj {
  const j: Obj = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'default', uid: '0b1c2d3e-0000-4000-8000-000000000001' },
    spec: { template: { spec: { containers: [{ name: 'pi', image: 'perl' }], restartPolicy: 'Never' } } },
  }
  mutate(j)
  prepareForCreate('Job', j as any, identity as any)
  applyDefaults(jobInfo, j)
  return j
}

function cronJob(mutate: (c: Obj) => void = () => {}): Obj {
  const c: Obj = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: 'default', uid: 'u2' },
    spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox' }], restartPolicy: 'OnFailure' } } } } },
  }
  mutate(c)
  applyDefaults(cronInfo, c)
  return c
}

const messages = (causes: FieldCause[]) => causes.map((c) => `${c.field}: ${c.message}`)

t.test('a Job gets its selector generated and validates', async (t) => {
  const j = job()
  t.same(j.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': j.metadata.uid } })
  t.same(j.spec.template.metadata.labels, {
    'job-name': 'pi',
    'batch.kubernetes.io/job-name': 'pi',
    'controller-uid': j.metadata.uid,
    'batch.kubernetes.io/controller-uid': j.metadata.uid,
  })
  t.same(j.metadata.labels, j.spec.template.metadata.labels, 'the Job takes its template\'s labels')
  t.same(validateObject(jobInfo, j), [])
  const manual = job((x) => {
    x.spec.manualSelector = true
    x.spec.selector = { matchLabels: { app: 'pi' } }
    x.spec.template.metadata = { labels: { app: 'pi' } }
  })
  t.same(manual.spec.selector, { matchLabels: { app: 'pi' } }, 'a manual selector is left alone')
  t.same(validateObject(jobInfo, manual), [])
})

t.test('Job spec rules and messages', async (t) => {
  const cases: [string, (j: Obj) => void, string[]][] = [
    ['negative counts', (j) => Object.assign(j.spec, { parallelism: -1, completions: -2, activeDeadlineSeconds: -3, backoffLimit: -4, ttlSecondsAfterFinished: -5 }), [
      'spec.parallelism: Invalid value: -1: must be greater than or equal to 0',
      'spec.completions: Invalid value: -2: must be greater than or equal to 0',
      'spec.activeDeadlineSeconds: Invalid value: -3: must be greater than or equal to 0',
      'spec.backoffLimit: Invalid value: -4: must be greater than or equal to 0',
      'spec.ttlSecondsAfterFinished: Invalid value: -5: must be greater than or equal to 0',
    ]],
    ['restartPolicy Always', (j) => (j.spec.template.spec.restartPolicy = 'Always'), ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']],
    ['restartPolicy unset (defaults to Always)', (j) => delete j.spec.template.spec.restartPolicy, ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']],
    ['unknown completion mode', (j) => (j.spec.completionMode = 'Sometimes'), ['spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"']],
    ['Indexed without completions', (j) => Object.assign(j.spec, { completionMode: 'Indexed', parallelism: 2 }), ['spec.completions: Required value: when completion mode is Indexed']],
    ['per-index limits need Indexed', (j) => Object.assign(j.spec, { backoffLimitPerIndex: 1, maxFailedIndexes: 1 }), [
      'spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode',
      'spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode',
    ]],
    ['maxFailedIndexes without backoffLimitPerIndex', (j) => Object.assign(j.spec, { completionMode: 'Indexed', completions: 3, maxFailedIndexes: 4 }), [
      'spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified',
      'spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to completions',
    ]],
    ['Indexed pod hostnames must be DNS labels', (j) => {
      j.metadata.name = 'a'.repeat(61)
      Object.assign(j.spec, { completionMode: 'Indexed', completions: 100 })
    }, [`metadata.name: Invalid value: "${'a'.repeat(61)}": will not able to create pod with invalid DNS label: ${'a'.repeat(61)}-99`]],
    ['managedBy', (j) => (j.spec.managedBy = 'no-slash'), ['spec.managedBy: Invalid value: "no-slash": must be a domain-prefixed path (such as "acme.io/foo")']],
    ['successPolicy needs Indexed', (j) => (j.spec.successPolicy = { rules: [{ succeededCount: 1 }] }), ['spec.successPolicy: Invalid value: {"rules":[{"succeededCount":1}]}: requires indexed completion mode']],
    ['successPolicy rules', (j) => Object.assign(j.spec, { completionMode: 'Indexed', completions: 5, successPolicy: { rules: [{ succeededIndexes: '0-2,1', succeededCount: 9 }, {}] } }), [
      'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "0-2,1": error parsing succeededIndexes: non-increasing order, previous: 2, current: 1',
      'spec.successPolicy.rules[0].succeededCount: Invalid value: 9: must be less than or equal to 5 (the number of specified completions)',
      'spec.successPolicy.rules[0].succeededCount: Invalid value: 9: must be less than or equal to 0 (the number of indexes in the specified succeededIndexes field)',
      'spec.successPolicy.rules[1]: Required value: at least one of succeededCount or succeededIndexes must be specified',
    ]],
    ['podReplacementPolicy', (j) => (j.spec.podReplacementPolicy = 'Never'), ['spec.podReplacementPolicy: Unsupported value: "Never": supported values: "Failed", "TerminatingOrFailed"']],
    ['a selector that does not match the template', (j) => {
      j.spec.manualSelector = true
      j.spec.selector = { matchLabels: { app: 'other' } }
      j.spec.template.metadata = { labels: { app: 'pi' } }
    }, ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"pi"}: `selector` does not match template `labels`']],
    ['a manual Job without a selector', (j) => {
      j.spec.manualSelector = true
      j.spec.template.metadata = { labels: { app: 'pi' } }
    }, ['spec.selector: Required value', 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"pi"}: `selector` does not match template `labels`']],
    ['ephemeral containers', (j) => (j.spec.template.spec.ephemeralContainers = [{ name: 'debug', image: 'busybox' }]), ['spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template']],
  ]
  for (const [name, mutate, want] of cases) t.same(messages(validateObject(jobInfo, job(mutate))), want, name)
})

t.test('a generated selector must be the generated one', async (t) => {
  const j = job((x) => (x.spec.template.metadata = { labels: { 'controller-uid': 'someone-else' } }))
  t.same(messages(validateObject(jobInfo, j)), [
    `spec.template.metadata.labels[controller-uid]: Invalid value: map[string]string{"controller-uid":"someone-else", "job-name":"pi", "batch.kubernetes.io/job-name":"pi", "batch.kubernetes.io/controller-uid":"${j.metadata.uid}"}: must be '${j.metadata.uid}'`,
  ])
  const tampered = job()
  tampered.spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': 'other' } }
  t.same(messages(validateObject(jobInfo, tampered)), [
    'spec.selector: Invalid value: {"matchLabels":{"batch.kubernetes.io/controller-uid":"other"}}: `selector` not auto-generated',
    'spec.template.metadata.labels: Invalid value: ' + `map[string]string{"job-name":"pi", "batch.kubernetes.io/job-name":"pi", "controller-uid":"${tampered.metadata.uid}", "batch.kubernetes.io/controller-uid":"${tampered.metadata.uid}"}` + ': `selector` does not match template `labels`',
  ])
})

t.test('pod failure policy rules', async (t) => {
  const j = job((x) => {
    x.spec.template.spec.initContainers = [{ name: 'init', image: 'busybox' }]
    x.spec.podFailurePolicy = {
      rules: [
        { action: 'FailJob', onExitCodes: { containerName: 'init', operator: 'In', values: [1, 2, 42] } },
        { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
        { action: 'Count', onExitCodes: { operator: 'NotIn', values: [0] } },
      ],
    }
  })
  t.same(validateObject(jobInfo, j), [], 'a valid policy')
  const bad = job((x) => {
    x.spec.podFailurePolicy = {
      rules: [
        { action: 'Explode', onExitCodes: { containerName: 'nope', operator: 'In', values: [3, 0, 3] } },
        { action: 'FailIndex', onPodConditions: [{ type: 'DisruptionTarget', status: 'Maybe' }] },
        { onExitCodes: { operator: 'Between', values: [] }, onPodConditions: [{ type: 'Ready' }] },
        { action: 'Ignore' },
      ],
    }
  })
  t.same(messages(validateObject(jobInfo, bad)), [
    'spec.podFailurePolicy.rules[0].action: Unsupported value: "Explode": supported values: "Count", "FailIndex", "FailJob", "Ignore"',
    'spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template',
    'spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator',
    'spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 3',
    'spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{3, 0, 3}: must be ordered',
    'spec.podFailurePolicy.rules[1].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set',
    'spec.podFailurePolicy.rules[1].onPodConditions[0].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown"',
    'spec.podFailurePolicy.rules[2].action: Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]',
    'spec.podFailurePolicy.rules[2].onExitCodes.operator: Unsupported value: "Between": supported values: "In", "NotIn"',
    'spec.podFailurePolicy.rules[2].onExitCodes.values: Invalid value: []int32{}: at least one value is required',
    'spec.podFailurePolicy.rules[2]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported',
    'spec.podFailurePolicy.rules[3]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required',
  ])
  const onFailure = job((x) => {
    x.spec.template.spec.restartPolicy = 'OnFailure'
    x.spec.podFailurePolicy = { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] }
  })
  t.same(messages(validateObject(jobInfo, onFailure)), ['spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified'])
  t.equal(onFailure.spec.podReplacementPolicy, 'Failed', 'defaulting chose the one replacement policy a pod failure policy allows')
})

t.test('Job updates: what may change', async (t) => {
  const old = job((x) => (x.spec.completions = 4))
  old.status = { startTime: '2026-12-07T00:00:00Z' }
  const update = (mutate: (j: Obj) => void) => {
    const j = structuredClone(old)
    mutate(j)
    return messages(validateObject(jobInfo, j, old))
  }
  t.same(update((j) => (j.spec.parallelism = 3)), [], 'parallelism may change')
  t.same(update((j) => (j.spec.activeDeadlineSeconds = 60)), [], 'so may the deadline')
  t.same(update((j) => (j.spec.suspend = true)), [], 'and suspend')
  t.same(update((j) => (j.spec.completions = 5)), ['spec.completions: Invalid value: 5: field is immutable'])
  t.match(update((j) => (j.spec.template.spec.containers[0].image = 'perl:2')), [/^spec\.template: Invalid value: .*: field is immutable$/])
  t.match(update((j) => (j.spec.template.spec.nodeSelector = { disk: 'ssd' })), [/spec\.template: .*field is immutable/], 'a started Job keeps its scheduling directives')
  t.same(update((j) => (j.spec.completionMode = 'Indexed')), ['spec.completionMode: Invalid value: "Indexed": field is immutable'])
  const suspended = job((x) => (x.spec.suspend = true))
  const resched = structuredClone(suspended)
  resched.spec.template.spec.nodeSelector = { disk: 'ssd' }
  resched.spec.template.spec.tolerations = [{ key: 'gpu', operator: 'Exists' }]
  resched.spec.template.metadata.annotations = { a: 'b' }
  t.same(validateObject(jobInfo, resched, suspended), [], 'a suspended Job that never started may be rescheduled')
  const elastic = job((x) => Object.assign(x.spec, { completionMode: 'Indexed', completions: 4, parallelism: 4 }))
  const grown = structuredClone(elastic)
  Object.assign(grown.spec, { completions: 6, parallelism: 6 })
  t.same(validateObject(jobInfo, grown, elastic), [], 'an Indexed Job scales completions with parallelism')
  const lopsided = structuredClone(elastic)
  lopsided.spec.completions = 6
  t.same(messages(validateObject(jobInfo, lopsided, elastic)), ['spec.completions: Invalid value: 6: can only be modified in tandem with spec.parallelism'])
})

t.test('Job status writes', async (t) => {
  const old = job()
  old.status = { active: 1, startTime: '2026-12-07T00:00:00Z', conditions: [{ type: 'FailureTarget', status: 'True' }] }
  const write = (status: Obj) => messages(validateObject(jobInfo, { ...structuredClone(old), status }, old, 'status'))
  t.same(write({ active: 2, ready: 1, startTime: old.status.startTime, conditions: old.status.conditions }), [])
  t.same(write({ active: -1, startTime: old.status.startTime, conditions: old.status.conditions }), ['status.active: Invalid value: -1: must be greater than or equal to 0'])
  t.same(write({ active: 0, startTime: old.status.startTime }), ['status.conditions: Invalid value: cannot disable the terminal FailureTarget=True condition'])
  t.same(write({ active: 1, ready: 2, startTime: old.status.startTime, conditions: old.status.conditions }), ['status.ready: Invalid value: 2: cannot set more ready pods than active'])
  t.same(write({ active: 0, startTime: old.status.startTime, conditions: [...old.status.conditions, { type: 'Complete', status: 'True' }] }), ['status.completionTime: Required value: completionTime is required for Complete jobs'])
  t.same(write({ active: 0, startTime: old.status.startTime, completionTime: '2026-12-06T00:00:00Z', conditions: [...old.status.conditions, { type: 'Complete', status: 'True' }] }), ['status.completionTime: Invalid value: "2026-12-06T00:00:00Z": completionTime cannot be set before startTime'])
  t.same(write({ active: 1, startTime: old.status.startTime, conditions: old.status.conditions, uncountedTerminatedPods: { succeeded: ['a', ''], failed: ['a'] } }), [
    'status.uncountedTerminatedPods.succeeded[1]: Invalid value: "": must not be empty',
    'status.uncountedTerminatedPods.failed[0]: Duplicate value: "a"',
  ])
})

t.test('CronJob rules and messages', async (t) => {
  t.same(validateObject(cronInfo, cronJob()), [])
  t.same(validateObject(cronInfo, cronJob((c) => (c.spec.timeZone = 'Europe/Berlin'))), [])
  const cases: [string, (c: Obj) => void, string[]][] = [
    ['no schedule', (c) => (c.spec.schedule = ''), ['spec.schedule: Required value']],
    ['a bad schedule', (c) => (c.spec.schedule = '61 * * * *'), ['spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']],
    ['TZ in the schedule', (c) => (c.spec.schedule = 'TZ=UTC 0 * * * *'), ['spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead']],
    ['an unknown zone', (c) => (c.spec.timeZone = 'Mars/Olympus_Mons'), ['spec.timeZone: Invalid value: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons']],
    ['a zone in the wrong case', (c) => (c.spec.timeZone = 'europe/berlin'), ['spec.timeZone: Invalid value: "europe/berlin": unknown time zone europe/berlin']],
    ['a zone with a bad part', (c) => (c.spec.timeZone = 'America/../etc'), ['spec.timeZone: Invalid value: "America/../etc": unknown time zone America/../etc']],
    ['Local', (c) => (c.spec.timeZone = 'Local'), ['spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones']],
    ['an empty zone', (c) => (c.spec.timeZone = ''), ['spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string']],
    ['concurrency', (c) => (c.spec.concurrencyPolicy = 'Sometimes'), ['spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"']],
    ['negative limits', (c) => Object.assign(c.spec, { startingDeadlineSeconds: -1, successfulJobsHistoryLimit: -1, failedJobsHistoryLimit: -2 }), [
      'spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0',
      'spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0',
      'spec.failedJobsHistoryLimit: Invalid value: -2: must be greater than or equal to 0',
    ]],
    ['a long name', (c) => (c.metadata.name = 'n'.repeat(53)), [`metadata.name: Invalid value: "${'n'.repeat(53)}": must be no more than 52 characters`]],
    ['the job template', (c) => Object.assign(c.spec.jobTemplate.spec, { selector: { matchLabels: { a: 'b' } }, manualSelector: true, parallelism: -1 }), [
      'spec.jobTemplate.spec.parallelism: Invalid value: -1: must be greater than or equal to 0',
      'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `selector` will be auto-generated',
      'spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"',
    ]],
    ['the template restarts Always', (c) => (c.spec.jobTemplate.spec.template.spec.restartPolicy = 'Always'), ['spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']],
  ]
  for (const [name, mutate, want] of cases) t.same(messages(validateObject(cronInfo, cronJob(mutate))), want, name)

  const legacy = cronJob((c) => (c.spec.schedule = 'TZ=UTC 0 * * * *'))
  const changed = structuredClone(legacy)
  changed.spec.suspend = true
  t.same(validateObject(cronInfo, changed, legacy), [], 'a CronJob that had TZ= in its schedule may still be updated')
  changed.spec.timeZone = 'UTC'
  t.same(messages(validateObject(cronInfo, changed, legacy)), ['spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use both timeZone field and TZ or CRON_TZ in schedule'])
  const long = cronJob((c) => (c.metadata.name = 'n'.repeat(53)))
  t.same(validateObject(cronInfo, structuredClone(long), long), [], 'the name limit applies on create only')
})

t.test('a Job not named as a DNS label is created with a warning', async (t) => {
  t.same(warningsOnCreate('Job', job() as any), [])
  t.same(warningsOnCreate('Job', job((j) => (j.metadata.name = 'my.job')) as any), [
    "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')]",
  ])
  t.same(warningsOnCreate('CronJob', cronJob() as any), [])
})
