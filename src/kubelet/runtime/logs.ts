// Container logs in the CRI format (`<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, one
// record a line, P marking a line continued in the next record), read back as plain text
// for `kubectl logs`: tail, since-time, timestamps, byte limit, and follow.
import { open, readFile } from 'node:fs/promises'

export interface LogLine {
  time: string
  stream: 'stdout' | 'stderr'
  /** A partial record: the line continues in the next one. */
  partial: boolean
  message: string
}

export interface LogOptions {
  tailLines?: number
  /** RFC3339; records before it are skipped. */
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

function render(line: LogLine, timestamps: boolean | undefined): string {
  return `${timestamps ? `${line.time} ` : ''}${line.message}${line.partial ? '' : '\n'}`
}

function select(lines: LogLine[], opts: LogOptions): LogLine[] {
  let out = lines
  if (opts.sinceTime !== undefined) {
    const since = timeNanos(opts.sinceTime)
    if (since === undefined) throw new Error(`sinceTime ${JSON.stringify(opts.sinceTime)} is not an RFC3339 time`)
    out = out.filter((l) => (timeNanos(l.time) ?? 0n) >= since)
  }
  if (opts.tailLines !== undefined) {
    // Counted in whole lines: a run of partial records and its final record is one line.
    let seen = 0
    let start = out.length
    while (start > 0) {
      if (!out[start - 1].partial) {
        if (seen === opts.tailLines) break
        seen++
      }
      start--
    }
    out = out.slice(start)
  }
  return out
}

function parseAll(text: string): LogLine[] {
  const lines: LogLine[] = []
  for (const raw of text.split('\n')) {
    const line = parseLogLine(raw)
    if (line !== undefined) lines.push(line)
  }
  return lines
}

function limit(text: string, limitBytes: number | undefined): string {
  if (limitBytes === undefined) return text
  const buf = Buffer.from(text)
  return buf.length <= limitBytes ? text : buf.subarray(0, limitBytes).toString()
}

/** The log as `kubectl logs` prints it. A missing file reads as empty. */
export async function readLog(path: string, opts: LogOptions = {}): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw err
  }
  return limit(select(parseAll(text), opts).map((l) => render(l, opts.timestamps)).join(''), opts.limitBytes)
}

/** Yields the selected log, then whatever is appended, until aborted or `until` settles. */
export async function* followLog(path: string, opts: FollowOptions = {}): AsyncGenerator<string> {
  const pollMs = opts.pollMs ?? 200
  let ended = false
  opts.until?.then(
    () => (ended = true),
    () => (ended = true),
  )
  let budget = opts.limitBytes ?? Infinity
  let offset = 0
  let first = true
  let pending = Buffer.alloc(0)
  while (!opts.signal?.aborted) {
    const finishing = ended
    let chunk = Buffer.alloc(0)
    try {
      const fh = await open(path, 'r')
      try {
        const { size } = await fh.stat()
        if (size > offset) {
          chunk = Buffer.alloc(size - offset)
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, offset)
          chunk = chunk.subarray(0, bytesRead)
          offset += bytesRead
        }
      } finally {
        await fh.close()
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const data = Buffer.concat([pending, chunk])
    const end = data.lastIndexOf(0x0a) + 1
    pending = data.subarray(end)
    let lines = parseAll(data.subarray(0, end).toString())
    if (first) {
      lines = select(lines, opts)
      first = false
    } else if (opts.sinceTime !== undefined) {
      lines = select(lines, { sinceTime: opts.sinceTime })
    }
    if (lines.length > 0) {
      let text = lines.map((l) => render(l, opts.timestamps)).join('')
      if (Buffer.byteLength(text) > budget) text = limit(text, budget)
      budget -= Buffer.byteLength(text)
      if (text !== '') yield text
      if (budget <= 0) return
    }
    if (finishing) return
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        opts.signal?.removeEventListener('abort', wake)
        resolve()
      }
      const timer = setTimeout(wake, pollMs)
      opts.signal?.addEventListener('abort', wake, { once: true })
    })
  }
}
