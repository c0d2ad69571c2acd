// What one generator measured: one HDR histogram per second, keyed by each request's intended send
// time from t0 (warm-up requests, before t0, are not recorded), counts per error class and which
// endpoints answered. A second is handed out once nothing more can land in it; snapshots of several
// generators merge exactly.
import { addHistogram, createHistogram, decodeHistogram, encodeHistogram, percentileMs, recordMs, type Histogram } from './histogram.ts'
import { errorClasses, type ErrorClass, type RunSnapshot, type WindowSnapshot } from './types.ts'

/** Endpoints beyond this many distinct names are counted together under `otherEndpoints`. */
export const maxEndpoints = 10_000
export const otherEndpoints = '(other endpoints)'
/** A run's timeline is at most this long (10 days), which bounds windows from the network. */
export const maxSeconds = 864_000

interface LiveWindow {
  second: number
  sent: number
  ended: number
  ok: number
  errors: Partial<Record<ErrorClass, number>>
  histogram: Histogram | undefined
}

let emptyHistogramText: string | undefined
function emptyHistogram(): string {
  emptyHistogramText ??= encodeHistogram(createHistogram())
  return emptyHistogramText
}

function toWindow(live: LiveWindow): WindowSnapshot {
  return {
    second: live.second,
    sent: live.sent,
    ok: live.ok,
    errors: { ...live.errors },
    histogram: live.histogram ? encodeHistogram(live.histogram) : emptyHistogram(),
  }
}

export interface Totals {
  sent: number
  ended: number
  ok: number
  errors: number
}

export class Recorder {
  readonly startedAtMs: number
  readonly totals: Totals = { sent: 0, ended: 0, ok: 0, errors: 0 }
  /** p50 and p99 (ms) of the last window handed out; 0 before the first. */
  lastWindowLatency = { p50: 0, p99: 0 }
  private readonly closed: WindowSnapshot[] = []
  /** Windows from `nextSecond` on, by second − nextSecond. */
  private readonly live: LiveWindow[] = []
  private nextSecond = 0
  private finished = false
  private endedMs: number | undefined
  private readonly endpoints = new Map<string, number>()

  /** `startedAtMs`: epoch ms of t0, the end of warm-up. */
  constructor(startedAtMs: number) {
    this.startedAtMs = startedAtMs
  }

  private window(intendedMs: number): LiveWindow | undefined {
    const index = Math.floor(intendedMs / 1000) - this.nextSecond
    if (index < 0) return undefined
    while (this.live.length <= index) {
      this.live.push({ second: this.nextSecond + this.live.length, sent: 0, ended: 0, ok: 0, errors: {}, histogram: undefined })
    }
    return this.live[index]
  }

  /** A request meant at `intendedMs` (from t0) was sent. */
  sent(intendedMs: number): void {
    if (intendedMs < 0 || this.finished) return
    const window = this.window(intendedMs)
    if (window === undefined) return
    window.sent++
    this.totals.sent++
  }

  /** The request meant at `intendedMs` ended at `doneMs` (both from t0). */
  done(intendedMs: number, doneMs: number, error: ErrorClass | undefined, endpoint: string | undefined): void {
    if (intendedMs < 0 || this.finished) return
    const window = this.window(intendedMs)
    if (window === undefined || window.ended >= window.sent) return
    window.ended++
    this.totals.ended++
    window.histogram ??= createHistogram()
    recordMs(window.histogram, doneMs - intendedMs)
    if (error === undefined) {
      window.ok++
      this.totals.ok++
    } else {
      window.errors[error] = (window.errors[error] ?? 0) + 1
      this.totals.errors++
    }
    if (endpoint !== undefined) this.countEndpoint(endpoint)
  }

  private countEndpoint(endpoint: string): void {
    const count = this.endpoints.get(endpoint)
    if (count !== undefined) this.endpoints.set(endpoint, count + 1)
    else if (this.endpoints.size < maxEndpoints) this.endpoints.set(endpoint, 1)
    else this.endpoints.set(otherEndpoints, (this.endpoints.get(otherEndpoints) ?? 0) + 1)
  }

  private close(live: LiveWindow): WindowSnapshot {
    const window = toWindow(live)
    if (live.histogram) this.lastWindowLatency = { p50: percentileMs(live.histogram, 50), p99: percentileMs(live.histogram, 99) }
    this.closed.push(window)
    return window
  }

