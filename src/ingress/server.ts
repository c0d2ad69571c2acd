// The Ingress listeners: HTTP, and HTTPS with SNI certificates and ALPN h2/http1.1. Each
// request is routed with the current route table (swapped whole, so a change never meets a
// request halfway), redirected to HTTPS for TLS hosts, tunnelled when it is a WebSocket
// upgrade, or proxied; and logged as one JSON line.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { createSecureServer, type Http2SecureServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { parseListenAddress } from '../util/host-port.ts'
import type { Logger } from '../util/log.ts'
import type { Balancer } from './balancer.ts'
import type { CertStore } from './cert-store.ts'
import { backendKey } from './endpoints.ts'
import { Http2Sessions, isGrpc, proxyGrpc } from './grpc-proxy.ts'
import type { ClientInfo } from './headers.ts'
import type { IngressMetrics } from './metrics.ts'
import { proxyRequest, type ProxyTarget, type UpstreamPools } from './proxy.ts'
import { normalizeHost, type RouteResult, type RouteTable } from './route-table.ts'
import { tunnelUpgrade } from './websocket.ts'

export interface IngressServerOptions {
  /** HOST:PORT for plain HTTP ('' for none). */
  httpListen: string
  /** HOST:PORT for HTTPS ('' for none). */
  httpsListen: string
  /** The HTTPS port redirects point at (default: the bound HTTPS port). */
  httpsRedirectPort?: number
  certs: CertStore
  balancer: Balancer
  pools: UpstreamPools
  metrics: IngressMetrics
  log: Logger
  /** Largest request head in bytes (default 16 KiB); larger gets 431. */
  maxHeaderBytes?: number
  /** A client that has not sent a whole request head after this long gets 408 (default 10 s: slowloris). */
  headersTimeoutMs?: number
}

type Resolved = { kind: 'proxy'; target: ProxyTarget; ingress: string; service: string } | { kind: 'answer'; status: number; text: string; ingress: string; location?: string }

const empty: RouteTable = {
  route: () => ({ notFound: true, tlsHost: false }),
  isTlsHost: () => false,
  tlsHosts: () => [],
  routes: () => [],
  defaultBackend: undefined,
}

export class IngressServer {
  readonly options: IngressServerOptions
  #table: RouteTable = empty
  #http: HttpServer | undefined
  #https: Http2SecureServer | undefined
  httpPort = 0
  httpsPort = 0
  /** Upstream HTTP/2 sessions of GRPC/GRPCS routes (owned and closed by the server). */
  readonly grpcSessions = new Http2Sessions()

  constructor(options: IngressServerOptions) {
    this.options = options
  }

  /** Swaps in a new route table: the next request uses it; requests in flight finish with theirs. */
  setTable(table: RouteTable): void {
    this.#table = table
  }

