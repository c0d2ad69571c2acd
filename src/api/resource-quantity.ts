// resource.Quantity arithmetic as apimachinery does it: exact sums and differences (to the
// nano, rounding smaller parts up as ParseQuantity does), comparison by value, and the
// canonical text String() prints (`1500m`, `2Ki`, `1e3`), which keeps the format the
// quantity was written in: `128Mi` + `128Mi` is `256Mi`, `1` + `500m` is `1500m`.
import { quantityParts } from './quantity.ts'

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent'

export interface Quantity {
  /** The value in units of 10^-9. */
  nanos: bigint
  format: QuantityFormat
}

const NANO = 1_000_000_000n
const formats = { binary: 'BinarySI', decimal: 'DecimalSI', exponent: 'DecimalExponent' } as const
const decimalSuffixes = new Map([[-9, 'n'], [-6, 'u'], [-3, 'm'], [0, ''], [3, 'k'], [6, 'M'], [9, 'G'], [12, 'T'], [15, 'P'], [18, 'E']])
const binarySuffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei']

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b
}

/** Parses `100m`, `1Gi`, `1e3`, `2` (or a JSON number); throws QuantityError otherwise. */
export function toQuantity(text: string | number): Quantity {
  const p = quantityParts(text)
  const scale = p.exp10 + 9
  const whole = p.digits * 2n ** BigInt(p.exp2)
  const abs = scale >= 0 ? whole * 10n ** BigInt(scale) : ceilDiv(whole, 10n ** BigInt(-scale))
  return { nanos: p.negative ? -abs : abs, format: formats[p.suffix] }
}

export function zeroQuantity(format: QuantityFormat = 'DecimalSI'): Quantity {
  return { nanos: 0n, format }
}

/** A whole number of units, printed as DecimalSI (resource.NewQuantity(n, DecimalSI)). */
export function countQuantity(n: number | bigint): Quantity {
  return { nanos: BigInt(n) * NANO, format: 'DecimalSI' }
}

/** a + b; the format is a's, or b's when a is zero (Quantity.Add). */
export function addQuantities(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos + b.nanos, format: a.nanos === 0n ? b.format : a.format }
}

/** a − b; the format is a's, or b's when a is zero (Quantity.Sub). */
export function subtractQuantities(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos - b.nanos, format: a.nanos === 0n ? b.format : a.format }
}

export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0
}

function roundedAway(nanos: bigint, unit: bigint): bigint {
  return nanos < 0n ? -ceilDiv(-nanos, unit) : ceilDiv(nanos, unit)
}

/** Quantity.Value(): whole units, rounded away from zero. */
export function quantityValue(q: Quantity): bigint {
  return roundedAway(q.nanos, NANO)
}

/** The quantity rounded away from zero to whole units (Quantity.RoundUp(0)). */
export function wholeUnits(q: Quantity): Quantity {
  return { nanos: quantityValue(q) * NANO, format: q.format }
}

/** Quantity.MilliValue(): thousandths, rounded away from zero. */
export function quantityMilliValue(q: Quantity): bigint {
  return roundedAway(q.nanos, 1_000_000n)
}

/** Quantity.String(): the canonical text of the quantity in its format. */
export function formatQuantity(q: Quantity): string {
  if (q.nanos === 0n) return '0'
  const sign = q.nanos < 0n ? '-' : ''
  const abs = q.nanos < 0n ? -q.nanos : q.nanos
  // BinarySI only for whole numbers from 1024 up; anything else would round or read oddly.
  if (q.format === 'BinarySI' && abs >= 1024n * NANO && abs % NANO === 0n) {
    let n = abs / NANO
    let power = 0
    while (power < binarySuffixes.length - 1 && n % 1024n === 0n) {
      n /= 1024n
      power++
    }
    return `${sign}${n}${binarySuffixes[power]}`
  }
  let mantissa = abs
  let exponent = -9
  while (mantissa % 10n === 0n) {
    mantissa /= 10n
    exponent++
  }
  const r = ((exponent % 3) + 3) % 3
  mantissa *= 10n ** BigInt(r)
  exponent -= r
  const suffix = q.format === 'DecimalExponent' ? (exponent === 0 ? '' : `e${exponent}`) : (decimalSuffixes.get(exponent) ?? `e${exponent}`)
  return `${sign}${mantissa}${suffix}`
}
