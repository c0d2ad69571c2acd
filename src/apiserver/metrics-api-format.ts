// How metrics-server writes its figures: resource.Quantity in canonical form (CPU as
// nano-cores in DecimalSI, `123456n`, `1500u`, `2`; memory as bytes in BinarySI, `1000Ki`,
// `3Mi`) and the window as a Go time.Duration string (`10s`, `1m0s`, `10.5s`).

const decimalSuffixes: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' }
const binarySuffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei']

function checkCount(value: number, what: string): bigint {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what} ${value} is not a non-negative number`)
  return BigInt(Math.floor(value))
}

/** `value × 10^exponent` in DecimalSI canonical form (apimachinery's int64Amount.AsCanonicalBytes). */
function decimalSI(mantissa: bigint, exponent: number): string {
  if (mantissa === 0n) return '0'
  while (mantissa % 10n === 0n) {
    mantissa /= 10n
    exponent++
  }
  const r = ((exponent % 3) + 3) % 3
  mantissa *= 10n ** BigInt(r)
  exponent -= r
  // Beyond E the exponent form would be needed; no CPU or memory figure gets there.
  while (exponent > 18) {
    mantissa *= 1000n
    exponent -= 3
  }
  return `${mantissa}${decimalSuffixes[exponent]}`
}

/** CPU usage from nano-cores, as metrics-server builds it (`NewScaledQuantity(n, -9)`). */
export function cpuQuantity(nanoCores: number): string {
  return decimalSI(checkCount(nanoCores, 'CPU usage'), -9)
}

/** Memory from bytes, as metrics-server builds it (`NewQuantity(n, BinarySI)`): under 1024 it prints as DecimalSI. */
export function memoryQuantity(bytes: number): string {
  let n = checkCount(bytes, 'memory usage')
  if (n < 1024n) return decimalSI(n, 0)
  let power = 0
  while (n % 1024n === 0n && power < binarySuffixes.length - 1) {
    n /= 1024n
    power++
  }
  return `${n}${binarySuffixes[power]}`
}

function fraction(value: bigint, digits: number): string {
  const text = value.toString().padStart(digits, '0').replace(/0+$/, '')
  return text ? `.${text}` : ''
}

/** Go's time.Duration.String() of a duration in milliseconds (fractions of a millisecond dropped). */
export function goDuration(ms: number): string {
  const total = checkCount(ms, 'duration')
  if (total === 0n) return '0s'
  if (total < 1000n) return `${total}ms`
  const hours = total / 3_600_000n
  const minutes = (total / 60_000n) % 60n
  const seconds = (total / 1000n) % 60n
  const secText = `${seconds}${fraction(total % 1000n, 3)}s`
  if (hours > 0n) return `${hours}h${minutes}m${secText}`
  if (minutes > 0n) return `${minutes}m${secText}`
  return secText
}