  /**
   * The windows, in order and each once, that nothing more can land in: every request meant before
   * `sentUpToMs` (from t0) has been sent, so a second before it is complete once all its requests ended.
   */
  takeComplete(sentUpToMs: number): WindowSnapshot[] {
    const taken: WindowSnapshot[] = []
    if (this.finished) return taken
    const lastEnded = Math.floor(sentUpToMs / 1000) - 1
    while (this.nextSecond <= lastEnded) {
      const live = this.live[0] ?? this.window(this.nextSecond * 1000)!
      if (live.ended < live.sent) break
      this.live.shift()
      this.nextSecond++
      taken.push(this.close(live))
    }
    return taken
  }

  /**
   * Ends recording at `endMs` (from t0): hands out every window not yet taken up to the second
   * holding endMs, complete or not (requests still pending never will be). Later results are ignored.
   */
  finish(endMs: number): WindowSnapshot[] {
    const taken: WindowSnapshot[] = []
    if (this.finished) return taken
    const lastSecond = Math.max(Math.ceil(endMs / 1000) - 1, this.nextSecond + this.live.length - 1)
    while (this.nextSecond <= lastSecond) {
      const live = this.live.shift() ?? { second: this.nextSecond, sent: 0, ended: 0, ok: 0, errors: {}, histogram: undefined }
      this.nextSecond++
      taken.push(this.close(live))
    }
    this.finished = true
    this.endedMs = Math.max(0, endMs)
    return taken
  }

  /** Everything recorded so far: windows handed out, then those still open. */
  snapshot(): RunSnapshot {
    const snapshot: RunSnapshot = {
      startedAtMs: this.startedAtMs,
      windows: [...this.closed, ...this.live.map(toWindow)],
      endpoints: Object.fromEntries(this.endpoints),
    }
    if (this.endedMs !== undefined) snapshot.durationMs = this.endedMs
    return snapshot
  }
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SnapshotError'
  }
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const knownClasses = new Set<string>(errorClasses)
const endpointName = /^[\x21-\x7e][\x20-\x7e]{0,252}$/

/** Checks a window that came from a file or the network; decodes its histogram to be sure. */
export function checkWindow(value: unknown, where = 'window'): WindowSnapshot {
  if (!isRecord(value)) throw new SnapshotError(`${where}: not an object`)
  const { second, sent, ok, errors, histogram } = value
  if (!isCount(second) || second >= maxSeconds) throw new SnapshotError(`${where}: second must be an integer in 0..${maxSeconds - 1}`)
  if (!isCount(sent)) throw new SnapshotError(`${where}: sent must be a count`)
  if (!isCount(ok)) throw new SnapshotError(`${where}: ok must be a count`)
  if (!isRecord(errors)) throw new SnapshotError(`${where}: errors must be an object`)
  let ended = ok
  const checkedErrors: Partial<Record<ErrorClass, number>> = {}
  for (const [name, count] of Object.entries(errors)) {
    if (!knownClasses.has(name)) throw new SnapshotError(`${where}: unknown error class ${JSON.stringify(name.slice(0, 40))}`)
    if (!isCount(count)) throw new SnapshotError(`${where}: errors.${name} must be a count`)
    checkedErrors[name as ErrorClass] = count
    ended += count
  }
  if (ended > sent) throw new SnapshotError(`${where}: ${ended} requests ended but ${sent} were sent`)
  if (typeof histogram !== 'string') throw new SnapshotError(`${where}: histogram must be a string`)
  let count: number
  try {
    count = decodeHistogram(histogram).totalCount
  } catch (err) {
    throw new SnapshotError(`${where}: ${(err as Error).message}`)
  }
  if (count !== ended) throw new SnapshotError(`${where}: the histogram holds ${count} latencies but ${ended} requests ended`)
  return { second, sent, ok, errors: checkedErrors, histogram }
}

