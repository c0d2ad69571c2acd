// Keep-alive connections to endpoints, for the HTTP/1.1 fast path (h1-fast-path.ts): per
// endpoint a stack of idle connections, each dropped when its peer closes it, sends bytes
// unasked, or has been idle for IDLE_MS.
//
// A connection's listeners are added once, when it opens, and send its events to whatever
// request uses it now (`user`), or close it while it is idle: adding and removing five
// listeners per request (and a pool watcher's four) cost more than the request's parsing.
// Its bytes are read into one buffer all upstream connections of the thread share (net's
// `onread`: no Buffer and no 'data' event per read), so a user must copy what it keeps or
// writes on (UpstreamUser.data).
import { connect, type Socket } from 'node:net'
import { endpointId } from './balancer.ts'
import type { Endpoint } from './endpoints.ts'

const IDLE_MS = 30_000
const MAX_IDLE_PER_ENDPOINT = 128

/** Where every upstream connection of the thread reads into. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

/** What an upstream connection's events go to while a request uses it. */
export interface UpstreamUser {
  /** `chunk` is valid during the call only: it is a view of the shared read buffer. */
  data(chunk: Buffer): void
  end(): void
  closed(): void
  error(err: NodeJS.ErrnoException): void
  timeout(): void
}

/** One connection to an endpoint, in use or idle in its pool. */
export class Upstream {
  readonly socket: Socket
  readonly id: string
  /** The request it serves now; undefined while idle. */
  user: UpstreamUser | undefined
  /** When it went idle (performance.now()). */
  idleSince = 0
  #timeoutMs = 0

  constructor(socket: Socket, id: string, onClose: (up: Upstream) => void) {
    this.socket = socket
    this.id = id
    socket.on('end', () => this.user?.end())
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.user) this.user.error(err)
      else socket.destroy()
    })
    socket.on('timeout', () => {
      if (this.user) this.user.timeout()
      else socket.destroy()
    })
    socket.on('close', () => {
      this.user?.closed()
      onClose(this)
    })
  }

  /** The socket's onread callback (true: read on; a user that must wait pauses the socket itself). */
  read(n: number): boolean {
    if (this.user) this.user.data(READ_BUFFER.subarray(0, n))
    // Bytes from an idle connection are a protocol error: it is not reusable.
    else this.socket.destroy()
    return true
  }

  /**
   * The inactivity timeout of the request using it (socket.setTimeout makes a new timer each
   * call, so it is called only when the value changes: requests of one route reuse the timer).
   */
  setTimeout(ms: number): void {
    if (ms === this.#timeoutMs) return
    this.#timeoutMs = ms
    this.socket.setTimeout(ms)
  }
}

export class RawPools {
  #idle = new Map<string, Upstream[]>()
  #closed = false
  #sweeper: NodeJS.Timeout | undefined
  #onClose = (up: Upstream) => this.#drop(up)

  /** An idle connection to `ep`, if one is left. */
  take(ep: Endpoint): Upstream | undefined {
    const list = this.#idle.get(endpointId(ep))
    while (list && list.length > 0) {
      const up = list.pop()!
      const s = up.socket
      if (!s.destroyed && s.readable && s.writable) return up
      s.destroy()
    }
    return undefined
  }

  /** A new connection, destroyed with an ETIMEDOUT error when it is not up within `timeoutMs`. */
  open(ep: Endpoint, timeoutMs: number): Upstream {
    let up: Upstream | undefined
    const socket = connect({ host: ep.address, port: ep.port, noDelay: true, onread: { buffer: READ_BUFFER, callback: (n: number) => up!.read(n) } })
    up = new Upstream(socket, endpointId(ep), this.#onClose)
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs)
    socket.once('connect', () => clearTimeout(timer))
    socket.once('close', () => clearTimeout(timer))
    return up
  }

  /** Keeps an idle connection for reuse (or closes it when the pool is full or closed). */
  put(up: Upstream): void {
    up.user = undefined
    let list = this.#idle.get(up.id)
    if (!list) this.#idle.set(up.id, (list = []))
    if (this.#closed || list.length >= MAX_IDLE_PER_ENDPOINT || up.socket.destroyed) {
      up.socket.destroy()
      return
    }
    up.idleSince = performance.now()
    list.push(up)
    this.#sweeper ??= setInterval(() => this.#sweep(), IDLE_MS / 3).unref()
  }

  #drop(up: Upstream): void {
    const list = this.#idle.get(up.id)
    const i = list ? list.indexOf(up) : -1
    if (i >= 0) list!.splice(i, 1)
  }

  /** Closes connections idle for IDLE_MS or longer (the oldest are at the bottom of each stack). */
  #sweep(): void {
    const cutoff = performance.now() - IDLE_MS
    for (const list of this.#idle.values()) {
      while (list.length > 0 && list[0]!.idleSince <= cutoff) list.shift()!.socket.destroy()
    }
  }

  /** Closes the idle connections of endpoints not in `keep` ('addr:port' ids). */
  prune(keep: ReadonlySet<string>): void {
    for (const [id, list] of this.#idle) {
      if (keep.has(id)) continue
      this.#idle.delete(id)
      for (const up of list) up.socket.destroy()
    }
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#sweeper)
    for (const list of this.#idle.values()) for (const up of list) up.socket.destroy()
    this.#idle.clear()
  }
}
