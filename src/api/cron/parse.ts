// Cron schedules as Kubernetes reads them: robfig/cron v3's ParseStandard (five fields,
// `@yearly`…`@hourly` and `@every <duration>` descriptors, an optional `TZ=` prefix), with
// its error messages, which the API server returns verbatim for an invalid spec.schedule.
import { zoneError } from './zone.ts'

export class CronError extends Error {}

/** One field's allowed values; `star` when written `*` or `?` (it changes how days match). */
export interface CronField {
  values: boolean[]
  star: boolean
}

export interface SpecSchedule {
  kind: 'spec'
  second: CronField
  minute: CronField
  hour: CronField
  dom: CronField
  month: CronField
  dow: CronField
  /** A zone named with `TZ=` / `CRON_TZ=` in the schedule itself. */
  zone?: string
}

export interface EverySchedule {
  kind: 'every'
  /** Whole seconds, at least one, in milliseconds. */
  delayMs: number
}

export type Schedule = SpecSchedule | EverySchedule

interface Bounds {
  min: number
  max: number
  names?: Record<string, number>
}

const months: Bounds = { min: 1, max: 12, names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 } }
const dows: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } }
const bounds = {
  minute: { min: 0, max: 59 },
  hour: { min: 0, max: 23 },
  dom: { min: 1, max: 31 },
  month: months,
  dow: dows,
} satisfies Record<string, Bounds>

/** Go's strconv.Atoi on a 64-bit platform, with its error text. */
function atoi(expr: string): number {
  if (!/^[+-]?\d+$/.test(expr)) throw new CronError(`failed to parse int from ${expr}: strconv.Atoi: parsing ${goQuote(expr)}: invalid syntax`)
  const n = BigInt(expr)
  if (n > 9223372036854775807n || n < -9223372036854775808n) throw new CronError(`failed to parse int from ${expr}: strconv.Atoi: parsing ${goQuote(expr)}: value out of range`)
  if (n < 0n) throw new CronError(`negative number (${n}) not allowed: ${expr}`)
  return Number(n)
}

function goQuote(s: string): string {
  return JSON.stringify(s)
}

function intOrName(expr: string, b: Bounds): number {
  const named = b.names?.[expr.toLowerCase()]
  return named ?? atoi(expr)
}

function emptyField(b: Bounds): CronField {
  return { values: new Array<boolean>(b.max + 1).fill(false), star: false }
}

function addRange(field: CronField, expr: string, b: Bounds): void {
  const rangeAndStep = expr.split('/')
  const lowAndHigh = rangeAndStep[0]!.split('-')
  const single = lowAndHigh.length === 1
  let start: number
  let end: number
  let star = false
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = b.min
    end = b.max
    star = true
  } else {
    start = intOrName(lowAndHigh[0]!, b)
    if (lowAndHigh.length === 1) end = start
    else if (lowAndHigh.length === 2) end = intOrName(lowAndHigh[1]!, b)
    else throw new CronError(`too many hyphens: ${expr}`)
  }
  let step = 1
  if (rangeAndStep.length === 2) {
    step = atoi(rangeAndStep[1]!)
    // "N/step" means "N-max/step".
    if (single) end = b.max
    if (step > 1) star = false
  } else if (rangeAndStep.length > 2) {
    throw new CronError(`too many slashes: ${expr}`)
  }
  if (start < b.min) throw new CronError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`)
  if (end > b.max) throw new CronError(`end of range (${end}) above maximum (${b.max}): ${expr}`)
  if (start > end) throw new CronError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`)
  if (step === 0) throw new CronError(`step of range should be a positive number: ${expr}`)
  for (let i = start; i <= end; i += step) field.values[i] = true
  if (star) field.star = true
}

function parseField(text: string, b: Bounds): CronField {
  const field = emptyField(b)
  for (const expr of text.split(',').filter((x) => x !== '')) addRange(field, expr, b)
  return field
}

function only(b: Bounds, value: number): CronField {
  const f = emptyField(b)
  f.values[value] = true
  return f
}

function all(b: Bounds): CronField {
  const f = emptyField(b)
  for (let i = b.min; i <= b.max; i++) f.values[i] = true
  f.star = true
  return f
}

