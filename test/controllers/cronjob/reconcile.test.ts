import t from 'tap'
import type { V1CronJob, V1Job } from '@kubernetes/client-node'
import type { Action } from '../../../src/controllers/actions.ts'
import { reconcileCronJob } from '../../../src/controllers/cronjob/reconcile.ts'

const T = (iso: string) => new Date(iso)
const minutes = (iso: string) => Math.floor(Date.parse(iso) / 60_000)
const UTC = { localZone: 'UTC' }

function cronJob(spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): V1CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: 'ns', uid: 'cj-uid', resourceVersion: '9', creationTimestamp: '2026-12-07T09:58:30Z' as any, ...meta },
    spec: {
      schedule: '*/5 * * * *',
      concurrencyPolicy: 'Allow',
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: { metadata: { labels: { team: 'data' }, annotations: { note: 'x' } }, spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox' }], restartPolicy: 'OnFailure' } } } },
      ...spec,
    } as V1CronJob['spec'],
    status: status as V1CronJob['status'],
  }
}

function job(name: string, o: { finished?: 'Complete' | 'Failed'; start?: string; completion?: string; owned?: boolean } = {}): V1Job {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: '3', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj-uid', controller: true }] },
    spec: { template: {} },
    status: {
      startTime: (o.start ?? '2026-12-07T10:00:01Z') as any,
      ...(o.completion ? { completionTime: o.completion as any } : {}),
      ...(o.finished ? { conditions: [{ type: o.finished, status: 'True' }] } : {}),
    },
  }
}

const ref = (name: string, uid = true) => ({ kind: 'Job', namespace: 'ns', name, ...(uid ? { uid: `uid-${name}` } : {}), apiVersion: 'batch/v1', ...(uid ? { resourceVersion: '3' } : {}) })
const created = (a: Action[]) => a.flatMap((x) => (x.verb === 'create' ? [x.object] : []))
const deleted = (a: Action[]) => a.flatMap((x) => (x.verb === 'delete' ? [`${x.name} ${x.propagationPolicy}`] : []))
const events = (a: Action[]) => a.flatMap((x) => (x.verb === 'event' ? [`${x.event.type} ${x.event.reason}: ${x.event.message}`] : []))
const statusOf = (a: Action[]) => {
  const u = a.find((x) => x.verb === 'updateStatus')
  return u && u.verb === 'updateStatus' ? u.object.status : undefined
}

t.test('at a scheduled time a Job is created and recorded as active', async (t) => {
  const { actions, requeueAfterMs } = reconcileCronJob(cronJob(), [], { now: T('2026-12-07T10:02:00Z'), ...UTC })
  const [j] = created(actions)
  const name = `nightly-${minutes('2026-12-07T10:00:00Z')}`
  t.same(j, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: 'ns',
      labels: { team: 'data' },
      annotations: { note: 'x', 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2026-12-07T10:00:00Z' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj-uid', controller: true, blockOwnerDeletion: true }],
    },
    spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox' }], restartPolicy: 'OnFailure' } } },
  })
  t.same(statusOf(actions), { active: [{ kind: 'Job', namespace: 'ns', name, apiVersion: 'batch/v1' }], lastScheduleTime: '2026-12-07T10:00:00Z' })
  t.match(actions.find((a) => a.verb === 'create'), { event: { reason: 'SuccessfulCreate', message: 'Created job {name}' } })
  t.equal(requeueAfterMs, 180_100, 'the next tick, 10:05, plus 100 ms')
  t.same(actions.map((a) => a.verb), ['create', 'updateStatus'], 'the Job first, then the status that remembers it')
})

t.test('between ticks there is nothing to do but wait', async (t) => {
  t.same(reconcileCronJob(cronJob(), [], { now: T('2026-12-07T09:59:00Z'), ...UTC }), { actions: [], requeueAfterMs: 60_100 })
  const done = cronJob({}, { lastScheduleTime: '2026-12-07T10:00:00Z' })
  t.same(reconcileCronJob(done, [], { now: T('2026-12-07T10:02:00Z'), ...UTC }), { actions: [], requeueAfterMs: 180_100 }, 'a time already scheduled is not scheduled twice')
})

t.test('the new Job\'s uid is filled in once it is seen', async (t) => {
  const name = `nightly-${minutes('2026-12-07T10:00:00Z')}`
  const cj = cronJob({}, { active: [ref(name, false)], lastScheduleTime: '2026-12-07T10:00:00Z' })
  const { actions } = reconcileCronJob(cj, [job(name)], { now: T('2026-12-07T10:00:02Z'), ...UTC })
  t.same(statusOf(actions), { active: [ref(name)], lastScheduleTime: '2026-12-07T10:00:00Z' })
  t.same(events(actions), [], 'not an unexpected Job')
})

