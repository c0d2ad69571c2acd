// Forwards gRPC (weft.dev/backend-protocol GRPC | GRPCS) like ingress-nginx's grpc_pass: the
// client's HTTP/2 stream becomes a stream on one multiplexed HTTP/2 session per endpoint (h2c
// with prior knowledge for GRPC, TLS with ALPN h2 for GRPCS), with the body, response headers,
// body and trailers streamed through. Errors weft itself answers are gRPC-shaped (HTTP 200, a
// trailers-only response carrying grpc-status and grpc-message), since gRPC clients read those
// and not the HTTP status.
//
// Decisions:
// - A GRPC route asked over HTTP/1.x (h1 on the TLS listener, or the plain HTTP listener, which
//   has no h2c) gets HTTP 505 with a text body: gRPC needs HTTP trailers, which an h1 response
//   only carries when chunked and which no h1 gRPC client reads, so a gRPC-shaped answer would
//   not reach anyone; a plain 505 says plainly what to change (HTTP/2 over TLS).
// - Only the connect phase is retried on another endpoint: once the request stream is open
//   upstream, body bytes may have gone and the RPC may not be idempotent.
// - The read timeout is an inactivity timeout on the upstream stream (like grpc_read_timeout):
//   before the response head it answers DEADLINE_EXCEEDED; after, both streams are reset.
// - weft.dev/proxy-body-size counts the request stream's bytes (gRPC frames included): past it,
//   the upstream stream is cancelled and the client gets RESOURCE_EXHAUSTED (trailers-only, or
//   as trailers when the response has started), the status gRPC servers give a message over
//   their limit; an HTTP 413 would reach a gRPC client only as UNKNOWN.
// - An upstream reset is passed on as a reset with the same HTTP/2 code; before the response
//   head it becomes the gRPC status the gRPC spec maps that code to.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect as http2Connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2'
import { endpointId, type Balancer } from './balancer.ts'
import type { Endpoint } from './endpoints.ts'
import { upstreamRequestHeaders, type ClientInfo } from './headers.ts'
import type { ProxyOutcome, ProxyTarget } from './proxy.ts'

/** gRPC status codes weft answers with. */
export const grpcStatus = { CANCELLED: 1, UNKNOWN: 2, DEADLINE_EXCEEDED: 4, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14 } as const

const {
  NGHTTP2_NO_ERROR,
  NGHTTP2_CANCEL,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_INADEQUATE_SECURITY,
  NGHTTP2_FLAG_END_STREAM,
} = constants

/** Idle sessions are closed after this long, so endpoints that went away do not keep one forever. */
const IDLE_SESSION_MS = 120_000

interface Entry {
  session: Promise<ClientHttp2Session>
  /** Set once connected. */
  live?: ClientHttp2Session
}

/** One HTTP/2 session per endpoint, reused across requests, replaced when it closes, errs or gets a GOAWAY. */
export class Http2Sessions {
  #entries = new Map<string, Entry>()
  /** Sessions opened so far (for tests and logs). */
  connects = 0

  /** A connected session to `ep`; rejects when the connect fails or takes longer than `connectTimeoutMs`. */
  get(ep: Endpoint, connectTimeoutMs: number, tls: boolean): Promise<ClientHttp2Session> {
    const key = `${tls ? 'https' : 'http'}://${endpointId(ep)}`
    const entry = this.#entries.get(key)
    if (entry && (!entry.live || usable(entry.live))) return entry.session
    const fresh = {} as Entry
    fresh.session = this.#connect(key, fresh, connectTimeoutMs, tls)
    this.#entries.set(key, fresh)
    return fresh.session
  }

