import t from 'tap'
import { deflateSync } from 'node:zlib'
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js'
import { addHistogram, createHistogram, decodeHistogram, encodeHistogram, highestMicros, percentileMs, recordMicros, recordMs, statsMs } from '../../load/histogram.ts'

t.test('records microseconds at 3 significant digits', async (t) => {
  const histogram = createHistogram()
  for (const ms of [0.001, 0.5, 5, 5.0004, 100, 2500]) recordMs(histogram, ms)
  t.equal(histogram.totalCount, 6)
  t.equal(percentileMs(histogram, 0), 0.001)
  t.equal(percentileMs(histogram, 50), 5.003, '5 ms and 5.0004 ms share the bucket 5.000..5.003 ms')
  t.ok(Math.abs(percentileMs(histogram, 100) - 2500) / 2500 < 0.001, 'the max within 0.1%')
})

t.test('values outside 1 µs .. 60 s are clamped, never thrown', async (t) => {
  const histogram = createHistogram()
  recordMicros(histogram, highestMicros * 10)
  recordMicros(histogram, -5)
  recordMicros(histogram, Number.NaN)
  recordMicros(histogram, Infinity)
  t.equal(histogram.totalCount, 4)
  t.ok(percentileMs(histogram, 100) >= 60_000 && percentileMs(histogram, 100) < 60_100)
  t.equal(percentileMs(histogram, 0), 0)
})

t.test('encode and decode round-trip exactly', async (t) => {
  const histogram = createHistogram()
  for (let i = 1; i <= 10_000; i++) recordMicros(histogram, i * 37)
  const decoded = decodeHistogram(encodeHistogram(histogram))
  t.equal(decoded.totalCount, 10_000)
  for (const p of [0, 1, 25, 50, 90, 99, 99.9, 100]) t.equal(percentileMs(decoded, p), percentileMs(histogram, p), `p${p}`)
  t.same(statsMs(decoded), statsMs(histogram))
  t.same(statsMs(createHistogram()), { count: 0, min: 0, mean: 0, stddev: 0, max: 0 })
})

t.test('adding histograms equals recording everything into one', async (t) => {
  const a = createHistogram()
  const b = createHistogram()
  const both = createHistogram()
  for (let i = 0; i < 5000; i++) {
    const value = (i * 7919) % 1_000_000
    recordMicros(i % 3 === 0 ? a : b, value)
    recordMicros(both, value)
  }
  const merged = createHistogram(true)
  addHistogram(merged, decodeHistogram(encodeHistogram(a)))
  addHistogram(merged, decodeHistogram(encodeHistogram(b)))
  addHistogram(merged, createHistogram())
  for (const p of [0, 10, 50, 75, 99, 99.99, 100]) t.equal(percentileMs(merged, p), percentileMs(both, p), `p${p}`)
  t.equal(merged.totalCount, both.totalCount)
  t.equal(merged.mean, both.mean)
})

t.test('decoding refuses anything but our histograms', async (t) => {
  const other = build({ numberOfSignificantValueDigits: 2 })
  other.recordValue(5)
  t.throws(() => decodeHistogram(encodeIntoCompressedBase64(other)), /expected 3 digits over 1..60000000/)
  t.throws(() => decodeHistogram(''), /length 0/)
  t.throws(() => decodeHistogram('x'.repeat(5 << 20)), /length/)
  t.throws(() => decodeHistogram('not base64!'), /not base64/)
  t.throws(() => decodeHistogram(Buffer.alloc(12).toString('base64')), /not a compressed V2 HdrHistogram/)
  t.throws(() => decodeHistogram(123 as unknown as string), /not a string/)
  const good = Buffer.from(encodeHistogram(createHistogram()), 'base64')
  const truncated = good.subarray(0, good.length - 3).toString('base64')
  t.throws(() => decodeHistogram(truncated), /compressed length/)
  // A deflate bomb: a small input that would inflate to far more than any histogram.
  const bomb = deflateSync(Buffer.alloc(64 << 20))
  const header = Buffer.alloc(8)
  header.writeInt32BE(0x1c849304 | 0x10, 0)
  header.writeInt32BE(bomb.length, 4)
  t.throws(() => decodeHistogram(Buffer.concat([header, bomb]).toString('base64')), /cannot inflate/)
})