t.test('concurrency policies', async (t) => {
  const running = cronJob({}, { active: [ref('nightly-old')], lastScheduleTime: '2026-12-07T10:00:00Z' })
  const now = { now: T('2026-12-07T10:05:01Z'), ...UTC }
  const allow = reconcileCronJob(running, [job('nightly-old')], now)
  t.equal(created(allow.actions).length, 1, 'Allow: runs side by side')
  t.equal(statusOf(allow.actions)?.active.length, 2)

  const forbid = reconcileCronJob({ ...running, spec: { ...running.spec!, concurrencyPolicy: 'Forbid' } }, [job('nightly-old')], now)
  t.same(created(forbid.actions), [])
  t.same(events(forbid.actions), ['Normal JobAlreadyActive: Not starting job because prior execution is running and concurrency policy is Forbid'])
  t.equal(forbid.requeueAfterMs, 299_100, 'tried again at the next tick')

  const replace = reconcileCronJob({ ...running, spec: { ...running.spec!, concurrencyPolicy: 'Replace' } }, [job('nightly-old')], now)
  t.same(deleted(replace.actions), ['nightly-old Background'])
  t.equal(created(replace.actions).length, 1)
  t.same(statusOf(replace.actions)?.active.map((r: any) => r.name), [`nightly-${minutes('2026-12-07T10:05:00Z')}`])
  t.ok(events(replace.actions).includes('Normal SuccessfulDelete: Deleted job nightly-old'))
})

t.test('missed start times', async (t) => {
  const late = cronJob({}, { lastScheduleTime: '2026-12-07T10:00:00Z' })
  const now = { now: T('2026-12-07T10:07:30Z'), ...UTC }
  const started = reconcileCronJob(late, [], now)
  t.equal(created(started.actions)[0]?.metadata?.name, `nightly-${minutes('2026-12-07T10:05:00Z')}`, 'without a deadline a late start is still a start (the most recent missed time)')
  const strict = reconcileCronJob({ ...late, spec: { ...late.spec!, startingDeadlineSeconds: 60 } }, [], now)
  t.same(strict.actions, [], 'past startingDeadlineSeconds the time is let go')
  t.equal(strict.requeueAfterMs, 150_100, 'and the next one awaited')

  const longAgo = cronJob({ schedule: '* * * * *' }, {}, { creationTimestamp: '2026-12-05T10:00:00Z' })
  const many = reconcileCronJob(longAgo, [], { now: T('2026-12-07T10:00:30Z'), ...UTC })
  t.same(events(many.actions), ['Warning TooManyMissedTimes: too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew'])
  t.equal(created(many.actions)[0]?.metadata?.name, `nightly-${minutes('2026-12-07T10:00:00Z')}`, 'only the most recent runs')
})

t.test('finished Jobs leave status.active, and successes are remembered', async (t) => {
  const cj = cronJob({}, { active: [ref('nightly-a')], lastScheduleTime: '2026-12-07T10:00:00Z' })
  const done = job('nightly-a', { finished: 'Complete', completion: '2026-12-07T10:01:00Z' })
  const first = reconcileCronJob(cj, [done], { now: T('2026-12-07T10:01:05Z'), ...UTC })
  t.same(statusOf(first.actions), { lastScheduleTime: '2026-12-07T10:00:00Z' })
  t.same(events(first.actions), ['Normal SawCompletedJob: Saw completed job: nightly-a, status: Complete'])
  const second = reconcileCronJob({ ...cj, status: statusOf(first.actions) }, [done], { now: T('2026-12-07T10:01:06Z'), ...UTC })
  t.same(statusOf(second.actions), { lastScheduleTime: '2026-12-07T10:00:00Z', lastSuccessfulTime: '2026-12-07T10:01:00Z' })
})

t.test('Jobs it did not start, and Jobs that vanished', async (t) => {
  const cj = cronJob({}, { active: [ref('nightly-gone')], lastScheduleTime: '2026-12-07T10:00:00Z' })
  const { actions } = reconcileCronJob(cj, [job('manual-run')], { now: T('2026-12-07T10:01:00Z'), ...UTC })
  t.same(events(actions), ['Warning UnexpectedJob: Saw a job that the controller did not create or forgot: manual-run', 'Normal MissingJob: Active job went missing: nightly-gone'])
  t.same(statusOf(actions), { lastScheduleTime: '2026-12-07T10:00:00Z' })
})

