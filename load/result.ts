// result.json: what a run measured (from its merged snapshot) with what it was asked to do.
// Latencies in milliseconds rounded to the microsecond; rates per second.
import { addHistogram, createHistogram, decodeHistogram, encodeHistogram, percentileMs, statsMs, type Histogram } from './histogram.ts'
import { errorClasses, type ErrorClass, type LoadResult, type RunSnapshot } from './types.ts'

export const resultSchema = 'weft.dev/load-result/v1'
export const reportedPercentiles = [50, 75, 90, 95, 99, 99.9, 99.99, 100]
const maxSpectrumHalvings = 60

/** Everything in result.json that is not measured: the caller knows it. */
export type ResultMeta = Pick<LoadResult, 'target' | 'options' | 'generators' | 'phases' | 'actions'>

const round3 = (value: number) => Math.round(value * 1000) / 1000

/**
 * The percentile spectrum as HdrHistogram prints it: 0, 50, 75, 87.5, … each step halving what
 * is left, until less than one value is left; then 100.
 */
export function spectrum(histogram: Histogram): { p: number; ms: number }[] {
  const count = histogram.totalCount
  if (count === 0) return []
  const points: { p: number; ms: number }[] = []
  for (let k = 0; k <= maxSpectrumHalvings && count / 2 ** k >= 1; k++) {
    const p = 100 * (1 - 1 / 2 ** k)
    points.push({ p: round3Percentile(p), ms: round3(percentileMs(histogram, p)) })
  }
  points.push({ p: 100, ms: round3(percentileMs(histogram, 100)) })
  return points
}

/** Percentile levels keep enough digits to tell 99.998 from 99.999. */
function round3Percentile(p: number): number {
  return Math.round(p * 1e6) / 1e6
}

export function toResult(snapshot: RunSnapshot, meta: ResultMeta): LoadResult {
  const windows = [...snapshot.windows].sort((a, b) => a.second - b.second)
  const lastSecond = windows.length > 0 ? windows[windows.length - 1].second : -1
  const durationSeconds = snapshot.durationMs !== undefined ? snapshot.durationMs / 1000 : lastSecond + 1
  const all = createHistogram(true)
  const errorCounts = new Map<ErrorClass, number>()
  let sent = 0
  let ok = 0
  let errors = 0
  const bySecond = new Map<number, LoadResult['timeline'][number]>()
  for (const window of windows) {
    const histogram = decodeHistogram(window.histogram)
    addHistogram(all, histogram)
    let windowErrors = 0
    const errorClassesOfWindow: Partial<Record<ErrorClass, number>> = {}
    for (const name of errorClasses) {
      const count = window.errors[name]
      if (!count) continue
      windowErrors += count
      errorClassesOfWindow[name] = count
      errorCounts.set(name, (errorCounts.get(name) ?? 0) + count)
    }
    sent += window.sent
    ok += window.ok
    errors += windowErrors
    bySecond.set(window.second, {
      second: window.second,
      sent: window.sent,
      ok: window.ok,
      errors: windowErrors,
      errorClasses: errorClassesOfWindow,
      p50: round3(percentileMs(histogram, 50)),
      p90: round3(percentileMs(histogram, 90)),
      p99: round3(percentileMs(histogram, 99)),
      max: round3(percentileMs(histogram, 100)),
    })
  }
  const timelineSeconds = Math.max(lastSecond + 1, Math.ceil(durationSeconds))
  const timeline: LoadResult['timeline'] = []
  for (let second = 0; second < timelineSeconds; second++) {
    timeline.push(bySecond.get(second) ?? { second, sent: 0, ok: 0, errors: 0, errorClasses: {}, p50: 0, p90: 0, p99: 0, max: 0 })
  }

  const endpointEntries = Object.entries(snapshot.endpoints)
  const endpointTotal = endpointEntries.reduce((sum, [, count]) => sum + count, 0)
  const stats = statsMs(all)
  const perSecond = (count: number) => (durationSeconds > 0 ? round3(count / durationSeconds) : 0)
  return {
    schema: resultSchema,
    startedAt: new Date(snapshot.startedAtMs).toISOString(),
    durationSeconds: round3(durationSeconds),
    target: meta.target,
    options: meta.options,
    generators: meta.generators,
    phases: meta.phases,
    totals: {
      sent,
      ok,
      errors,
      errorRate: ok + errors > 0 ? Math.round((errors / (ok + errors)) * 1e6) / 1e6 : 0,
      sentRate: perSecond(sent),
      okRate: perSecond(ok),
    },
    errors: [...errorCounts]
      .sort((a, b) => b[1] - a[1] || errorClasses.indexOf(a[0]) - errorClasses.indexOf(b[0]))
      .map(([name, count]) => ({ class: name, count })),
    latency: {
      count: stats.count,
      min: round3(stats.min),
      mean: round3(stats.mean),
      stddev: round3(stats.stddev),
      max: round3(stats.max),
      percentiles: reportedPercentiles.map((p) => ({ p, ms: round3(percentileMs(all, p)) })),
      spectrum: spectrum(all),
      histogram: encodeHistogram(all),
    },
    endpoints: endpointEntries
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([name, requests]) => ({ name, requests, share: endpointTotal > 0 ? Math.round((requests / endpointTotal) * 1e6) / 1e6 : 0 })),
    timeline,
    actions: meta.actions,
  }
}

