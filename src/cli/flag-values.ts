// The value syntaxes weft's flags share: booleans, whole numbers, durations, choices,
// addresses and CIDRs. Each parser names the flag and the value it refuses, and says what it
// wants instead.
import { parseGoBool } from '../util/go-bool.ts'
import { parseCIDR, parseIP } from '../util/ip-parse.ts'
import { MAX_TIMER_MS } from '../util/timers.ts'

const MAX_TIMER_HOURS = Math.floor(MAX_TIMER_MS / 3_600_000)

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Go's boolean spellings (`true`, `false`, `1`, `F`…), as Kubernetes components take them; '' is a bare `--flag` (true); undefined gives the fallback. */
export function boolFlag(flag: string, value: string | boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value === 'boolean') return value
  const parsed = value === '' ? true : parseGoBool(value)
  if (parsed !== undefined) return parsed
  throw new Error(`${flag} must be true or false, not "${value}"`)
}

/** A whole number from `min` to `max`; `what` names its unit in the message (`sessions`). */
export function wholeNumber(flag: string, value: string, opts: { min?: number; max?: number; what?: string } = {}): number {
  const min = opts.min ?? 0
  const max = opts.max ?? Number.MAX_SAFE_INTEGER
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN
  if (Number.isSafeInteger(n) && n >= min && n <= max) return n
  const range = max === Number.MAX_SAFE_INTEGER ? `, at least ${min}` : ` from ${min} to ${max}`
  throw new Error(`${flag} "${value}" must be a whole number${opts.what ? ` of ${opts.what}` : ''}${range}`)
}

/** `250ms`, `30s`, `10m`, `1h` → milliseconds (positive). */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim())
  if (!m || Number(m[1]) <= 0) throw new Error(`${flag} "${value}" must be a positive duration like 250ms, 30s, 10m or 1h`)
  return Number(m[1]) * units[m[2]!]!
}

/** A duration that becomes a timer: no longer than a Node.js timer can wait. */
export function timerDuration(flag: string, value: string): number {
  const ms = parseDuration(flag, value)
  if (ms > MAX_TIMER_MS) throw new Error(`${flag} "${value}" is longer than ${MAX_TIMER_HOURS}h, the longest timer Node.js keeps; give a shorter duration`)
  return ms
}

/** A timeout that 0 turns off: a timer duration (whole milliseconds, rounded up), or 0. `what` names what 0 disables. */
export function optionalTimeout(flag: string, value: string, what: string): number {
  if (/^0+(\.0*)?(ms|s|m|h)?$/.test(value.trim())) return 0
  let ms: number
  try {
    ms = Math.ceil(parseDuration(flag, value))
  } catch {
    throw new Error(`${flag} "${value}" must be a duration like 30m or 1h, or 0 to disable ${what}`)
  }
  if (ms > MAX_TIMER_MS) throw new Error(`${flag} "${value}" is longer than ${MAX_TIMER_HOURS}h, the longest timer Node.js keeps; use 0 to disable ${what}`)
  return ms
}

export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`${flag} "${value}" must be one of ${allowed.join(', ')}`)
  return value as T
}

function commaList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean)
}

/**
 * Comma-separated CIDRs (host bits may be set), each in canonical form (`10.96.0.0/12`,
 * RFC 5952 IPv6): the text that later goes into nft rules as it is.
 */
export function cidrList(flag: string, value: string): string[] {
  return commaList(value).map((c) => {
    const cidr = parseCIDR(c)
    if (cidr === undefined) throw new Error(`${flag}: "${c}" is not a CIDR (like 10.96.0.0/12 or fd00:10:96::/108)`)
    return cidr.text
  })
}

/**
 * Comma-separated IP addresses, each in canonical form. An IPv4-mapped IPv6 address
 * (`::ffff:10.0.0.1`) is refused: it is an IPv4 address in IPv6 clothing, and would be taken
 * for either family depending on who reads it.
 */
export function ipList(flag: string, value: string): string[] {
  return commaList(value).map((text) => {
    const ip = parseIP(text)
    if (ip === undefined) throw new Error(`${flag}: "${text}" is not an IP address (like 192.168.1.10 or fd00::10)`)
    if (ip.mapped) throw new Error(`${flag}: "${text}" is an IPv4-mapped IPv6 address; give the IPv4 address ${ip.text} instead`)
    return ip.text
  })
}
