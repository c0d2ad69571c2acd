import t from 'tap'
import { reconcileJob } from '../../../src/controllers/job/reconcile.ts'
import { at, conditions, creates, deletes, events, iso, job, JOB_UID, pod, statusOf, unfinalized } from './fixtures.ts'

t.test('creates pods up to parallelism, tracked by the finalizer', async (t) => {
  const { actions } = reconcileJob(job({ completions: 10, parallelism: 3 }, { startTime: undefined }), [], at(0))
  const made = creates(actions)
  t.equal(made.length, 3)
  t.same(made[0]!.object.metadata, {
    generateName: 'work-',
    namespace: 'ns',
    labels: { 'batch.kubernetes.io/controller-uid': JOB_UID, 'batch.kubernetes.io/job-name': 'work' },
    finalizers: ['batch.kubernetes.io/job-tracking'],
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'work', uid: JOB_UID, controller: true, blockOwnerDeletion: true }],
  })
  t.same(made[0]!.object.spec, { containers: [{ name: 'main', image: 'busybox' }], restartPolicy: 'Never' })
  t.same(statusOf(actions), { startTime: iso(0), active: 3, ready: 0, terminating: 0, uncountedTerminatedPods: {} })
  t.same(events(actions), ['SuccessfulCreate: Created pod: {name}', 'SuccessfulCreate: Created pod: {name}', 'SuccessfulCreate: Created pod: {name}'])
  t.equal(actions[0]!.verb, 'updateStatus', 'the status is written first')
})

t.test('finished pods are counted through uncountedTerminatedPods, then lose their finalizer', async (t) => {
  const j = job({ completions: 10, parallelism: 3 }, { active: 3, ready: 0, terminating: 0, uncountedTerminatedPods: {} })
  const pods = [pod('a', { phase: 'Succeeded', finished: 5 }), pod('b', { phase: 'Succeeded', finished: 6 }), pod('c', { ready: true })]
  const first = reconcileJob(j, pods, at(10))
  const status = statusOf(first.actions)
  t.same(status?.uncountedTerminatedPods, { succeeded: ['uid-a', 'uid-b'] })
  t.equal(status?.succeeded, undefined, 'not counted until the finalizers are off')
  t.same(unfinalized(first.actions), ['a', 'b'])
  t.equal(creates(first.actions).length, 2, 'two replacements: 3 running of the 8 left')
  const order = first.actions.map((a) => a.verb)
  t.ok(order.indexOf('updateStatus') < order.indexOf('patch'), 'the UIDs are recorded before the finalizers go')

  const j2 = job({ completions: 10, parallelism: 3 }, { ...status, active: 3 })
  const without = [pod('a', { phase: 'Succeeded', finished: 5, finalizer: false }), pod('b', { phase: 'Succeeded', finished: 6, finalizer: false }), pod('c', { ready: true }), pod('d'), pod('e')]
  const second = reconcileJob(j2, without, at(12))
  t.same(statusOf(second.actions), { startTime: iso(0), active: 3, ready: 1, terminating: 0, succeeded: 2, uncountedTerminatedPods: {} })
  t.same(creates(second.actions), [], 'three active for eight to go')
})

t.test('a Job completes once every pod is counted: SuccessCriteriaMet, then Complete', async (t) => {
  const j = job({ completions: 2, parallelism: 2 }, { succeeded: 2, active: 0, uncountedTerminatedPods: {} })
  const pods = [pod('a', { phase: 'Succeeded', finished: 5, finalizer: false }), pod('b', { phase: 'Succeeded', finished: 6, finalizer: false })]
  const { actions } = reconcileJob(j, pods, at(20))
  const status = statusOf(actions)
  t.same(conditions(status), ['SuccessCriteriaMet=True CompletionsReached', 'Complete=True CompletionsReached'])
  t.equal(status?.conditions[1].message, 'Reached expected number of succeeded pods')
  t.equal(status?.completionTime, iso(20))
  t.same(events(actions), ['Completed: Job completed'])
  t.same(reconcileJob({ ...j, status }, pods, at(30)).actions, [], 'a finished Job is left alone')
})

