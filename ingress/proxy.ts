// Forwards one HTTP request to a backend's endpoints: keep-alive pools per endpoint (undici),
// the balancer's choice, another endpoint when a connect fails (for requests without a
// body, which can be sent again), connect and read timeouts, and 502/503/504/413/400
// answers whose bodies say what went wrong and for which Service, but name no endpoint
// address or internal error: those are in the outcome's `error`, for the log.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import { Readable } from 'node:stream'
import { Pool, type Dispatcher } from 'undici'
import type { RouteOptions } from './annotations.ts'
import { endpointId, type Balancer } from './balancer.ts'
import type { Endpoint } from './endpoints.ts'
import { downstreamResponseHeaders, smugglingReason, upstreamRequestHeaders, type ClientInfo } from './headers.ts'

/** Keep-alive connection pools, one per endpoint and connect timeout. */
export class UpstreamPools {
  #pools = new Map<string, Pool>()

  get(ep: Endpoint, connectTimeoutMs: number, tls: boolean): Pool {
    const key = `${tls ? 'https' : 'http'}://${endpointId(ep)}/${connectTimeoutMs}`
    let pool = this.#pools.get(key)
    if (!pool) {
      pool = new Pool(`${tls ? 'https' : 'http'}://${endpointId(ep)}`, {
        connections: 128,
        connectTimeout: connectTimeoutMs,
        keepAliveTimeout: 30_000,
        pipelining: 1,
        // Backends behind an Ingress serve certificates for their own names, not their pod IPs.
        connect: tls ? { rejectUnauthorized: false } : undefined,
      })
      this.#pools.set(key, pool)
    }
    return pool
  }

  /** Closes the pools of endpoints not in `keep` ('addr:port' ids). */
  async prune(keep: ReadonlySet<string>): Promise<void> {
    for (const [key, pool] of this.#pools) {
      const id = key.slice(key.indexOf('://') + 3, key.lastIndexOf('/'))
      if (keep.has(id)) continue
      this.#pools.delete(key)
      void pool.close().catch(() => {})
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})))
  }
}

export interface ProxyTarget {
  /** The balancer's key of the backend (backendKey). */
  key: string
  /** What the request is for, for error bodies: 'service default/web port 80'. */
  name: string
  options: RouteOptions
}

export interface ProxyOutcome {
  status: number
  /** The endpoint that answered (or failed last). */
  endpoint?: string
  /** Upstream time in ms, when an endpoint answered. */
  upstreamMs?: number
  /** What went wrong upstream, with the endpoint: for the log, never for the client. */
  error?: string
}

const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE'])
const CONNECT_ERRORS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'UND_ERR_SOCKET'])

function answer(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
  res.end(`${status} ${text}\n`)
}

/**
 * Whether a request has a body. HTTP/1 says so in its head (Content-Length or
 * Transfer-Encoding); in h2 content-length is optional, and a request has a body unless its
 * HEADERS frame ended the stream. A body of unknown length goes upstream chunked.
 */
function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true
  const length = req.headers['content-length']
  if (length !== undefined) return length !== '0'
  return req.httpVersionMajor === 2 && !(req as unknown as Http2ServerRequest).stream.endAfterHeaders
}