/** Checks a snapshot that came from a file or the network (a load pod's report). */
export function checkSnapshot(value: unknown, where = 'snapshot'): RunSnapshot {
  if (!isRecord(value)) throw new SnapshotError(`${where}: not an object`)
  const { startedAtMs, durationMs, windows, endpoints } = value
  if (typeof startedAtMs !== 'number' || !Number.isFinite(startedAtMs) || startedAtMs < 0) throw new SnapshotError(`${where}: startedAtMs must be epoch milliseconds`)
  if (durationMs !== undefined && (typeof durationMs !== 'number' || !(durationMs >= 0 && durationMs <= maxSeconds * 1000))) throw new SnapshotError(`${where}: durationMs must be a number of ms in 0..${maxSeconds * 1000}`)
  if (!Array.isArray(windows) || windows.length > maxSeconds) throw new SnapshotError(`${where}: windows must be a list of at most ${maxSeconds}`)
  const seen = new Set<number>()
  const checked = windows.map((window, index) => {
    const result = checkWindow(window, `${where}: windows[${index}]`)
    if (seen.has(result.second)) throw new SnapshotError(`${where}: second ${result.second} appears twice`)
    seen.add(result.second)
    return result
  })
  if (!isRecord(endpoints)) throw new SnapshotError(`${where}: endpoints must be an object`)
  const entries = Object.entries(endpoints)
  if (entries.length > maxEndpoints + 1) throw new SnapshotError(`${where}: more than ${maxEndpoints} endpoints`)
  const checkedEndpoints: Record<string, number> = {}
  for (const [name, count] of entries) {
    if (!endpointName.test(name)) throw new SnapshotError(`${where}: endpoint name ${JSON.stringify(name.slice(0, 40))} is not printable or too long`)
    if (!isCount(count)) throw new SnapshotError(`${where}: endpoints[${JSON.stringify(name)}] must be a count`)
    checkedEndpoints[name] = count
  }
  const snapshot: RunSnapshot = { startedAtMs, windows: checked, endpoints: checkedEndpoints }
  if (durationMs !== undefined) snapshot.durationMs = durationMs
  return snapshot
}

/**
 * Several generators' snapshots as one: per second, counts sum and histograms add (exact, so the
 * merged percentiles are those of one histogram fed every latency). Generators share t0.
 */
export function mergeSnapshots(snapshots: RunSnapshot[]): RunSnapshot {
  if (snapshots.length === 0) throw new SnapshotError('nothing to merge')
  const startedAtMs = snapshots[0].startedAtMs
  for (const snapshot of snapshots) {
    if (snapshot.startedAtMs !== startedAtMs) {
      throw new SnapshotError(`generators started at different times (${new Date(startedAtMs).toISOString()} and ${new Date(snapshot.startedAtMs).toISOString()}): their seconds do not line up`)
    }
  }
  const bySecond = new Map<number, WindowSnapshot[]>()
  for (const snapshot of snapshots) {
    for (const window of snapshot.windows) {
      const list = bySecond.get(window.second)
      if (list) list.push(window)
      else bySecond.set(window.second, [window])
    }
  }
  const windows = [...bySecond.keys()].sort((a, b) => a - b).map((second) => mergeWindows(bySecond.get(second)!))
  const endpoints: Record<string, number> = {}
  for (const snapshot of snapshots) {
    for (const [name, count] of Object.entries(snapshot.endpoints)) endpoints[name] = (endpoints[name] ?? 0) + count
  }
  const merged: RunSnapshot = { startedAtMs, windows, endpoints }
  const durations = snapshots.flatMap((snapshot) => (snapshot.durationMs === undefined ? [] : [snapshot.durationMs]))
  if (durations.length > 0) merged.durationMs = Math.max(...durations)
  return merged
}

/** Windows of one second from several generators as one. */
export function mergeWindows(windows: WindowSnapshot[]): WindowSnapshot {
  if (windows.length === 1) return { ...windows[0], errors: { ...windows[0].errors } }
  const merged: WindowSnapshot = { second: windows[0].second, sent: 0, ok: 0, errors: {}, histogram: '' }
  const histogram = createHistogram(true)
  for (const window of windows) {
    if (window.second !== merged.second) throw new SnapshotError(`cannot merge second ${window.second} into second ${merged.second}`)
    merged.sent += window.sent
    merged.ok += window.ok
    for (const [name, count] of Object.entries(window.errors)) {
      merged.errors[name as ErrorClass] = (merged.errors[name as ErrorClass] ?? 0) + (count ?? 0)
    }
    addHistogram(histogram, decodeHistogram(window.histogram))
  }
  merged.histogram = encodeHistogram(histogram)
  return merged
}