  async start(): Promise<void> {
    const o = this.options
    const maxHeaderSize = o.maxHeaderBytes ?? 16 * 1024
    if (o.httpListen) {
      const headersTimeout = o.headersTimeoutMs ?? 10_000
      const server = createHttpServer({ maxHeaderSize, requestTimeout: Math.max(60_000, headersTimeout), headersTimeout, connectionsCheckingInterval: Math.min(30_000, headersTimeout / 2) }, (req, res) =>
        this.#handle(req, res, 'http'),
      )
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(req, socket, head, 'http'))
      server.on('clientError', (err, socket) => this.#clientError(err, socket))
      this.#http = server
      this.httpPort = await this.#listen(server, o.httpListen)
    }
    if (o.httpsListen) {
      const server = createSecureServer({ ...o.certs.serverOptions(), allowHTTP1: true, maxSessionMemory: 64, settings: { maxHeaderListSize: maxHeaderSize } }, (req, res) =>
        this.#handle(req as unknown as IncomingMessage, res as unknown as ServerResponse, 'https'),
      )
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(req, socket, head, 'https'))
      this.#https = server
      this.httpsPort = await this.#listen(server, o.httpsListen)
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.#http, this.#https].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s) return resolve()
            s.close(() => resolve())
            ;(s as HttpServer).closeAllConnections?.()
          }),
      ),
    )
    await this.grpcSessions.close()
  }

  #listen(server: HttpServer | Http2SecureServer, address: string): Promise<number> {
    const { host, port } = parseListenAddress(address)
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
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
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\n${status}\n`)
  }

  #resolve(host: string, url: string, scheme: 'http' | 'https'): Resolved {
    const result: RouteResult = this.#table.route(host, url)
    const target = 'route' in result ? result.route : 'defaultBackend' in result ? result.defaultBackend : undefined
    if (!target) return { kind: 'answer', status: 404, text: `Not Found: no Ingress rule for host "${normalizeHost(host)}" and path "${url.split('?')[0]}"`, ingress: '' }
    const options = target.options
    if (scheme === 'http' && result.tlsHost && options.sslRedirect && this.#https) {
      const port = this.options.httpsRedirectPort ?? this.httpsPort
      const hostname = normalizeHost(host)
      const authority = port === 443 ? hostname : `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`
      return { kind: 'answer', status: 308, text: 'Permanent Redirect', ingress: target.ingress, location: `https://${authority}${url}` }
    }
    const b = target.backend
    const service = `${b.namespace}/${b.service}`
    return {
      kind: 'proxy',
      target: { key: backendKey(b), name: `service ${service} port ${b.port.number ?? b.port.name}`, options },
      ingress: target.ingress,
      service,
    }
  }

  #client(req: IncomingMessage, scheme: 'http' | 'https'): ClientInfo {
    const host = (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? ''
    return { remoteAddress: req.socket.remoteAddress ?? '', scheme, host, httpVersion: req.httpVersion, serverPort: req.socket.localPort }
  }

  #handle(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): void {
    const started = performance.now()
    const client = this.#client(req, scheme)
    const url = req.url ?? '/'
    const r = this.#resolve(client.host, url, scheme)
    const done = (status: number, extra: { endpoint?: string; upstreamMs?: number } = {}) => {
      const ms = performance.now() - started
      const service = r.kind === 'proxy' ? r.service : ''
      this.options.metrics.request(r.ingress, service, status, ms / 1000, extra.upstreamMs === undefined ? undefined : extra.upstreamMs / 1000)
      if (this.options.log.isLevelEnabled('info')) this.options.log.info({ remote: client.remoteAddress, method: req.method, host: client.host, path: url, proto: `HTTP/${req.httpVersion}`, scheme, status, ms: Math.round(ms * 10) / 10, ingress: r.ingress, service, endpoint: extra.endpoint, upstream_ms: extra.upstreamMs === undefined ? undefined : Math.round(extra.upstreamMs * 10) / 10 }, 'request')
    }
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
          res.end(`502 Bad Gateway: ${err.message}\n`)
        } else res.destroy()
        done(502)
      },
    )
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, scheme: 'http' | 'https'): Promise<void> {
    const client = this.#client(req, scheme)
    const r = this.#resolve(client.host, req.url ?? '/', scheme)
    if (r.kind === 'answer') {
      socket.end(`HTTP/1.1 ${r.status} ${r.text.split(':')[0]}\r\nconnection: close\r\n${r.location ? `location: ${r.location}\r\n` : ''}content-type: text/plain\r\n\r\n${r.status} ${r.text}\n`)
      return
    }
    const ep = this.options.balancer.pick(r.target.key, r.target.options.loadBalance)
    if (!ep) {
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\n503 Service Unavailable: ${r.target.name} has no ready endpoints\n`)
      return
    }
    const tls = r.target.options.backendProtocol === 'HTTPS'
    const { status } = await tunnelUpgrade(req, socket, head, { address: ep.address, port: ep.port, tls, connectTimeoutMs: r.target.options.connectTimeoutMs }, client)
    this.options.metrics.request(r.ingress, r.service, status, 0, undefined)
  }
}
