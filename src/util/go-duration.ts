// Go's duration text ("1.5s", "300ms", "1h2m3.5s"): time.ParseDuration and Duration.String.
// metav1.Duration's JSON is this text (its protobuf is nanoseconds); so are weft's flags.

const unitNs: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }

/** Nanoseconds, or undefined when `text` is not a Go duration or is beyond ±2^53 ns. */
export function parseGoDurationNs(text: string): number | undefined {
  const m = /^([+-]?)(.*)$/s.exec(text)
  if (!m || m[2] === '') return undefined
  if (m[2] === '0') return 0
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y
  let total = 0
  let at = 0
  while (at < m[2].length) {
    part.lastIndex = at
    const p = part.exec(m[2])
    if (!p) return undefined
    total += Number(p[1]) * unitNs[p[2]]
    at = part.lastIndex
  }
  const ns = Math.round(total) * (m[1] === '-' ? -1 : 1)
  return Number.isSafeInteger(ns) ? ns : undefined
}

/** The same in milliseconds. */
export function parseGoDuration(text: string): number | undefined {
  const ns = parseGoDurationNs(text)
  return ns === undefined ? undefined : ns / 1e6
}

/** Go's Duration.String: "1h2m3.5s", "1.5ms", "0s". */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s'
  const sign = ns < 0 ? '-' : ''
  let u = Math.abs(ns)
  if (u < 1e9) {
    // Below a second: one unit, with a fraction.
    const [unit, size] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6]
    return `${sign}${fraction(u, size)}${unit}`
  }
  let out = ''
  const hours = Math.floor(u / 3600e9)
  u -= hours * 3600e9
  const minutes = Math.floor(u / 60e9)
  u -= minutes * 60e9
  if (hours > 0) out += `${hours}h`
  if (hours > 0 || minutes > 0) out += `${minutes}m`
  return `${sign}${out}${fraction(u, 1e9)}s`
}

/** `value / size` in decimal, without trailing zeros. */
function fraction(value: number, size: number): string {
  const whole = Math.floor(value / size)
  const rest = value - whole * size
  if (rest === 0) return String(whole)
  const digits = String(size).length - 1
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`
}
