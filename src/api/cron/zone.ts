// Wall-clock time in an IANA time zone, from Intl: the two conversions Go's time package
// makes (an instant's fields in a Location, and time.Date's fields → instant) so that cron
// schedules step through days and hours the way robfig/cron does in kube-controller-manager.

export interface WallTime {
  year: number
  /** 1–12 */
  month: number
  day: number
  hour: number
  minute: number
  second: number
  /** 0 (Sunday) – 6 */
  weekday: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(zone, f)
  }
  return f
}

function isUtc(zone: string): boolean {
  return zone === 'UTC' || zone === 'Etc/UTC'
}

/** The fields of the instant `ms` (milliseconds since the epoch) on the wall clocks of `zone`. */
export function wallTime(ms: number, zone: string): WallTime {
  if (isUtc(zone)) {
    const d = new Date(ms)
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay() }
  }
  const parts: Record<string, number> = {}
  for (const p of formatter(zone).formatToParts(ms)) if (p.type !== 'literal') parts[p.type] = Number(p.value)
  const weekday = new Date(Date.UTC(parts.year!, parts.month! - 1, parts.day!)).getUTCDay()
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second!, weekday }
}

/** The zone's offset from UTC at the instant `ms`, in milliseconds (east positive). */
export function offsetAt(ms: number, zone: string): number {
  if (isUtc(zone)) return 0
  const w = wallTime(ms, zone)
  const whole = ms - (((ms % 1000) + 1000) % 1000)
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - whole
}

/**
 * The instant whose wall clock in `zone` shows these fields, normalised as Go's time.Date
 * does (month 13 is January next year, day 0 the last of the month before). A wall time
 * in a spring-forward gap takes the offset in force after it (02:30 in New York's gap is
 * 01:30 EST); one a fall-back repeats is the earlier of the two.
 */
export function instantOf(year: number, month: number, day: number, hour: number, minute: number, second: number, zone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute, second)
  const guess = offsetAt(wall, zone)
  const utc = wall - guess
  const actual = offsetAt(utc, zone)
  return actual === guess ? utc : wall - actual
}

/** The time zone this process runs in, as kube-controller-manager's time.Local. */
export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}

/**
 * Why `zone` is not a time zone Go's time.LoadLocation would load, or undefined when it
 * is. Intl knows the IANA database; names differing from a known one only in case are
 * refused, as on Linux, where Go opens a zoneinfo file by that name.
 */
export function zoneError(zone: string): string | undefined {
  if (zone === '' || zone === 'UTC') return undefined
  let resolved: string
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    return `unknown time zone ${zone}`
  }
  if (resolved !== zone && resolved.toLowerCase() === zone.toLowerCase()) return `unknown time zone ${zone}`
  return undefined
}

/** `zone` as Go's time.LoadLocation takes it: "" and "UTC" are UTC, "Local" is this process's zone. */
export function resolveZone(zone: string): string {
  if (zone === '' || zone === 'UTC') return 'UTC'
  if (zone === 'Local') return localZone()
  return zone
}

/** RFC 3339 with the zone's offset, as Go's time.Format(time.RFC3339) writes it (`Z` for UTC). */
export function rfc3339In(ms: number, zone: string): string {
  const w = wallTime(ms, zone)
  const off = Math.round(offsetAt(ms, zone) / 60000)
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0')
  const date = `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`
  if (off === 0) return `${date}Z`
  const sign = off < 0 ? '-' : '+'
  const abs = Math.abs(off)
  return `${date}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
}
