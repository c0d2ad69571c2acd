// Numbers, durations and untrusted strings as weft load's text output shows them.

// C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional overrides and
// isolates that can reorder what a terminal shows.
const unsafeForTerminal = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** A string from a result (which may come from a hostile file) made safe to print: no escape sequences, no line breaks. */
export function terminalSafe(text: string): string {
  return text.replace(unsafeForTerminal, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Cuts `text` to at most `width` characters (code points), marking the cut with `…`. */
export function truncate(text: string, width: number): string {
  const chars = Array.from(text)
  if (chars.length <= width) return text
  if (width <= 0) return ''
  return chars.slice(0, width - 1).join('') + '…'
}

export function displayWidth(text: string): number {
  let width = 0
  for (const _ of text) width++
  return width
}

export function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)))
}

export function padStart(text: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(text))) + text
}

/** 1234567 → `1,234,567`; fractions keep `decimals` places. */
export function formatCount(value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return String(value)
  const fixed = Math.abs(value).toFixed(decimals)
  const [whole, fraction] = fixed.split('.')
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return (value < 0 && Number(fixed) !== 0 ? '-' : '') + grouped + (fraction === undefined ? '' : '.' + fraction)
}

/** A latency in ms with about three significant digits (what an HDR histogram of 3 digits knows): `0.912`, `5.01`, `12.3`, `1,002`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  const size = Math.abs(ms)
  if (size >= 100) return formatCount(Math.round(ms))
  if (size >= 10) return ms.toFixed(1)
  if (size >= 1) return ms.toFixed(2)
  return ms.toFixed(3)
}

/** A fraction (0..1) as a percentage: `0.150%`, `25.0%`, `100%`; tiny non-zero shares stay visible. */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return String(fraction)
  const percent = fraction * 100
  if (percent === 0) return '0%'
  if (percent === 100) return '100%'
  if (Math.abs(percent) < 0.001) return '<0.001%'
  if (Math.abs(percent) < 1) return percent.toFixed(3) + '%'
  if (Math.abs(percent) < 100) return percent.toFixed(1) + '%'
  return formatCount(percent, 0) + '%'
}

/** A rate in requests per second: `500/s`, `499.3/s`, `12,345/s`. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return String(perSecond)
  if (Number.isInteger(perSecond)) return formatCount(perSecond) + '/s'
  return formatCount(perSecond, Math.abs(perSecond) >= 1000 ? 0 : 1) + '/s'
}

/** Seconds for people: `45 s`, `2.5 s`, `3 min 20 s`, `1 h 5 min`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds)
  if (seconds < 120) return (Number.isInteger(seconds) ? String(seconds) : seconds.toFixed(1)) + ' s'
  const whole = Math.round(seconds)
  const hours = Math.floor(whole / 3600)
  const minutes = Math.floor((whole % 3600) / 60)
  const rest = whole % 60
  if (hours > 0) return `${hours} h` + (minutes > 0 ? ` ${minutes} min` : '')
  return `${minutes} min` + (rest > 0 ? ` ${rest} s` : '')
}

/** A percentile's label: 50 → `p50`, 99.9 → `p99.9`, 100 → `max`. */
export function percentileLabel(p: number): string {
  if (p === 100) return 'max'
  return 'p' + String(Number(p.toPrecision(12)))
}

/** Seconds on the run's timeline, a single second or a range: `30 s`, `30–31 s`. */
export function formatSecondRange(first: number, last: number): string {
  return first === last ? `${first} s` : `${first}–${last} s`
}

const eighths = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉']

/** A horizontal bar of `fraction` (0..1) of `width` cells, in eighths of a cell. */
export function textBar(fraction: number, width: number): string {
  const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0
  const total = Math.round(clamped * width * 8)
  const full = Math.floor(total / 8)
  return '█'.repeat(full) + eighths[total % 8]
}

export const protocolNames: Record<string, string> = {
  http1: 'HTTP/1.1',
  http2: 'HTTP/2',
  grpc: 'gRPC',
  tcp: 'TCP connect',
  udp: 'UDP echo',
  dns: 'DNS',
}
