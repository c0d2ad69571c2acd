// The byte relay of a proxied TCP connection, and what every relay of a proxier shares: the
// live sockets (counted against the limits), one idle sweep and a pool of read buffers.
//
// Per chunk the relay does as little as Node allows without private APIs:
// - endpoint → client: the upstream socket reads into a buffer of its own (`onread`, no
//   allocation per read) and the callback writes that chunk to the client. When the write
//   could not finish at once, the buffer now belongs to that write: the next read gets a
//   fresh buffer, and reading stops while the client is past its high-water mark, until it
//   drains (the backpressure `pipe` gives);
// - client → endpoint: 'data' straight into write(), paused and resumed the same way;
// - no per-socket timers: an activity stamp per chunk, read by one sweep per proxier.
// Half-close is kept: an end on one side ends the other's writable side only. An error or an
// abrupt close of either side destroys both.
import type { Socket } from 'node:net'
import type { UserspaceLimits } from './limits.ts'

/** Each relay's upstream read buffer: enough for most responses in one read. */
const RELAY_BUFFER_BYTES = 16 * 1024
/** Free read buffers kept for the next connections (at most this × RELAY_BUFFER_BYTES of idle memory). */
const POOL_MAX = 256
/** The idle sweep runs this many times per idle timeout (so a connection is closed after 1 to 1⅛ timeouts idle), and at least every SWEEP_MAX_MS. */
const SWEEPS_PER_TIMEOUT = 8
const SWEEP_MAX_MS = 10_000

export interface TcpRelaysOptions {
  /** Counts the relays' sockets. */
  limits: UserspaceLimits
  /** A relayed connection without traffic either way for this long is closed; 0: never. */
  idleTimeoutMs: number
  /** Called for each connection closed by the idle sweep. */
  onIdleClose: (relay: Relay) => void
}

/** The relays of one proxier. */
export class TcpRelays {
  /** Every live socket of the relays, client and upstream sides (counted in the limits). */
  readonly sockets = new Set<Socket>()
  readonly #relays = new Set<Relay>()
  readonly #pool: Buffer[] = []
  readonly #opts: TcpRelaysOptions
  readonly #sweepMs: number
  /** Idle sweeps a connection may sleep through before it is closed. */
  readonly #idleTicks: number
  /** Sweeps so far: the clock relays stamp their activity with. */
  tick = 0
  #timer: NodeJS.Timeout | undefined

  constructor(opts: TcpRelaysOptions) {
    this.#opts = opts
    this.#sweepMs = opts.idleTimeoutMs > 0 ? Math.max(1, Math.min(SWEEP_MAX_MS, Math.ceil(opts.idleTimeoutMs / SWEEPS_PER_TIMEOUT))) : 0
    this.#idleTicks = this.#sweepMs > 0 ? Math.ceil(opts.idleTimeoutMs / this.#sweepMs) : 0
  }

  buffer(): Buffer {
    return this.#pool.pop() ?? Buffer.allocUnsafe(RELAY_BUFFER_BYTES)
  }