export class ResultError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ResultError'
  }
}

const maxListLength = 1_000_000
const maxTextLength = 4096
const protocols = ['http1', 'http2', 'grpc', 'tcp', 'udp', 'dns']
const knownErrorClasses = new Set<string>(errorClasses)

/** Checks one field after another, naming the path of the first bad one. */
class Reader {
  private readonly file: string

  constructor(file: string) {
    this.file = file
  }

  fail(path: string, what: string): never {
    throw new ResultError(`${this.file}: ${path} ${what}`)
  }

  object(value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'must be an object')
    return value as Record<string, unknown>
  }

  list(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value) || value.length > maxListLength) this.fail(path, `must be a list of at most ${maxListLength}`)
    return value
  }

  number(value: unknown, path: string, min = 0): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) this.fail(path, `must be a number ≥ ${min}`)
    return value
  }

  count(value: unknown, path: string): number {
    if (!Number.isSafeInteger(value) || (value as number) < 0) this.fail(path, 'must be a whole number ≥ 0')
    return value as number
  }

  text(value: unknown, path: string): string {
    if (typeof value !== 'string' || value.length > maxTextLength) this.fail(path, `must be a string of at most ${maxTextLength} characters`)
    return value
  }

  flag(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') this.fail(path, 'must be true or false')
    return value
  }

  optional<T>(value: unknown, read: (value: unknown) => T): T | undefined {
    return value === undefined ? undefined : read(value)
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) this.fail(path, `must be one of ${allowed.join(', ')}`)
    return value as T
  }

  errorClassCounts(value: unknown, path: string): Partial<Record<ErrorClass, number>> {
    const counts: Partial<Record<ErrorClass, number>> = {}
    for (const [name, count] of Object.entries(this.object(value, path))) {
      if (!knownErrorClasses.has(name)) this.fail(`${path}.${name.slice(0, 40)}`, 'is not an error class')
      counts[name as ErrorClass] = this.count(count, `${path}.${name}`)
    }
    return counts
  }

  percentiles(value: unknown, path: string): { p: number; ms: number }[] {
    return this.list(value, path).map((item, i) => {
      const point = this.object(item, `${path}[${i}]`)
      const p = this.number(point.p, `${path}[${i}].p`)
      if (p > 100) this.fail(`${path}[${i}].p`, 'must be at most 100')
      return { p, ms: this.number(point.ms, `${path}[${i}].ms`) }
    })
  }
}

/**
 * Reads a result.json (e.g. for `weft load compare`): every field checked, unknown fields
 * dropped, the histogram decoded to be sure it is one. `file` names it in errors.
 */
