// The CronJob controller's pure reconcile (pkg/controller/cronjob, ControllerV2's sync):
// from a CronJob, the Jobs it controls and a clock, what to do now: forget finished Jobs
// beyond the history limits, keep status.active true, and at a scheduled time start a Job,
// or refuse to (missed deadline, Forbid), or replace the running ones (Replace). Returns
// when to look again: just after the next scheduled time.
//
// Upstream adds a new Job to status.active with the uid the create returned. A reconcile
// here returns its writes before any is made, so the reference goes in by name, and the
// next reconcile, which sees the Job, fills in its uid.
import type { V1CronJob, V1Job, V1ObjectReference } from '@kubernetes/client-node'
import { parseSchedule, CronError } from '../../api/cron/parse.ts'
import { zoneError } from '../../api/cron/zone.ts'
import { resources } from '../../api/registry.ts'
import type { Action, KubeObject } from '../actions.ts'
import { toMillis } from '../replicaset/pod-state.ts'
import { sameJson } from '../same-json.ts'
import { jobFromCronJob, jobName } from './job-from-template.ts'
import { mostRecentScheduleTime, nextScheduleDelayMs, type ScheduleContext } from './schedule-times.ts'

const cronJobInfo = resources.find((r) => r.kind === 'CronJob')!
const jobInfo = resources.find((r) => r.kind === 'Job')!

export interface CronJobReconcile {
  actions: Action[]
  requeueAfterMs?: number
}

export interface CronJobClock {
  now: Date
  /** The zone of schedules without spec.timeZone: the controller's own, as kube-controller-manager's. */
  localZone: string
}

type Finished = 'Complete' | 'Failed' | undefined

function finishedAs(job: V1Job): Finished {
  for (const c of job.status?.conditions ?? []) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type
  }
  return undefined
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A timestamp as the wire carries it (RFC 3339), whether the model typed it a Date or not. */
function timeText(value: Date | string | undefined): string | undefined {
  const ms = toMillis(value)
  return ms === undefined ? undefined : timestamp(ms)
}

/** Oldest first by status.startTime (Jobs not started last), then by name (upstream's byJobStartTime). */
function byStartTime(a: V1Job, b: V1Job): number {
  const as = toMillis(a.status?.startTime as Date | string | undefined)
  const bs = toMillis(b.status?.startTime as Date | string | undefined)
  if (as === undefined && bs !== undefined) return 1
  if (as !== undefined && bs === undefined) return -1
  if (as !== bs) return (as ?? 0) - (bs ?? 0)
  return (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '')
}

function jobRef(job: V1Job): V1ObjectReference {
  const m = job.metadata ?? {}
  return { kind: 'Job', namespace: m.namespace, name: m.name, uid: m.uid, apiVersion: 'batch/v1', resourceVersion: m.resourceVersion }
}

class Sync {
  readonly actions: Action[] = []
  readonly events: Action[] = []
  active: V1ObjectReference[]
  lastSuccessfulTime: string | undefined
  lastScheduleTime: string | undefined
  requeueAfterMs: number | undefined
  readonly cj: V1CronJob

  constructor(cj: V1CronJob) {
    this.cj = cj
    this.active = structuredClone(cj.status?.active ?? [])
    this.lastSuccessfulTime = timeText(cj.status?.lastSuccessfulTime)
    this.lastScheduleTime = timeText(cj.status?.lastScheduleTime)
  }

  event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    const m = this.cj.metadata ?? {}
    const involved: KubeObject = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }
    this.events.push({ verb: 'event', event: { involved, type, reason, message } })
  }

  deleteJob(name: string, uid: string | undefined): void {
    this.actions.push({ verb: 'delete', info: jobInfo, namespace: this.cj.metadata?.namespace, name, uid, propagationPolicy: 'Background' })
    this.event('Normal', 'SuccessfulDelete', `Deleted job ${name}`)
    this.active = this.active.filter((r) => (uid ? r.uid !== uid : r.name !== name))
  }

  /** The CronJob as it will be once this sync's status is written. */
  updated(): V1CronJob {
    return { ...this.cj, status: this.status() }
  }

  status(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...(this.cj.status ?? {}) }
    if (this.active.length > 0) out.active = this.active
    else delete out.active
    if (this.lastScheduleTime !== undefined) out.lastScheduleTime = this.lastScheduleTime
    if (this.lastSuccessfulTime !== undefined) out.lastSuccessfulTime = this.lastSuccessfulTime
    return out
  }
}

function inActive(s: Sync, job: V1Job): V1ObjectReference | undefined {
  return s.active.find((r) => (r.uid ? r.uid === job.metadata?.uid : r.name === job.metadata?.name))
}

/** upstream's cleanupFinishedJobs: the oldest finished Jobs beyond each history limit go. */
function cleanupFinished(s: Sync, jobs: V1Job[]): void {
  const limits: [Finished, number | undefined][] = [
    ['Complete', s.cj.spec?.successfulJobsHistoryLimit ?? undefined],
    ['Failed', s.cj.spec?.failedJobsHistoryLimit ?? undefined],
  ]
  for (const [kind, limit] of limits) {
    if (limit === undefined) continue
    const finished = jobs.filter((j) => finishedAs(j) === kind).sort(byStartTime)
    for (const j of finished.slice(0, Math.max(0, finished.length - limit))) s.deleteJob(j.metadata?.name ?? '', j.metadata?.uid)
  }
}

