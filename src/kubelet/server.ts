// The kubelet's own HTTP API, as much of it as the API server uses: container logs for
// `kubectl logs`, plus health and the pod list. It listens on a unix socket (lab nodes)
// and/or TCP.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { rm } from 'node:fs/promises'
import type { V1Pod } from '@kubernetes/client-node'

export interface LogRequest {
  namespace: string
  pod: string
  container: string
  follow: boolean
  previous: boolean
  timestamps: boolean
  tailLines?: number
  limitBytes?: number
  /** Only lines at or after this time. */
  since?: Date
}

/** A log request the kubelet cannot answer: 404 for a missing pod or container, 400 for bad parameters. */
export class LogRequestError extends Error {
  readonly status: 400 | 404
  constructor(status: 400 | 404, message: string) {
    super(message)
    this.status = status
  }
}

export interface KubeletApi {
  logs(req: LogRequest, signal: AbortSignal): AsyncIterable<string | Buffer>
  pods(): V1Pod[]
}

export interface KubeletServerOptions {
  socketPath?: string
  /** host:port; unset: no TCP listener. */
  listen?: string
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name)
  if (v === null) return undefined
  if (!/^\d+$/.test(v)) throw new LogRequestError(400, `${name} must be a non-negative integer`)
  return Number(v)
}

export function parseLogRequest(path: string, q: URLSearchParams, now = new Date()): LogRequest | undefined {
  const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path)
  if (!m) return undefined
  const flag = (name: string) => q.get(name) === 'true' || q.get(name) === '1'
  const sinceSeconds = intParam(q, 'sinceSeconds')
  const sinceTime = q.get('sinceTime')
  let since: Date | undefined
  if (sinceSeconds !== undefined) since = new Date(now.getTime() - sinceSeconds * 1000)
  else if (sinceTime) {
    since = new Date(sinceTime)
    if (Number.isNaN(since.getTime())) throw new LogRequestError(400, `sinceTime "${sinceTime}" is not an RFC 3339 time`)
  }
  return {
    namespace: decodeURIComponent(m[1]!),
    pod: decodeURIComponent(m[2]!),
    container: decodeURIComponent(m[3]!),
    follow: flag('follow'),
    previous: flag('previous'),
    timestamps: flag('timestamps'),
    tailLines: intParam(q, 'tailLines'),
    limitBytes: intParam(q, 'limitBytes'),
    since,
  }
}

export class KubeletServer {
  readonly #api: KubeletApi
  readonly #servers: Server[] = []

  constructor(api: KubeletApi) {
    this.#api = api
  }

  async start(opts: KubeletServerOptions): Promise<void> {
    const make = () => createServer((req, res) => void this.#handle(req, res))
    if (opts.socketPath) {
      await rm(opts.socketPath, { force: true })
      const s = make()
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(opts.socketPath, resolve))
      this.#servers.push(s)
    }
    if (opts.listen) {
      const i = opts.listen.lastIndexOf(':')
      const s = make()
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(Number(opts.listen!.slice(i + 1)), opts.listen!.slice(0, i).replace(/^\[|\]$/g, ''), resolve))
      this.#servers.push(s)
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve())
            s.closeAllConnections()
          }),
      ),
    )
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kubelet')
    const abort = new AbortController()
    res.on('close', () => abort.abort())
    try {
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
        return
      }
      if (url.pathname === '/pods') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.#api.pods() }))
        return
      }
      const logReq = parseLogRequest(url.pathname, url.searchParams)
      if (!logReq) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found')
        return
      }
      const iterator = this.#api.logs(logReq, abort.signal)[Symbol.asyncIterator]()
      // The first read tells a missing container apart before the 200 goes out.
      let first: IteratorResult<string | Buffer>
      first = await iterator.next()
      res.writeHead(200, { 'content-type': 'text/plain' })
      let next = first
      while (!next.done) {
        if (!res.write(next.value)) await new Promise((r) => res.once('drain', r))
        if (abort.signal.aborted) break
        next = await iterator.next()
      }
      await iterator.return?.()
      res.end()
    } catch (err) {
      if (err instanceof LogRequestError && !res.headersSent) {
        res.writeHead(err.status, { 'content-type': 'text/plain' }).end(err.message)
        return
      }
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end((err as Error).message)
      else res.destroy()
    }
  }
}
