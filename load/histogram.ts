// Latency histograms: HdrHistogram (hdr-histogram-js, the JavaScript implementation) in
// microseconds from 1 µs to 60 s at 3 significant digits. Histograms add exactly, so windows and
// generators merge without loss. Encoded ones travel as compressed base64 and are checked before
// they are decoded: they come from load pods and from result files.
import { inflateSync } from 'node:zlib'
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js'

export type { Histogram }

export const lowestMicros = 1
export const highestMicros = 60_000_000
export const significantDigits = 3

/** A second's histogram at 100k requests/s encodes to ~12 KB; this leaves ample room and bounds hostile input. */
const maxEncodedChars = 4 << 20
const maxDecodedBytes = 8 << 20
const compressedCookieBase = 0x1c849304
const plainCookieBase = 0x1c849303
const headerBytes = 40

/**
 * 32-bit counts (a second's window holds far fewer than 2^31 values); merged totals use 64-bit
 * floats, exact to 2^53.
 */
export function createHistogram(wide = false): Histogram {
  return build({
    lowestDiscernibleValue: lowestMicros,
    highestTrackableValue: highestMicros,
    numberOfSignificantValueDigits: significantDigits,
    bitBucketSize: wide ? 64 : 32,
    autoResize: false,
    useWebAssembly: false,
  })
}

/** Records one latency; values outside 0 .. 60 s are clamped (a latency is never lost). */
export function recordMicros(histogram: Histogram, micros: number): void {
  if (micros > highestMicros) micros = highestMicros
  else if (!(micros >= 0)) micros = 0
  histogram.recordValue(Math.round(micros))
}

export function recordMs(histogram: Histogram, ms: number): void {
  recordMicros(histogram, ms * 1000)
}

/** Adds every value of `from` into `into`. */
export function addHistogram(into: Histogram, from: Histogram): void {
  if (from.totalCount > 0) into.add(from)
}

export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram)
}

export class HistogramDecodeError extends Error {
  constructor(message: string) {
    super(`histogram: ${message}`)
    this.name = 'HistogramDecodeError'
  }
}

/**
 * Decodes a histogram written by `encodeHistogram` into a 64-bit histogram. Anything else (other
 * ranges or precision, corrupt or oversized data) is refused with an error saying what was wrong.
 */
export function decodeHistogram(text: string): Histogram {
  if (typeof text !== 'string') throw new HistogramDecodeError('not a string')
  if (text.length === 0 || text.length > maxEncodedChars) throw new HistogramDecodeError(`length ${text.length} is outside 1..${maxEncodedChars}`)
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new HistogramDecodeError('not base64')
  const bytes = Buffer.from(text, 'base64')
  if (bytes.length < 8) throw new HistogramDecodeError('too short')
  if ((bytes.readInt32BE(0) & ~0xf0) !== compressedCookieBase) throw new HistogramDecodeError('not a compressed V2 HdrHistogram')
  const compressedLength = bytes.readInt32BE(4)
  if (compressedLength <= 0 || compressedLength !== bytes.length - 8) throw new HistogramDecodeError(`compressed length ${compressedLength} does not match the data (${bytes.length - 8} bytes)`)
  let plain: Buffer
  try {
    plain = inflateSync(bytes.subarray(8), { maxOutputLength: maxDecodedBytes })
  } catch (err) {
    throw new HistogramDecodeError(`cannot inflate: ${(err as Error).message}`)
  }
  checkHeader(plain)
  let histogram: Histogram
  try {
    histogram = decodeFromCompressedBase64(text, 64, false)
  } catch (err) {
    throw new HistogramDecodeError(`cannot decode: ${(err as Error).message}`)
  }
  const total = histogram.totalCount
  if (!Number.isSafeInteger(total) || total < 0) throw new HistogramDecodeError(`total count ${total} is not a safe integer`)
  return histogram
}

function checkHeader(plain: Buffer): void {
  if (plain.length < headerBytes) throw new HistogramDecodeError('header too short')
  if ((plain.readInt32BE(0) & ~0xf0) !== plainCookieBase) throw new HistogramDecodeError('no V2 encoding cookie')
  const payloadLength = plain.readInt32BE(4)
  if (payloadLength < 0 || payloadLength !== plain.length - headerBytes) throw new HistogramDecodeError(`payload length ${payloadLength} does not match the data`)
  const digits = plain.readInt32BE(12)
  const lowest = Number(plain.readBigInt64BE(16))
  const highest = Number(plain.readBigInt64BE(24))
  if (digits !== significantDigits || lowest !== lowestMicros || highest !== highestMicros) {
    throw new HistogramDecodeError(`expected ${significantDigits} digits over ${lowestMicros}..${highestMicros} µs, got ${digits} digits over ${lowest}..${highest}`)
  }
}

export function percentileMs(histogram: Histogram, percentile: number): number {
  return histogram.totalCount === 0 ? 0 : histogram.getValueAtPercentile(percentile) / 1000
}

export interface HistogramStats {
  count: number
  min: number
  mean: number
  stddev: number
  max: number
}

/**
 * Count and moments in milliseconds (0 for an empty histogram). Min and max are bucket values, as
 * percentiles are, so a histogram and its decoded copy (or a merge) report the same numbers.
 */
export function statsMs(histogram: Histogram): HistogramStats {
  const count = histogram.totalCount
  if (count === 0) return { count, min: 0, mean: 0, stddev: 0, max: 0 }
  return {
    count,
    min: histogram.getValueAtPercentile(0) / 1000,
    mean: histogram.mean / 1000,
    stddev: histogram.stdDeviation / 1000,
    max: histogram.getValueAtPercentile(100) / 1000,
  }
}