t.test('the terminal condition waits for uncounted and terminating pods', async (t) => {
  const j = job({ completions: 1 }, { active: 1, uncountedTerminatedPods: {} })
  const { actions } = reconcileJob(j, [pod('a', { phase: 'Succeeded', finished: 5 })], at(8))
  const status = statusOf(actions)
  t.same(conditions(status), ['SuccessCriteriaMet=True CompletionsReached'], 'interim only: the pod is not counted yet')
  t.same(status?.uncountedTerminatedPods, { succeeded: ['uid-a'] })
  const { actions: later } = reconcileJob({ ...j, status }, [pod('a', { phase: 'Succeeded', finished: 5, finalizer: false })], at(9))
  t.same(conditions(statusOf(later)), ['SuccessCriteriaMet=True CompletionsReached', 'Complete=True CompletionsReached'])
  t.equal(statusOf(later)?.succeeded, 1)
})

t.test('backoffLimit: FailureTarget, active pods deleted and counted, then Failed', async (t) => {
  const j = job({ completions: 5, parallelism: 2, backoffLimit: 1 }, { failed: 1, active: 1, uncountedTerminatedPods: {} })
  const pods = [pod('x', { phase: 'Failed', finished: 3 }), pod('run', { ready: true })]
  const { actions } = reconcileJob(j, pods, at(10))
  const status = statusOf(actions)
  t.same(conditions(status), ['FailureTarget=True BackoffLimitExceeded'])
  t.equal(status?.conditions[0].message, 'Job has reached the specified backoff limit')
  t.same(deletes(actions), ['run'])
  t.same(unfinalized(actions), ['x', 'run'], 'once the Job has failed, every unfinished pod counts as a failure')
  t.same(status?.uncountedTerminatedPods, { failed: ['uid-x', 'uid-run'] })
  t.match(status, { ready: 0, terminating: 1 })
  t.equal(status?.active, undefined, 'zero counters are omitted, as Go writes them')
  t.same(creates(actions), [])

  const terminating = [pod('x', { phase: 'Failed', finished: 3, finalizer: false }), pod('run', { deleting: 11, ready: true, finalizer: false })]
  const next = reconcileJob({ ...j, status }, terminating, at(12))
  const s2 = statusOf(next.actions)
  t.same(conditions(s2), ['FailureTarget=True BackoffLimitExceeded'], 'still terminating: not Failed yet')
  t.same(s2?.uncountedTerminatedPods, {})
  t.match(s2, { failed: 3, terminating: 1 })

  const gone = reconcileJob({ ...j, status: s2 }, [pod('x', { phase: 'Failed', finished: 3, finalizer: false })], at(40))
  t.same(conditions(statusOf(gone.actions)), ['FailureTarget=True BackoffLimitExceeded', 'Failed=True BackoffLimitExceeded'])
  t.match(statusOf(gone.actions), { failed: 3, terminating: 0 })
  t.same(events(gone.actions), ['BackoffLimitExceeded: Job has reached the specified backoff limit'])
})

t.test('failed pods are replaced after an exponential backoff', async (t) => {
  const j = job({ completions: 1, backoffLimit: 6 }, { failed: 1, active: 0, uncountedTerminatedPods: {} })
  const one = [pod('f1', { phase: 'Failed', finished: 100, finalizer: false })]
  const early = reconcileJob(j, one, at(105))
  t.same(creates(early.actions), [])
  t.equal(early.requeueAfterMs, 5000, '10 s after the first failure')
  t.equal(creates(reconcileJob(j, one, at(110)).actions).length, 1, 'then replaced')
  const three = [pod('f1', { phase: 'Failed', finished: 100, finalizer: false }), pod('f2', { phase: 'Failed', finished: 120, finalizer: false }), pod('f3', { phase: 'Failed', finished: 150, finalizer: false })]
  t.equal(reconcileJob({ ...j, status: { ...j.status, failed: 3 } }, three, at(160)).requeueAfterMs, 30_000, 'three failures: 40 s')
  const j10 = job({ completions: 1, backoffLimit: 10 }, { active: 0, uncountedTerminatedPods: {} })
  const six = Array.from({ length: 6 }, (_, i) => pod(`f${i}`, { phase: 'Failed', finished: 100 + i, finalizer: false }))
  t.equal(reconcileJob({ ...j10, status: { ...j10.status, failed: 6 } }, six, at(105)).requeueAfterMs, 320_000, 'six failures: 320 s')
  const seven = Array.from({ length: 7 }, (_, i) => pod(`f${i}`, { phase: 'Failed', finished: 100 + i, finalizer: false }))
  t.equal(reconcileJob({ ...j10, status: { ...j10.status, failed: 7 } }, seven, at(106)).requeueAfterMs, 600_000, 'seven: capped at ten minutes')
  const succeededSince = [pod('f1', { phase: 'Failed', finished: 100, finalizer: false }), pod('ok', { phase: 'Succeeded', finished: 101, finalizer: false })]
  const afterSuccess = reconcileJob(job({ completions: 2 }, { failed: 1, succeeded: 1, active: 0, uncountedTerminatedPods: {} }), succeededSince, at(102))
  t.equal(creates(afterSuccess.actions).length, 1, 'a success since resets the backoff')
})

