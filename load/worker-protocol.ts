// The line protocol between `weft load --from-pods` and its load pods. One JSON object a line.
// The pod prints (stdout, read back through its log):
//   {"type":"ready","generator":NAME}           waiting for the start line
//   {"type":"heartbeat"}                        after 5 s with nothing else printed
//   {"type":"progress",...Progress}             once a second while running
//   {"type":"window",...WindowSnapshot}         each second of the run once complete
//   {"type":"done","snapshot":RunSnapshot}      the end (it then exits 0); "stopped":true when
//                                               a stop line or SIGTERM cut the run short
//   {"type":"error","message":TEXT}             the end, failed (it then exits 1)
// and reads (stdin, written over pods/attach):
//   {"type":"start","atMs":EPOCH_MS}            send from then on (warm-up first)
//   {"type":"stop"}                             end the run now; report what was recorded
// Both sides parse strictly: a line is at most maxLineBytes, every field is checked.
import { checkSnapshot, checkWindow } from './recorder.ts'
import type { Progress, RunSnapshot, WindowSnapshot } from './types.ts'
import { isObject, type JsonObject } from './json-fields.ts'

export const maxLineBytes = 16 * 1024 * 1024
const maxControlLineBytes = 1024
const maxCount = Number.MAX_SAFE_INTEGER

export type ControlMessage = { type: 'start'; atMs: number } | { type: 'stop' }

export type WorkerMessage =
  | { type: 'ready'; generator: string }
  | { type: 'heartbeat' }
  | ({ type: 'progress' } & Progress)
  | ({ type: 'window' } & WindowSnapshot)
  | { type: 'done'; snapshot: RunSnapshot; stopped?: boolean }
  | { type: 'error'; message: string }

export class LineError extends Error {
  readonly code = 'InvalidLine'
  constructor(message: string) {
    super(message)
    this.name = 'LineError'
  }
}

function parseObject(line: string, max: number): JsonObject {
  if (line.length > max) throw new LineError(`a line longer than ${max} bytes`)
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw new LineError(`not JSON: ${JSON.stringify(line.slice(0, 80))}`)
  }
  if (!isObject(value) || typeof value.type !== 'string') throw new LineError(`not a message (no "type"): ${JSON.stringify(line.slice(0, 80))}`)
  return value
}

function onlyKeys(o: JsonObject, keys: readonly string[], what: string): void {
  for (const key of Object.keys(o)) if (!keys.includes(key)) throw new LineError(`${what}: unknown field ${JSON.stringify(key.slice(0, 40))}`)
}

function count(o: JsonObject, key: string, what: string): number {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > maxCount) throw new LineError(`${what}.${key}: expected a count`)
  return v
}

function finite(o: JsonObject, key: string, what: string, min = 0): number {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new LineError(`${what}.${key}: expected a number ≥ ${min}`)
  return v
}

/** What the worker reads on stdin. */
export function parseControlLine(line: string): ControlMessage {
  const o = parseObject(line, maxControlLineBytes)
  if (o.type === 'stop') {
    onlyKeys(o, ['type'], 'stop')
    return { type: 'stop' }
  }
  if (o.type === 'start') {
    onlyKeys(o, ['type', 'atMs'], 'start')
    const atMs = finite(o, 'atMs', 'start')
    if (!Number.isInteger(atMs)) throw new LineError('start.atMs: expected epoch milliseconds')
    return { type: 'start', atMs }
  }
  throw new LineError(`unknown message type ${JSON.stringify(String(o.type).slice(0, 40))} (expected start or stop)`)
}

function validateProgress(o: JsonObject): Progress {
  onlyKeys(o, ['type', 'elapsedMs', 'totalMs', 'sent', 'done', 'errors', 'rate', 'p50', 'p99'], 'progress')
  const totalMs = o.totalMs === undefined || o.totalMs === null ? undefined : finite(o, 'totalMs', 'progress')
  return {
    elapsedMs: finite(o, 'elapsedMs', 'progress'),
    totalMs,
    sent: count(o, 'sent', 'progress'),
    done: count(o, 'done', 'progress'),
    errors: count(o, 'errors', 'progress'),
    rate: finite(o, 'rate', 'progress'),
    p50: finite(o, 'p50', 'progress'),
    p99: finite(o, 'p99', 'progress'),
  }
}

/** A window or snapshot through the recorder's own checks (which decode the histograms too). */
function checked<T>(check: () => T): T {
  try {
    return check()
  } catch (err) {
    throw new LineError((err as Error).message)
  }
}

/** What the controller reads from a load pod's output. */
export function parseWorkerLine(line: string): WorkerMessage {
  const o = parseObject(line, maxLineBytes)
  switch (o.type) {
    case 'ready':
      onlyKeys(o, ['type', 'generator'], 'ready')
      if (typeof o.generator !== 'string' || o.generator.length > 253) throw new LineError('ready.generator: expected a name')
      return { type: 'ready', generator: o.generator }
    case 'heartbeat':
      onlyKeys(o, ['type'], 'heartbeat')
      return { type: 'heartbeat' }
    case 'progress':
      return { type: 'progress', ...validateProgress(o) }
    case 'window': {
      const { type: _, ...window } = o
      return { type: 'window', ...checked(() => checkWindow(window)) }
    }
    case 'done': {
      onlyKeys(o, ['type', 'snapshot', 'stopped'], 'done')
      if (o.stopped !== undefined && typeof o.stopped !== 'boolean') throw new LineError('done.stopped: expected true or false')
      const snapshot = checked(() => checkSnapshot(o.snapshot))
      return o.stopped ? { type: 'done', snapshot, stopped: true } : { type: 'done', snapshot }
    }
    case 'error':
      onlyKeys(o, ['type', 'message'], 'error')
      if (typeof o.message !== 'string') throw new LineError('error.message: expected text')
      return { type: 'error', message: o.message.slice(0, 4000) }
    default:
      throw new LineError(`unknown message type ${JSON.stringify(String(o.type).slice(0, 40))}`)
  }
}

export function formatLine(message: WorkerMessage | ControlMessage): string {
  return `${JSON.stringify(message)}\n`
}
