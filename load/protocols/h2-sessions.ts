// The HTTP/2 machinery shared by the HTTP/2 and gRPC clients: `connections` sessions spread
// over the target's endpoints, streams multiplexed on them up to what each peer allows
// (SETTINGS_MAX_CONCURRENT_STREAMS, at most MAX_STREAMS_PER_SESSION), one FIFO queue for the
// requests no session can take yet, and one coarse timer for deadlines and stuck connects.
// What a request sends and how its answer is judged is the codec's business (http2.ts, grpc.ts).
//
// A session that gets a GOAWAY takes no new streams (its open ones finish) and its slot opens a
// new one; a session that dies fails its open streams. A session that cannot connect fails the
// queued requests only when no other session is open or opening (else they wait for those),
// and its slot waits RETRY_DELAY_MS before trying again.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2'
import { isIPv6 } from 'node:net'
import type { ClientOptions, ErrorClass, LoadClient, RequestSink, TargetEndpoint } from '../types.ts'
import { Deadlines, sweepIntervalMs } from './deadlines.ts'
import { errnoClass } from './errno-class.ts'
import { Fifo } from './fifo.ts'

/** Streams one session carries at once when its peer allows more (or does not say): Go's HTTP/2 transport's default. */
export const MAX_STREAMS_PER_SESSION = 1000
/** How long a slot whose connection failed waits before it tries again, while other sessions serve. */
export const RETRY_DELAY_MS = 100

/** One request's state, from `send` to its end. */
export interface H2Exchange {
  token: number
  startMs: number
  done: boolean
  connection: H2Connection | undefined
  stream: ClientHttp2Stream | undefined
  /** The response's :status; 0 until the response headers came. */
  status: number
  headers: IncomingHttpHeaders | undefined
  trailers: IncomingHttpHeaders | undefined
  /** The whole response arrived (END_STREAM). */
  ended: boolean
  /** What the stream's 'error' event carried. */
  error: unknown
  /** The first bytes of the response body (at least codec.captureBytes of them when the body is that long). */
  captured: Buffer | undefined
  bodyLength: number
}

/** What one protocol over HTTP/2 sends, and how it judges an answer. */
export interface H2Codec {
  /** Request headers, pseudo-headers included; the same object for every request (node copies it). */
  readonly headers: OutgoingHttpHeaders
  readonly body: Buffer | undefined
  /** Response body bytes to keep for `judge` and `endpoint`; 0: the body is read and dropped. */
  readonly captureBytes: number
  /** The class of a complete answer (undefined: success). */
  judge(exchange: H2Exchange): ErrorClass | undefined
  /** Which endpoint answered, when the client identifies endpoints. */
  endpoint(exchange: H2Exchange): string | undefined
}

interface H2Connection {
  session: ClientHttp2Session
  slot: number
  openedAtMs: number
  /** The peer's SETTINGS arrived: streams may start. */
  ready: boolean
  /** Streams open on this session. */
  active: number
  limit: number
  error: unknown
  timedOut: boolean
  /** TLS without ALPN h2: the peer would not speak HTTP/2. */
  notH2: boolean
}

const kExchange = Symbol('exchange')
type TaggedStream = ClientHttp2Stream & { [kExchange]: H2Exchange }

const endStream = { endStream: true }

/** The class of a stream that closed before its whole answer came. */
function brokenStreamClass(exchange: H2Exchange, rstCode: number | undefined, connection: H2Connection | undefined): ErrorClass {
  const fromError = exchange.error === undefined ? 'other' : errnoClass(exchange.error)
  if (fromError !== 'other') return fromError
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return 'refused'
    case constants.NGHTTP2_PROTOCOL_ERROR:
    case constants.NGHTTP2_FLOW_CONTROL_ERROR:
    case constants.NGHTTP2_FRAME_SIZE_ERROR:
    case constants.NGHTTP2_COMPRESSION_ERROR:
      return 'protocol'
  }
  if (connection?.error !== undefined) {
    const fromSession = errnoClass(connection.error)
    if (fromSession !== 'other') return fromSession
    const code = (connection.error as { code?: unknown }).code
    if (code === 'ERR_HTTP2_ERROR' || code === 'ERR_HTTP2_SESSION_ERROR') return 'protocol'
  }
  return 'reset'
}

