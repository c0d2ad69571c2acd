// result.json: what a run measured (from its merged snapshot) with what it was asked to do.
// Latencies in milliseconds rounded to the microsecond; rates per second.
import { addHistogram, createHistogram, decodeHistogram, encodeHistogram, percentileMs, statsMs, type Histogram } from './histogram.ts'
import { resultSchemaId } from './report/schema.ts'
import { errorClasses, type ErrorClass, type LoadResult, type RunSnapshot } from './types.ts'

export const reportedPercentiles = [50, 75, 90, 95, 99, 99.9, 99.99, 100]
const maxSpectrumHalvings = 60

/** Everything in result.json that is not measured: the caller knows it. */
export type ResultMeta = Pick<LoadResult, 'target' | 'options' | 'generators' | 'phases' | 'actions'>

const round3 = (value: number) => Math.round(value * 1000) / 1000

/**
 * The percentile spectrum as HdrHistogram prints it: 0, 50, 75, 87.5, … each step halving what
 * is left, until less than one value is left; then 100.
 */
export function spectrum(histogram: Histogram): { p: number; ms: number }[] {
  const count = histogram.totalCount
  if (count === 0) return []
  const points: { p: number; ms: number }[] = []
  for (let k = 0; k <= maxSpectrumHalvings && count / 2 ** k >= 1; k++) {
    const p = 100 * (1 - 1 / 2 ** k)
    points.push({ p: round3Percentile(p), ms: round3(percentileMs(histogram, p)) })
  }
  points.push({ p: 100, ms: round3(percentileMs(histogram, 100)) })
  return points
}

/** Percentile levels keep enough digits to tell 99.998 from 99.999. */
function round3Percentile(p: number): number {
  return Math.round(p * 1e6) / 1e6
}

export function toResult(snapshot: RunSnapshot, meta: ResultMeta): LoadResult {
  const windows = [...snapshot.windows].sort((a, b) => a.second - b.second)
  const lastSecond = windows.length > 0 ? windows[windows.length - 1].second : -1
  const durationSeconds = snapshot.durationMs !== undefined ? snapshot.durationMs / 1000 : lastSecond + 1
  const all = createHistogram(true)
  const errorCounts = new Map<ErrorClass, number>()
  let sent = 0
  let ok = 0
  let errors = 0
  const bySecond = new Map<number, LoadResult['timeline'][number]>()
  for (const window of windows) {
    const histogram = decodeHistogram(window.histogram)
    addHistogram(all, histogram)
    let windowErrors = 0
    const errorClassesOfWindow: Partial<Record<ErrorClass, number>> = {}
    for (const name of errorClasses) {
      const count = window.errors[name]
      if (!count) continue
      windowErrors += count
      errorClassesOfWindow[name] = count
      errorCounts.set(name, (errorCounts.get(name) ?? 0) + count)
    }
    sent += window.sent
    ok += window.ok
    errors += windowErrors
    bySecond.set(window.second, {
      second: window.second,
      sent: window.sent,
      ok: window.ok,
      errors: windowErrors,
      errorClasses: errorClassesOfWindow,
      p50: round3(percentileMs(histogram, 50)),
      p90: round3(percentileMs(histogram, 90)),
      p99: round3(percentileMs(histogram, 99)),
      max: round3(percentileMs(histogram, 100)),
    })
  }
  const timelineSeconds = Math.max(lastSecond + 1, Math.ceil(durationSeconds))
  const timeline: LoadResult['timeline'] = []
  for (let second = 0; second < timelineSeconds; second++) {
    timeline.push(bySecond.get(second) ?? { second, sent: 0, ok: 0, errors: 0, errorClasses: {}, p50: 0, p90: 0, p99: 0, max: 0 })
  }

  const endpointEntries = Object.entries(snapshot.endpoints)
  const endpointTotal = endpointEntries.reduce((sum, [, count]) => sum + count, 0)
  const stats = statsMs(all)
  const perSecond = (count: number) => (durationSeconds > 0 ? round3(count / durationSeconds) : 0)
  return {
    schema: resultSchemaId,
    startedAt: new Date(snapshot.startedAtMs).toISOString(),
    durationSeconds: round3(durationSeconds),
    target: meta.target,
    options: meta.options,
    generators: meta.generators,
    phases: meta.phases,
    totals: {
      sent,
      ok,
      errors,
      errorRate: ok + errors > 0 ? Math.round((errors / (ok + errors)) * 1e6) / 1e6 : 0,
      sentRate: perSecond(sent),
      okRate: perSecond(ok),
    },
    errors: [...errorCounts]
      .sort((a, b) => b[1] - a[1] || errorClasses.indexOf(a[0]) - errorClasses.indexOf(b[0]))
      .map(([name, count]) => ({ class: name, count })),
    latency: {
      count: stats.count,
      min: round3(stats.min),
      mean: round3(stats.mean),
      stddev: round3(stats.stddev),
      max: round3(stats.max),
      percentiles: reportedPercentiles.map((p) => ({ p, ms: round3(percentileMs(all, p)) })),
      spectrum: spectrum(all),
      histogram: encodeHistogram(all),
    },
    endpoints: endpointEntries
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([name, requests]) => ({ name, requests, share: endpointTotal > 0 ? Math.round((requests / endpointTotal) * 1e6) / 1e6 : 0 })),
    timeline,
    actions: meta.actions,
  }
}