const zeroSecond = (): CronField => only({ min: 0, max: 59 }, 0)

function descriptor(spec: string, zone: string | undefined): Schedule {
  const at = (dom: CronField, month: CronField, dow: CronField, hour: CronField): SpecSchedule => ({
    kind: 'spec',
    second: zeroSecond(),
    minute: only(bounds.minute, 0),
    hour,
    dom,
    month,
    dow,
    ...(zone === undefined ? {} : { zone }),
  })
  const midnight = only(bounds.hour, 0)
  switch (spec) {
    case '@yearly':
    case '@annually':
      return at(only(bounds.dom, 1), only(months, 1), all(dows), midnight)
    case '@monthly':
      return at(only(bounds.dom, 1), all(months), all(dows), midnight)
    case '@weekly':
      return at(all(bounds.dom), all(months), only(dows, 0), midnight)
    case '@daily':
    case '@midnight':
      return at(all(bounds.dom), all(months), all(dows), midnight)
    case '@hourly':
      return at(all(bounds.dom), all(months), all(dows), all(bounds.hour))
  }
  const every = '@every '
  if (spec.startsWith(every)) {
    const ms = parseGoDuration(spec.slice(every.length), spec)
    // robfig's Every: at least a second, and whole seconds only.
    const delayMs = ms < 1000 ? 1000 : ms - (ms % 1000)
    return { kind: 'every', delayMs }
  }
  throw new CronError(`unrecognized descriptor: ${spec}`)
}

const unitsMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Go's time.ParseDuration, in milliseconds, with its error text. */
function parseGoDuration(text: string, spec: string): number {
  const fail = (why: string): never => {
    throw new CronError(`failed to parse duration ${spec}: time: ${why}`)
  }
  let s = text
  let sign = 1
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1
    s = s.slice(1)
  }
  if (s === '0') return 0
  if (s === '') fail(`invalid duration ${goQuote(text)}`)
  let total = 0
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!
    if (m[0] === '' || m[0] === '.') fail(`invalid duration ${goQuote(text)}`)
    s = s.slice(m[0].length)
    const unit = /^[^\d.]*/.exec(s)![0]
    if (unit === '') fail(`missing unit in duration ${goQuote(text)}`)
    const scale = unitsMs[unit]
    if (scale === undefined) fail(`unknown unit ${goQuote(unit)} in duration ${goQuote(text)}`)
    s = s.slice(unit.length)
    total += Number(`${m[1] || '0'}.${m[2] ?? ''}`) * scale!
    if (total > 9223372036854) fail(`invalid duration ${goQuote(text)}`)
  }
  return sign * total
}

/** Parses a schedule as kube-apiserver validates and kube-controller-manager runs it. Throws CronError. */
export function parseSchedule(input: string): Schedule {
  if (input.length === 0) throw new CronError('empty spec string')
  let spec = input
  let zone: string | undefined
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    const space = spec.indexOf(' ')
    const eq = spec.indexOf('=')
    const name = space < 0 ? spec.slice(eq + 1) : spec.slice(eq + 1, space)
    zone = name
    if (space < 0) throw new CronError(`provided bad location ${name}: the schedule ends after the time zone`)
    const bad = zoneError(name)
    if (bad) throw new CronError(`provided bad location ${name}: ${bad}`)
    spec = spec.slice(space).trim()
  }
  if (spec.startsWith('@')) return descriptor(spec, zone)
  const fields = spec.split(/\s+/).filter((x) => x !== '')
  if (fields.length !== 5) throw new CronError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`)
  return {
    kind: 'spec',
    second: zeroSecond(),
    minute: parseField(fields[0]!, bounds.minute),
    hour: parseField(fields[1]!, bounds.hour),
    dom: parseField(fields[2]!, bounds.dom),
    month: parseField(fields[3]!, months),
    dow: parseField(fields[4]!, dows),
    ...(zone === undefined ? {} : { zone }),
  }
}

/** The message ParseStandard's error carries, or undefined when the schedule parses. */
export function scheduleError(spec: string): string | undefined {
  try {
    parseSchedule(spec)
    return undefined
  } catch (err) {
    if (err instanceof CronError) return err.message
    throw err
  }
}
