import t from 'tap'
import { createHistogram, decodeHistogram, encodeHistogram, recordMs } from '../../load/histogram.ts'
import { parseResult } from '../../load/report/schema.ts'
import { reportedPercentiles, spectrum, toResult, type ResultMeta } from '../../load/result.ts'
import type { ErrorClass, RunSnapshot, WindowSnapshot } from '../../load/types.ts'

function window(second: number, latenciesMs: number[], errors: Partial<Record<ErrorClass, number>> = {}, unanswered = 0): WindowSnapshot {
  const histogram = createHistogram()
  for (const ms of latenciesMs) recordMs(histogram, ms)
  const failed = Object.values(errors).reduce((sum, n) => sum + (n ?? 0), 0)
  return { second, sent: latenciesMs.length + unanswered, ok: latenciesMs.length - failed, errors, histogram: encodeHistogram(histogram) }
}

const meta: ResultMeta = {
  target: { spec: 'svc/web', description: 'svc/web.default:80 → ClusterIP 10.96.0.12:80', protocol: 'http1', tls: false, endpoints: ['10.96.0.12:80'] },
  options: { mode: 'open-loop', rate: 100, connections: 10, keepAlive: true, durationSeconds: 4, warmupSeconds: 1, timeoutSeconds: 5 },
  generators: [{ name: 'local' }],
  phases: [{ name: 'steady', startSecond: 0, durationSeconds: 4, rate: 100 }],
  actions: [{ name: 'roll', kind: 'rollout', atSecond: 1, completedSecond: 3, ok: true, message: 'rolled out web' }],
}

t.test('a hand-made run: totals, error classes, percentiles, endpoints, timeline with a quiet second', async (t) => {
  const snapshot: RunSnapshot = {
    startedAtMs: Date.UTC(2025, 0, 2, 3, 4, 5, 600),
    durationMs: 4000,
    windows: [
      window(0, [1, 2, 3, 4]),
      window(1, [10, 20, 30, 40, 1000], { 'http-5xx': 2, reset: 1 }, 1),
      window(3, [5], { timeout: 1 }),
    ],
    endpoints: { 'web-b': 1, 'web-a': 3 },
  }
  const result = toResult(snapshot, meta)
  t.equal(result.schema, 'weft.dev/load-result/v1')
  t.equal(result.startedAt, '2025-01-02T03:04:05.600Z')
  t.equal(result.durationSeconds, 4)
  t.same(result.target, meta.target)
  t.same(result.actions, meta.actions)
  t.same(result.totals, { sent: 11, ok: 6, errors: 4, errorRate: 0.4, sentRate: 2.75, okRate: 1.5 })
  t.same(result.errors, [{ class: 'http-5xx', count: 2 }, { class: 'reset', count: 1 }, { class: 'timeout', count: 1 }])
  t.equal(result.latency.count, 10)
  t.same(result.latency.percentiles.map((p) => p.p), reportedPercentiles)
  t.same(
    result.latency.percentiles.map((p) => p.ms),
    [5.003, 30.015, 40.031, 1000.447, 1000.447, 1000.447, 1000.447, 1000.447],
    'percentiles of all latencies: 5, 30, 40, 1000 ms as the top of their HDR buckets (within 0.1%)',
  )
  t.equal(result.latency.min, 1)
  t.equal(result.latency.max, 1000.447)
  t.ok(Math.abs(result.latency.mean - 111.5) < 0.2, `mean ${result.latency.mean}`)
  t.equal(decodeHistogram(result.latency.histogram).totalCount, 10)
  t.same(result.endpoints, [
    { name: 'web-a', requests: 3, share: 0.75 },
    { name: 'web-b', requests: 1, share: 0.25 },
  ])
  t.same(
    result.timeline.map((s) => [s.second, s.sent, s.ok, s.errors]),
    [[0, 4, 4, 0], [1, 6, 2, 3], [2, 0, 0, 0], [3, 1, 0, 1]],
    'every second is present, the quiet one too',
  )
  t.same(result.timeline[1].errorClasses, { reset: 1, 'http-5xx': 2 })
  t.match(result.timeline[0], { p50: 2, p90: 4.001, p99: 4.001, max: 4.001 })
  t.equal(result.timeline[1].max, 1000.447)
  t.same(JSON.parse(JSON.stringify(result)), result, 'plain JSON')
})

t.test('the spectrum: 0, 50, 75, 87.5, … until less than one value is left, then 100', async (t) => {
  const histogram = createHistogram()
  for (let ms = 1; ms <= 1000; ms++) recordMs(histogram, ms)
  const points = spectrum(histogram)
  t.same(points.map((p) => p.p), [0, 50, 75, 87.5, 93.75, 96.875, 98.4375, 99.21875, 99.609375, 99.804688, 100])
  t.same(points.slice(0, 3).map((p) => p.ms), [1, 500.223, 750.079])
  t.equal(points[points.length - 1].ms, 1000.447)
  t.ok(points.every((p, i) => i === 0 || p.ms >= points[i - 1].ms), 'non-decreasing')
  t.same(spectrum(createHistogram()), [])
})

t.test('no duration in the snapshot: the windows span it; empty runs are all zeros', async (t) => {
  const result = toResult({ startedAtMs: 0, windows: [window(0, [1]), window(1, [2])], endpoints: {} }, meta)
  t.equal(result.durationSeconds, 2)
  t.equal(result.totals.sentRate, 1)
  t.same(result.endpoints, [])
  const empty = toResult({ startedAtMs: 0, durationMs: 0, windows: [], endpoints: {} }, meta)
  t.same(empty.totals, { sent: 0, ok: 0, errors: 0, errorRate: 0, sentRate: 0, okRate: 0 })
  t.same(empty.latency.percentiles.map((p) => p.ms), [0, 0, 0, 0, 0, 0, 0, 0])
  t.same(empty.timeline, [])
  t.same(empty.latency.spectrum, [])
})

t.test('a run cut short: rates over the time it actually sent', async (t) => {
  const result = toResult({ startedAtMs: 0, durationMs: 2500, windows: [window(0, Array(100).fill(1)), window(1, Array(100).fill(1)), window(2, Array(50).fill(1))], endpoints: {} }, meta)
  t.equal(result.durationSeconds, 2.5)
  t.equal(result.totals.sentRate, 100)
  t.equal(result.timeline.length, 3)
})

t.test('what toResult writes is a valid result.json, read back unchanged', async (t) => {
  const written = toResult({ startedAtMs: 0, durationMs: 2000, windows: [window(0, [1, 2]), window(1, [3], { reset: 1 })], endpoints: { a: 2 } }, meta)
  t.same(parseResult(JSON.stringify(written), 'a.json'), written)
})