t.test('history limits: the oldest finished Jobs go', async (t) => {
  const jobs = [
    job('ok-1', { finished: 'Complete', start: '2026-12-07T06:00:00Z' }),
    job('ok-2', { finished: 'Complete', start: '2026-12-07T07:00:00Z' }),
    job('ok-3', { finished: 'Complete', start: '2026-12-07T08:00:00Z' }),
    job('ok-4', { finished: 'Complete', start: '2026-12-07T09:00:00Z' }),
    job('ok-5', { finished: 'Complete', start: '2026-12-07T05:00:00Z' }),
    job('bad-1', { finished: 'Failed', start: '2026-12-07T06:30:00Z' }),
    job('bad-2', { finished: 'Failed', start: '2026-12-07T07:30:00Z' }),
  ]
  const { actions } = reconcileCronJob(cronJob({}, { lastScheduleTime: '2026-12-07T10:00:00Z' }), jobs, { now: T('2026-12-07T10:01:00Z'), ...UTC })
  t.same(deleted(actions), ['ok-5 Background', 'ok-1 Background', 'bad-1 Background'])
  const none = reconcileCronJob(cronJob({ successfulJobsHistoryLimit: 0, failedJobsHistoryLimit: 0 }, { lastScheduleTime: '2026-12-07T10:00:00Z' }), jobs, { now: T('2026-12-07T10:01:00Z'), ...UTC })
  t.equal(deleted(none.actions).length, 7, 'a limit of zero keeps none')
})

t.test('time zones and daylight saving time', async (t) => {
  const tokyo = cronJob({ schedule: '0 9 * * *', timeZone: 'Asia/Tokyo' }, {}, { creationTimestamp: '2026-12-06T23:00:00Z' })
  const { actions, requeueAfterMs } = reconcileCronJob(tokyo, [], { now: T('2026-12-07T00:00:30Z'), ...UTC })
  const [j] = created(actions)
  t.equal(j?.metadata?.name, `nightly-${minutes('2026-12-07T00:00:00Z')}`, '09:00 in Tokyo')
  t.equal(j?.metadata?.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2026-12-07T09:00:00+09:00', 'the scheduled time in the CronJob\'s zone')
  t.equal(requeueAfterMs, 86_400_000 - 30_000 + 100)

  const local = cronJob({ schedule: '0 9 * * *' }, {}, { creationTimestamp: '2026-12-07T00:00:00Z' })
  const ny = reconcileCronJob(local, [], { now: T('2026-12-07T14:00:10Z'), localZone: 'America/New_York' })
  t.equal(created(ny.actions)[0]?.metadata?.name, `nightly-${minutes('2026-12-07T14:00:00Z')}`, 'without timeZone, the controller\'s own zone')
  t.equal(created(ny.actions)[0]?.metadata?.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2026-12-07T14:00:00Z', 'and the annotation in UTC')

  const dst = cronJob({ schedule: '30 2 * * *', timeZone: 'America/New_York' }, { lastScheduleTime: '2026-03-07T07:30:00Z' }, { creationTimestamp: '2026-03-01T00:00:00Z' })
  const spring = reconcileCronJob(dst, [], { now: T('2026-03-08T12:00:00Z'), ...UTC })
  t.same(spring.actions, [], 'no 02:30 on the day clocks skip it')
  t.equal(spring.requeueAfterMs, Date.parse('2026-03-09T06:30:00Z') + 100 - Date.parse('2026-03-08T12:00:00Z'))

  const legacy = cronJob({ schedule: 'TZ=Asia/Tokyo 0 9 * * *' }, {}, { creationTimestamp: '2026-12-06T23:00:00Z' })
  const tz = reconcileCronJob(legacy, [], { now: T('2026-12-07T00:00:30Z'), ...UTC })
  t.equal(created(tz.actions).length, 1)
  t.match(events(tz.actions), [/^Warning UnsupportedSchedule: CRON_TZ or TZ used in schedule "TZ=Asia\/Tokyo 0 9 \* \* \*" is not officially supported/])
})

t.test('what stops a CronJob', async (t) => {
  const now = { now: T('2026-12-07T10:02:00Z'), ...UTC }
  t.same(reconcileCronJob(cronJob({ suspend: true }), [], now), { actions: [], requeueAfterMs: undefined }, 'suspended')
  t.same(reconcileCronJob(cronJob({}, {}, { deletionTimestamp: '2026-12-07T10:01:00Z' }), [], now), { actions: [], requeueAfterMs: undefined }, 'being deleted')
  const zone = reconcileCronJob(cronJob({ timeZone: 'Mars/Olympus_Mons' }), [], now)
  t.same(events(zone.actions), ['Warning UnknownTimeZone: invalid timeZone: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons'])
  t.equal(zone.requeueAfterMs, undefined)
  const bad = reconcileCronJob(cronJob({ schedule: '61 * * * *' }), [], now)
  t.same(events(bad.actions), ['Warning UnparseableSchedule: unparseable schedule: "61 * * * *" : end of range (61) above maximum (59): 61'])
  t.same(reconcileCronJob(undefined, [], now), { actions: [] })
})