t.test('activeDeadlineSeconds', async (t) => {
  const running = [pod('a', { ready: true })]
  const waiting = reconcileJob(job({ activeDeadlineSeconds: 60 }, { active: 1, ready: 1, terminating: 0, uncountedTerminatedPods: {} }), running, at(20))
  t.equal(waiting.requeueAfterMs, 40_000, 'checked again when the deadline passes')
  t.same(waiting.actions, [], 'nothing else to do')
  const past = reconcileJob(job({ activeDeadlineSeconds: 60 }, { active: 1, uncountedTerminatedPods: {} }), running, at(61))
  t.same(conditions(statusOf(past.actions)), ['FailureTarget=True DeadlineExceeded'])
  t.equal(statusOf(past.actions)?.conditions[0].message, 'Job was active longer than specified deadline')
  t.same(deletes(past.actions), ['a'])
})

t.test('suspend and resume', async (t) => {
  const pods = [pod('a', { ready: true }), pod('b', { phase: 'Pending' })]
  const { actions } = reconcileJob(job({ completions: 4, parallelism: 2, suspend: true }, { active: 2, uncountedTerminatedPods: {} }), pods, at(30))
  t.same(deletes(actions).sort(), ['a', 'b'])
  t.same(unfinalized(actions).sort(), ['a', 'b'], 'finalizers first: pods removed on purpose are not failures')
  const status = statusOf(actions)
  t.same(conditions(status), ['Suspended=True JobSuspended'])
  t.match(status, { terminating: 2 })
  t.equal(status?.active, undefined)
  t.ok(events(actions).includes('Suspended: Job suspended'))

  const notStarted = reconcileJob(job({ suspend: true }, { startTime: undefined }), [], at(1))
  t.equal(statusOf(notStarted.actions)?.startTime, undefined, 'a Job created suspended has not started')

  const resumed = reconcileJob(job({ completions: 4, parallelism: 2, suspend: false }, { ...status, active: 0, terminating: 0 }), [], at(100))
  const s2 = statusOf(resumed.actions)
  t.same(conditions(s2), ['Suspended=False JobResumed'])
  t.equal(s2?.startTime, iso(100), 'the deadline counts from the resume')
  t.equal(creates(resumed.actions).length, 2)
  t.ok(events(resumed.actions).includes('Resumed: Job resumed'))
})

t.test('lowering parallelism deletes the least advanced pods first', async (t) => {
  const pods = [pod('ready', { ready: true }), pod('pending', { phase: 'Pending' }), pod('running', {})]
  const { actions } = reconcileJob(job({ completions: 10, parallelism: 1 }, { active: 3, uncountedTerminatedPods: {} }), pods, at(10))
  t.same(deletes(actions), ['pending', 'running'])
  t.same(creates(actions), [])
  t.match(statusOf(actions), { active: 1, ready: 1, terminating: 2 })
})

t.test('a work queue (no completions): done when one succeeded and none is left', async (t) => {
  const spec = { completions: undefined, parallelism: 3 }
  const first = reconcileJob(job(spec, { active: 0, uncountedTerminatedPods: {} }), [], at(1))
  t.equal(creates(first.actions).length, 3)
  const oneDone = [pod('a', { phase: 'Succeeded', finished: 5, finalizer: false }), pod('b'), pod('c')]
  const waiting = reconcileJob(job(spec, { succeeded: 1, active: 3, uncountedTerminatedPods: {} }), oneDone, at(6))
  t.same(creates(waiting.actions), [], 'after a success, nothing new starts')
  t.same(conditions(statusOf(waiting.actions)), [])
  const allDone = [pod('a', { phase: 'Succeeded', finished: 5, finalizer: false }), pod('b', { phase: 'Succeeded', finished: 7, finalizer: false }), pod('c', { phase: 'Succeeded', finished: 8, finalizer: false })]
  const done = reconcileJob(job(spec, { succeeded: 3, active: 0, uncountedTerminatedPods: {} }), allDone, at(9))
  t.same(conditions(statusOf(done.actions)), ['SuccessCriteriaMet=True CompletionsReached', 'Complete=True CompletionsReached'])
})

