// Which scheduled time a CronJob should act on now, and when to look again (upstream's
// mostRecentScheduleTime, nextScheduleTime and nextScheduleTimeDuration in
// pkg/controller/cronjob/utils.go), over weft's cron parser.
import type { V1CronJob } from '@kubernetes/client-node'
import { nextActivation } from '../../api/cron/next.ts'
import type { Schedule } from '../../api/cron/parse.ts'
import { toMillis } from '../replicaset/pod-state.ts'

/** Requeues land this long after the scheduled time, against clock skew. */
export const NEXT_SCHEDULE_DELTA_MS = 100
/** More missed start times than this is likely a clock problem: a warning is recorded. */
const manyMissedThreshold = 100

export type Missed = 'none' | 'few' | 'many'

export interface MostRecent {
  /** The last schedule time, else the CronJob's creation (or, with the deadline, the deadline's start). */
  earliestMs: number
  /** The latest activation at or before now, if any since `earliestMs`. */
  mostRecentMs?: number
  missed: Missed
  error?: string
}

export interface ScheduleContext {
  schedule: Schedule
  /** The zone the schedule runs in (spec.timeZone, else the controller's own). */
  zone: string
}

export function mostRecentScheduleTime(cj: V1CronJob, nowMs: number, ctx: ScheduleContext, withStartingDeadline: boolean): MostRecent {
  let earliestMs = toMillis(cj.status?.lastScheduleTime as Date | string | undefined) ?? toMillis(cj.metadata?.creationTimestamp as Date | string | undefined) ?? nowMs
  const deadline = cj.spec?.startingDeadlineSeconds
  if (withStartingDeadline && deadline !== undefined && deadline !== null) earliestMs = Math.max(earliestMs, nowMs - deadline * 1000)
  const next = (ms: number) => nextActivation(ctx.schedule, ms, ctx.zone)
  const t1 = next(earliestMs)
  if (t1 === undefined || nowMs < t1) return { earliestMs, missed: 'none' }
  const t2 = next(t1)
  if (t2 === undefined || nowMs < t2) return { earliestMs, mostRecentMs: t1, missed: 'none' }
  const between = Math.round((t2 - t1) / 1000)
  if (between < 1) return { earliestMs, missed: 'none', error: 'time difference between two schedules is less than 1 second' }
  // As upstream: a rough count of the intervals since t1, then the exact most recent time from just before it.
  const missedCount = Math.trunc((nowMs - t1) / 1000 / between) + 1
  let mostRecentMs: number | undefined
  for (let t = next(t1 + (missedCount - 2) * between * 1000); t !== undefined && t <= nowMs; t = next(t)) mostRecentMs = t
  const missed: Missed = missedCount > manyMissedThreshold ? 'many' : 'few'
  return mostRecentMs === undefined ? { earliestMs, missed } : { earliestMs, mostRecentMs, missed }
}

/** How long until the next activation after the last one handled, plus the skew delta. */
export function nextScheduleDelayMs(cj: V1CronJob, nowMs: number, ctx: ScheduleContext): number | undefined {
  const r = mostRecentScheduleTime(cj, nowMs, ctx, false)
  let from: number
  if (r.error !== undefined) from = nowMs
  else if (r.mostRecentMs !== undefined) from = r.mostRecentMs
  else from = r.missed === 'none' ? r.earliestMs : nowMs
  const next = nextActivation(ctx.schedule, from, ctx.zone)
  return next === undefined ? undefined : next + NEXT_SCHEDULE_DELTA_MS - nowMs
}
