// A SPDY/3.1 session over any byte stream (a TCP/TLS socket after `Upgrade: SPDY/3.1`, or
// the byte stream a WebSocket tunnel carries), behaving as moby/spdystream (the peer
// kubectl uses) expects:
//  - frames are handled in arrival order; header blocks through one inflate context;
//  - a peer's PING is echoed (client ids odd, server ids even); SETTINGS and WINDOW_UPDATE
//    are read and ignored, and no WINDOW_UPDATE is ever needed from the peer: spdystream
//    keeps no windows, so flow control is TCP's. Backpressure: a stream whose reader is
//    behind pauses the whole session's input (head-of-line, like spdystream's unbuffered
//    per-stream channel), and a stream's writes wait while the transport is full;
//  - GOAWAY: no new streams, the session ends when the last stream is done.
import { EventEmitter } from 'node:events'
import { Duplex } from 'node:stream'
import {
  dataFrameHeader,
  defaultSpdyLimits,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  encodeHeaders,
  FrameReader,
  GoAwayStatus,
  RstStatus,
  SpdyProtocolError,
  type RawFrame,
  type SpdyLimits,
} from './spdy-frames.ts'
import { HeaderCompressor, HeaderDecompressor, type SpdyHeaders } from './spdy-headers.ts'

export type HeaderInput = Readonly<Record<string, string | readonly string[]>>

/** Lower-cases names and makes every value a list. */
export function toSpdyHeaders(input: HeaderInput): SpdyHeaders {
  const out = Object.create(null) as SpdyHeaders
  for (const [k, v] of Object.entries(input)) out[k.toLowerCase()] = typeof v === 'string' ? [v] : [...v]
  return out
}

export interface SpdySessionOptions {
  role: 'server' | 'client'
  limits?: Partial<SpdyLimits>
  /** A stream the peer opened: accept it with `reply()`, refuse it with `reset()`. */
  onStream?: (stream: SpdyStream) => void
  /** No frame either way for this long ends the session (the kubelet's default is 4 h). */
  idleTimeoutMs?: number
}

/** Largest data frame this side writes. */
const MAX_OUT_FRAME = 128 * 1024
/** Frames waiting on a header block before input is paused. */
const MAX_INBOX = 256

export class SpdyStream extends Duplex {
  readonly id: number
  /** The headers the stream was opened with. */
  readonly headers: SpdyHeaders
  readonly #session: SpdySession
  #sentFin = false
  #recvFin = false
  #replied = false
  /** Set when the peer reset the stream (RST_STREAM status) or the session ended under it. */
  resetStatus: number | undefined

  /** @internal */
  constructor(session: SpdySession, id: number, headers: SpdyHeaders) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024 })
    this.#session = session
    this.id = id
    this.headers = headers
  }

  /** Accepts a stream the peer opened (SYN_REPLY). */
  reply(headers: HeaderInput = {}, fin = false): void {
    if (this.#replied) return
    this.#replied = true
    if (fin) this.#sentFin = true
    this.#session._reply(this, headers, fin)
  }

  /** Sends RST_STREAM and tears the stream down. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.destroyed) return
    this.#session._reset(this, status)
    this.destroy()
  }

  /** @internal */
  _remoteData(data: Buffer, fin: boolean): void {
    if (data.length > 0 && !this.push(data)) this.#session._blocked(this)
    if (fin) this._remoteFin()
  }

  /** @internal The peer reset the stream or the session went away: emits 'reset', then destroys without an error. */
  _peerReset(status: number): void {
    if (this.destroyed) return
    this.resetStatus = status
    this.#sentFin = this.#recvFin = true
    this.emit('reset', status)
    this.destroy()
  }

  /** @internal */
  _remoteFin(): void {
    if (this.#recvFin) return
    this.#recvFin = true
    this.push(null)
    this.#maybeDone()
  }

  /** @internal */
  get _remoteFinished(): boolean {
    return this.#recvFin
  }

  /** @internal */
  _markReplied(): void {
    this.#replied = true
  }

  /** @internal */
  _markLocalFin(): void {
    this.#sentFin = true
  }

  #maybeDone(): void {
    if (this.#sentFin && this.#recvFin) this.#session._forget(this)
  }

  override _read(): void {
    this.#session._unblocked(this)
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#sentFin) return cb(new Error(`stream ${this.id} is closed for writing`))
    this.#session._data(this, chunk, false, cb)
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#sentFin) return cb()
    this.#sentFin = true
    this.#session._data(this, Buffer.alloc(0), true, (err) => {
      this.#maybeDone()
      cb(err)
    })
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!(this.#sentFin && this.#recvFin)) this.#session._reset(this, RstStatus.CANCEL)
    this.#session._forget(this)
    cb(err)
  }
}

