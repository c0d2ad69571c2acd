// The watch wire format: one JSON event per line, lines split anywhere across chunks.
import { errorFromStatus } from './api-status.ts'

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'

export interface WatchEvent<T = unknown> {
  type: WatchEventType
  /** The object; for BOOKMARK only `metadata.resourceVersion` is meaningful, for ERROR a Status. */
  object: T
}

const NEWLINE = 0x0a

/**
 * Splits a byte stream into lines without decoding anything twice: complete lines inside
 * a chunk are decoded in place, and only a line spanning chunks is copied.
 */
export class LineSplitter {
  #pending: Buffer[] = []

  /** Feeds a chunk; calls `onLine` for every line it completes, in order. */
  push(chunk: Uint8Array, onLine: (line: string) => void): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let start = 0
    let nl = buf.indexOf(NEWLINE, start)
    while (nl !== -1) {
      if (this.#pending.length > 0) {
        this.#pending.push(buf.subarray(start, nl))
        const line = Buffer.concat(this.#pending).toString('utf8')
        this.#pending = []
        emit(line, onLine)
      } else {
        emit(buf.toString('utf8', start, nl), onLine)
      }
      start = nl + 1
      nl = buf.indexOf(NEWLINE, start)
    }
    if (start < buf.length) this.#pending.push(buf.subarray(start))
  }

  /** Flushes a last line that had no newline. */
  end(onLine: (line: string) => void): void {
    if (this.#pending.length === 0) return
    const line = Buffer.concat(this.#pending).toString('utf8')
    this.#pending = []
    emit(line, onLine)
  }
}

function emit(line: string, onLine: (line: string) => void): void {
  const end = line.endsWith('\r') ? line.length - 1 : line.length
  const text = end === line.length ? line : line.slice(0, end)
  if (text.trim() !== '') onLine(text)
}

const eventTypes: ReadonlySet<string> = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'])

/** Parses one line of a watch stream; throws on anything that is not a watch event. */
export function parseWatchEvent(line: string): WatchEvent {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw new Error(`watch stream: a line is not JSON: ${line.slice(0, 200)}`)
  }
  if (typeof value !== 'object' || value === null) throw new Error(`watch stream: expected an event object, got ${line.slice(0, 200)}`)
  const { type, object } = value as { type?: unknown; object?: unknown }
  if (typeof type !== 'string' || !eventTypes.has(type)) throw new Error(`watch stream: unknown event type ${JSON.stringify(type)}`)
  if (typeof object !== 'object' || object === null) throw new Error(`watch stream: ${type} event without an object`)
  return { type: type as WatchEventType, object }
}

/**
 * The events of a watch response body. An ERROR event ends the stream by throwing the
 * ApiError its Status describes (410 Expired/Gone when the resourceVersion is too old).
 */
export async function* decodeWatchStream<T>(body: AsyncIterable<Uint8Array>): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const splitter = new LineSplitter()
  const lines: string[] = []
  const onLine = (line: string): void => {
    lines.push(line)
  }
  const drain = function* (): Generator<WatchEvent<T>> {
    try {
      for (let i = 0; i < lines.length; i++) {
        const ev = parseWatchEvent(lines[i])
        if (ev.type === 'ERROR') throw errorFromStatus(ev.object, 500)
        yield ev as WatchEvent<T>
      }
    } finally {
      lines.length = 0
    }
  }
  for await (const chunk of body) {
    splitter.push(chunk, onLine)
    yield* drain()
  }
  splitter.end(onLine)
  yield* drain()
}