/** The class of a session that closed before it could carry a stream. */
function connectFailureClass(connection: H2Connection): ErrorClass {
  if (connection.timedOut) return 'timeout'
  if (connection.notH2) return 'protocol'
  if (connection.error === undefined) return 'reset'
  const known = errnoClass(connection.error)
  if (known !== 'other') return known
  const code = (connection.error as { code?: unknown }).code
  if (code === 'ERR_HTTP2_ERROR' || code === 'ERR_HTTP2_SESSION_ERROR') return 'protocol'
  return 'connect'
}

function origin(endpoint: TargetEndpoint, tls: boolean): string {
  const host = isIPv6(endpoint.host) ? `[${endpoint.host}]` : endpoint.host
  return `${tls ? 'https' : 'http'}://${host}:${endpoint.port}`
}

class H2Client implements LoadClient {
  readonly #codec: H2Codec
  readonly #sink: RequestSink
  readonly #identify: boolean
  readonly #endpoints: TargetEndpoint[]
  readonly #tls: boolean
  readonly #sessionOptions: SecureClientSessionOptions
  readonly #timeoutMs: number
  /** The session each slot holds now (slot i connects to endpoint i mod endpoints). */
  readonly #slots: (H2Connection | undefined)[]
  /** performance.now() before which a slot does not connect again. */
  readonly #retryAtMs: number[]
  #emptySlots: number
  /** No empty slot may connect before this (0: look at them all). */
  #nextRetryMs = 0
  /** Every session not yet closed, retired ones included. */
  readonly #live = new Set<H2Connection>()
  readonly #queue = new Fifo<H2Exchange>()
  readonly #deadlines: Deadlines<H2Exchange>
  readonly #timer: NodeJS.Timeout
  #cursor = 0
  #inFlight = 0
  #closed = false
  readonly #onResponse: (this: ClientHttp2Stream, headers: IncomingHttpHeaders) => void
  readonly #onData: (this: ClientHttp2Stream, chunk: Buffer) => void
  readonly #onTrailers: (this: ClientHttp2Stream, trailers: IncomingHttpHeaders) => void
  readonly #onEnd: (this: ClientHttp2Stream) => void
  readonly #onError: (this: ClientHttp2Stream, err: unknown) => void
  readonly #onClose: (this: ClientHttp2Stream) => void

  constructor(options: ClientOptions, codec: H2Codec) {
    const { target } = options
    this.#codec = codec
    this.#sink = options.sink
    this.#identify = options.identifyEndpoints
    this.#endpoints = target.endpoints
    this.#tls = target.tls
    this.#timeoutMs = options.timeoutMs
    this.#sessionOptions = {
      settings: { enablePush: false },
      // Streams hold memory in nghttp2; a thousand streams of a busy session must fit.
      maxSessionMemory: 64,
      ...(target.tls ? { servername: target.servername, rejectUnauthorized: !target.insecure, ALPNProtocols: ['h2'] } : {}),
    }
    this.#slots = new Array(options.connections).fill(undefined)
    this.#retryAtMs = new Array(options.connections).fill(0)
    this.#emptySlots = options.connections
    this.#deadlines = new Deadlines(options.timeoutMs)
    this.#timer = setInterval(() => this.#tick(), sweepIntervalMs(options.timeoutMs))
    this.#timer.unref()

