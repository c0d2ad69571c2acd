// The attach relay of a container that reads stdin or has a tty (started by its supervisor,
// launcher.ts; the role conmon plays for CRI-O). It holds the container's stdin FIFO open,
// copies the command's stdout and stderr to the log writers unchanged, and serves a unix
// socket (`<base>.attach`, mode 0600) where `kubectl attach` sessions connect: each gets the
// output live, in frames (1 byte stream: 1 stdout, 2 stderr; 4 bytes length; data), and
// what it writes goes to the container's stdin. A session that does not keep up is dropped,
// never the log. With stdinOnce, stdin ends when the input of the first session that wrote to it ends.
//   node attach-relay.ts BASE once|many
import { chmodSync, closeSync, constants, openSync, rmSync, writeSync } from 'node:fs'
import { createServer, Socket } from 'node:net'

export const ATTACH_STDOUT = 1
export const ATTACH_STDERR = 2
/** Output a session may fall behind by before it is dropped. */
const MAX_SESSION_BACKLOG = 1024 * 1024

export function attachFrame(stream: number, data: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head[0] = stream
  head.writeUInt32BE(data.length, 1)
  return Buffer.concat([head, data])
}

/** Splits frames off a buffer; answers the frames and what is left over. */
export function readAttachFrames(buffer: Buffer): { frames: Array<{ stream: number; data: Buffer }>; rest: Buffer } {
  const frames: Array<{ stream: number; data: Buffer }> = []
  let at = 0
  while (buffer.length - at >= 5) {
    const length = buffer.readUInt32BE(at + 1)
    if (buffer.length - at - 5 < length) break
    frames.push({ stream: buffer[at]!, data: buffer.subarray(at + 5, at + 5 + length) })
    at += 5 + length
  }
  return { frames, rest: buffer.subarray(at) }
}

/** A FIFO as a libuv pipe (never a blocking read or write on the thread pool). */
function fifo(path: string, flags: number): Socket {
  const fd = openSync(path, flags)
  // Half-open: a write-only pipe must not be ended because its (absent) read side is.
  return new Socket({ fd, readable: (flags & constants.O_WRONLY) === 0, writable: (flags & (constants.O_WRONLY | constants.O_RDWR)) !== 0, allowHalfOpen: true })
}

/**
 * The container's stdin FIFO, written without blocking (O_NONBLOCK writes, retried while the
 * pipe is full) and held open read-write so the command sees no EOF until it is closed.
 */
class StdinPipe {
  #fd: number | undefined
  readonly #queue: Buffer[] = []
  #closing = false
  #timer: NodeJS.Timeout | undefined
  readonly #waiting: Array<() => void> = []

  constructor(path: string) {
    this.#fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK)
  }

  get open(): boolean {
    return this.#fd !== undefined && !this.#closing
  }

  /** Queues data; answers false when the pipe is full (call `whenDrained`). */
  write(data: Buffer): boolean {
    if (!this.open) return true
    this.#queue.push(data)
    this.#flush()
    return this.#queue.length === 0
  }

  whenDrained(fn: () => void): void {
    if (this.#queue.length === 0) fn()
    else this.#waiting.push(fn)
  }

  /** Closes the pipe once what is queued is written. */
  end(): void {
    this.#closing = true
    this.#flush()
  }

  #flush(): void {
    clearTimeout(this.#timer)
    while (this.#fd !== undefined && this.#queue.length > 0) {
      let n: number
      try {
        n = writeSync(this.#fd, this.#queue[0]!)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break
        this.#queue.length = 0
        this.#closing = true
        break
      }
      if (n < this.#queue[0]!.length) this.#queue[0] = this.#queue[0]!.subarray(n)
      else this.#queue.shift()
    }
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => this.#flush(), 10)
      return
    }
    for (const fn of this.#waiting.splice(0)) fn()
    if (this.#closing && this.#fd !== undefined) {
      closeSync(this.#fd)
      this.#fd = undefined
    }
  }
}

function main(base: string, once: boolean): void {
  const sessions = new Set<Socket>()
  const stdin = new StdinPipe(`${base}.in`)
  // Half-open: a session whose input ended still gets the output, until the command ends.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sessions.add(socket)
    let wrote = false
    socket.on('data', (data: Buffer) => {
      if (!stdin.open) return
      wrote = true
      // A container that stops reading its stdin holds the session back, as a pipe would.
      if (!stdin.write(data)) {
        socket.pause()
        stdin.whenDrained(() => socket.resume())
      }
    })
    socket.on('end', () => {
      if (once && wrote) stdin.end()
    })
    socket.on('close', () => sessions.delete(socket))
    socket.on('error', () => socket.destroy())
  })
  rmSync(`${base}.attach`, { force: true })
  server.listen(`${base}.attach`, () => chmodSync(`${base}.attach`, 0o600))
  let open = 2
  // The same order as the command opens them (stdout, then stderr): each open waits for its writer.
  for (const [from, to, stream] of [[`${base}.raw`, `${base}.out`, ATTACH_STDOUT], [`${base}.rawerr`, `${base}.err`, ATTACH_STDERR]] as const) {
    const input = fifo(from, constants.O_RDONLY)
    const log = fifo(to, constants.O_WRONLY)
    log.on('error', () => log.destroy())
    input.on('data', (data: Buffer) => {
      // The log is never lossy: a slow log writer slows the command, as its pipe would.
      if (!log.write(data)) {
        input.pause()
        log.once('drain', () => input.resume())
      }
      const frame = attachFrame(stream, data)
      for (const s of sessions) {
        if (s.writableLength > MAX_SESSION_BACKLOG) s.destroy()
        else s.write(frame)
      }
    })
    input.on('error', () => input.destroy())
    input.on('close', () => {
      log.end()
      if (--open > 0) return
      for (const s of sessions) s.end()
      server.close()
      stdin.end()
      rmSync(`${base}.attach`, { force: true })
    })
  }
}

if (import.meta.main) {
  const [base, mode] = process.argv.slice(2)
  if (!base || (mode !== 'once' && mode !== 'many')) {
    process.stderr.write('usage: attach-relay.ts BASE once|many\n')
    process.exit(2)
  }
  main(base, mode === 'once')
}