/** Reconciles status.active with the Jobs seen: new ones noticed, finished ones dropped, missing ones forgotten. */
function syncActive(s: Sync, jobs: V1Job[]): void {
  for (const job of jobs) {
    const ref = inActive(s, job)
    const finished = finishedAs(job)
    if (ref && !ref.uid) Object.assign(ref, jobRef(job))
    if (!ref && !finished) {
      s.event('Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${job.metadata?.name}`)
    } else if (ref && finished) {
      s.active = s.active.filter((r) => r !== ref)
      s.event('Normal', 'SawCompletedJob', `Saw completed job: ${job.metadata?.name}, status: ${finished}`)
    } else if (finished === 'Complete') {
      const done = toMillis(job.status?.completionTime as Date | string | undefined)
      const last = toMillis(s.lastSuccessfulTime)
      if (done !== undefined && (last === undefined || done > last)) s.lastSuccessfulTime = timestamp(done)
    }
  }
  const seen = new Set(jobs.map((j) => j.metadata?.uid))
  const names = new Set(jobs.map((j) => j.metadata?.name))
  for (const ref of [...s.active]) {
    if (ref.uid ? seen.has(ref.uid) : names.has(ref.name)) continue
    s.event('Normal', 'MissingJob', `Active job went missing: ${ref.name}`)
    s.active = s.active.filter((r) => r !== ref)
  }
}

/** False, after an event saying so, when spec.timeZone is no zone this host knows (any more). */
function zoneKnown(s: Sync): boolean {
  const zone = s.cj.spec?.timeZone
  const bad = zone === undefined || zone === null ? undefined : zoneError(zone)
  if (bad) s.event('Warning', 'UnknownTimeZone', `invalid timeZone: ${JSON.stringify(zone)}: ${bad}`)
  return bad === undefined
}

/** The schedule to run (TZ= in it is tolerated with a warning, as upstream), or undefined after an event saying why not. */
function scheduleOf(s: Sync, clock: CronJobClock): ScheduleContext | undefined {
  const spec = s.cj.spec
  const text = spec?.schedule ?? ''
  const zone = spec?.timeZone
  if (text.includes('TZ'))
    s.event('Warning', 'UnsupportedSchedule', `CRON_TZ or TZ used in schedule ${JSON.stringify(text)} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details`)
  try {
    return { schedule: parseSchedule(text), zone: zone ?? clock.localZone }
  } catch (err) {
    if (!(err instanceof CronError)) throw err
    s.event('Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(text)} : ${err.message}`)
    return undefined
  }
}

/**
 * Starts the Job for the due scheduled time, unless its time is past or a prior run blocks
 * it. False when the schedule can never run (upstream then waits for the CronJob to change).
 */
function startDue(s: Sync, ctx: ScheduleContext, now: number): boolean {
  const cj = s.cj
  const spec = cj.spec!
  const text = spec.schedule ?? ''
  const due = mostRecentScheduleTime(s.updated(), now, ctx, true)
  if (due.mostRecentMs === undefined) {
    if (due.error === undefined) return true
    s.event('Warning', 'InvalidSchedule', `invalid schedule: ${text} : ${due.error}`)
    return false
  }
  if (due.missed === 'many') s.event('Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew')
  // startingDeadlineSeconds bounds the times considered, so `scheduled` is never past it
  // (upstream's MissSchedule check after this point cannot fire).
  const scheduled = due.mostRecentMs
  const name = jobName(cj, scheduled)
  if (s.active.some((r) => r.name === name) || toMillis(s.lastScheduleTime) === scheduled) return true
  if (spec.concurrencyPolicy === 'Forbid' && s.active.length > 0) {
    s.event('Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid')
    return true
  }
  if (spec.concurrencyPolicy === 'Replace') for (const ref of [...s.active]) s.deleteJob(ref.name ?? '', ref.uid)
  const involved = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: cj.metadata?.name, namespace: cj.metadata?.namespace, uid: cj.metadata?.uid } }
  s.actions.push({ verb: 'create', info: jobInfo, object: jobFromCronJob(cj, scheduled), event: { involved, type: 'Normal', reason: 'SuccessfulCreate', message: 'Created job {name}' } })
  s.active.push({ kind: 'Job', namespace: cj.metadata?.namespace, name, apiVersion: 'batch/v1' })
  s.lastScheduleTime = timestamp(scheduled)
  return true
}

/**
 * One sync of `cj` at `clock.now`. `jobs` are the Jobs it controls, including any in its
 * status.active that the caller found in the API but not yet in its cache.
 */
export function reconcileCronJob(cj: V1CronJob | undefined, jobs: V1Job[], clock: CronJobClock): CronJobReconcile {
  if (!cj) return { actions: [] }
  const s = new Sync(cj)
  const now = clock.now.getTime()
  cleanupFinished(s, jobs)
  syncActive(s, jobs)
  let requeueAfterMs: number | undefined
  if (!cj.metadata?.deletionTimestamp && zoneKnown(s) && cj.spec?.suspend !== true) {
    const ctx = scheduleOf(s, clock)
    if (ctx && startDue(s, ctx, now)) requeueAfterMs = nextScheduleDelayMs(s.updated(), now, ctx)
  }
  const status = s.status()
  const actions = [...s.actions]
  if (!sameJson(status, cj.status ?? {})) actions.push({ verb: 'updateStatus', info: cronJobInfo, object: { ...structuredClone(cj), apiVersion: 'batch/v1', kind: 'CronJob', status } })
  return { actions: [...actions, ...s.events], requeueAfterMs }
}
