// The HTTP/1.1 fast path: plain GET and HEAD requests (no body, no upgrade, no Expect) to an
// HTTP backend are proxied byte-wise over raw keep-alive connections: the request head is
// parsed strictly, rewritten and written upstream; the response head is parsed and rewritten,
// and the body is passed on as it arrives, framed as the endpoint framed it. This skips
// node:http's and undici's per-request objects and streams, which cost about two thirds of a
// proxied request's CPU.
//
// Anything else goes to the node:http server (`delegate`), with the bytes read so far: other
// methods and requests with a body (their framing, limits and smuggling checks live there),
// upgrades, HTTP/1.0, heads that are not strictly well-formed (node:http gives the 400 or 431),
// and requests weft answers itself (redirects, 404, other backend protocols). A connection
// handed over stays with node:http. The parser only has to be right about what it accepts.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { endpointId, type Balancer } from './balancer.ts'
import type { Endpoint } from './endpoints.ts'
import { forwardingHeaderNames, forwardingHeaders, headerTokens, hopByHop, plainResponse, responseVia, SERVER, type ClientInfo, type TrustedProxies } from './headers.ts'
import { normalizeTarget } from './normalize-path.ts'
import type { RequestSeries } from './metrics.ts'
import type { ProxyTarget } from './proxy.ts'
import type { RawPools, Upstream, UpstreamUser } from './raw-pools.ts'

export interface FastRoute {
  target: ProxyTarget
  ingress: string
  service: string
  /** Where its requests are counted. */
  series?: RequestSeries
}

export interface FastRequestRecord {
  remote: string
  method: string
  host: string
  path: string
  scheme: 'http' | 'https'
  status: number
  ms: number
  ingress: string
  service: string
  endpoint?: string
  upstreamMs?: number
  /** What went wrong upstream (for the log; never in the answer). */
  error?: string
  series?: RequestSeries
}

export interface FastPathOptions {
  /** The proxy route of a request, or undefined when node:http must answer it. */
  route(host: string, target: string, scheme: 'http' | 'https'): FastRoute | undefined
  balancer: Balancer
  pools: RawPools
  /** See IngressServerOptions.trustedProxies. */
  trustedProxies?: TrustedProxies
  maxHeaderBytes: number
  headersTimeoutMs: number
  keepAliveTimeoutMs: number
  /** Hands the connection and the bytes read but not served to node:http. */
  delegate(socket: Socket, buffered: Buffer): void
  /** Metrics and the access log. */
  record(r: FastRequestRecord): void
}

/** A head as received: its fields (`name: value`, trimmed) and their lower-cased names. */
interface Fields {
  lines: string[]
  names: string[]
}

interface ParsedRequest extends Fields {
  method: 'GET' | 'HEAD'
  target: string
  host: string
  /** Lower-cased Connection tokens: `close`, and the names of headers that end at this hop. */
  connection: string[]
  /** The client's values of the headers weft appends to. */
  prior: { 'x-forwarded-for'?: string; forwarded?: string; via?: string }
  trailers: boolean
  close: boolean
  /** The request line and fields sent upstream, but the forwarding ones (made once per memoized head). */
  upstream?: string
}

const REQUEST_LINE = /^(GET|HEAD) (\/[\x21-\x7e]*) HTTP\/1\.1$/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const FIELD_VALUE = /^[\x20-\x7e\t]*$/
/** What no response field value may hold (RFC 9110 §5.5): control characters but HTAB. A bare CR passed on would start a new line for some clients. */
const RESPONSE_VALUE_CTL = /[\x00-\x08\x0a-\x1f\x7f]/
/** Headers that make a request something the fast path does not handle. */
const SLOW_HEADERS = new Set(['transfer-encoding', 'upgrade', 'expect', 'http2-settings'])
const HEAD_END = Buffer.from('\r\n\r\n')
const MAX_RESPONSE_HEAD = 64 * 1024
const RETRIABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'ECLOSED'])

/** Heads longer than this are not memoized. */
const MEMO_MAX_HEAD = 2048
const MEMO_ENTRIES = 256

/**
 * Results of a pure function of a head's exact text, for heads that come again: a client
 * repeats its requests' heads, and a backend's answers differ in little but Date. Bounded
 * (MEMO_ENTRIES heads of at most MEMO_MAX_HEAD bytes), forgotten whole when full.
 */