export class SpdySession extends EventEmitter {
  readonly #io: Duplex
  readonly #role: 'server' | 'client'
  readonly #limits: SpdyLimits
  readonly #onStream: ((stream: SpdyStream) => void) | undefined
  readonly #reader: FrameReader
  readonly #inflate: HeaderDecompressor
  readonly #deflate = new HeaderCompressor()
  readonly #streams = new Map<number, SpdyStream>()
  readonly #blocked = new Set<SpdyStream>()
  readonly #inbox: RawFrame[] = []
  #inflating = false
  #nextId: number
  #nextPing: number
  readonly #pings = new Map<number, () => void>()
  #lastRemoteId = 0
  #goneAway = false
  #closed = false
  readonly #out: Array<Buffer | Promise<Buffer>> = []
  #pumping = false
  #drainWaiters: Array<() => void> = []
  readonly #idle: NodeJS.Timeout | undefined
  /** Resolves when the session has ended, with the error that ended it, if any. */
  readonly done: Promise<Error | undefined>
  #resolveDone!: (err: Error | undefined) => void

  constructor(io: Duplex, opts: SpdySessionOptions) {
    super()
    this.#io = io
    this.#role = opts.role
    this.#limits = { ...defaultSpdyLimits, ...opts.limits }
    this.#onStream = opts.onStream
    this.#reader = new FrameReader(this.#limits)
    this.#inflate = new HeaderDecompressor(this.#limits)
    this.#nextId = opts.role === 'client' ? 1 : 2
    this.#nextPing = opts.role === 'client' ? 1 : 2
    this.done = new Promise((resolve) => (this.#resolveDone = resolve))
    if (opts.idleTimeoutMs) this.#idle = setTimeout(() => this.destroy(new Error(`the session was idle for ${opts.idleTimeoutMs} ms`)), opts.idleTimeoutMs).unref()
    io.on('data', (chunk: Buffer) => this.#input(chunk))
    io.on('end', () => this.#ended())
    io.on('error', (err) => this.destroy(err))
    io.on('close', () => this.#ended())
    io.on('drain', () => this.#maybeWritable())
  }

  get streamCount(): number {
    return this.#streams.size
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Opens a stream (client side; the server side may too). */
  openStream(headers: HeaderInput, opts: { fin?: boolean } = {}): SpdyStream {
    if (this.#closed || this.#goneAway) throw new Error('the SPDY session is closing; no new streams')
    if (this.#nextId > 0x7fffffff) throw new Error('the SPDY session has used up its stream ids')
    const id = this.#nextId
    this.#nextId += 2
    const spdyHeaders = toSpdyHeaders(headers)
    const stream = new SpdyStream(this, id, spdyHeaders)
    stream._markReplied()
    this.#streams.set(id, stream)
    if (opts.fin) {
      stream._markLocalFin()
      stream.end()
    }
    this.#send(this.#deflate.compress(spdyHeaders).then((block) => encodeSynStream(id, block, { fin: opts.fin })))
    return stream
  }

  /** Sends a PING and resolves with the round trip in ms. */
  ping(): Promise<number> {
    const id = this.#nextPing
    this.#nextPing = (this.#nextPing + 2) >>> 0 || (this.#role === 'client' ? 1 : 2)
    const start = performance.now()
    return new Promise((resolve) => {
      this.#pings.set(id, () => resolve(performance.now() - start))
      this.#send(encodePing(id))
    })
  }

  /** Resets every stream, says GOAWAY and ends the transport. */
  close(): void {
    if (this.#closed) return
    for (const s of [...this.#streams.values()]) s.reset(RstStatus.CANCEL)
    this.#goAway(GoAwayStatus.OK)
    this.#finish(undefined)
  }

  /** Ends at once: streams are destroyed, the transport too. */
  destroy(err?: Error): void {
    if (this.#closed) return
    this.#finish(err)
    this.#io.destroy()
  }

  #finish(err: Error | undefined): void {
    this.#closed = true
    if (this.#idle) clearTimeout(this.#idle)
    const streams = [...this.#streams.values()]
    this.#streams.clear()
    for (const s of streams) s._peerReset(RstStatus.CANCEL)
    this.#inflate.close()
    const endIo = () => {
      this.#deflate.close()
      if (!this.#io.destroyed) this.#io.end()
    }
    if (this.#pumping) void this.#drained().then(endIo)
    else endIo()
    this.#resolveDone(err)
    this.emit('close', err)
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  #goAway(status: number): void {
    if (this.#goneAway && status === GoAwayStatus.OK) return
    this.#goneAway = true
    this.#send(encodeGoAway(this.#lastRemoteId, status))
  }

  #ended(): void {
    if (this.#closed) return
    this.#finish(undefined)
  }

  #fail(err: unknown): void {
    if (this.#closed) return
    const error = err instanceof Error ? err : new Error(String(err))
    if (error instanceof SpdyProtocolError) this.#goAway(GoAwayStatus.PROTOCOL_ERROR)
    this.#finish(error)
    // The GOAWAY goes out with the end of the transport; a peer that does not close is cut off.
    setTimeout(() => this.#io.destroy(), 1000).unref()
  }

  #touch(): void {
    this.#idle?.refresh()
  }

  // ---- input ----

  #input(chunk: Buffer): void {
    if (this.#closed) return
    this.#touch()
    let frames: RawFrame[]
    try {
      frames = this.#reader.push(chunk)
    } catch (err) {
      this.#fail(err)
      return
    }
    if (this.#inflating || this.#inbox.length > 0) {
      this.#inbox.push(...frames)
      if (this.#inbox.length > MAX_INBOX) this.#io.pause()
      return
    }
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!
      if ('block' in f) {
        this.#inbox.push(...frames.slice(i))
        this.#pump()
        return
      }
      this.#handle(f, undefined)
      if (this.#closed) return
    }
  }

  #pump(): void {
    while (this.#inbox.length > 0 && !this.#closed && !this.#inflating) {
      const f = this.#inbox[0]!
      if ('block' in f) {
        this.#inflating = true
        this.#inflate.decompress(f.block, f.streamId).then(
          (headers) => {
            this.#inflating = false
            this.#inbox.shift()
            this.#handle(f, headers)
            this.#pump()
          },
          (err) => this.#fail(err),
        )
        return
      }
      this.#inbox.shift()
      this.#handle(f, undefined)
    }
    if (this.#inbox.length <= MAX_INBOX && this.#blocked.size === 0 && !this.#closed) this.#io.resume()
  }

  #handle(f: RawFrame, headers: SpdyHeaders | undefined): void {
    switch (f.type) {
      case 'data': {
        const s = this.#streams.get(f.streamId)
        // A frame for a stream that is gone (reset, finished) is dropped, as spdystream does.
        if (!s) return
        if (s._remoteFinished) {
          this.#rst(f.streamId, RstStatus.STREAM_ALREADY_CLOSED)
          this.#streams.delete(f.streamId)
          s._peerReset(RstStatus.STREAM_ALREADY_CLOSED)
          this.#afterStreamGone()
          return
        }
        s._remoteData(f.data, f.fin)
        return
      }
      case 'syn_stream':
        this.#synStream(f, headers!)
        return
      case 'syn_reply':
      case 'headers': {
        const s = this.#streams.get(f.streamId)
        if (!s) return
        s.emit(f.type === 'syn_reply' ? 'reply' : 'headers', headers)
        if (f.fin) s._remoteFin()
        return
      }
      case 'rst_stream': {
        const s = this.#streams.get(f.streamId)
        if (!s) return
        this.#streams.delete(f.streamId)
        this.#blocked.delete(s)
        s._peerReset(f.status)
        this.#afterStreamGone()
        return
      }
      case 'ping': {
        const ours = (f.id & 1) === (this.#role === 'client' ? 1 : 0)
        if (!ours) this.#send(encodePing(f.id))
        else {
          this.#pings.get(f.id)?.()
          this.#pings.delete(f.id)
        }
        return
      }
      case 'goaway':
        this.#goneAway = true
        this.#afterStreamGone()
        return
      case 'settings':
      case 'window_update':
        return
    }
  }

  #synStream(f: Extract<RawFrame, { type: 'syn_stream' }>, headers: SpdyHeaders): void {
    const fromClient = (f.streamId & 1) === 1
    if (fromClient !== (this.#role === 'server')) {
      this.#fail(new SpdyProtocolError(`the peer opened stream ${f.streamId}, an id of this side's parity`))
      return
    }
    if (f.streamId <= this.#lastRemoteId) {
      this.#rst(f.streamId, RstStatus.PROTOCOL_ERROR)
      return
    }
    this.#lastRemoteId = f.streamId
    if (this.#goneAway) return
    if (this.#streams.size >= this.#limits.maxStreams) {
      this.#rst(f.streamId, RstStatus.REFUSED_STREAM)
      return
    }
    const s = new SpdyStream(this, f.streamId, headers)
    this.#streams.set(f.streamId, s)
    if (f.unidirectional) {
      s._markLocalFin()
      s.end()
    }
    if (f.fin) s._remoteFin()
    if (this.#onStream) this.#onStream(s)
    else s.reset(RstStatus.REFUSED_STREAM)
  }

  // ---- hooks for SpdyStream ----

  /** @internal */
  _reply(s: SpdyStream, headers: HeaderInput, fin: boolean): void {
    if (this.#closed) return
    this.#send(this.#deflate.compress(headers).then((block) => encodeSynReply(s.id, block, fin)))
  }

  /** @internal Sends HEADERS on a stream. */
  _headers(s: SpdyStream, headers: HeaderInput, fin: boolean): void {
    if (this.#closed) return
    this.#send(this.#deflate.compress(headers).then((block) => encodeHeaders(s.id, block, fin)))
  }

  /** @internal */
  _reset(s: SpdyStream, status: number): void {
    if (this.#closed || this.#streams.get(s.id) !== s) return
    this.#rst(s.id, status)
    this.#streams.delete(s.id)
    this.#blocked.delete(s)
    this.#afterStreamGone()
  }

  /** @internal */
  _forget(s: SpdyStream): void {
    if (this.#streams.get(s.id) !== s) return
    this.#streams.delete(s.id)
    if (this.#blocked.delete(s)) this.#pump()
    this.#afterStreamGone()
  }

  /** @internal */
  _blocked(s: SpdyStream): void {
    this.#blocked.add(s)
    this.#io.pause()
  }

  /** @internal */
  _unblocked(s: SpdyStream): void {
    if (this.#blocked.delete(s) && this.#blocked.size === 0) this.#pump()
  }

  /** @internal */
  _data(s: SpdyStream, data: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    // The session has ended: the stream is being reset ('reset'), what it writes goes nowhere.
    if (this.#closed || this.#io.writableEnded) return cb()
    this.#touch()
    let at = 0
    do {
      const end = Math.min(data.length, at + MAX_OUT_FRAME)
      const last = end === data.length
      const payload = data.subarray(at, end)
      const head = dataFrameHeader(s.id, payload.length, fin && last)
      if (this.#out.length === 0) {
        if (payload.length === 0) this.#io.write(head)
        else {
          this.#io.cork()
          this.#io.write(head)
          this.#io.write(payload)
          this.#io.uncork()
        }
      } else this.#send(Buffer.concat([head, payload]))
      at = end
    } while (at < data.length)
    if (this.#writable()) cb()
    else this.#drainWaiters.push(() => cb())
  }

  #afterStreamGone(): void {
    if (this.#goneAway && this.#streams.size === 0 && !this.#closed) this.#finish(undefined)
  }

  // ---- output ----

  #rst(id: number, status: number): void {
    this.#send(encodeRstStream(id, status))
  }

  #send(frame: Buffer | Promise<Buffer>): void {
    if (this.#io.destroyed || this.#io.writableEnded) return
    this.#touch()
    if (this.#out.length === 0 && Buffer.isBuffer(frame)) {
      this.#io.write(frame)
      return
    }
    this.#out.push(frame)
    if (!this.#pumping) void this.#pumpOut()
  }

  async #pumpOut(): Promise<void> {
    this.#pumping = true
    try {
      while (this.#out.length > 0) {
        const head = this.#out[0]!
        const buf = Buffer.isBuffer(head) ? head : await head
        this.#out.shift()
        if (!this.#io.destroyed && !this.#io.writableEnded) this.#io.write(buf)
      }
    } catch (err) {
      this.#out.length = 0
      this.#pumping = false
      this.destroy(err instanceof Error ? err : new Error(String(err)))
      return
    }
    this.#pumping = false
    this.#maybeWritable()
  }

  #writable(): boolean {
    return this.#out.length === 0 && !this.#io.writableNeedDrain
  }

  #maybeWritable(): void {
    if (!this.#writable() && !this.#io.destroyed) return
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const w of waiters) w()
  }
}
