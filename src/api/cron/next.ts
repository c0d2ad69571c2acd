// The next activation of a schedule after an instant: robfig/cron's SpecSchedule.Next, step
// for step, on the wall clock of the schedule's zone. Across a spring-forward the skipped
// hour never matches (a 02:30 job does not run that day); across a fall-back the repeated
// hour matches twice, as in kube-controller-manager.
import type { CronField, Schedule, SpecSchedule } from './parse.ts'
import { instantOf, resolveZone, wallTime, type WallTime } from './zone.ts'

/** robfig gives up after five years without a match. */
const yearsToSearch = 5

function has(field: CronField, value: number): boolean {
  return field.values[value] === true
}

function dayMatches(s: SpecSchedule, w: WallTime): boolean {
  const dom = has(s.dom, w.day)
  const dow = has(s.dow, w.weekday)
  if (s.dom.star || s.dow.star) return dom && dow
  return dom || dow
}

function canMatch(s: SpecSchedule): boolean {
  return [s.second, s.minute, s.hour, s.dom, s.month, s.dow].every((f) => f.values.some(Boolean))
}

/**
 * The first activation strictly after `afterMs` (whole seconds), in milliseconds since the
 * epoch; undefined when the schedule has none within five years (`0 0 30 2 *`) or none at
 * all (a field listing no value, which the parser lets through as robfig's does).
 */
export function nextActivation(schedule: Schedule, afterMs: number, zone: string): number | undefined {
  const wholeSecond = afterMs - (((afterMs % 1000) + 1000) % 1000)
  if (schedule.kind === 'every') return wholeSecond + schedule.delayMs
  const s = schedule
  if (!canMatch(s)) return undefined
  const z = s.zone === undefined ? zone : resolveZone(s.zone)
  let t = wholeSecond + 1000
  let w = wallTime(t, z)
  let added = false
  const set = (ms: number): void => {
    t = ms
    w = wallTime(t, z)
  }
  const yearLimit = w.year + yearsToSearch
  wrap: for (;;) {
    if (w.year > yearLimit) return undefined
    while (!has(s.month, w.month)) {
      if (!added) {
        added = true
        set(instantOf(w.year, w.month, 1, 0, 0, 0, z))
      }
      set(instantOf(w.year, w.month + 1, w.day, w.hour, w.minute, w.second, z))
      if (w.month === 1) continue wrap
    }
    while (!dayMatches(s, w)) {
      if (!added) {
        added = true
        set(instantOf(w.year, w.month, w.day, 0, 0, 0, z))
      }
      set(instantOf(w.year, w.month, w.day + 1, w.hour, w.minute, w.second, z))
      // Where midnight does not exist (DST at 00:00), step back onto the day's first hour.
      if (w.hour !== 0) set(t + (w.hour > 12 ? 24 - w.hour : -w.hour) * 3_600_000)
      if (w.day === 1) continue wrap
    }
    while (!has(s.hour, w.hour)) {
      if (!added) {
        added = true
        set(instantOf(w.year, w.month, w.day, w.hour, 0, 0, z))
      }
      set(t + 3_600_000)
      if (w.hour === 0) continue wrap
    }
    while (!has(s.minute, w.minute)) {
      if (!added) {
        added = true
        set(t - (((t % 60_000) + 60_000) % 60_000))
      }
      set(t + 60_000)
      if (w.minute === 0) continue wrap
    }
    while (!has(s.second, w.second)) {
      if (!added) {
        added = true
        set(t - (((t % 1000) + 1000) % 1000))
      }
      set(t + 1000)
      if (w.second === 0) continue wrap
    }
    return t
  }
}