class HeadMemo<T> {
  #map = new Map<string, T>()

  get(head: string): T | undefined {
    return this.#map.get(head)
  }

  set(head: string, value: T): void {
    if (head.length > MEMO_MAX_HEAD) return
    if (this.#map.size >= MEMO_ENTRIES) this.#map.clear()
    this.#map.set(head, value)
  }
}

/** Request heads accepted by the fast path, their targets normalized; shared, so never changed after. */
const requestMemo = new HeadMemo<ParsedRequest>()

/** A strictly well-formed GET or HEAD head without a body, else undefined (node:http takes it). */
export function parseRequestHead(head: string): ParsedRequest | undefined {
  const rows = head.split('\r\n')
  const m = REQUEST_LINE.exec(rows[0]!)
  if (!m) return undefined
  const req: ParsedRequest = { method: m[1] as 'GET' | 'HEAD', target: m[2]!, host: '', lines: [], names: [], connection: [], prior: {}, trailers: false, close: false }
  let host: string | undefined
  let length = false
  for (let i = 1; i < rows.length; i++) {
    const line = rows[i]!
    const colon = line.indexOf(':')
    if (colon <= 0) return undefined
    const name = line.slice(0, colon)
    if (!TOKEN.test(name)) return undefined
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')
    if (!FIELD_VALUE.test(value)) return undefined
    const lower = name.toLowerCase()
    if (SLOW_HEADERS.has(lower)) return undefined
    if (lower === 'content-length') {
      if (value !== '0' || length) return undefined
      length = true
    } else if (lower === 'host') {
      if (host !== undefined) return undefined
      host = value
    } else if (lower === 'connection') req.connection.push(...headerTokens(value))
    else if (lower === 'te') req.trailers ||= headerTokens(value).includes('trailers')
    else if (lower === 'x-forwarded-for' || lower === 'forwarded' || lower === 'via') {
      const prev = req.prior[lower]
      req.prior[lower] = prev === undefined ? value : `${prev}, ${value}`
    }
    req.lines.push(`${name}: ${value}`)
    req.names.push(lower)
  }
  if (!host) return undefined
  req.host = host
  req.close = req.connection.includes('close')
  return req
}

/** The fields of `f` that go on to the next hop: no hop-by-hop ones, none the Connection header names, none in `drop`. */
function endToEndLines(f: Fields, connection: readonly string[], drop: ReadonlySet<string>): string {
  let out = ''
  for (let i = 0; i < f.lines.length; i++) {
    const name = f.names[i]!
    if (hopByHop.has(name) || drop.has(name) || (connection.length > 0 && connection.includes(name))) continue
    out += `${f.lines[i]}\r\n`
  }
  return out
}

type Framing = { kind: 'length'; left: number } | { kind: 'chunked'; chunks: ChunkedScanner } | { kind: 'close' } | { kind: 'none' }

/** Finds where a chunked body ends without decoding it (the bytes are passed on as they are). */
export class ChunkedScanner {
  #state: 'size' | 'ext' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer-start' | 'trailer' | 'trailer-lf' | 'end-lf' | 'done' = 'size'
  #size = 0
  #digits = 0
  #left = 0

  get done(): boolean {
    return this.#state === 'done'
  }

