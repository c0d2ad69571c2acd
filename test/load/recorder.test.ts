import t from 'tap'
import { createHistogram, decodeHistogram, encodeHistogram, percentileMs, recordMs } from '../../load/histogram.ts'
import { checkSnapshot, checkWindow, maxEndpoints, mergeSnapshots, otherEndpoints, Recorder } from '../../load/recorder.ts'
import type { RunSnapshot } from '../../load/types.ts'

t.test('requests land in the second of their intended send time; warm-up is not recorded', async (t) => {
  const recorder = new Recorder(1_700_000_000_000)
  recorder.sent(-5)
  recorder.done(-5, 10, undefined, 'warm')
  recorder.sent(100)
  recorder.sent(999.9)
  recorder.sent(1000)
  recorder.done(999.9, 1205, 'http-5xx', 'pod-b')
  recorder.done(100, 105, undefined, 'pod-a')
  recorder.done(1000, 1002, undefined, 'pod-a')
  t.same(recorder.totals, { sent: 3, ended: 3, ok: 2, errors: 1 })
  const snapshot = recorder.snapshot()
  t.equal(snapshot.startedAtMs, 1_700_000_000_000)
  t.same(snapshot.endpoints, { 'pod-a': 2, 'pod-b': 1 })
  t.equal(snapshot.windows.length, 2)
  const [first, second] = snapshot.windows
  t.match(first, { second: 0, sent: 2, ok: 1, errors: { 'http-5xx': 1 } })
  t.match(second, { second: 1, sent: 1, ok: 1, errors: {} })
  const latencies = decodeHistogram(first.histogram)
  t.equal(latencies.totalCount, 2)
  t.equal(percentileMs(latencies, 0), 5, 'the first request took 5 ms')
  t.ok(Math.abs(percentileMs(latencies, 100) - 205.1) < 0.2, 'the second took 205.1 ms, timed from its intended send time')
})

t.test('a second is handed out once all of its requests ended and nothing more can be meant in it', async (t) => {
  const recorder = new Recorder(0)
  recorder.sent(10)
  recorder.sent(1500)
  t.same(recorder.takeComplete(900), [], 'second 0 may still get requests')
  t.same(recorder.takeComplete(1600), [], 'second 0 has a request in flight')
  recorder.done(10, 1700, 'timeout', undefined)
  const taken = recorder.takeComplete(1800)
  t.same(taken.map((w) => w.second), [0])
  t.equal(taken[0].errors.timeout, 1)
  t.ok(recorder.lastWindowLatency.p99 >= 1689 && recorder.lastWindowLatency.p99 <= 1692, `p99 of the last window: ${recorder.lastWindowLatency.p99}`)
  t.same(recorder.takeComplete(1800), [], 'each window once')
  recorder.done(1500, 1501, undefined, undefined)
  t.same(recorder.takeComplete(1999), [], 'second 1 may still get requests')
  t.same(recorder.takeComplete(4000).map((w) => [w.second, w.sent]), [[1, 1], [2, 0], [3, 0]], 'quiet seconds are handed out empty, in order')
})

t.test('finish hands out the rest, complete or not, and ignores later results', async (t) => {
  const recorder = new Recorder(0)
  recorder.sent(100)
  recorder.sent(1100)
  recorder.done(1100, 1110, undefined, undefined)
  const rest = recorder.finish(2500)
  t.same(rest.map((w) => [w.second, w.sent, w.ok]), [[0, 1, 0], [1, 1, 1], [2, 0, 0]])
  recorder.done(100, 3000, undefined, undefined)
  recorder.sent(2600)
  t.same(recorder.totals, { sent: 2, ended: 1, ok: 1, errors: 0 })
  t.same(recorder.snapshot().windows.map((w) => w.second), [0, 1, 2])
  t.equal(recorder.snapshot().durationMs, 2500)
})

t.test('endpoints beyond the limit are counted together', async (t) => {
  const recorder = new Recorder(0)
  for (let i = 0; i < maxEndpoints + 5; i++) {
    recorder.sent(1)
    recorder.done(1, 2, undefined, `pod-${i}`)
  }
  const endpoints = recorder.snapshot().endpoints
  t.equal(Object.keys(endpoints).length, maxEndpoints + 1)
  t.equal(endpoints[otherEndpoints], 5)
})