export function checkResult(value: unknown, file = 'result.json'): LoadResult {
  // Typed explicitly: TypeScript narrows after a `never` method only then.
  const r: Reader = new Reader(file)
  const root = r.object(value, 'the file')
  if (root.schema !== resultSchema) r.fail('schema', `must be ${resultSchema} (got ${JSON.stringify(String(root.schema).slice(0, 60))})`)
  const startedAt = r.text(root.startedAt, 'startedAt')
  if (Number.isNaN(Date.parse(startedAt))) r.fail('startedAt', 'must be an ISO date')
  const target = r.object(root.target, 'target')
  const options = r.object(root.options, 'options')
  const totals = r.object(root.totals, 'totals')
  const latency = r.object(root.latency, 'latency')
  if (typeof latency.histogram !== 'string') r.fail('latency.histogram', 'must be an encoded histogram')
  const histogram = latency.histogram
  try {
    decodeHistogram(histogram)
  } catch (err) {
    r.fail('latency.histogram', (err as Error).message)
  }
  const result: LoadResult = {
    schema: resultSchema,
    startedAt,
    durationSeconds: r.number(root.durationSeconds, 'durationSeconds'),
    target: {
      spec: r.text(target.spec, 'target.spec'),
      description: r.text(target.description, 'target.description'),
      protocol: r.oneOf(target.protocol, 'target.protocol', protocols as LoadResult['target']['protocol'][]),
      tls: r.flag(target.tls, 'target.tls'),
      endpoints: r.list(target.endpoints, 'target.endpoints').map((e, i) => r.text(e, `target.endpoints[${i}]`)),
    },
    options: {
      mode: r.oneOf(options.mode, 'options.mode', ['open-loop', 'closed-loop'] as const),
      rate: r.optional(options.rate, (v) => r.number(v, 'options.rate')),
      connections: r.count(options.connections, 'options.connections'),
      keepAlive: r.flag(options.keepAlive, 'options.keepAlive'),
      durationSeconds: r.optional(options.durationSeconds, (v) => r.number(v, 'options.durationSeconds')),
      requests: r.optional(options.requests, (v) => r.count(v, 'options.requests')),
      warmupSeconds: r.number(options.warmupSeconds, 'options.warmupSeconds'),
      timeoutSeconds: r.number(options.timeoutSeconds, 'options.timeoutSeconds'),
    },
    generators: r.list(root.generators, 'generators').map((item, i) => {
      const g = r.object(item, `generators[${i}]`)
      return { name: r.text(g.name, `generators[${i}].name`), node: r.optional(g.node, (v) => r.text(v, `generators[${i}].node`)) }
    }),
    phases: r.list(root.phases, 'phases').map((item, i) => {
      const phase = r.object(item, `phases[${i}]`)
      const at = `phases[${i}]`
      return {
        name: r.text(phase.name, `${at}.name`),
        startSecond: r.number(phase.startSecond, `${at}.startSecond`),
        durationSeconds: r.number(phase.durationSeconds, `${at}.durationSeconds`),
        rate: r.optional(phase.rate, (v) => r.number(v, `${at}.rate`)),
        rateTo: r.optional(phase.rateTo, (v) => r.number(v, `${at}.rateTo`)),
      }
    }),
    totals: {
      sent: r.count(totals.sent, 'totals.sent'),
      ok: r.count(totals.ok, 'totals.ok'),
      errors: r.count(totals.errors, 'totals.errors'),
      errorRate: r.number(totals.errorRate, 'totals.errorRate'),
      sentRate: r.number(totals.sentRate, 'totals.sentRate'),
      okRate: r.number(totals.okRate, 'totals.okRate'),
    },
    errors: r.list(root.errors, 'errors').map((item, i) => {
      const e = r.object(item, `errors[${i}]`)
      return { class: r.oneOf(e.class, `errors[${i}].class`, errorClasses), count: r.count(e.count, `errors[${i}].count`) }
    }),
    latency: {
      count: r.count(latency.count, 'latency.count'),
      min: r.number(latency.min, 'latency.min'),
      mean: r.number(latency.mean, 'latency.mean'),
      stddev: r.number(latency.stddev, 'latency.stddev'),
      max: r.number(latency.max, 'latency.max'),
      percentiles: r.percentiles(latency.percentiles, 'latency.percentiles'),
      spectrum: r.percentiles(latency.spectrum, 'latency.spectrum'),
      histogram,
    },
    endpoints: r.list(root.endpoints, 'endpoints').map((item, i) => {
      const e = r.object(item, `endpoints[${i}]`)
      return { name: r.text(e.name, `endpoints[${i}].name`), requests: r.count(e.requests, `endpoints[${i}].requests`), share: r.number(e.share, `endpoints[${i}].share`) }
    }),
    timeline: r.list(root.timeline, 'timeline').map((item, i) => {
      const s = r.object(item, `timeline[${i}]`)
      const at = `timeline[${i}]`
      return {
        second: r.count(s.second, `${at}.second`),
        sent: r.count(s.sent, `${at}.sent`),
        ok: r.count(s.ok, `${at}.ok`),
        errors: r.count(s.errors, `${at}.errors`),
        errorClasses: r.errorClassCounts(s.errorClasses, `${at}.errorClasses`),
        p50: r.number(s.p50, `${at}.p50`),
        p90: r.number(s.p90, `${at}.p90`),
        p99: r.number(s.p99, `${at}.p99`),
        max: r.number(s.max, `${at}.max`),
      }
    }),
    actions: r.list(root.actions, 'actions').map((item, i) => {
      const a = r.object(item, `actions[${i}]`)
      const at = `actions[${i}]`
      return {
        name: r.text(a.name, `${at}.name`),
        kind: r.text(a.kind, `${at}.kind`),
        atSecond: r.number(a.atSecond, `${at}.atSecond`),
        completedSecond: r.optional(a.completedSecond, (v) => r.number(v, `${at}.completedSecond`)),
        ok: r.flag(a.ok, `${at}.ok`),
        message: r.text(a.message, `${at}.message`),
      }
    }),
  }
  // Optional fields read as undefined are dropped, as JSON would.
  return JSON.parse(JSON.stringify(result)) as LoadResult
}
