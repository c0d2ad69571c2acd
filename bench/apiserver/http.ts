// The load generator's HTTP side: undici pools with keep-alive connections, JSON calls
// that fail loudly on a non-2xx answer, and newline-delimited watch streams.
import { Pool } from 'undici'

export class HttpError extends Error {
  readonly status: number
  constructor(status: number, method: string, path: string, body: string) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 300)}`)
    this.status = status
  }
}

/** A client certificate and the CA to trust (PEM), or a bearer token with the CA. */
export interface TlsCredentials {
  ca: string
  cert?: string
  key?: string
  token?: string
}

export function pool(origin: string, connections: number, tls?: TlsCredentials): Pool {
  const p = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0, connect: tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : undefined })
  if (tls?.token) bearer.set(p, tls.token)
  return p
}

const bearer = new WeakMap<Pool, string>()

function headersFor(p: Pool, extra: Record<string, string>): Record<string, string> {
  const token = bearer.get(p)
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra
}

/** Sends `body` (already JSON text) and returns the answer's text. */
export async function send(p: Pool, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: string, contentType = 'application/json'): Promise<string> {
  const res = await p.request({
    method,
    path,
    headers: headersFor(p, body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': contentType }),
    body,
  })
  const text = await res.body.text()
  if (res.statusCode < 200 || res.statusCode >= 300) throw new HttpError(res.statusCode, method, path, text)
  return text
}

export const protobufType = 'application/vnd.kubernetes.protobuf'

/** Sends a protobuf body asking for a protobuf answer, as client-go's typed clients do; returns the answer's bytes. */
export async function sendProtobuf(p: Pool, method: 'POST' | 'PUT', path: string, body: Uint8Array): Promise<Buffer> {
  const res = await p.request({ method, path, headers: headersFor(p, { accept: `${protobufType},application/json`, 'content-type': protobufType }), body })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  if (res.statusCode < 200 || res.statusCode >= 300) throw new HttpError(res.statusCode, method, path, bytes.toString('latin1'))
  if (res.headers['content-type'] !== protobufType) throw new Error(`${method} ${path}: answered ${String(res.headers['content-type'])}, not protobuf`)
  return bytes
}

export async function sendJson(p: Pool, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  return JSON.parse(await send(p, method, path, body === undefined ? undefined : JSON.stringify(body)))
}

export interface LineStream {
  /** Resolves when the stream ends (closed by either side). */
  done: Promise<void>
  close(): void
}

/** Opens a streaming GET and calls `onLine` per newline-terminated line; resolves once the headers are in. */
export async function streamLines(p: Pool, path: string, onLine: (line: string) => void): Promise<LineStream> {
  const abort = new AbortController()
  const res = await p.request({ method: 'GET', path, headers: headersFor(p, { accept: 'application/json' }), signal: abort.signal })
  if (res.statusCode !== 200) throw new HttpError(res.statusCode, 'GET', path, await res.body.text())
  res.body.setEncoding('utf8')
  const done = (async () => {
    let rest = ''
    try {
      for await (const chunk of res.body as AsyncIterable<string>) {
        let text = rest + chunk
        let nl = text.indexOf('\n')
        let start = 0
        while (nl >= 0) {
          onLine(text.slice(start, nl))
          start = nl + 1
          nl = text.indexOf('\n', start)
        }
        rest = text.slice(start)
        text = ''
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err
    }
  })()
  return { done, close: () => abort.abort() }
}