  release(buf: Buffer): void {
    if (this.#pool.length < POOL_MAX) this.#pool.push(buf)
  }

  track(s: Socket): void {
    this.sockets.add(s)
    this.#opts.limits.countTcpSockets(1)
  }

  untrack(s: Socket): void {
    if (this.sockets.delete(s)) this.#opts.limits.countTcpSockets(-1)
  }

  add(relay: Relay): void {
    this.#relays.add(relay)
    if (this.#sweepMs > 0 && this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#sweepMs)
      this.#timer.unref()
    }
  }

  delete(relay: Relay): void {
    this.#relays.delete(relay)
  }

  /** Destroys every connection. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy()
    this.#opts.limits.countTcpSockets(-this.sockets.size)
    this.sockets.clear()
    this.#relays.clear()
    this.#stop()
  }

  #sweep(): void {
    this.tick++
    // A relay stamped at tick k has been idle more than (tick - k - 1) sweep periods.
    const stale = this.tick - this.#idleTicks - 1
    for (const r of this.#relays) {
      if (r.spliced && r.last <= stale) {
        this.#opts.onIdleClose(r)
        r.destroy()
      }
    }
    if (this.#relays.size === 0) this.#stop()
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }
}

/**
 * Ends the writable side of `s`, whose peer has sent its FIN. When `s` has read its own
 * peer's FIN too and handed every byte to the kernel, closing it is the same on the wire
 * (the kernel sends what it holds, then FIN) without a shutdown first.
 */
function finish(s: Socket): void {
  if (s.readableEnded && s.writableLength === 0) s.destroy()
  else s.end()
}

/** One client connection and, once connected, its upstream. */
export class Relay {
  readonly client: Socket
  readonly relays: TcpRelays
  up: Socket | undefined
  spliced = false
  /** The sweep tick of the last chunk either way. */
  last: number
  /** The upstream's read buffer; undefined once handed to a write still in flight. */
  #buf: Buffer | undefined

  constructor(client: Socket, relays: TcpRelays) {
    this.client = client
    this.relays = relays
    this.last = relays.tick
    relays.track(client)
    relays.add(this)
    client.on('error', this.#onClientError)
    client.on('close', this.#onClientClose)
  }

  /** The `onread` option of the upstream socket: reads land in this relay's buffer. */
  readonly onread = {
    buffer: (): Buffer => (this.#buf ??= this.relays.buffer()),
    callback: (n: number, buf: Buffer): boolean => this.#fromUpstream(n, buf),
  }

  /** Tracks an upstream socket being connected (destroyed with the relay). */
  attach(up: Socket): void {
    this.up = up
    this.relays.track(up)
    up.on('close', () => this.#onUpClose(up))
  }

  /** Starts relaying both ways once `up` (attached) has connected. */
  splice(): void {
    const { client, up } = this
    if (up === undefined) return
    this.spliced = true
    this.last = this.relays.tick
    up.on('error', this.#destroyClient)
    up.on('end', this.#onUpEnd)
    up.on('drain', this.#resumeClient)
    client.on('data', this.#fromClient)
    client.on('end', this.#onClientEnd)
    client.on('drain', this.#resumeUp)
    client.resume()
  }

  /** Destroys both sides. */
  destroy(): void {
    this.client.destroy()
    this.up?.destroy()
  }

  #fromClient = (chunk: Buffer): void => {
    this.last = this.relays.tick
    if (!this.up!.write(chunk)) this.client.pause()
  }

  #fromUpstream(n: number, buf: Buffer): boolean {
    this.last = this.relays.tick
    const client = this.client
    const more = client.write(n === buf.length ? buf : buf.subarray(0, n))
    // Not all written at once: the write keeps `buf`, the next read takes another.
    if (client.writableLength > 0 && this.#buf === buf) this.#buf = undefined
    // false: the upstream stops reading until the client drains (#resumeUp).
    return more
  }

  #resumeUp = (): void => void this.up?.resume()
  #resumeClient = (): void => void this.client.resume()
  #onClientEnd = (): void => finish(this.up!)
  #onUpEnd = (): void => finish(this.client)
  #destroyClient = (): void => void this.client.destroy()

  #onClientError = (): void => {
    this.up?.destroy()
  }

  #onClientClose = (): void => {
    this.relays.untrack(this.client)
    if (!this.client.readableEnded) this.up?.destroy()
    this.#done()
  }

  #onUpClose(up: Socket): void {
    this.relays.untrack(up)
    if (up !== this.up) return
    if (this.spliced && !up.readableEnded) this.client.destroy()
    if (up.destroyed && this.#buf !== undefined) {
      this.relays.release(this.#buf)
      this.#buf = undefined
    }
    this.#done()
  }

  #done(): void {
    if (this.client.closed && (this.up === undefined || this.up.closed)) this.relays.delete(this)
  }
}