function generator(startedAtMs: number, latencies: number[][], endpoints: Record<string, number>): RunSnapshot {
  return {
    startedAtMs,
    endpoints,
    windows: latencies.map((values, second) => {
      const histogram = createHistogram()
      for (const value of values) recordMs(histogram, value)
      return { second, sent: values.length + 1, ok: values.length - 1, errors: { reset: 1 }, histogram: encodeHistogram(histogram) }
    }),
  }
}

t.test('merging is exact: merged percentiles equal those of one histogram fed every value', async (t) => {
  let seed = 7
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const values = (n: number, scale: number) => Array.from({ length: n }, () => Math.exp(random() * scale) * 0.01)
  const a = generator(5000, [values(3000, 9), values(2000, 12)], { 'pod-a': 10, 'pod-b': 1 })
  const b = generator(5000, [values(1000, 6), values(4000, 14), values(10, 3)], { 'pod-b': 2 })
  a.durationMs = 1800
  b.durationMs = 2500
  const merged = mergeSnapshots([a, b])
  t.equal(merged.startedAtMs, 5000)
  t.equal(merged.durationMs, 2500, 'the longest generator')
  t.same(merged.endpoints, { 'pod-a': 10, 'pod-b': 3 })
  t.same(merged.windows.map((w) => [w.second, w.sent, w.ok, w.errors.reset]), [[0, 4002, 3998, 2], [1, 6002, 5998, 2], [2, 11, 9, 1]])
  for (const second of [0, 1]) {
    const all = createHistogram(true)
    const source = [a, b].flatMap((g) => g.windows.filter((w) => w.second === second))
    for (const w of source) all.add(decodeHistogram(w.histogram))
    const one = decodeHistogram(merged.windows[second].histogram)
    t.equal(one.totalCount, all.totalCount)
    for (const p of [0, 10, 50, 90, 99, 99.9, 99.99, 100]) t.equal(percentileMs(one, p), percentileMs(all, p), `second ${second} p${p}`)
  }
  // And against values recorded straight into one histogram:
  const direct = createHistogram()
  seed = 7
  for (const v of [...values(3000, 9), ...values(2000, 12), ...values(1000, 6), ...values(4000, 14), ...values(10, 3)]) recordMs(direct, v)
  const everything = createHistogram(true)
  for (const w of merged.windows) everything.add(decodeHistogram(w.histogram))
  for (const p of [50, 99, 99.9, 100]) t.equal(percentileMs(everything, p), percentileMs(direct, p), `all seconds p${p}`)
  t.equal(everything.mean, direct.mean)
})

t.test('generators with different start times do not merge', async (t) => {
  t.throws(() => mergeSnapshots([generator(1000, [[1]], {}), generator(2000, [[1]], {})]), /different times/)
  t.throws(() => mergeSnapshots([]), /nothing to merge/)
})

t.test('snapshots from the network are checked', async (t) => {
  const good = generator(1000, [[1, 2, 3]], { 'pod-a': 3 })
  t.same(checkSnapshot(JSON.parse(JSON.stringify(good))), good)
  const window = good.windows[0]
  t.throws(() => checkSnapshot(null), /not an object/)
  t.throws(() => checkSnapshot({ ...good, startedAtMs: 'x' }), /startedAtMs/)
  t.throws(() => checkSnapshot({ ...good, durationMs: -1 }), /durationMs/)
  t.equal(checkSnapshot({ ...good, durationMs: 1500 }).durationMs, 1500)
  t.throws(() => checkSnapshot({ ...good, windows: [window, window] }), /appears twice/)
  t.throws(() => checkSnapshot({ ...good, endpoints: { 'bad\nname': 1 } }), /endpoint name/)
  t.throws(() => checkSnapshot({ ...good, endpoints: { a: -1 } }), /must be a count/)
  t.throws(() => checkWindow({ ...window, second: -1 }), /second must be/)
  t.throws(() => checkWindow({ ...window, second: 1.5 }), /second must be/)
  t.throws(() => checkWindow({ ...window, sent: 1 }), /ended but 1 were sent/)
  t.throws(() => checkWindow({ ...window, errors: { nope: 1 } }), /unknown error class/)
  t.throws(() => checkWindow({ ...window, errors: { reset: 2 } }), /holds 3 latencies but 4 requests ended/)
  t.throws(() => checkWindow({ ...window, histogram: 'AAAA' }), /histogram/)
  t.throws(() => checkWindow({ ...window, histogram: 'not base64!' }), /not base64/)
})
