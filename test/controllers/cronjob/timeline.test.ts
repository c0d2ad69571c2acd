// A CronJob run for hours on a fake clock through reconcileCronJob alone: the controller is
// woken when it asks to be (requeueAfterMs) and whenever one of its Jobs changes, against an
// in-memory store of Jobs that finish a set time after they start.
import t from 'tap'
import type { V1CronJob, V1Job } from '@kubernetes/client-node'
import { reconcileCronJob } from '../../../src/controllers/cronjob/reconcile.ts'

interface World {
  cj: V1CronJob
  jobs: Map<string, V1Job>
  started: string[]
}

function world(spec: Record<string, unknown>): World {
  return {
    cj: {
      metadata: { name: 'every5', namespace: 'ns', uid: 'cj', creationTimestamp: '2026-12-07T00:00:30Z' as any },
      spec: { schedule: '*/5 * * * *', concurrencyPolicy: 'Allow', successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, jobTemplate: { spec: { template: {} } }, ...spec } as V1CronJob['spec'],
      status: {},
    },
    jobs: new Map(),
    started: [],
  }
}

let uids = 0

/** Applies the actions; returns whether a Job changed (which wakes the controller again). */
function apply(w: World, actions: ReturnType<typeof reconcileCronJob>['actions'], now: number): boolean {
  let changed = false
  for (const a of actions) {
    if (a.verb === 'create') {
      const name = a.object.metadata!.name!
      if (w.jobs.has(name)) continue
      w.jobs.set(name, { ...(a.object as V1Job), metadata: { ...a.object.metadata, uid: `job-${++uids}`, resourceVersion: '1' }, status: { startTime: new Date(now).toISOString() as any } })
      const scheduled = a.object.metadata!.annotations!['batch.kubernetes.io/cronjob-scheduled-timestamp']!.slice(11, 16)
      const at = new Date(now).toISOString().slice(11, 16)
      w.started.push(at === scheduled ? at : `${at} for ${scheduled}`)
      changed = true
    } else if (a.verb === 'delete') {
      changed = w.jobs.delete(a.name) || changed
    } else if (a.verb === 'updateStatus') {
      w.cj = { ...w.cj, status: structuredClone(a.object.status) }
    }
  }
  return changed
}

/** Jobs complete `runMinutes` after they started. */
function finishJobs(w: World, now: number, runMinutes: number): boolean {
  let changed = false
  for (const j of w.jobs.values()) {
    const start = Date.parse(j.status!.startTime as unknown as string)
    if (!j.status!.conditions && now - start >= runMinutes * 60_000) {
      j.status = { ...j.status, completionTime: new Date(start + runMinutes * 60_000).toISOString() as any, conditions: [{ type: 'Complete', status: 'True' }] }
      changed = true
    }
  }
  return changed
}

function simulate(w: World, fromIso: string, hours: number, runMinutes: number): void {
  let now = Date.parse(fromIso)
  const end = now + hours * 3_600_000
  let wake = now
  while (now < end) {
    // A reconcile for every wake-up and every Job change, as the work queue would run them.
    for (let again = true, rounds = 0; again && rounds < 10; rounds++) {
      const result = reconcileCronJob(w.cj, [...w.jobs.values()], { now: new Date(now), localZone: 'UTC' })
      again = apply(w, result.actions, now)
      if (result.requeueAfterMs !== undefined) wake = now + result.requeueAfterMs
    }
    const step = Math.min(wake, now + 60_000)
    now = step > now ? step : now + 1000
    if (finishJobs(w, now, runMinutes)) wake = now
  }
}

t.test('Allow: a Job every five minutes, history kept to three', async (t) => {
  const w = world({})
  simulate(w, '2026-12-07T00:01:00Z', 58 / 60, 2)
  t.same(w.started, ['00:05', '00:10', '00:15', '00:20', '00:25', '00:30', '00:35', '00:40', '00:45', '00:50', '00:55'])
  const complete = [...w.jobs.values()].filter((j) => j.status?.conditions)
  t.equal(complete.length, 3, 'the three newest finished Jobs are kept')
  t.same(w.cj.status?.active ?? [], [])
  t.equal(w.cj.status?.lastScheduleTime, '2026-12-07T00:55:00Z')
  t.equal(w.cj.status?.lastSuccessfulTime, '2026-12-07T00:57:00Z')
})

t.test('Forbid: a Job that runs twelve minutes blocks the ticks after it', async (t) => {
  const late = world({ concurrencyPolicy: 'Forbid' })
  simulate(late, '2026-12-07T00:01:00Z', 1, 12)
  t.same(late.started, ['00:05', '00:17 for 00:15', '00:29 for 00:25', '00:41 for 00:40', '00:53 for 00:50'], 'without a deadline the latest missed time starts as soon as the way is free')
  const strict = world({ concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 60 })
  simulate(strict, '2026-12-07T00:01:00Z', 1, 12)
  t.same(strict.started, ['00:05', '00:20', '00:35', '00:50'], 'with one, missed ticks are let go')
})

t.test('Replace: each tick replaces the Job still running', async (t) => {
  const w = world({ concurrencyPolicy: 'Replace' })
  simulate(w, '2026-12-07T00:01:00Z', 28 / 60, 12)
  t.same(w.started, ['00:05', '00:10', '00:15', '00:20', '00:25'])
  t.equal(w.jobs.size, 1, 'only the newest runs')
  t.equal(w.cj.status?.active?.length, 1)
  t.match(w.cj.status?.active?.[0], { name: `every5-${Date.parse('2026-12-07T00:25:00Z') / 60_000}`, uid: /^job-/ }, 'with its uid filled in')
})
