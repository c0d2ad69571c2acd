// metav1.Duration's JSON is Go's duration text ("1h2m3.5s"); its protobuf is nanoseconds.
// Parsing and printing follow Go's time.ParseDuration and Duration.String.

const unitNanos: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 MICRO SIGN
  'μs': 1e3, // U+03BC GREEK SMALL LETTER MU
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
}

const part = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/

/** Nanoseconds, or undefined when `text` is not a Go duration or its size is beyond ±2^53 ns. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text
  let sign = 1
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1
    rest = rest.slice(1)
  }
  if (rest === '0') return 0
  if (rest === '') return undefined
  let total = 0
  while (rest !== '') {
    const m = part.exec(rest)
    if (!m) return undefined
    total += Number(m[1]) * unitNanos[m[2]]
    rest = rest.slice(m[0].length)
  }
  const ns = Math.round(total) * sign
  return Number.isSafeInteger(ns) ? ns : undefined
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
