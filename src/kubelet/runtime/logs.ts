// Container logs in the CRI format (`<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, one
// record a line, P marking a line continued in the next record), read back as plain text
// for `kubectl logs`: tail, since-time, timestamps, byte limit, and follow.
//
// A container's log is `N.log` plus the files rotation renamed it to (`N.log.<time>`, see
// log-rotation.ts), oldest first. Reads never load a file whole: `--tail` scans backwards
// from the end in chunks (into older files only when the newer ones hold too few lines),
// and everything is read forward and sent on in chunks. A record longer than MAX_RECORD
// (weft's writers split lines far below that) is corrupt and skipped.
import type { FileHandle } from 'node:fs/promises'
import { open, stat } from 'node:fs/promises'
import { rotatedLogs, rotationTime } from './log-rotation.ts'

export interface LogLine {
  time: string
  stream: 'stdout' | 'stderr'
  /** A partial record: the line continues in the next one. */
  partial: boolean
  message: string
}

export interface LogOptions {
  /** The last N lines (a run of partial records and its final record count as one). */
  tailLines?: number
  /** RFC3339; records before it are skipped (applied after tailLines, as the kubelet does). */
  sinceTime?: string
  /** Prefix each line with its time, as `kubectl logs --timestamps`. */
  timestamps?: boolean
  limitBytes?: number
}

export interface FollowOptions extends LogOptions {
  signal?: AbortSignal
  /** When this settles (the container exited), what is left is read and iteration ends. */
  until?: Promise<unknown>
  pollMs?: number
}

const CHUNK = 64 * 1024
export const MAX_RECORD = 1024 * 1024
/**
 * Log writers reopen the file by name once a second (launcher.ts): after a rotation the
 * renamed file may still grow for up to a second, so a follower drains it this long.
 */
const ROTATION_DRAIN_MS = 1500
const NL = 0x0a
const NEWLINE = Buffer.from('\n')

export function parseLogLine(line: string): LogLine | undefined {
  const a = line.indexOf(' ')
  const b = line.indexOf(' ', a + 1)
  const c = line.indexOf(' ', b + 1)
  if (a < 0 || b < 0) return undefined
  const stream = line.slice(a + 1, b)
  if (stream !== 'stdout' && stream !== 'stderr') return undefined
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c)
  return { time: line.slice(0, a), stream, partial: tag.split(':')[0] === 'P', message: c < 0 ? '' : line.slice(c + 1) }
}

/** Nanoseconds since the epoch of an RFC3339(Nano) time; undefined when malformed. */
export function timeNanos(time: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(time)
  if (m === null) return undefined
  const ms = Date.parse(`${m[1]}${m[3].toUpperCase()}`)
  if (Number.isNaN(ms)) return undefined
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9))
}

/** Whether a record (its first bytes are enough) is the last of its line: `F`, not `P`. */
function isFullRecord(head: Buffer): boolean {
  const line = parseLogLine(head.subarray(0, 200).toString('latin1'))
  return line !== undefined && !line.partial
}

/** Turns complete records into output: since filter, timestamps, byte limit. */
class Renderer {
  readonly #since: bigint | undefined
  readonly #timestamps: boolean
  #budget: number

