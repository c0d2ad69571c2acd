// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource): `100m`, `1Gi`,
// `128974848`, `1e3`, `1.5`. Parsed exactly (BigInt) so `milli` rounds up like Quantity.MilliValue.

export class QuantityError extends Error {
  readonly code = 'InvalidQuantity'
  constructor(input: string) {
    super(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(input)}`)
    this.name = 'QuantityError'
  }
}

/** A quantity exactly as written; the kind of suffix decides how Kubernetes prints it back. */
export interface QuantityParts {
  negative: boolean
  /** |value| = digits × 10^exp10 × 2^exp2 */
  digits: bigint
  exp10: number
  exp2: number
  suffix: 'binary' | 'decimal' | 'exponent'
}

const binarySuffixes: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 }
const decimalSuffixes: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 }
const numberPattern = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/
const exponentPattern = /^[eE]([+-]?\d+)$/

function parseExact(input: string): QuantityParts | undefined {
  const m = numberPattern.exec(input)
  if (!m) return undefined
  const [, sign, whole, frac = '', suffix] = m
  if (whole === '' && frac === '') return undefined
  let exp10 = -frac.length
  let exp2 = 0
  let kind: QuantityParts['suffix'] = 'decimal'
  if (Object.hasOwn(binarySuffixes, suffix)) {
    exp2 = binarySuffixes[suffix]
    kind = 'binary'
  } else if (Object.hasOwn(decimalSuffixes, suffix)) exp10 += decimalSuffixes[suffix]
  else {
    const e = exponentPattern.exec(suffix)
    if (!e) return undefined
    exp10 += Number(e[1])
    kind = 'exponent'
  }
  return { negative: sign === '-', digits: BigInt((whole || '0') + frac), exp10, exp2, suffix: kind }
}

/** The parts of a quantity; throws QuantityError when it is not one. */
export function quantityParts(q: string | number): QuantityParts {
  return exactOf(q)
}

function exactOf(q: string | number): QuantityParts {
  const text = typeof q === 'number' ? String(q) : q.trim()
  const exact = typeof q === 'number' && !Number.isFinite(q) ? undefined : parseExact(text)
  if (!exact) throw new QuantityError(String(q))
  return exact
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b
}

/** The quantity as a number: `parseQuantity('100m') === 0.1`, `parseQuantity('1Gi') === 1073741824`. */
export function parseQuantity(q: string | number): number {
  const { negative, digits, exp10, exp2 } = exactOf(q)
  const v = Number(`${digits}e${exp10}`) * 2 ** exp2
  return negative ? -v : v
}

/** The quantity in thousandths, rounded up (away from zero) like `Quantity.MilliValue()`. */
export function parseQuantityMilli(q: string | number): number {
  const { negative, digits, exp10, exp2 } = exactOf(q)
  const scale = exp10 + 3
  const num = digits * 2n ** BigInt(exp2)
  const milli = scale >= 0 ? num * 10n ** BigInt(scale) : ceilDiv(num, 10n ** BigInt(-scale))
  const v = Number(milli)
  return negative ? -v : v
}

/** The quantity in whole units, rounded up like `Quantity.Value()`. */
export function parseQuantityValue(q: string | number): number {
  const { negative, digits, exp10, exp2 } = exactOf(q)
  const num = digits * 2n ** BigInt(exp2)
  const whole = exp10 >= 0 ? num * 10n ** BigInt(exp10) : ceilDiv(num, 10n ** BigInt(-exp10))
  const v = Number(whole)
  return negative ? -v : v
}

export function isQuantity(q: unknown): boolean {
  if (typeof q !== 'string' && typeof q !== 'number') return false
  try {
    exactOf(q)
    return true
  } catch {
    return false
  }
}