export async function proxyRequest(req: IncomingMessage, res: ServerResponse, target: ProxyTarget, client: ClientInfo, balancer: Balancer, pools: UpstreamPools): Promise<ProxyOutcome> {
  const o = target.options
  const smuggling = req.httpVersionMajor === 1 ? smugglingReason(req.headers, req.rawHeaders) : undefined
  if (smuggling) {
    answer(res, 400, `Bad Request: ${smuggling}`)
    return { status: 400 }
  }
  const length = Number(req.headers['content-length'] ?? 0)
  if (o.maxBodyBytes > 0 && length > o.maxBodyBytes) {
    answer(res, 413, `Content Too Large: the body is ${length} bytes; this route takes at most ${o.maxBodyBytes}`)
    return { status: 413 }
  }
  const body = hasBody(req)
  const replayable = !body && REPLAYABLE.has(req.method ?? 'GET')
  const headers = upstreamRequestHeaders(req.headers, client)
  const tls = o.backendProtocol === 'HTTPS' || o.backendProtocol === 'GRPCS'
  const tried = new Set<string>()
  let lastError = ''
  for (;;) {
    const ep = balancer.pick(target.key, o.loadBalance, tried)
    if (!ep) {
      if (tried.size === 0) {
        answer(res, 503, `Service Unavailable: ${target.name} has no ready endpoints`)
        return { status: 503 }
      }
      answer(res, 502, `Bad Gateway: no endpoint of ${target.name} could be reached`)
      return { status: 502, endpoint: [...tried].at(-1), error: lastError }
    }
    const id = endpointId(ep)
    tried.add(id)
    balancer.started(target.key, ep)
    const started = performance.now()
    try {
      const status = await forward(pools.get(ep, o.connectTimeoutMs, tls), req, res, {
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as 'GET',
        headers,
        body: body ? Readable.from(limited(req, o.maxBodyBytes)) : undefined,
        headersTimeout: o.readTimeoutMs,
        bodyTimeout: o.readTimeoutMs,
      }, (statusCode) => {
        if (statusCode >= 502 && statusCode <= 504) balancer.failed(target.key, ep)
        else balancer.succeeded(target.key, ep)
      })
      return { status, endpoint: id, upstreamMs: performance.now() - started }
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      lastError = `${id}: ${(err as Error).message}`
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        balancer.failed(target.key, ep)
        answer(res, 504, `Gateway Timeout: ${target.name} did not answer within ${o.readTimeoutMs} ms`)
        return { status: 504, endpoint: id, error: lastError }
      }
      if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' || code === 'BODY_TOO_LARGE') {
        answer(res, 413, `Content Too Large: this route takes at most ${o.maxBodyBytes} bytes`)
        return { status: 413, endpoint: id }
      }
      if (res.destroyed) return { status: 499, endpoint: id, error: lastError }
      balancer.failed(target.key, ep)
      if (CONNECT_ERRORS.has(code) && replayable && !res.headersSent) continue
      answer(res, 502, CONNECT_ERRORS.has(code) && !res.headersSent ? `Bad Gateway: ${target.name} could not be reached` : `Bad Gateway: ${target.name} did not send a valid answer`)
      return { status: 502, endpoint: id, error: lastError }
    } finally {
      balancer.finished(target.key, ep)
    }
  }
}

/**
 * Sends one request upstream and streams the answer into `res` through undici's dispatch
 * handler (no intermediate body stream). Rejects, with nothing written, when the request
 * fails before the response starts; a failure after that destroys `res`. The response head
 * and what arrives with it leave in one write (cork until the next tick).
 */
function forward(pool: Pool, req: IncomingMessage, res: ServerResponse, options: Dispatcher.DispatchOptions, onStart: (statusCode: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0
    let controller: Dispatcher.DispatchController | undefined
    const clientGone = () => {
      if (!res.writableFinished) controller?.abort(new Error('the client went away'))
    }
    res.once('close', clientGone)
    pool.dispatch(options, {
      onRequestStart(c) {
        controller = c
        if (res.destroyed) c.abort(new Error('the client went away'))
      },
      onResponseStart(c, statusCode, headers) {
        if (statusCode < 200) return
        status = statusCode
        onStart(statusCode)
        res.cork()
        process.nextTick(() => res.uncork())
        res.writeHead(statusCode, downstreamResponseHeaders(headers, false))
        c.resume()
      },
      onResponseData(c, chunk) {
        if (!res.write(chunk)) {
          c.pause()
          res.once('drain', () => c.resume())
        }
      },
      onResponseEnd() {
        res.off('close', clientGone)
        res.end()
        resolve(status)
      },
      onResponseError(_c, err) {
        res.off('close', clientGone)
        if (status === 0) return reject(err)
        res.destroy()
        resolve(status)
      },
    })
  })
}

/** The request body, cut off with an error past `max` bytes (0: no limit); for chunked uploads, whose size is not known ahead. */
async function* limited(req: IncomingMessage, max: number): AsyncGenerator<Buffer> {
  let total = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length
    if (max > 0 && total > max) throw Object.assign(new Error(`the body is larger than ${max} bytes`), { code: 'BODY_TOO_LARGE' })
    yield chunk
  }
}