  constructor(opts: LogOptions) {
    if (opts.sinceTime !== undefined) {
      this.#since = timeNanos(opts.sinceTime)
      if (this.#since === undefined) throw new Error(`sinceTime ${JSON.stringify(opts.sinceTime)} is not an RFC3339 time`)
    }
    this.#timestamps = opts.timestamps === true
    this.#budget = opts.limitBytes ?? Infinity
  }

  get exhausted(): boolean {
    return this.#budget <= 0
  }

  /**
   * Renders the newline-terminated records in `data`. Messages are copied as bytes: a
   * character split over two partial records comes out whole.
   */
  render(data: Buffer): Buffer {
    const out: Buffer[] = []
    let size = 0
    for (let start = 0; start < data.length && size < this.#budget; ) {
      let end = data.indexOf(NL, start)
      if (end < 0) end = data.length
      const record = data.subarray(start, end)
      start = end + 1
      const a = record.indexOf(0x20)
      const b = record.indexOf(0x20, a + 1)
      if (a < 0 || b < 0) continue
      const c = record.indexOf(0x20, b + 1)
      const time = record.toString('latin1', 0, a)
      const stream = record.toString('latin1', a + 1, b)
      if (stream !== 'stdout' && stream !== 'stderr') continue
      const partial = record[b + 1] === 0x50 && (c === b + 2 || record[b + 2] === 0x3a || (c < 0 && record.length === b + 2))
      if (this.#since !== undefined && (timeNanos(time) ?? 0n) < this.#since) continue
      if (this.#timestamps) out.push(Buffer.from(`${time} `, 'latin1'))
      if (c >= 0) out.push(record.subarray(c + 1))
      if (!partial) out.push(NEWLINE)
      size += (this.#timestamps ? a + 1 : 0) + (c >= 0 ? record.length - c - 1 : 0) + (partial ? 0 : 1)
    }
    let result = Buffer.concat(out)
    if (result.length > this.#budget) result = result.subarray(0, this.#budget)
    this.#budget -= result.length
    return result
  }
}

/**
 * Splits a stream of bytes into complete records, holding back an unfinished one and
 * dropping any longer than MAX_RECORD.
 */
class Records {
  #pending: Buffer = Buffer.alloc(0)
  #skipping = false

  /** The complete records in `pending + chunk`, newline-terminated. */
  push(chunk: Buffer): Buffer {
    let data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk
    if (this.#skipping) {
      const nl = data.indexOf(NL)
      if (nl < 0) {
        this.#pending = Buffer.alloc(0)
        return Buffer.alloc(0)
      }
      this.#skipping = false
      data = data.subarray(nl + 1)
    }
    const end = data.lastIndexOf(NL) + 1
    this.#pending = Buffer.from(data.subarray(end))
    if (this.#pending.length > MAX_RECORD) {
      this.#pending = Buffer.alloc(0)
      this.#skipping = true
    }
    return dropLongRecords(data.subarray(0, end))
  }

  /** Bytes of an unfinished record held back. */
  get pendingBytes(): number {
    return this.#pending.length
  }

  reset(): void {
    this.#pending = Buffer.alloc(0)
    this.#skipping = false
  }
}

function dropLongRecords(data: Buffer): Buffer {
  if (data.length <= MAX_RECORD) return data
  const kept: Buffer[] = []
  for (let start = 0; start < data.length; ) {
    const end = data.indexOf(NL, start) + 1
    if (end - start <= MAX_RECORD) kept.push(data.subarray(start, end))
    start = end
  }
  return Buffer.concat(kept)
}

interface LogFile {
  fh: FileHandle
  size: number
}

async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** The rotated files (oldest first) then the current one, opened together: one consistent snapshot. */
async function openLogFiles(path: string, current?: FileHandle): Promise<LogFile[]> {
  const files: LogFile[] = []
  const currentIno = current === undefined ? undefined : (await current.stat()).ino
  try {
    for (const p of [...rotatedLogs(path), path]) {
      const fh = p === path && current !== undefined ? current : await openIfExists(p)
      if (fh === undefined) continue
      const st = await fh.stat()
      // Rotated since `current` was opened: it is read once, as `current`.
      if (fh !== current && st.ino === currentIno) {
        await fh.close()
        continue
      }
      files.push({ fh, size: st.size })
    }
  } catch (err) {
    await Promise.all(files.map((f) => (f.fh === current ? undefined : f.fh.close())))
    throw err
  }
  return files
}

/**
 * Where output starts for the last `lines` lines: scanning backwards from the end of the
 * newest file, past `lines` full records (each ends a line), to just after the one before.
 */
async function tailStart(files: LogFile[], lines: number): Promise<{ file: number; offset: number }> {
  let counted = 0
  for (let f = files.length - 1; f >= 0; f--) {
    const { fh, size } = files[f]!
    // `end`: the newline that ends the record being assembled (-1: none yet, so the bytes
    // after the file's last newline, an unfinished record, are left out). `head`: the
    // first bytes seen so far of that record, from the chunks after this one.
    let end = -1
    let head = Buffer.alloc(0)
    for (let pos = size; pos > 0; ) {
      const from = Math.max(0, pos - CHUNK)
      const chunk = Buffer.alloc(pos - from)
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, from)
      const buf = chunk.subarray(0, bytesRead)
      for (let below = buf.length; ; ) {
        const nl = below > 0 ? buf.lastIndexOf(NL, below - 1) : -1
        // No newline left in this chunk: the record goes on in the one before, unless the file starts here.
        if (nl < 0 && from > 0) break
        if (end >= 0) {
          const record = end - from < buf.length ? buf.subarray(nl + 1, end - from) : Buffer.concat([buf.subarray(nl + 1), head])
          if (isFullRecord(record) && ++counted > lines) return { file: f, offset: end + 1 }
        }
        end = from + nl
        head = Buffer.alloc(0)
        if (nl < 0) break
        below = nl
      }
      if (end >= 0) {
        const first = buf.indexOf(NL)
        head = Buffer.concat([buf.subarray(0, first < 0 ? buf.length : first), head]).subarray(0, 200)
      }
      pos = from
    }
  }
  return { file: 0, offset: 0 }
}

async function* readForward(fh: FileHandle, from: number, to: number, records: Records, renderer: Renderer): AsyncGenerator<Buffer, number> {
  let pos = from
  const chunk = Buffer.alloc(CHUNK)
  while (pos < to && !renderer.exhausted) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(CHUNK, to - pos), pos)
    if (bytesRead === 0) break
    pos += bytesRead
    const out = renderer.render(records.push(chunk.subarray(0, bytesRead)))
    if (out.length) yield out
  }
  return pos
}

/** The selected part of the log files as they are now, in chunks; `current` stays open (follow). */
async function* readSnapshot(path: string, opts: LogOptions, renderer: Renderer, current?: FileHandle): AsyncGenerator<Buffer, number> {
  const files = await openLogFiles(path, current)
  let currentEnd = 0
  try {
    let start = { file: 0, offset: 0 }
    if (opts.tailLines !== undefined) start = opts.tailLines === 0 ? { file: files.length, offset: 0 } : await tailStart(files, opts.tailLines)
    for (let f = start.file; f < files.length && !renderer.exhausted; f++) {
      const { fh, size } = files[f]!
      const records = new Records()
      const end = yield* readForward(fh, f === start.file ? start.offset : 0, size, records, renderer)
      // A follower goes on from the start of an unfinished last record.
      if (fh === current) currentEnd = end - records.pendingBytes
    }
    // With tail 0, or all of it skipped: a follower carries on from the end.
    const last = files.at(-1)
    if (current !== undefined && last?.fh === current && currentEnd === 0) currentEnd = last.size
    return currentEnd
  } finally {
    await Promise.all(files.map((f) => (f.fh === current ? undefined : f.fh.close())))
  }
}

/** The log as `kubectl logs` prints it, in chunks. A missing log reads as empty. */
export async function* streamLog(path: string, opts: LogOptions = {}): AsyncGenerator<Buffer> {
  yield* readSnapshot(path, opts, new Renderer(opts))
}

/** The whole selected log as one string (small logs and tests; the kubelet API streams). */
export async function readLog(path: string, opts: LogOptions = {}): Promise<string> {
  const parts: Buffer[] = []
  for await (const chunk of streamLog(path, opts)) parts.push(chunk)
  return Buffer.concat(parts).toString()
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const wake = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', wake)
      resolve()
    }
    const timer = setTimeout(wake, ms)
    signal?.addEventListener('abort', wake, { once: true })
  })
}