  #connect(key: string, entry: Entry, connectTimeoutMs: number, tls: boolean): Promise<ClientHttp2Session> {
    this.connects++
    const forget = () => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key)
    }
    return new Promise<ClientHttp2Session>((resolve, reject) => {
      // Backends behind an Ingress serve certificates for their own names, not their pod IPs.
      const session = http2Connect(key, tls ? { rejectUnauthorized: false, ALPNProtocols: ['h2'] } : {})
      const timer = setTimeout(() => {
        const err = Object.assign(new Error(`connect timed out after ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })
        session.destroy(err)
      }, connectTimeoutMs)
      session.once('connect', () => {
        clearTimeout(timer)
        if (tls && session.alpnProtocol !== 'h2') {
          session.destroy()
          forget()
          reject(Object.assign(new Error(`the endpoint did not negotiate h2 over TLS (ALPN ${String(session.alpnProtocol)})`), { code: 'ERR_ALPN' }))
          return
        }
        entry.live = session
        session.setTimeout(IDLE_SESSION_MS, () => session.close())
        resolve(session)
      })
      session.on('error', (err) => {
        clearTimeout(timer)
        forget()
        reject(err)
      })
      session.on('goaway', forget)
      session.on('close', () => {
        clearTimeout(timer)
        forget()
        reject(Object.assign(new Error('the connection closed'), { code: 'ECONNRESET' }))
      })
    })
  }

  /** Closes the sessions of endpoints not in `keep` ('addr:port' ids); their streams in flight finish first. */
  async prune(keep: ReadonlySet<string>): Promise<void> {
    for (const [key, entry] of this.#entries) {
      if (keep.has(key.slice(key.indexOf('://') + 3))) continue
      this.#entries.delete(key)
      entry.session.then((s) => s.close(), () => {})
    }
  }

  async close(): Promise<void> {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    await Promise.all(entries.map((e) => e.session.then((s) => s.destroy(), () => {})))
  }
}

function usable(session: ClientHttp2Session): boolean {
  return !session.closed && !session.destroyed
}

export function isGrpc(target: ProxyTarget): boolean {
  return target.options.backendProtocol === 'GRPC' || target.options.backendProtocol === 'GRPCS'
}

/** The gRPC status the gRPC spec (PROTOCOL-HTTP2.md) maps an HTTP/2 reset code to. */
export function grpcStatusOfReset(code: number): number {
  if (code === NGHTTP2_REFUSED_STREAM) return grpcStatus.UNAVAILABLE
  if (code === NGHTTP2_CANCEL) return grpcStatus.CANCELLED
  if (code === NGHTTP2_ENHANCE_YOUR_CALM) return grpcStatus.RESOURCE_EXHAUSTED
  if (code === NGHTTP2_INADEQUATE_SECURITY) return grpcStatus.PERMISSION_DENIED
  return grpcStatus.INTERNAL
}

// Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2), plus the other hop-by-hop ones.
const notForwarded = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings'])

/** Response headers or trailers to pass downstream: no pseudo-headers, nothing connection-specific, no Server (weft's own is set). */
function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':') || notForwarded.has(name) || name === 'server') continue
    out[name] = value
  }
  return out
}

/** The request headers for the upstream stream: pseudo-headers plus headers.ts's forwarding rules. */
export function grpcUpstreamHeaders(headers: IncomingHttpHeaders, client: ClientInfo, method: string, path: string, tls: boolean): OutgoingHttpHeaders {
  const { host, ...rest } = upstreamRequestHeaders(headers, client)
  return { ':method': method, ':path': path, ':scheme': tls ? 'https' : 'http', ':authority': host, ...rest }
}

/** grpc-message is percent-encoded (gRPC spec): printable ASCII except '%' as is, the rest as %XX of UTF-8. */
export function encodeGrpcMessage(message: string): string {
  let out = ''
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** A trailers-only gRPC answer (one HEADERS frame with END_STREAM); a reset when headers already went. */
function grpcAnswer(res: Http2ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    if (!res.stream.destroyed) res.stream.close(NGHTTP2_CANCEL)
    return
  }
  res.statusCode = 200
  res.setHeader('content-type', 'application/grpc')
  res.setHeader('grpc-status', String(status))
  res.setHeader('grpc-message', encodeGrpcMessage(message))
  // end() without writeHead sends the head with END_STREAM: a trailers-only response.
  res.end()
}

/** Why a GRPC/GRPCS route refuses an HTTP/1.x request (a plain request or an upgrade): the text of its 505. */
export function grpcOverHttp1(target: ProxyTarget): string {
  return `HTTP Version Not Supported: ${target.name} speaks gRPC, which needs HTTP/2; connect over TLS (https) with ALPN h2 (plain-text h2c is not served)`
}

/**
 * Proxies one request of a GRPC/GRPCS route. HTTP/1.x requests get 505 (see above); the
 * outcome's status is the HTTP status sent (200 for gRPC errors weft answers).
 */
export async function proxyGrpc(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  target: ProxyTarget,
  client: ClientInfo,
  balancer: Balancer,
  sessions: Http2Sessions,
): Promise<ProxyOutcome> {
  if (req.httpVersionMajor !== 2) {
    const h1 = res as ServerResponse
    h1.writeHead(505, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
    h1.end(`505 ${grpcOverHttp1(target)}\n`)
    return { status: 505 }
  }
  const dreq = req as Http2ServerRequest
  const dres = res as Http2ServerResponse
  const o = target.options
  const tls = o.backendProtocol === 'GRPCS'
  const headers = grpcUpstreamHeaders(dreq.headers, client, dreq.method, dreq.url, tls)
  const tried = new Set<string>()
  let lastError = ''
  for (;;) {
    const ep = balancer.pick(target.key, o.loadBalance, tried)
    if (!ep) {
      const message = tried.size === 0 ? `${target.name} has no ready endpoints` : `no endpoint of ${target.name} could be reached`
      grpcAnswer(dres, grpcStatus.UNAVAILABLE, message)
      return { status: 200, endpoint: [...tried].at(-1), ...(lastError ? { error: lastError } : {}) }
    }
    const id = endpointId(ep)
    tried.add(id)
    balancer.started(target.key, ep)
    let upstream: ClientHttp2Stream
    let session: ClientHttp2Session
    try {
      session = await sessions.get(ep, o.connectTimeoutMs, tls)
      if (dres.stream.destroyed) {
        balancer.finished(target.key, ep)
        return { status: 499, endpoint: id }
      }
      upstream = session.request(headers, { endStream: false })
    } catch (err) {
      lastError = `${id}: ${(err as Error).message}`
      balancer.failed(target.key, ep)
      balancer.finished(target.key, ep)
      continue
    }
    try {
      return await forward(session, dreq, dres, upstream, target, id, () => balancer.failed(target.key, ep), () => balancer.succeeded(target.key, ep))
    } finally {
      balancer.finished(target.key, ep)
    }
  }
}

function forward(
  session: ClientHttp2Session,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  upstream: ClientHttp2Stream,
  target: ProxyTarget,
  id: string,
  failed: () => void,
  succeeded: () => void,
): Promise<ProxyOutcome> {
  const started = performance.now()
  const { readTimeoutMs, maxBodyBytes } = target.options
  return new Promise((resolve) => {
    let status = 200
    let upstreamMs: number | undefined
    /** weft answered the call itself (timeout, body too large): the upstream's close changes nothing. */
    let answered = false
    /** What went wrong, with the endpoint, for the log. */
    let error: string | undefined

    req.pipe(upstream)
    req.on('error', () => upstream.close(NGHTTP2_CANCEL))
    let received = 0
    const countBody = (chunk: Buffer) => {
      received += chunk.length
      if (received <= maxBodyBytes || answered || res.writableEnded) return
      answered = true
      req.off('data', countBody)
      req.unpipe(upstream)
      const message = `the request stream to ${target.name} is over ${maxBodyBytes} bytes (weft.dev/proxy-body-size)`
      if (upstreamMs === undefined) grpcAnswer(res, grpcStatus.RESOURCE_EXHAUSTED, message)
      else {
        upstream.unpipe(res)
        res.addTrailers({ 'grpc-status': String(grpcStatus.RESOURCE_EXHAUSTED), 'grpc-message': encodeGrpcMessage(message) })
        res.end()
      }
      upstream.close(NGHTTP2_CANCEL)
      // What the client still sends is read and dropped, so its flow-control window never stalls it.
      req.resume()
    }
    if (maxBodyBytes > 0) req.on('data', countBody)
    upstream.on('error', () => {})
    upstream.setTimeout(readTimeoutMs, () => {
      if (answered) return
      answered = true
      failed()
      error = `${id}: sent nothing for ${readTimeoutMs} ms`
      grpcAnswer(res, grpcStatus.DEADLINE_EXCEEDED, `${target.name} sent nothing for ${readTimeoutMs} ms`)
      upstream.close(NGHTTP2_CANCEL)
    })

    upstream.on('response', (head, flags) => {
      if (answered) return
      upstreamMs = performance.now() - started
      status = Number(head[':status'] ?? 200)
      if (status >= 502 && status <= 504) failed()
      else succeeded()
      const out = endToEnd(head)
      out.via = head.via === undefined ? '2.0 weft' : `${String(head.via)}, 2.0 weft`
      if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) {
        // Trailers-only upstream: answer the same way.
        res.statusCode = status
        for (const [name, value] of Object.entries(out)) if (value !== undefined) res.setHeader(name, value)
        res.end()
        return
      }
      res.writeHead(status, out)
      // Not ended by the pipe: the upstream's end may be a reset, which is passed on as one (on 'close').
      upstream.pipe(res, { end: false })
    })
    upstream.on('trailers', (trailers) => !answered && res.addTrailers(endToEnd(trailers) as Record<string, string>))

    // The client went away (or was answered by the timeout): stop the upstream stream too.
    res.on('close', () => {
      if (!upstream.closed) upstream.close(NGHTTP2_CANCEL)
    })

    upstream.on('close', () => {
      const code = upstream.rstCode ?? NGHTTP2_NO_ERROR
      // A stream closed by its session's end (connection lost, GOAWAY) rather than by a reset from the endpoint.
      const connectionLost = session.destroyed && code !== NGHTTP2_NO_ERROR
      if (code !== NGHTTP2_NO_ERROR) error ??= `${id}: ${connectionLost ? 'the connection was lost' : `reset the stream (HTTP/2 error ${code})`}`
      if (!answered && !res.writableEnded && !res.stream.destroyed) {
        if (upstreamMs === undefined) {
          failed()
          if (code === NGHTTP2_NO_ERROR || connectionLost) grpcAnswer(res, grpcStatus.UNAVAILABLE, `${target.name} closed the connection without answering`)
          else grpcAnswer(res, grpcStatusOfReset(code), `${target.name} reset the stream (HTTP/2 error ${code})`)
        } else if (code === NGHTTP2_NO_ERROR) res.end()
        else if (connectionLost) {
          res.addTrailers({ 'grpc-status': String(grpcStatus.UNAVAILABLE), 'grpc-message': encodeGrpcMessage(`the connection to ${target.name} was lost`) })
          res.end()
        } else res.stream.close(code)
      }
      resolve({ status, endpoint: id, upstreamMs, ...(error ? { error } : {}) })
    })
  })
}
