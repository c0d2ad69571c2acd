// etcd v3 through its gRPC-gateway JSON API (`POST /v3/...`, keys and values base64).
import { Pool } from 'undici'
import { StoreError } from './store.ts'

export interface EtcdKv {
  key: string
  value?: string
  create_revision?: string
  mod_revision?: string
}

export interface EtcdHeader {
  revision?: string
}

export interface EtcdWatchResponse {
  header?: EtcdHeader
  created?: boolean
  canceled?: boolean
  compact_revision?: string
  cancel_reason?: string
  events?: { type?: 'PUT' | 'DELETE'; kv: EtcdKv; prev_kv?: EtcdKv }[]
}

/** An error etcd answered with (gRPC status code and message). */
export class EtcdResponseError extends Error {
  readonly grpcCode: number
  constructor(grpcCode: number, message: string) {
    super(message)
    this.name = 'EtcdResponseError'
    this.grpcCode = grpcCode
  }

  get compacted(): boolean {
    return this.grpcCode === 11 && /compacted/.test(this.message)
  }
}

export function b64(s: string | Buffer): string {
  return (typeof s === 'string' ? Buffer.from(s) : s).toString('base64')
}

export function unb64(s: string | undefined): string {
  return s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8')
}

/** TLS to etcd: the CA that signed its serving certificate, and a client certificate (PEM). */
export interface EtcdTls {
  caPem?: string
  certPem?: string
  keyPem?: string
}

export interface EtcdHttpOptions {
  tls?: EtcdTls
  /** Every call's deadline, connecting included (default 10 s). */
  requestTimeoutMs?: number
}

export class EtcdHttp {
  readonly endpoints: string[]
  readonly requestTimeoutMs: number
  readonly #pools: Pool[]
  readonly #watchPools: Pool[]
  #current = 0

  constructor(endpoints: string[], options: EtcdHttpOptions = {}) {
    if (endpoints.length === 0) throw new TypeError('etcd store: at least one endpoint is required')
    const tls = options.tls
    if (tls && (tls.caPem || tls.certPem || tls.keyPem)) {
      const plain = endpoints.filter((e) => !e.startsWith('https://'))
      if (plain.length) throw new TypeError(`etcd TLS files were given, but ${plain.join(', ')} is not an https:// endpoint`)
      if (Boolean(tls.certPem) !== Boolean(tls.keyPem)) throw new TypeError('an etcd client certificate needs its key, and a key its certificate')
    }
    this.endpoints = endpoints
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000
    const connect = { timeout: this.requestTimeoutMs, ...(tls ? { ca: tls.caPem, cert: tls.certPem, key: tls.keyPem } : {}) }
    this.#pools = endpoints.map((e) => new Pool(e, { connections: 64, keepAliveTimeout: 30_000, connect }))
    // Watch streams hold their connection for their lifetime, so they get their own pools.
    this.#watchPools = endpoints.map((e) => new Pool(e, { connections: null, connect }))
  }

  async call<T>(path: string, body: unknown): Promise<T> {
    const payload = JSON.stringify(body)
    let lastErr: unknown
    for (let attempt = 0; attempt < this.#pools.length; attempt++) {
      const index = this.#current
      let statusCode: number
      let text: string
      try {
        const res = await this.#pools[index].request({
          method: 'POST',
          path,
          body: payload,
          headers: { 'content-type': 'application/json' },
          headersTimeout: this.requestTimeoutMs,
          bodyTimeout: this.requestTimeoutMs,
        })
        statusCode = res.statusCode
        text = await res.body.text()
      } catch (err) {
        lastErr = err
        this.#current = (index + 1) % this.#pools.length
        // Retrying is only safe when the request cannot have reached etcd.
        if (!isConnectRefused(err)) break
        continue
      }
      if (statusCode === 200) return JSON.parse(text) as T
      throw responseError(statusCode, text)
    }
    throw new StoreError('Unavailable', `etcd at ${this.endpoints.join(', ')} is unreachable: ${isTimeout(lastErr) ? `no answer within ${this.requestTimeoutMs} ms` : describe(lastErr)}`)
  }

  /** Opens a watch stream; resolves once response headers arrive, then calls onResponse per message until the stream ends. */
  async watchStream(
    body: unknown,
    signal: AbortSignal,
    onResponse: (res: EtcdWatchResponse) => void,
  ): Promise<void> {
    const index = this.#current
    let res
    try {
      res = await this.#watchPools[index].request({
        method: 'POST',
        path: '/v3/watch',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        signal,
        bodyTimeout: 0,
        headersTimeout: this.requestTimeoutMs,
      })
    } catch (err) {
      this.#current = (index + 1) % this.#pools.length
      throw err
    }
    if (res.statusCode !== 200) throw responseError(res.statusCode, await res.body.text())
    let buffered = ''
    for await (const chunk of res.body) {
      buffered += (chunk as Buffer).toString('utf8')
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim()
        buffered = buffered.slice(nl + 1)
        if (line === '') continue
        const msg = JSON.parse(line) as { result?: EtcdWatchResponse; error?: { grpc_code?: number; message?: string } }
        if (msg.error !== undefined) throw new EtcdResponseError(msg.error.grpc_code ?? 2, msg.error.message ?? 'watch failed')
        if (msg.result !== undefined) onResponse(msg.result)
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools, ...this.#watchPools].map((p) => p.destroy()))
  }
}

function responseError(statusCode: number, text: string): Error {
  try {
    const body = JSON.parse(text) as { code?: number; message?: string; error?: string }
    return new EtcdResponseError(body.code ?? 2, body.message ?? body.error ?? `HTTP ${statusCode}`)
  } catch {
    return new EtcdResponseError(2, `etcd answered HTTP ${statusCode}: ${text.slice(0, 200)}`)
  }
}

function isConnectRefused(err: unknown): boolean {
  const code = (err as { code?: unknown; cause?: { code?: unknown } } | null)?.code
  return code === 'ECONNREFUSED' || (err as { cause?: { code?: unknown } } | null)?.cause?.code === 'ECONNREFUSED'
}

function isTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT'
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
