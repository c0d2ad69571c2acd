// The Ingress listeners: HTTP, and HTTPS with SNI certificates and ALPN h2/http1.1. Each
// request is routed with the current route table (swapped whole, so a change never meets a
// request halfway), redirected to HTTPS for TLS hosts when asked (--ssl-redirect,
// weft.dev/ssl-redirect), tunnelled when it is a WebSocket
// upgrade, or proxied; and logged as one JSON line.
import { STATUS_CODES, createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { constants as h2constants, createServer as createHttp2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { defaultSocketLimit } from '../proxy/userspace/limits.ts'
import { parseListenAddress } from '../src/util/host-port.ts'
import type { Logger } from '../src/util/log.ts'
import type { Balancer } from './balancer.ts'
import type { CertStore } from './cert-store.ts'
import { backendKey } from './endpoints.ts'
import { grpcOverHttp1, Http2Sessions, isGrpc, proxyGrpc } from './grpc-proxy.ts'
import { FastConnection, type FastPathOptions } from './h1-fast-path.ts'
import { plainResponse, SERVER, type ClientInfo, type TrustedProxies } from './headers.ts'
import type { IngressMetrics, RequestSeries } from './metrics.ts'
import { proxyRequest, type ProxyTarget, type UpstreamPools } from './proxy.ts'
import { RawPools } from './raw-pools.ts'
import { normalizeTarget } from './normalize-path.ts'
import { normalizeHost, type DefaultBackend, type Route, type RouteResult, type RouteTable } from './route-table.ts'
import { createTlsListener } from './tls-listener.ts'
import { tunnelUpgrade } from './websocket.ts'

export interface IngressServerOptions {
  /** HOST:PORT for plain HTTP ('' for none). */
  httpListen: string
  /** HOST:PORT for HTTPS ('' for none). */
  httpsListen: string
  /** The HTTPS port redirects point at (default: the bound HTTPS port). */
  httpsRedirectPort?: number
  /** Peers whose X-Forwarded-For and Forwarded are appended to (default: none; everyone's are overwritten). */
  trustedProxies?: TrustedProxies
  /** Plain-HTTP requests for TLS hosts get a 308 to HTTPS unless their Ingress says weft.dev/ssl-redirect: "false" (default false: served, and only weft.dev/ssl-redirect: "true" redirects). */
  sslRedirect?: boolean
  certs: CertStore
  balancer: Balancer
  pools: UpstreamPools
  metrics: IngressMetrics
  log: Logger
  /** Largest request head in bytes (default 16 KiB); larger gets 431. */
  maxHeaderBytes?: number
  /** A client that has not sent a whole request head after this long gets 408 (default 10 s: slowloris). */
  headersTimeoutMs?: number
  /** A request, head and body, that has not arrived whole after this long gets 408 (default 60 s; never less than headersTimeoutMs). */
  requestTimeoutMs?: number
  /**
   * An HTTP/1.1 connection idle between requests is closed after this long (default 75 s,
   * ingress-nginx's): a client that reuses a connection just as it is closed sees it reset, so
   * the window should be rare, not every few seconds.
   */
  keepAliveTimeoutMs?: number
  /** A TLS client that has not finished its handshake after this long is disconnected (default 10 s). */
  handshakeTimeoutMs?: number
  /**
   * An h2 session without open streams that sends and receives nothing for this long is closed
   * (GOAWAY); a request whose body stalls this long is reset (default 60 s).
   */
  h2IdleTimeoutMs?: number
  /** SETTINGS_MAX_CONCURRENT_STREAMS of h2 sessions (default 128). */
  h2MaxConcurrentStreams?: number
  /** Client connections each listener holds at once; past it a new one is closed as it arrives (default defaultMaxConnections()). */
  maxConnections?: number
  /** Bind with SO_REUSEPORT, so that other threads' listeners can share the ports (--workers). */
  reusePort?: boolean
}

/** The most client connections a listener holds by default, however many descriptors the process may open. */
export const MAX_CONNECTIONS = 16_384

/**
 * Each listener's default connection cap: a quarter of the descriptors defaultSocketLimit
 * leaves of RLIMIT_NOFILE (the HTTP and HTTPS listeners share them, and a client connection
 * may hold an upstream one too), at most MAX_CONNECTIONS. Open-file limit 1024 → 192;
 * 20,000 → 4,000; 65,536 → 13,107; 1,048,576 → 16,384.
 */
export function defaultMaxConnections(socketLimit = defaultSocketLimit()): number {
  return Math.max(1, Math.min(MAX_CONNECTIONS, Math.floor(socketLimit / 4)))
}

/** A warning about connections closed at the cap, at most this often per listener. */
const DROP_WARN_EVERY_MS = 60_000

type Resolved = { kind: 'proxy'; target: ProxyTarget; ingress: string; service: string; series: RequestSeries } | { kind: 'answer'; status: number; text: string; ingress: string; location?: string }

const MALFORMED_PATH = "Bad Request: the request path has a malformed percent-escape (every '%' must be followed by two hex digits; send a literal '%' as %25)"

/** Normalises `req.url` in place (what is routed is what goes upstream); false when it is malformed. */
function normalizeRequest(req: IncomingMessage): boolean {
  const raw = req.url ?? '/'
  const url = normalizeTarget(raw)
  if (url === undefined) return false
  if (url !== raw) req.url = url
  return true
}

const empty: RouteTable = {
  route: () => ({ notFound: true, tlsHost: false }),
  isTlsHost: () => false,
  tlsHosts: () => [],
  routes: () => [],
  defaultBackends: () => [],
}

export class IngressServer {
  readonly options: IngressServerOptions
  #table: RouteTable = empty
  /** What a route (or default backend) of a table resolves to when it is proxied: made once per route object. */
  #proxied = new WeakMap<Route | DefaultBackend, Resolved & { kind: 'proxy' }>()
  /** The listening sockets: plain, and TLS (whose h2 connections go to an HTTP/2 server, the rest to the fast path). */
  #listeners: NetServer[] = []
  /** node:http servers taking the connections the fast path hands over. */
  #delegates: HttpServer[] = []
  /**
   * Every accepted connection, until it closes: close() destroys them, which ends whatever
   * runs on them too (the fast path, node:http, TLS and the h2 sessions over TLS).
   */
  #connections = new Set<Socket>()
  /** Client connections each listener holds at once (options.maxConnections, else defaultMaxConnections()). */
  readonly maxConnections: number
  httpPort = 0
  httpsPort = 0
  /** Upstream HTTP/2 sessions of GRPC/GRPCS routes (owned and closed by the server). */
  readonly grpcSessions = new Http2Sessions()
  /** Upstream keep-alive connections of the HTTP/1.1 fast path (owned and closed by the server). */
  readonly rawPools = new RawPools()

  constructor(options: IngressServerOptions) {
    this.options = options
    this.maxConnections = options.maxConnections ?? defaultMaxConnections()
    if (!(Number.isSafeInteger(this.maxConnections) && this.maxConnections > 0)) throw new Error(`maxConnections must be a positive whole number, not ${this.maxConnections}`)
  }

  /** Client connections open now, on both listeners. */
  get openConnections(): number {
    return this.#connections.size
  }

  /** Swaps in a new route table: the next request uses it; requests in flight finish with theirs. */
  setTable(table: RouteTable): void {
    this.#table = table
  }

  async start(): Promise<void> {
    const o = this.options
    const maxHeaderSize = o.maxHeaderBytes ?? 16 * 1024
    const headersTimeout = o.headersTimeoutMs ?? 10_000
    const limits = { maxHeaderSize, headersTimeout, requestTimeout: Math.max(o.requestTimeoutMs ?? 60_000, headersTimeout), keepAliveTimeout: o.keepAliveTimeoutMs ?? 75_000 }
    const fast = (delegate: HttpServer): FastPathOptions => ({
      route: (host, target, sch) => {
        const r = this.#resolve(host, target, sch)
        return r.kind === 'proxy' ? r : undefined
      },
      balancer: o.balancer,
      pools: this.rawPools,
      trustedProxies: o.trustedProxies,
      maxHeaderBytes: maxHeaderSize,
      headersTimeoutMs: headersTimeout,
      keepAliveTimeoutMs: delegate.keepAliveTimeout,
      delegate: (socket, buffered) => {
        delegate.emit('connection', socket)
        if (buffered.length > 0) socket.emit('data', buffered)
        socket.resume()
      },
      record: (r) => this.#record(r.remote, r.method, r.host, r.path, '1.1', r.scheme, r.status, r.ms, r.ingress, r.service, r.endpoint, r.upstreamMs, r.error, r.series),
    })
    const accept = (socket: Socket, scheme: 'http' | 'https', options: FastPathOptions) => new FastConnection(socket, scheme, options)
    if (o.httpListen) {
      const delegate = this.#h1Server('http', limits)
      const options = fast(delegate)
      const listener = createNetServer({ noDelay: true }, (socket) => accept(socket, 'http', options))
      this.#listeners.push(listener)
      this.httpPort = await this.#listen(listener, o.httpListen)
    }
    if (o.httpsListen) {
      const delegate = this.#h1Server('https', limits)
      const options = fast(delegate)
      const h2 = createHttp2Server(
        {
          maxSessionMemory: 64,
          // A peer past these gets GOAWAY ENHANCE_YOUR_CALM. Node's defaults, written down,
          // but for invalid frames: Node tolerates 1000, weft 100.
          maxSettings: 32,
          maxHeaderListPairs: 128,
          maxOutstandingPings: 10,
          maxSessionRejectedStreams: 100,
          maxSessionInvalidFrames: 100,
          settings: { maxHeaderListSize: maxHeaderSize, maxConcurrentStreams: o.h2MaxConcurrentStreams ?? 128, enablePush: false },
        },
        (req, res) => this.#handle(req as unknown as IncomingMessage, res as unknown as ServerResponse, 'https'),
      )
      h2.on('session', (session) => this.#h2Session(session, o.h2IdleTimeoutMs ?? 60_000))
      const listener = createTlsListener({
        select: (servername) => o.certs.select(servername),
        alpn: o.certs.alpn,
        handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
        clientError: (err) => o.log.debug({ err: err.message }, 'TLS handshake failed'),
        secure: (socket) => {
          if (socket.alpnProtocol === 'h2') h2.emit('connection', socket)
          else accept(socket, 'https', options)
        },
      })
      this.#listeners.push(listener)
      this.httpsPort = await this.#listen(listener, o.httpsListen)
    }
  }

  /**
   * Tracks an h2 session and bounds it. When nothing has been sent or received for `idleMs`:
   * a session without open streams is closed; one with a stream whose answer weft has finished
   * but which is still open (the client does not read, or the session is dead: after a GOAWAY
   * for a protocol error Node stops reading the connection and tells nothing) is destroyed;
   * streams still waiting for their endpoint are bounded by the route's timeouts. A request
   * body that stalls for `idleMs` is reset. A session error ends the session and its socket.
   */
  #h2Session(session: ServerHttp2Session, idleMs: number): void {
    const open = new Set<ServerHttp2Stream>()
    session.on('stream', (stream) => {
      open.add(stream)
      // A request without a body is whole at once (its stream may never be read, so it would never emit 'end').
      if (!stream.endAfterHeaders) {
        stream.setTimeout(idleMs, () => stream.close(h2constants.NGHTTP2_CANCEL))
        stream.once('end', () => stream.setTimeout(0))
      }
      stream.once('close', () => open.delete(stream))
    })
    const reap = () => {
      if (session.destroyed) return
      if (open.size === 0) session.close()
      else if ([...open].some((s) => s.writableEnded)) session.destroy()
      else session.setTimeout(idleMs, reap)
    }
    session.setTimeout(idleMs, reap)
    session.on('error', () => session.destroy())
    session.once('close', () => {
      const socket = session.socket as Socket | undefined
      if (socket && !socket.destroyed) socket.destroy()
    })
  }

  /**
   * The node:http server for what the fast path hands over. It never listens itself; it is
   * given connections. Its connection tracking (which enforces headersTimeout and
   * requestTimeout) starts on 'listening', so that event is emitted by hand.
   */
  #h1Server(scheme: 'http' | 'https', limits: { maxHeaderSize: number; headersTimeout: number; requestTimeout: number; keepAliveTimeout: number }): HttpServer {
    const { maxHeaderSize, headersTimeout, requestTimeout, keepAliveTimeout } = limits
    const server = createHttpServer({ maxHeaderSize, requestTimeout, headersTimeout, keepAliveTimeout, connectionsCheckingInterval: Math.min(30_000, headersTimeout / 2) }, (req, res) => this.#handle(req, res, scheme))
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(req, socket, head, scheme))
    server.on('clientError', (err, socket) => this.#clientError(err, socket))
    server.emit('listening')
    this.#delegates.push(server)
    return server
  }

  async close(): Promise<void> {
    const closed = Promise.all(this.#listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))))
    // node:http servers that never listened: close() only stops their timeout checks.
    for (const server of this.#delegates) server.close(() => {})
    for (const socket of this.#connections) socket.destroy()
    await closed
    this.rawPools.close()
    await this.grpcSessions.close()
  }

  #listen(server: NetServer, address: string): Promise<number> {
    server.on('connection', (socket: Socket) => {
      this.#connections.add(socket)
      socket.once('close', () => this.#connections.delete(socket))
    })
    // Every connection holds a descriptor, and one that never sends a request (or a handshake)
    // holds it for headersTimeoutMs (handshakeTimeoutMs): the cap keeps a flood of them from
    // taking the process's last descriptors, which upstream connections and the API client need.
    server.maxConnections = this.maxConnections
    let warned = -Infinity
    server.on('drop', () => {
      const now = performance.now()
      if (now - warned < DROP_WARN_EVERY_MS) return
      warned = now
      this.options.log.warn({ listen: address, maxConnections: this.maxConnections }, `Ingress listener ${address} holds ${this.maxConnections} connections (--max-connections): new ones are closed as they arrive; warned at most once a minute`)
    })
    const { host, port } = parseListenAddress(address)
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port, host, reusePort: this.options.reusePort === true }, () => {
        server.off('error', reject)
        resolve((server.address() as AddressInfo).port)
      })
    })
  }

  #clientError(err: Error & { code?: string }, socket: Duplex): void {
    if (!socket.writable) {
      socket.destroy()
      return
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    socket.end(plainResponse(status, STATUS_CODES[status]!, { close: true }))
  }

  #resolve(host: string, url: string, scheme: 'http' | 'https'): Resolved {
    const result: RouteResult = this.#table.route(host, url)
    const target = 'route' in result ? result.route : 'defaultBackend' in result ? result.defaultBackend : undefined
    if (!target) return { kind: 'answer', status: 404, text: `Not Found: no Ingress rule for host "${normalizeHost(host)}" and path "${url.split('?')[0]}"`, ingress: '' }
    const options = target.options
    if (scheme === 'http' && result.tlsHost && (options.sslRedirect ?? this.options.sslRedirect ?? false) && this.options.httpsListen) {
      const port = this.options.httpsRedirectPort ?? this.httpsPort
      const hostname = normalizeHost(host)
      const authority = port === 443 ? hostname : `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`
      return { kind: 'answer', status: 308, text: 'Permanent Redirect', ingress: target.ingress, location: `https://${authority}${url}` }
    }
    const known = this.#proxied.get(target)
    if (known) return known
    const b = target.backend
    const service = `${b.namespace}/${b.service}`
    const proxied = {
      kind: 'proxy' as const,
      target: { key: backendKey(b), name: `service ${service} port ${b.port.number ?? b.port.name}`, options },
      ingress: target.ingress,
      service,
      series: this.options.metrics.series(target.ingress, service),
    }
    this.#proxied.set(target, proxied)
    return proxied
  }

  #client(req: IncomingMessage, scheme: 'http' | 'https'): ClientInfo {
    const host = (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? ''
    return { remoteAddress: req.socket.remoteAddress ?? '', scheme, host, httpVersion: req.httpVersion, serverPort: req.socket.localPort, trustedProxies: this.options.trustedProxies }
  }

  /** One request's metrics and access-log line (at warn when something went wrong upstream: `error` says what, and never reaches the client). */
  #record(remote: string, method: string, host: string, path: string, httpVersion: string, scheme: 'http' | 'https', status: number, ms: number, ingress: string, service: string, endpoint?: string, upstreamMs?: number, error?: string, series?: RequestSeries): void {
    const counted = series ?? this.options.metrics.series(ingress, service)
    counted.observe(status, ms / 1000, upstreamMs === undefined ? undefined : upstreamMs / 1000)
    const level = error === undefined ? 'info' : 'warn'
    if (this.options.log.isLevelEnabled(level)) {
      this.options.log[level]({ remote, method, host, path, proto: `HTTP/${httpVersion}`, scheme, status, ms: Math.round(ms * 10) / 10, ingress, service, endpoint, upstream_ms: upstreamMs === undefined ? undefined : Math.round(upstreamMs * 10) / 10, error }, 'request')
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): void {
    const started = performance.now()
    res.setHeader('server', SERVER)
    const client = this.#client(req, scheme)
    const r: Resolved = normalizeRequest(req) ? this.#resolve(client.host, req.url ?? '/', scheme) : { kind: 'answer', status: 400, text: MALFORMED_PATH, ingress: '' }
    const url = req.url ?? '/'
    const done = (status: number, extra: { endpoint?: string; upstreamMs?: number; error?: string } = {}) =>
      this.#record(client.remoteAddress, req.method ?? '', client.host, url, req.httpVersion, scheme, status, performance.now() - started, r.ingress, r.kind === 'proxy' ? r.service : '', extra.endpoint, extra.upstreamMs, extra.error, r.kind === 'proxy' ? r.series : undefined)
    if (r.kind === 'answer') {
      res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8', ...(r.location ? { location: r.location } : {}) })
      res.end(`${r.status} ${r.text}\n`)
      done(r.status)
      return
    }
    const forwarded = isGrpc(r.target) ? proxyGrpc(req, res, r.target, client, this.options.balancer, this.grpcSessions) : proxyRequest(req, res, r.target, client, this.options.balancer, this.options.pools)
    forwarded.then(
      (outcome) => done(outcome.status, outcome),
      (err: Error) => {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' })
          res.end(`502 Bad Gateway: ${r.target.name} failed\n`)
        } else res.destroy()
        done(502, { error: err.message })
      },
    )
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, scheme: 'http' | 'https'): Promise<void> {
    // node:http stops listening for the socket's errors when it emits 'upgrade': without this, a
    // client that resets the connection while weft answers was an uncaught exception (a crash).
    socket.on('error', () => socket.destroy())
    const client = this.#client(req, scheme)
    const r: Resolved = normalizeRequest(req) ? this.#resolve(client.host, req.url ?? '/', scheme) : { kind: 'answer', status: 400, text: MALFORMED_PATH, ingress: '' }
    /** Answers the upgrade request itself; `text` is 'Reason phrase: detail'. */
    const refuse = (status: number, text: string, location?: string) => {
      socket.end(plainResponse(status, text, { close: true, location }))
      this.options.metrics.request(r.ingress, r.kind === 'proxy' ? r.service : '', status, 0, undefined)
    }
    if (r.kind === 'answer') return refuse(r.status, r.text, r.location)
    if (isGrpc(r.target)) return refuse(505, grpcOverHttp1(r.target))
    const ep = this.options.balancer.pick(r.target.key, r.target.options.loadBalance)
    if (!ep) return refuse(503, `Service Unavailable: ${r.target.name} has no ready endpoints`)
    const tls = r.target.options.backendProtocol === 'HTTPS'
    const { status, error } = await tunnelUpgrade(req, socket, head, { name: r.target.name, address: ep.address, port: ep.port, tls, connectTimeoutMs: r.target.options.connectTimeoutMs }, client)
    this.options.metrics.request(r.ingress, r.service, status, 0, undefined)
    if (error !== undefined) this.options.log.warn({ remote: client.remoteAddress, host: client.host, path: req.url, ingress: r.ingress, service: r.service, status, error }, 'WebSocket upgrade failed')
  }
}
