// How metrics-server writes its figures: resource.Quantity in canonical form (CPU as
// nano-cores in DecimalSI, `123456n`, `1500u`, `2`; memory as bytes in BinarySI, `1000Ki`,
// `3Mi`) and the window as a Go time.Duration string (`10s`, `1m0s`, `10.5s`).
import { formatQuantity } from '../api/resource-quantity.ts'
import { formatGoDuration } from '../util/go-duration.ts'

function checkCount(value: number, what: string): bigint {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what} ${value} is not a non-negative number`)
  return BigInt(Math.floor(value))
}

/** CPU usage from nano-cores, as metrics-server builds it (`NewScaledQuantity(n, -9)`). */
export function cpuQuantity(nanoCores: number): string {
  return formatQuantity({ nanos: checkCount(nanoCores, 'CPU usage'), format: 'DecimalSI' })
}

/** Memory from bytes, as metrics-server builds it (`NewQuantity(n, BinarySI)`): under 1024 it prints as DecimalSI. */
export function memoryQuantity(bytes: number): string {
  return formatQuantity({ nanos: checkCount(bytes, 'memory usage') * 1_000_000_000n, format: 'BinarySI' })
}

/** Go's time.Duration.String() of a duration in milliseconds (fractions of a millisecond dropped). */
export function goDuration(ms: number): string {
  return formatGoDuration(Number(checkCount(ms, 'duration')) * 1e6)
}
