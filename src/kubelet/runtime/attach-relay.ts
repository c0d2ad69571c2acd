// The attach relay of a container that reads stdin or has a tty (started by its supervisor,
// launcher.ts; the role conmon plays for CRI-O). It holds the container's stdin FIFO open,
// copies the command's stdout and stderr to the log writers unchanged, and serves a unix
// socket (`<base>.attach`, mode 0600) where `kubectl attach` sessions connect: each gets the
// output live, in frames (1 byte stream: 1 stdout, 2 stderr; 4 bytes length; data), and
// what it writes goes to the container's stdin. A session that does not keep up is dropped,
// never the log. With stdinOnce, stdin ends when the first session that wrote to it leaves.
//   node attach-relay.ts BASE once|many
import { chmodSync, constants, openSync, rmSync } from 'node:fs'
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
  return new Socket({ fd, readable: (flags & constants.O_WRONLY) === 0, writable: (flags & (constants.O_WRONLY | constants.O_RDWR)) !== 0 })
}

function main(base: string, once: boolean): void {
  const sessions = new Set<Socket>()
  // Read-write: opening does not wait for the command, and it never sees EOF while we hold it.
  let stdin: Socket | undefined = fifo(`${base}.in`, constants.O_RDWR)
  stdin.on('error', () => closeStdin())
  const closeStdin = (): void => {
    stdin?.destroy()
    stdin = undefined
  }
  const server = createServer((socket) => {
    sessions.add(socket)
    let wrote = false
    socket.on('data', (data: Buffer) => {
      if (stdin === undefined) return
      wrote = true
      // A container that stops reading its stdin holds the session back, as a pipe would.
      if (!stdin.write(data)) {
        socket.pause()
        stdin.once('drain', () => socket.resume())
      }
    })
    socket.on('close', () => {
      sessions.delete(socket)
      if (once && wrote) closeStdin()
    })
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
      closeStdin()
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