    const client = this
    this.#onResponse = function (headers) {
      const exchange = (this as TaggedStream)[kExchange]
      exchange.headers = headers
      exchange.status = Number(headers[':status']) || 0
    }
    this.#onData = function (chunk) {
      const exchange = (this as TaggedStream)[kExchange]
      exchange.bodyLength += chunk.length
      const kept = exchange.captured
      if (kept === undefined) exchange.captured = chunk
      else if (kept.length < codec.captureBytes) exchange.captured = Buffer.concat([kept, chunk])
    }
    this.#onTrailers = function (trailers) {
      ;(this as TaggedStream)[kExchange].trailers = trailers
    }
    this.#onEnd = function () {
      ;(this as TaggedStream)[kExchange].ended = true
    }
    this.#onError = function (err) {
      ;(this as TaggedStream)[kExchange].error = err
    }
    this.#onClose = function () {
      client.#streamClosed(this as TaggedStream)
    }
  }

  get inFlight(): number {
    return this.#inFlight
  }

  send(token: number): void {
    if (this.#closed) return
    const exchange: H2Exchange = {
      token,
      startMs: performance.now(),
      done: false,
      connection: undefined,
      stream: undefined,
      status: 0,
      headers: undefined,
      trailers: undefined,
      ended: false,
      error: undefined,
      captured: undefined,
      bodyLength: 0,
    }
    this.#inFlight++
    this.#deadlines.add(exchange)
    if (this.#emptySlots > 0) this.#connectEmptySlots(exchange.startMs)
    if (this.#queue.length === 0 && this.#start(exchange)) return
    this.#queue.push(exchange)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#queue.drain()
    this.#deadlines.clear()
    this.#inFlight = 0
    const closing: Promise<void>[] = []
    for (const connection of this.#live) {
      const { session } = connection
      if (session.destroyed) continue
      closing.push(new Promise((resolve) => session.once('close', resolve)))
      session.destroy()
    }
    this.#live.clear()
    await Promise.all(closing)
  }

  #finish(exchange: H2Exchange, error: ErrorClass | undefined, endpoint: string | undefined): void {
    exchange.done = true
    this.#inFlight--
    this.#sink.done(exchange.token, error, endpoint)
  }

  /** Starts `exchange` on a session with room for another stream (round-robin); false when none has. */
  #start(exchange: H2Exchange): boolean {
    const slots = this.#slots
    for (let i = 0; i < slots.length; i++) {
      const index = (this.#cursor + i) % slots.length
      const connection = slots[index]
      if (connection === undefined || !connection.ready || connection.active >= connection.limit) continue
      let stream: ClientHttp2Stream
      try {
        stream = connection.session.request(this.#codec.headers, this.#codec.body === undefined ? endStream : undefined)
      } catch (err) {
        // The session is going away (a GOAWAY or close not yet seen): it takes nothing more.
        connection.error ??= err
        this.#retire(connection)
        continue
      }
      this.#cursor = index + 1
      connection.active++
      exchange.connection = connection
      exchange.stream = stream
      ;(stream as TaggedStream)[kExchange] = exchange
      stream.on('response', this.#onResponse)
      if (this.#codec.captureBytes > 0) stream.on('data', this.#onData)
      else stream.resume()
      stream.on('trailers', this.#onTrailers)
      stream.on('end', this.#onEnd)
      stream.on('error', this.#onError)
      stream.on('close', this.#onClose)
      if (this.#codec.body !== undefined) stream.end(this.#codec.body)
      return true
    }
    return false
  }

  /** Starts queued requests while sessions have room; opens sessions when they do not. */
  #pump(): void {
    const queue = this.#queue
    // Requests that already ended (timed out while queued) leave without starting.
    queue.shiftWhile((exchange) => exchange.done || this.#start(exchange))
    if (queue.length > 0 && this.#emptySlots > 0) this.#connectEmptySlots(performance.now())
  }

  #streamClosed(stream: TaggedStream): void {
    if (this.#closed) return
    const exchange = stream[kExchange]
    const connection = exchange.connection
    if (connection !== undefined) {
      connection.active--
      exchange.connection = undefined
    }
    exchange.stream = undefined
    if (!exchange.done) {
      if (exchange.ended && exchange.status !== 0) {
        this.#finish(exchange, this.#codec.judge(exchange), this.#identify ? this.#codec.endpoint(exchange) : undefined)
      } else {
        this.#finish(exchange, brokenStreamClass(exchange, stream.rstCode, connection), undefined)
      }
    }
    this.#pump()
  }

  #connectEmptySlots(now: number): void {
    if (now < this.#nextRetryMs) return
    let nextRetry = Infinity
    for (let slot = 0; slot < this.#slots.length; slot++) {
      if (this.#slots[slot] !== undefined) continue
      if (this.#retryAtMs[slot] > now) {
        nextRetry = Math.min(nextRetry, this.#retryAtMs[slot])
        continue
      }
      this.#connect(slot, now)
    }
    this.#nextRetryMs = nextRetry === Infinity ? 0 : nextRetry
  }

  #connect(slot: number, now: number): void {
    const endpoint = this.#endpoints[slot % this.#endpoints.length]
    const session = connect(origin(endpoint, this.#tls), this.#sessionOptions)
    const connection: H2Connection = { session, slot, openedAtMs: now, ready: false, active: 0, limit: 0, error: undefined, timedOut: false, notH2: false }
    this.#slots[slot] = connection
    this.#emptySlots--
    this.#live.add(connection)
    if (this.#tls) {
      session.once('connect', () => {
        if (session.alpnProtocol === 'h2') return
        connection.notH2 = true
        session.destroy()
      })
    }
    session.on('remoteSettings', (settings) => {
      connection.limit = Math.min(settings.maxConcurrentStreams ?? MAX_STREAMS_PER_SESSION, MAX_STREAMS_PER_SESSION)
      connection.ready = true
      if (!this.#closed) this.#pump()
    })
    session.on('goaway', () => {
      if (!this.#closed) this.#retire(connection)
    })
    session.on('error', (err) => {
      connection.error ??= err
    })
    session.on('close', () => {
      this.#live.delete(connection)
      if (this.#closed) return
      const hadStarted = connection.ready
      this.#retire(connection)
      if (!hadStarted) this.#connectFailed(connection)
      this.#pump()
    })
  }

  /** Takes `connection` out of its slot: no new streams; its open ones finish; the slot may connect again. */
  #retire(connection: H2Connection): void {
    if (this.#slots[connection.slot] !== connection) return
    this.#slots[connection.slot] = undefined
    this.#emptySlots++
    // The next look at the slots finds this one, whatever others wait for.
    this.#nextRetryMs = 0
    if (!connection.session.closed) connection.session.close()
  }

  #connectFailed(connection: H2Connection): void {
    const othersOpen = this.#slots.some((other) => other !== undefined)
    if (othersOpen) {
      this.#retryAtMs[connection.slot] = performance.now() + RETRY_DELAY_MS
      return
    }
    const error = connectFailureClass(connection)
    for (const exchange of this.#queue.drain()) if (!exchange.done) this.#finish(exchange, error, undefined)
  }

  #tick(): void {
    if (this.#closed) return
    const now = performance.now()
    this.#deadlines.sweep(now, (exchange) => {
      this.#finish(exchange, 'timeout', undefined)
      exchange.stream?.close(constants.NGHTTP2_CANCEL)
    })
    for (const connection of this.#slots) {
      if (connection !== undefined && !connection.ready && now - connection.openedAtMs > this.#timeoutMs) {
        connection.timedOut = true
        connection.session.destroy()
      }
    }
    if (this.#queue.length > 0) this.#pump()
  }
}

/** A LoadClient over HTTP/2 sessions, sending what `codec` says. Options are checked by the caller. */
export function createH2Client(options: ClientOptions, codec: H2Codec): LoadClient {
  return new H2Client(options, codec)
}