async function inode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino
  } catch {
    return undefined
  }
}

/** The rotated files of a log with their inodes and rotation times, oldest first. */
async function rotatedFiles(path: string): Promise<Array<{ path: string; ino: number; rotatedAtMs: number }>> {
  const out: Array<{ path: string; ino: number; rotatedAtMs: number }> = []
  for (const p of rotatedLogs(path)) {
    const ino = await inode(p)
    if (ino !== undefined) out.push({ path: p, ino, rotatedAtMs: rotationTime(p) })
  }
  return out
}

/**
 * Yields the selected log, then whatever is appended, until aborted or `until` settles.
 * It follows the log across rotations: a file that has been renamed is read until its
 * writers have moved on (ROTATION_DRAIN_MS after its rotation), then the file that came
 * after it (the next rotated one, or the live one) is read from its start.
 */
export async function* followLog(path: string, opts: FollowOptions = {}): AsyncGenerator<Buffer> {
  const pollMs = opts.pollMs ?? 200
  let ended = false
  opts.until?.then(
    () => (ended = true),
    () => (ended = true),
  )
  const renderer = new Renderer(opts)
  let fh = await openIfExists(path)
  let ino = fh === undefined ? undefined : (await fh.stat()).ino
  const records = new Records()
  /** When the file being read was rotated (once known), and when that was first noticed. */
  let rotatedAtMs: number | undefined
  let noticedAt: number | undefined
  try {
    let offset = yield* readSnapshot(path, opts, renderer, fh)
    while (!opts.signal?.aborted && !renderer.exhausted) {
      const finishing = ended
      if (fh !== undefined) {
        const { size } = await fh.stat()
        if (size > offset) offset = yield* readForward(fh, offset, size, records, renderer)
        if (renderer.exhausted) return
      }
      const live = await inode(path)
      if (live !== ino) {
        // The file being read is no longer the live one (or there was none): find what follows it.
        const rotated = await rotatedFiles(path)
        const self = rotated.findIndex((r) => r.ino === ino)
        if (self >= 0) rotatedAtMs = rotated[self]!.rotatedAtMs
        noticedAt ??= Date.now()
        const quietAt = rotatedAtMs !== undefined ? rotatedAtMs + 1000 + ROTATION_DRAIN_MS : noticedAt + ROTATION_DRAIN_MS
        if (fh === undefined || finishing || Date.now() >= quietAt) {
          const next = self >= 0 ? rotated[self + 1] : rotated.find((r) => rotatedAtMs !== undefined && r.rotatedAtMs > rotatedAtMs)
          const nextPath = next?.path ?? (live !== undefined ? path : undefined)
          if (nextPath !== undefined) {
            await fh?.close()
            fh = await openIfExists(nextPath)
            ino = fh === undefined ? undefined : (await fh.stat()).ino
            offset = 0
            records.reset()
            noticedAt = undefined
            if (next === undefined) rotatedAtMs = undefined
            continue
          }
        }
      }
      if (finishing) return
      await sleep(pollMs, opts.signal)
    }
  } finally {
    await fh?.close()
  }
}