t.test('Indexed Jobs: one pod per index, named and numbered', async (t) => {
  const spec = { completionMode: 'Indexed', completions: 4, parallelism: 3 }
  const pods = [pod('w1', { index: 1, phase: 'Succeeded', finished: 3 }), pod('w0', { index: 0 })]
  const { actions } = reconcileJob(job(spec, { active: 1, uncountedTerminatedPods: {} }), pods, at(5))
  const made = creates(actions)
  t.same(made.map((c) => c.object.metadata!.annotations['batch.kubernetes.io/job-completion-index']), ['2', '3'], 'the lowest free indexes')
  const p = made[0]!.object
  t.equal(p.metadata!.generateName, 'work-2-')
  t.equal(p.metadata!.labels['batch.kubernetes.io/job-completion-index'], '2')
  t.equal(p.spec.hostname, 'work-2')
  t.same(p.spec.containers[0].env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-completion-index']" } } }])
  const status = statusOf(actions)
  t.equal(status?.completedIndexes, '1')
  t.equal(status?.succeeded, 1, 'an index is counted by its completedIndexes entry')
  t.same(unfinalized(actions), ['w1'])

  const dup = [pod('d1', { index: 0, ready: true }), pod('d2', { index: 0 }), pod('bad', { index: 9 }), pod('none', {})]
  const fixed = reconcileJob(job(spec, { active: 4, uncountedTerminatedPods: {} }), dup, at(5))
  t.same(deletes(fixed.actions).sort(), ['bad', 'd2', 'none'], 'duplicates and pods without a valid index go; the most advanced copy stays')
  t.same(creates(fixed.actions), [], 'deleting and creating never happen in one sync')
})

t.test('pod failure policy', async (t) => {
  const policy = {
    rules: [
      { action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } },
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
    ],
  }
  const spec = { completions: 2, parallelism: 1, podFailurePolicy: policy, podReplacementPolicy: 'Failed' }
  const fatal = reconcileJob(job(spec, { active: 0, uncountedTerminatedPods: {} }), [pod('p1', { phase: 'Failed', finished: 4, exitCode: 42 })], at(5))
  const status = statusOf(fatal.actions)
  t.same(conditions(status), ['FailureTarget=True PodFailurePolicy'])
  t.equal(status?.conditions[0].message, 'Container main for pod ns/p1 failed with exit code 42 matching FailJob rule at index 0')
  t.same(status?.uncountedTerminatedPods, { failed: ['uid-p1'] })

  const evicted = pod('p2', { phase: 'Failed', finished: 4, exitCode: 137, conditions: [{ type: 'DisruptionTarget', status: 'True' }] })
  const ignored = reconcileJob(job(spec, { active: 0, uncountedTerminatedPods: {} }), [evicted], at(5))
  const s2 = statusOf(ignored.actions)
  t.same(conditions(s2), [], 'an ignored failure fails nothing')
  t.same(s2?.uncountedTerminatedPods, {}, 'and is never counted')
  t.same(unfinalized(ignored.actions), ['p2'])
  t.same(creates(ignored.actions), [], 'replaced after the usual backoff: it is a failure, just not a counted one')
  t.equal(ignored.requeueAfterMs, 9000)
})

t.test('backoffLimitPerIndex', async (t) => {
  const spec = { completionMode: 'Indexed', completions: 2, parallelism: 2, backoffLimitPerIndex: 1, backoffLimit: 2147483647 }
  const failedOnce = [pod('i0a', { index: 0, phase: 'Failed', finished: 10, annotations: { 'batch.kubernetes.io/job-index-failure-count': '0' } }), pod('i1', { index: 1 })]
  const early = reconcileJob(job(spec, { active: 2, uncountedTerminatedPods: {} }), failedOnce, at(15))
  t.same(creates(early.actions), [], 'the index waits out its own backoff')
  t.equal(early.requeueAfterMs, 5000)
  t.same(unfinalized(early.actions), [], 'the failed pod stays until its replacement carries the count')
  const late = reconcileJob(job(spec, { active: 2, uncountedTerminatedPods: {} }), failedOnce, at(25))
  const made = creates(late.actions)
  t.equal(made.length, 1)
  t.equal(made[0]!.object.metadata!.annotations['batch.kubernetes.io/job-index-failure-count'], '1')
  t.equal(made[0]!.object.metadata!.annotations['batch.kubernetes.io/job-completion-index'], '0')

  const failedTwice = [pod('i0a', { index: 0, phase: 'Failed', finished: 10, finalizer: false }), pod('i0b', { index: 0, phase: 'Failed', finished: 40, annotations: { 'batch.kubernetes.io/job-index-failure-count': '1' } }), pod('i1', { index: 1, phase: 'Succeeded', finished: 30 })]
  const done = reconcileJob(job(spec, { failed: 1, active: 1, uncountedTerminatedPods: {} }), failedTwice, at(50))
  const status = statusOf(done.actions)
  t.equal(status?.failedIndexes, '0')
  t.equal(status?.completedIndexes, '1')
  t.same(conditions(status), ['FailureTarget=True FailedIndexes'])
})