  /** Scans `chunk`; answers how many of its bytes belong to the body, or -1 when it is malformed. */
  scan(chunk: Buffer): number {
    let i = 0
    while (i < chunk.length && this.#state !== 'done') {
      const c = chunk[i]!
      switch (this.#state) {
        case 'size': {
          const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
          if (v >= 0) {
            if (++this.#digits > 12) return -1
            this.#size = this.#size * 16 + v
          } else if (this.#digits === 0) return -1
          else if (c === 13) this.#state = 'size-lf'
          else if (c === 59 || c === 32 || c === 9) this.#state = 'ext'
          else return -1
          i++
          break
        }
        case 'ext':
          if (c === 13) this.#state = 'size-lf'
          i++
          break
        case 'size-lf':
          if (c !== 10) return -1
          i++
          if (this.#size === 0) this.#state = 'trailer-start'
          else {
            this.#left = this.#size
            this.#state = 'data'
          }
          this.#size = 0
          this.#digits = 0
          break
        case 'data': {
          const take = Math.min(this.#left, chunk.length - i)
          this.#left -= take
          i += take
          if (this.#left === 0) this.#state = 'data-cr'
          break
        }
        case 'data-cr':
          if (c !== 13) return -1
          this.#state = 'data-lf'
          i++
          break
        case 'data-lf':
          if (c !== 10) return -1
          this.#state = 'size'
          i++
          break
        case 'trailer-start':
          this.#state = c === 13 ? 'end-lf' : 'trailer'
          i++
          break
        case 'trailer':
          if (c === 13) this.#state = 'trailer-lf'
          i++
          break
        case 'trailer-lf':
          if (c !== 10) return -1
          this.#state = 'trailer-start'
          i++
          break
        case 'end-lf':
          if (c !== 10) return -1
          this.#state = 'done'
          i++
          break
      }
    }
    return i
  }
}

interface ResponseHead extends Fields {
  status: number
  reason: string
  connection: string[]
  via: string | undefined
  /** Transfer-Encoding was given (which overrides, and drops, any Content-Length: RFC 9112 §6.3). */
  encoded: boolean
  keepAlive: boolean
  framing: Framing
}

const DROP_FROM_RESPONSE: ReadonlySet<string> = new Set(['via', 'server'])
const DROP_FROM_ENCODED_RESPONSE: ReadonlySet<string> = new Set(['via', 'server', 'content-length'])

/** A response head as parsed, and the head weft sends for it (kept alive, and with connection: close), made on first use. */
interface ResponseShape {
  head: ResponseHead
  keep?: string
  close?: string
}

/** Response heads, parsed (for GET, and for HEAD: their framing differs); their `framing` is a template, copied per answer. */
const responseMemo = new HeadMemo<ResponseShape>()
const headResponseMemo = new HeadMemo<ResponseShape>()

/** The head weft sends downstream for `head`. */
function downstreamHead(head: ResponseHead, close: boolean): string {
  let text = `HTTP/1.1 ${head.status} ${head.reason || STATUS_CODES[head.status] || ''}\r\n${endToEndLines(head, head.connection, head.encoded ? DROP_FROM_ENCODED_RESPONSE : DROP_FROM_RESPONSE)}via: ${responseVia(head.via)}\r\nserver: ${SERVER}\r\n`
  if (head.framing.kind === 'chunked') text += 'transfer-encoding: chunked\r\n'
  if (close) text += 'connection: close\r\n'
  return `${text}\r\n`
}

/** One answer's framing state from a head's template. */
function freshFraming(f: Framing): Framing {
  if (f.kind === 'length') return { kind: 'length', left: f.left }
  if (f.kind === 'chunked') return { kind: 'chunked', chunks: new ChunkedScanner() }
  return f
}

function parseResponseHead(head: string, isHead: boolean): ResponseHead | string {
  const rows = head.split('\r\n')
  const m = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/.exec(rows[0]!)
  if (!m) return `a malformed status line ${JSON.stringify(rows[0]!.slice(0, 80))}`
  const status = Number(m[2])
  const r: ResponseHead = { status, reason: m[3] ?? '', lines: [], names: [], connection: [], via: undefined, encoded: false, keepAlive: false, framing: { kind: 'none' } }
  const lengths: string[] = []
  let chunked = false
  for (let i = 1; i < rows.length; i++) {
    const line = rows[i]!
    const colon = line.indexOf(':')
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return `a malformed header line ${JSON.stringify(line.slice(0, 80))}`
    const name = line.slice(0, colon)
    const lower = name.toLowerCase()
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')
    if (RESPONSE_VALUE_CTL.test(value)) return `a control character in header line ${JSON.stringify(line.slice(0, 80))}`
    if (lower === 'content-length') lengths.push(...value.split(',').map((v) => v.trim()))
    else if (lower === 'transfer-encoding') {
      r.encoded = true
      chunked = headerTokens(value).at(-1) === 'chunked'
    } else if (lower === 'connection') r.connection.push(...headerTokens(value))
    else if (lower === 'via') r.via = r.via === undefined ? value : `${r.via}, ${value}`
    r.lines.push(`${name}: ${value}`)
    r.names.push(lower)
  }
  if (isHead || status === 204 || status === 304 || (status >= 100 && status < 200)) r.framing = { kind: 'none' }
  else if (r.encoded) r.framing = chunked ? { kind: 'chunked', chunks: new ChunkedScanner() } : { kind: 'close' }
  else if (lengths.length > 0) {
    if (lengths.some((l) => !/^\d{1,15}$/.test(l)) || new Set(lengths.map(Number)).size > 1) return `an invalid Content-Length ${JSON.stringify(lengths.join(', '))}`
    r.framing = { kind: 'length', left: Number(lengths[0]) }
  } else r.framing = { kind: 'close' }
  const keepAlive = m[1] === '1' ? !r.connection.includes('close') : r.connection.includes('keep-alive')
  r.keepAlive = keepAlive && r.framing.kind !== 'close'
  return r
}

/** The parsed head, its target normalized, or undefined when node:http must take it (a malformed escape is node:http's to answer, 400, like every head the fast path refuses). */
function acceptedHead(text: string): ParsedRequest | undefined {
  const known = requestMemo.get(text)
  if (known) return known
  const req = parseRequestHead(text)
  const target = req && normalizeTarget(req.target)
  if (!req || target === undefined) return undefined
  req.target = target
  requestMemo.set(text, req)
  return req
}

/** Serves one client connection until it closes or is handed to node:http. */
export class FastConnection {
  readonly socket: Socket
  readonly scheme: 'http' | 'https'
  readonly remoteAddress: string
  #o: FastPathOptions
  #buffered: Buffer | undefined
  #busy = false
  #closing = false
  #handedOver = false
  /** Runs from the connection's start, or from a partial request head, until a head is complete: slowloris. */
  #headTimer: NodeJS.Timeout | undefined
  /** Waiting for the next request on a kept-alive connection. */
  #idle = false
  /** The request being answered: the client's 'close' and 'drain' go to it. */
  #exchange: Exchange | undefined
  /** The forwarding header lines of the last request that brought none of its own, and its Host. */
  #forwardingHost: string | undefined
  #forwarding = ''
  /** The last (memoized) request head served, and the head sent upstream for it. */
  #lastRequest: ParsedRequest | undefined
  #lastUpstreamHead = ''
  #onData = (chunk: Buffer) => this.#data(chunk)
  #onTimeout = () => {
    // One inactivity timer for the connection's whole life (a timer per request cost more
    // than the request's parsing): it closes a kept-alive connection idle between requests;
    // while a head is arriving the head timer rules, while a request is answered the route's
    // read timeout. The timer runs again from the next byte either way.
    if (this.#idle) this.socket.destroy()
  }
  #onError = () => this.socket.destroy()
  #onClose = () => {
    clearTimeout(this.#headTimer)
    this.#exchange?.clientClosed()
  }
  #onDrain = () => this.#exchange?.drain()

  constructor(socket: Socket, scheme: 'http' | 'https', options: FastPathOptions) {
    this.socket = socket
    this.scheme = scheme
    this.remoteAddress = socket.remoteAddress ?? ''
    this.#o = options
    socket.setNoDelay(true)
    socket.on('data', this.#onData)
    socket.on('error', this.#onError)
    socket.on('close', this.#onClose)
    socket.on('timeout', this.#onTimeout)
    socket.on('drain', this.#onDrain)
    socket.setTimeout(options.keepAliveTimeoutMs)
    this.#armHeadTimer()
  }

  get options(): FastPathOptions {
    return this.#o
  }

  #armHeadTimer(): void {
    this.#headTimer ??= setTimeout(() => this.#headTimeout(), this.#o.headersTimeoutMs)
  }

  #clearHeadTimer(): void {
    clearTimeout(this.#headTimer)
    this.#headTimer = undefined
  }

  #data(chunk: Buffer): void {
    this.#idle = false
    this.#buffered = this.#buffered ? Buffer.concat([this.#buffered, chunk]) : chunk
    if (this.#busy) {
      // Pipelined: served once the current answer is out; do not read without bound meanwhile.
      if (this.#buffered.length > this.#o.maxHeaderBytes) this.socket.pause()
      return
    }
    this.#next()
  }

  #headTimeout(): void {
    this.#headTimer = undefined
    if (this.#busy || this.#handedOver || this.socket.destroyed) return
    this.#closing = true
    this.socket.end(plainResponse(408, 'Request Timeout', { close: true }))
    this.socket.destroySoon()
  }

  #handOver(): void {
    this.#handedOver = true
    this.#clearHeadTimer()
    this.socket.off('data', this.#onData)
    this.socket.off('timeout', this.#onTimeout)
    this.socket.off('close', this.#onClose)
    this.socket.off('error', this.#onError)
    this.socket.off('drain', this.#onDrain)
    this.socket.setTimeout(0)
    const rest = this.#buffered ?? Buffer.alloc(0)
    this.#buffered = undefined
    this.#o.delegate(this.socket, rest)
  }

  #next(): void {
    const buf = this.#buffered
    if (!buf || buf.length === 0 || this.#closing) return
    const end = buf.indexOf(HEAD_END)
    if (end < 0) {
      if (buf.length > this.#o.maxHeaderBytes) this.#handOver()
      else this.#armHeadTimer()
      return
    }
    const req = end + 4 <= this.#o.maxHeaderBytes ? acceptedHead(buf.toString('latin1', 0, end)) : undefined
    const route = req && this.#o.route(req.host, req.target, this.scheme)
    if (!req || !route || route.target.options.backendProtocol !== 'HTTP') return this.#handOver()
    this.#buffered = end + 4 < buf.length ? buf.subarray(end + 4) : undefined
    this.#busy = true
    this.#clearHeadTimer()
    this.#exchange = new Exchange(this, req, route)
    this.#exchange.start()
  }

  /**
   * The head `req` goes upstream with. It depends only on the head's text and the connection,
   * so a client repeating a (memoized) head on a connection gets the one made the first time.
   */
  upstreamHead(req: ParsedRequest): string {
    if (req !== this.#lastRequest) {
      req.upstream ??= `${req.method} ${req.target} HTTP/1.1\r\n${endToEndLines(req, req.connection, forwardingHeaderNames)}${req.trailers ? 'te: trailers\r\n' : ''}`
      this.#lastUpstreamHead = `${req.upstream}${this.#forwardingLines(req)}\r\n`
      this.#lastRequest = req
    }
    return this.#lastUpstreamHead
  }

  /**
   * The forwarding header lines (X-Forwarded-*, Forwarded, Via) of `req`. Those of a request
   * that brings none of its own depend only on the connection and the Host, so they are
   * made once per connection and Host.
   */
  #forwardingLines(req: ParsedRequest): string {
    const own = req.prior['x-forwarded-for'] !== undefined || req.prior.forwarded !== undefined || req.prior.via !== undefined
    if (!own && req.host === this.#forwardingHost) return this.#forwarding
    const client: ClientInfo = { remoteAddress: this.remoteAddress, scheme: this.scheme, host: req.host, httpVersion: '1.1', serverPort: this.socket.localPort, trustedProxies: this.#o.trustedProxies }
    let text = ''
    for (const [name, value] of forwardingHeaders(client, req.prior)) text += `${name}: ${value}\r\n`
    if (!own) {
      this.#forwardingHost = req.host
      this.#forwarding = text
    }
    return text
  }

  /** The current request is answered; with `closeAfter` the connection ends here. */
  finished(closeAfter: boolean): void {
    this.#busy = false
    this.#exchange = undefined
    if (closeAfter || this.socket.destroyed) {
      this.#closing = true
      if (!this.socket.destroyed) this.socket.end()
      return
    }
    this.socket.resume()
    if (this.#buffered && this.#buffered.length > 0) this.#next()
    else this.#idle = true
  }
}

/**
 * One request, from its head to the end of its answer. It is the upstream connection's user
 * (raw-pools.ts) while it has one, and gets the client connection's 'close' and 'drain'
 * from its FastConnection: no listener is added or removed per request.
 */
class Exchange implements UpstreamUser {
  readonly #conn: FastConnection
  readonly #req: ParsedRequest
  readonly #route: FastRoute
  readonly #o: FastPathOptions
  readonly #started = performance.now()
  readonly #tried = new Set<string>()
  #lastError: string | undefined
  #upstreamHead = ''
  // The current attempt.
  #ep: Endpoint | undefined
  #id = ''
  #up: Upstream | undefined
  #pooled = false
  #sent = 0
  #head: ResponseHead | undefined
  #framing: Framing = { kind: 'none' }
  #pending: Buffer | undefined
  #received = false
  #settled = true
  #reusable = true
  #upstreamMs: number | undefined

  constructor(conn: FastConnection, req: ParsedRequest, route: FastRoute) {
    this.#conn = conn
    this.#req = req
    this.#route = route
    this.#o = conn.options
  }

  start(): void {
    this.#upstreamHead = this.#conn.upstreamHead(this.#req)
    this.#attempt(undefined)
  }

  #record(status: number, endpoint?: string, upstreamMs?: number, error?: string): void {
    const r = this.#req
    this.#o.record({ remote: this.#conn.remoteAddress, method: r.method, host: r.host, path: r.target, scheme: this.#conn.scheme, status, ms: performance.now() - this.#started, ingress: this.#route.ingress, service: this.#route.service, endpoint, upstreamMs, error, series: this.#route.series })
  }

  /** Answers the client itself; `error` (what went wrong, with addresses) goes to the log only. */
  #answer(status: number, text: string, endpoint?: string, error?: string): void {
    const socket = this.#conn.socket
    if (!socket.destroyed) socket.write(plainResponse(status, text, { close: this.#req.close }))
    this.#record(status, endpoint, undefined, error)
    this.#conn.finished(this.#req.close)
  }

  /** One try at an endpoint; `again` is the endpoint to retry on a fresh connection (a pooled one was stale). */
  #attempt(again: Endpoint | undefined): void {
    const { target } = this.#route
    const o = target.options
    const ep = again ?? this.#o.balancer.pick(target.key, o.loadBalance, this.#tried)
    if (!ep) {
      if (this.#tried.size === 0) this.#answer(503, `Service Unavailable: ${target.name} has no ready endpoints`)
      else this.#answer(502, `Bad Gateway: no endpoint of ${target.name} could be reached`, [...this.#tried].at(-1), this.#lastError)
      return
    }
    const id = endpointId(ep)
    this.#tried.add(id)
    const pooled = again ? undefined : this.#o.pools.take(ep)
    const up = pooled ?? this.#o.pools.open(ep, o.connectTimeoutMs)
    this.#o.balancer.started(target.key, ep)
    this.#ep = ep
    this.#id = id
    this.#up = up
    this.#pooled = pooled !== undefined
    this.#sent = performance.now()
    this.#head = undefined
    this.#pending = undefined
    this.#received = false
    this.#settled = false
    this.#reusable = true
    up.user = this
    up.setTimeout(o.readTimeoutMs)
    // A pooled connection may have been paused by backpressure at the end of its last answer.
    up.socket.resume()
    up.socket.write(this.#upstreamHead, 'latin1')
  }

  #cleanup(): void {
    this.#settled = true
    this.#up!.user = undefined
    this.#o.balancer.finished(this.#route.target.key, this.#ep!)
  }

  #complete(): void {
    this.#cleanup()
    const up = this.#up!
    const head = this.#head!
    if (this.#reusable && head.keepAlive) this.#o.pools.put(up)
    else up.socket.destroy()
    this.#record(head.status, this.#id, this.#upstreamMs)
    this.#conn.finished(this.#req.close || !head.keepAlive)
  }

  #fail(code: string, message: string): void {
    if (this.#settled) return
    this.#cleanup()
    this.#up!.socket.destroy()
    const { target } = this.#route
    const id = this.#id
    const head = this.#head
    if (head) {
      // The answer is under way: all that is left is to cut it short.
      this.#conn.socket.destroy()
      this.#record(head.status, id, this.#upstreamMs, `${id}: ${message} (the answer was cut short)`)
      this.#conn.finished(true)
      return
    }
    if (this.#pooled && !this.#received && code !== 'EREADTIMEOUT') return this.#attempt(this.#ep)
    this.#o.balancer.failed(target.key, this.#ep!)
    this.#lastError = `${id}: ${message}`
    if (code === 'EREADTIMEOUT') return this.#answer(504, `Gateway Timeout: ${target.name} did not answer within ${target.options.readTimeoutMs} ms`, id, this.#lastError)
    if (!this.#received && RETRIABLE.has(code)) return this.#attempt(undefined)
    this.#answer(502, `Bad Gateway: ${target.name} did not send a valid answer`, id, this.#lastError)
  }

  /** Writes `prefix` (the response head) and `bytes` (a view of the upstream read buffer: copied) to the client, in one write when both are there. */
  #forward(bytes: Buffer | undefined, prefix: string | undefined): void {
    const client = this.#conn.socket
    let ok = true
    if (prefix !== undefined) {
      // The head is latin1 text (bytes as received, and ASCII): one byte per character.
      const extra = bytes ? bytes.length : 0
      const out = Buffer.allocUnsafe(prefix.length + extra)
      out.write(prefix, 0, 'latin1')
      if (extra > 0) bytes!.copy(out, prefix.length)
      ok = client.write(out)
    } else if (bytes && bytes.length > 0) ok = client.write(Buffer.from(bytes))
    if (!ok) this.#up!.socket.pause()
  }

  /** Passes body bytes on; true once the body is complete. */
  #body(chunk: Buffer, prefix?: string): boolean {
    const f = this.#framing
    if (f.kind === 'none') {
      if (chunk.length > 0) this.#reusable = false
      this.#forward(undefined, prefix)
      return true
    }
    if (f.kind === 'close') {
      this.#forward(chunk, prefix)
      return false
    }
    if (f.kind === 'length') {
      const take = Math.min(f.left, chunk.length)
      f.left -= take
      if (take < chunk.length) this.#reusable = false
      this.#forward(take === chunk.length ? chunk : chunk.subarray(0, take), prefix)
      return f.left === 0
    }
    const n = f.chunks.scan(chunk)
    if (n < 0) {
      this.#forward(undefined, prefix)
      this.#fail('EPROTO', 'a malformed chunked body')
      return false
    }
    if (n < chunk.length) this.#reusable = false
    this.#forward(n === chunk.length ? chunk : chunk.subarray(0, n), prefix)
    return f.chunks.done
  }

  data(chunk: Buffer): void {
    this.#received = true
    if (this.#head) {
      if (this.#body(chunk)) this.#complete()
      return
    }
    let pending = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk
    for (;;) {
      const end = pending.indexOf(HEAD_END)
      if (end < 0) {
        // `chunk` is a view of the upstream read buffer: what is kept is copied.
        this.#pending = pending.buffer === chunk.buffer ? Buffer.from(pending) : pending
        if (pending.length > MAX_RESPONSE_HEAD) this.#fail('EPROTO', 'a response head over 64 KiB')
        return
      }
      const text = pending.toString('latin1', 0, end)
      const memo = this.#req.method === 'HEAD' ? headResponseMemo : responseMemo
      let shape = memo.get(text)
      if (!shape) {
        const parsed = parseResponseHead(text, this.#req.method === 'HEAD')
        if (typeof parsed === 'string') return this.#fail('EPROTO', `the endpoint sent ${parsed}`)
        shape = { head: parsed }
        memo.set(text, shape)
      }
      const rest = pending.subarray(end + 4)
      const head = shape.head
      if (head.status < 200) {
        // Interim answers (103 Early Hints, a stray 100) are not passed on.
        if (head.status === 101) return this.#fail('EPROTO', 'the endpoint switched protocols unasked')
        pending = rest
        continue
      }
      this.#head = head
      this.#framing = freshFraming(head.framing)
      this.#pending = undefined
      this.#upstreamMs = performance.now() - this.#sent
      const key = this.#route.target.key
      if (head.status >= 502 && head.status <= 504) this.#o.balancer.failed(key, this.#ep!)
      else this.#o.balancer.succeeded(key, this.#ep!)
      const close = this.#req.close || !head.keepAlive
      const out = close ? (shape.close ??= downstreamHead(head, true)) : (shape.keep ??= downstreamHead(head, false))
      if (this.#body(rest, out)) this.#complete()
      return
    }
  }

  end(): void {
    if (this.#head?.framing.kind === 'close') {
      this.#reusable = false
      this.#complete()
    } else this.#fail('ECLOSED', 'the endpoint closed the connection before the answer was complete')
  }

  closed(): void {
    this.#fail('ECLOSED', 'the connection closed')
  }

  error(err: NodeJS.ErrnoException): void {
    this.#fail(err.code ?? 'EPROTO', err.message)
  }

  timeout(): void {
    this.#fail('EREADTIMEOUT', `no answer within ${this.#route.target.options.readTimeoutMs} ms`)
  }

  /** The client went away. */
  clientClosed(): void {
    if (this.#settled) return
    this.#cleanup()
    this.#up!.socket.destroy()
    this.#record(this.#head?.status ?? 499, this.#id, this.#upstreamMs)
    this.#conn.finished(true)
  }

  drain(): void {
    if (!this.#settled) this.#up!.socket.resume()
  }
}
