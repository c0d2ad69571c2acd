// HTTP/1.1 with keep-alive for the REST client, on Node's own http and https modules: one
// pool of connections per client, to a URL's origin or over a unix socket (TLS on it when
// credentials are given). Node's modules are in every process already; an HTTP library was
// ~12 MiB more resident memory in each node component for the same few calls.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Readable } from 'node:stream'

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS'

export interface TransportTls {
  ca?: string
  cert?: string
  key?: string
  servername?: string
  rejectUnauthorized?: boolean
}

export interface TransportOptions {
  /** `https://host:port` or `http://host:port`; over a socket, only the scheme counts. */
  origin: string
  socketPath?: string
  tls?: TransportTls
}

export interface TransportRequest {
  path: string
  method: HttpMethod
  headers: Record<string, string>
  body?: string
  signal?: AbortSignal
  /** Until the response's headers arrive; 0: no limit. */
  headersTimeout: number
  /** Longest silence while the body arrives; 0: no limit (watches). */
  bodyTimeout: number
}

export interface TransportResponse {
  statusCode: number
  /** The body as it arrives; leaving it unread holds the connection until destroyed. */
  body: Readable & AsyncIterable<Buffer>
  /** The whole body as UTF-8. */
  text(): Promise<string>
}

export class TransportClosedError extends Error {
  constructor() {
    super('the client is closed')
    this.name = 'TransportClosedError'
  }
}

export class TimeoutError extends Error {
  readonly code: 'HEADERS_TIMEOUT' | 'BODY_TIMEOUT'
  constructor(code: 'HEADERS_TIMEOUT' | 'BODY_TIMEOUT', ms: number) {
    super(code === 'HEADERS_TIMEOUT' ? `no response headers within ${ms} ms` : `the response body stalled for ${ms} ms`)
    this.name = 'TimeoutError'
    this.code = code
  }
}

async function readText(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export class HttpTransport {
  readonly #agent: HttpAgent
  readonly #secure: boolean
  readonly #base: RequestOptions
  /** Requests sent whose response body has not ended. */
  readonly #inFlight = new Set<{ destroy(err?: Error): void }>()
  #closing: Promise<void> | undefined
  #idle: (() => void) | undefined
  #destroyed = false

  constructor(opts: TransportOptions) {
    const url = new URL(opts.origin)
    this.#secure = url.protocol === 'https:'
    const agentOptions = { keepAlive: true, scheduling: 'lifo' as const }
    this.#agent = this.#secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions)
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    this.#base = opts.socketPath !== undefined ? { socketPath: opts.socketPath, host } : { host, port: url.port || (this.#secure ? 443 : 80) }
    if (this.#secure && opts.tls) Object.assign(this.#base, opts.tls)
  }

  get closed(): boolean {
    return this.#closing !== undefined || this.#destroyed
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  request(req: TransportRequest): Promise<TransportResponse> {
    if (this.closed) return Promise.reject(new TransportClosedError())
    return new Promise<TransportResponse>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...req.headers }
      if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body)
      const send = this.#secure ? httpsRequest : httpRequest
      const out = send({ ...this.#base, agent: this.#agent, method: req.method, path: req.path, headers, ...(req.signal ? { signal: req.signal } : {}) })
      this.#inFlight.add(out)
      const done = () => {
        this.#inFlight.delete(out)
        if (this.#inFlight.size === 0) this.#idle?.()
      }
      out.once('close', done)
      let headersTimer: NodeJS.Timeout | undefined
      if (req.headersTimeout > 0) headersTimer = setTimeout(() => out.destroy(new TimeoutError('HEADERS_TIMEOUT', req.headersTimeout)), req.headersTimeout)
      out.once('error', (err) => {
        clearTimeout(headersTimer)
        reject(err)
      })
      out.once('response', (res) => {
        clearTimeout(headersTimer)
        // A reused connection keeps the last request's idle limit unless told otherwise.
        out.setTimeout(req.bodyTimeout, req.bodyTimeout > 0 ? () => res.destroy(new TimeoutError('BODY_TIMEOUT', req.bodyTimeout)) : undefined)
        // Errors after this reach whoever reads the body; without a reader they would be unhandled.
        out.removeAllListeners('error')
        out.on('error', () => {})
        res.on('error', () => {})
        resolve({ statusCode: res.statusCode ?? 0, body: res, text: () => readText(res) })
      })
      out.end(req.body)
    })
  }

  /** Closes idle connections now and the others once their requests end; refuses new requests. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closing = new Promise<void>((resolve) => {
      const finish = () => {
        this.#agent.destroy()
        resolve()
      }
      if (this.#inFlight.size === 0) finish()
      else this.#idle = finish
    })
    return this.#closing
  }

  /** Closes every connection now, failing requests in flight. */
  async destroy(): Promise<void> {
    this.#destroyed = true
    for (const req of this.#inFlight) req.destroy(new TransportClosedError())
    this.#agent.destroy()
    this.#idle?.()
  }
}
