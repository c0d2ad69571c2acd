// When did requests fail, and what was happening then: runs of seconds with errors on the
// timeline, each tied to the scenario actions in progress (or just finished) at that time.
import type { ActionRecord, ErrorClass, LoadResult } from '../types.ts'

/** An action ended at most this long before a burst started still counts as its likely cause. */
const afterActionWindowSeconds = 10

export interface ErrorBurst {
  /** The first and last second (inclusive) of consecutive seconds that had errors. */
  firstSecond: number
  lastSecond: number
  errors: number
  /** Most frequent first. */
  classes: { class: ErrorClass; count: number }[]
  /** Actions whose time span overlaps the burst. */
  during: ActionRecord[]
  /** When none overlaps: the latest action that ended shortly before the burst. */
  after?: ActionRecord
}

type TimelineEntry = LoadResult['timeline'][number]

/** Where an action spans on the timeline: from its start to its completion, or to the end of the run if it never completed. */
export function actionSpan(action: ActionRecord, durationSeconds: number): { from: number; to: number } {
  const to = action.completedSecond ?? Math.max(durationSeconds, action.atSecond)
  return { from: action.atSecond, to: Math.max(to, action.atSecond) }
}

/** Sums error classes over timeline entries, most frequent first (ties in class order of appearance). */
export function sumClasses(entries: Iterable<TimelineEntry>): { class: ErrorClass; count: number }[] {
  const totals = new Map<ErrorClass, number>()
  for (const entry of entries) {
    for (const [name, count] of Object.entries(entry.errorClasses) as [ErrorClass, number | undefined][]) {
      if (count) totals.set(name, (totals.get(name) ?? 0) + count)
    }
  }
  return [...totals].map(([name, count]) => ({ class: name, count })).sort((a, b) => b.count - a.count)
}

/** Seconds [from, to] overlap second `s` when the span touches [s, s + 1). */
function overlaps(span: { from: number; to: number }, first: number, last: number): boolean {
  return span.from < last + 1 && span.to >= first
}

export function errorBursts(result: LoadResult): ErrorBurst[] {
  const seconds = result.timeline.filter((entry) => entry.errors > 0).sort((a, b) => a.second - b.second)
  const runs: TimelineEntry[][] = []
  for (const entry of seconds) {
    const run = runs.at(-1)
    if (run && run.at(-1)!.second + 1 === entry.second) run.push(entry)
    else runs.push([entry])
  }
  return runs.map((run) => {
    const firstSecond = run[0].second
    const lastSecond = run.at(-1)!.second
    const during = result.actions.filter((action) => overlaps(actionSpan(action, result.durationSeconds), firstSecond, lastSecond))
    const burst: ErrorBurst = {
      firstSecond,
      lastSecond,
      errors: run.reduce((sum, entry) => sum + entry.errors, 0),
      classes: sumClasses(run),
      during,
    }
    if (during.length === 0) {
      const ended = result.actions
        .map((action) => ({ action, end: actionSpan(action, result.durationSeconds).to }))
        .filter(({ end }) => end <= firstSecond && firstSecond - end <= afterActionWindowSeconds)
        .sort((a, b) => b.end - a.end)
      if (ended.length > 0) burst.after = ended[0].action
    }
    return burst
  })
}

/** The requests that failed while an action was in progress (whole seconds its span touches). */
export function errorsDuring(result: LoadResult, action: ActionRecord): { errors: number; sent: number; classes: { class: ErrorClass; count: number }[] } {
  const span = actionSpan(action, result.durationSeconds)
  const entries = result.timeline.filter((entry) => overlaps(span, entry.second, entry.second))
  return {
    errors: entries.reduce((sum, entry) => sum + entry.errors, 0),
    sent: entries.reduce((sum, entry) => sum + entry.sent, 0),
    classes: sumClasses(entries),
  }
}