t.test('adoption, release and who is in charge', async (t) => {
  const orphan = pod('orphan', { owned: false, finalizer: false })
  const { actions } = reconcileJob(job({ completions: 1 }, { active: 0, uncountedTerminatedPods: {} }), [orphan], at(1))
  const adopt = actions.find((a) => a.verb === 'patch')
  t.same(adopt && adopt.verb === 'patch' ? adopt.patch : undefined, {
    metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'work', uid: JOB_UID, controller: true, blockOwnerDeletion: true }], finalizers: ['batch.kubernetes.io/job-tracking'], uid: 'uid-orphan' },
  })
  t.same(creates(actions), [], 'the adopted pod counts as active')
  const stray = pod('stray', {})
  stray.metadata!.labels = { other: 'x' }
  const released = reconcileJob(job(), [stray], at(1))
  const release = released.actions.find((a) => a.verb === 'patch')
  t.same(release && release.verb === 'patch' ? release.patch : undefined, {
    metadata: { ownerReferences: [{ $patch: 'delete', uid: JOB_UID }], '$deleteFromPrimitiveList/finalizers': ['batch.kubernetes.io/job-tracking'], uid: 'uid-stray' },
  })
  t.same(reconcileJob(job({ managedBy: 'example.com/queue' }), [], at(1)).actions, [], 'a Job managed elsewhere is not touched')
  t.same(reconcileJob(undefined, [], at(1)).actions, [])
})

t.test('a Job being deleted counts its pods and creates none', async (t) => {
  const deleting = job({ completions: 3, parallelism: 2 }, { active: 1, uncountedTerminatedPods: {} }, { deletionTimestamp: iso(5) })
  const { actions } = reconcileJob(deleting, [pod('a', { phase: 'Succeeded', finished: 3 }), pod('b')], at(6))
  t.same(creates(actions), [])
  t.same(unfinalized(actions).sort(), ['a', 'b'], 'every finalizer goes, so the pods can go')
})

t.test('OnFailure restarts count against backoffLimit', async (t) => {
  const spec = { backoffLimit: 2, template: { spec: { containers: [{ name: 'main', image: 'busybox' }], restartPolicy: 'OnFailure' } } }
  const restarting = [pod('a', { restarts: 2 })]
  t.same(conditions(statusOf(reconcileJob(job(spec, { active: 1, uncountedTerminatedPods: {} }), restarting, at(5)).actions)), ['FailureTarget=True BackoffLimitExceeded'])
  t.same(conditions(statusOf(reconcileJob(job(spec, { active: 1, uncountedTerminatedPods: {} }), [pod('a', { restarts: 1 })], at(5)).actions)), [])
})

t.test('success policy: SuccessCriteriaMet ends the Job early', async (t) => {
  const spec = { completionMode: 'Indexed', completions: 3, parallelism: 3, successPolicy: { rules: [{ succeededIndexes: '0' }] } }
  const pods = [pod('leader', { index: 0, phase: 'Succeeded', finished: 4 }), pod('w1', { index: 1 }), pod('w2', { index: 2 })]
  const { actions } = reconcileJob(job(spec, { active: 3, uncountedTerminatedPods: {} }), pods, at(5))
  const status = statusOf(actions)
  t.same(conditions(status), ['SuccessCriteriaMet=True SuccessPolicy'])
  t.equal(status?.conditions[0].message, 'Matched rules at index 0')
  t.same(deletes(actions).sort(), ['w1', 'w2'], 'the rest are stopped')
  t.same(creates(actions), [])
})
