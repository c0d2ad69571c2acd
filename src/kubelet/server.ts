// The kubelet's own API, as much of it as the API server uses: container logs for
// `kubectl logs`, the stats summary for the metrics API, plus health and the pod list. HTTPS only, with the node's serving
// certificate, on a unix socket (lab nodes; mode 0600) and/or TCP; every request is
// authenticated and authorized (api-auth.ts) before anything else, /healthz included
// (anonymous access is off, as kubeadm configures the kubelet).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Server } from 'node:https'
import { chmod, rm } from 'node:fs/promises'
import type { SecureContextOptions } from 'node:tls'
import type { V1Pod } from '@kubernetes/client-node'
import { parseGoBool } from '../util/go-bool.ts'
import { createLimitedHttpsServer, type HttpLimits } from '../util/http-limits.ts'
import { kubeletAuthorizationError, kubeletForbidden, kubeletRequestAttributes } from './api-attributes.ts'
import type { KubeletRequestAuth } from './api-auth.ts'
import { cpuAndMemoryOnly, parseSummaryRequest, StatsUnavailableError, type SummaryRequest } from './stats/serve.ts'
import type { Summary } from './stats/summary.ts'
import { rejectUpgrade } from '../util/http-upgrade.ts'
import { parsePortForwardPath, PortForwardService, type PortForwardTarget } from './streaming/port-forward-upgrade.ts'

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
  /** The node's stats (`GET /stats/summary`); absent, or throwing StatsUnavailableError: answered 503. */
  statsSummary?(req: SummaryRequest): Promise<Summary>
  /** Where `kubectl port-forward` to this pod connects; undefined: no such running pod. Unset: /portForward answers 404. */
  portForwardTarget?(namespace: string, pod: string): PortForwardTarget | undefined
}

/** Serves an upgrade request (exec, attach, port forwarding) that has been authenticated and authorized. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => Promise<void>

export interface KubeletServerOptions {
  socketPath?: string
  /** host:port; unset: no TCP listener. */
  listen?: string
  /** The node's serving certificate (followed by any intermediates) and its key. */
  serving: { certPem: string; keyPem: string }
}

export interface KubeletSecurity {
  /** The node this kubelet is: requests are authorized as nodes/<subresource> of this name. */
  nodeName: string
  /** The CAs whose client certificates authenticate (the cluster CA); unset: bearer tokens only. */
  clientCaPem?: string
  auth: KubeletRequestAuth
}

/** Limits of each listener: a node agent that a handful of API servers call. */
export const kubeletLimits: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
  maxHeaderSize: 16 * 1024,
  maxRequestsPerSocket: 10_000,
}

const NUMBER_PARAMS = ['tailLines', 'limitBytes', 'sinceSeconds'] as const

function intParam(q: URLSearchParams, name: (typeof NUMBER_PARAMS)[number]): number | undefined {
  const values = q.getAll(name)
  if (values.length === 0) return undefined
  if (values.length > 1) throw new LogRequestError(400, `${name} is given ${values.length} times; give it once`)
  const v = values[0]!
  if (!/^\d{1,15}$/.test(v)) throw new LogRequestError(400, `${name} ${JSON.stringify(v.slice(0, 64))} must be a non-negative integer below 10^15`)
  return Number(v)
}

/** Go's strconv.ParseBool spellings, as the kubelet parses them; absent or empty is false. */
function flagParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name)
  if (v === null || v === '') return false
  const parsed = parseGoBool(v)
  if (parsed !== undefined) return parsed
  throw new LogRequestError(400, `${name} ${JSON.stringify(v.slice(0, 64))} must be true or false`)
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/i

function segment(raw: string, what: string): string {
  let v: string
  try {
    v = decodeURIComponent(raw)
  } catch {
    throw new LogRequestError(400, `the ${what} in the path is not valid percent-encoding`)
  }
  if (v.length > 253 || /[\u0000-\u001f/]/.test(v)) throw new LogRequestError(400, `the ${what} ${JSON.stringify(v.slice(0, 64))} is not a valid name`)
  return v
}

/** The log request of a `/containerLogs/NS/POD/CONTAINER` path; undefined for any other path. */
export function parseLogRequest(path: string, q: URLSearchParams, now = new Date()): LogRequest | undefined {
  const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path)
  if (!m) return undefined
  const sinceSeconds = intParam(q, 'sinceSeconds')
  const sinceTime = q.get('sinceTime')
  if (sinceSeconds !== undefined && sinceTime !== null) throw new LogRequestError(400, 'give at most one of sinceSeconds and sinceTime')
  let since: Date | undefined
  // Further back than the epoch is the same as "from the start".
  if (sinceSeconds !== undefined) since = new Date(Math.max(0, now.getTime() - sinceSeconds * 1000))
  else if (sinceTime !== null) {
    since = RFC3339.test(sinceTime) ? new Date(sinceTime) : new Date(NaN)
    if (Number.isNaN(since.getTime())) throw new LogRequestError(400, `sinceTime ${JSON.stringify(sinceTime.slice(0, 64))} is not an RFC 3339 time (like 2024-05-01T10:00:00Z)`)
  }
  return {
    namespace: segment(m[1]!, 'namespace'),
    pod: segment(m[2]!, 'pod name'),
    container: segment(m[3]!, 'container name'),
    follow: flagParam(q, 'follow'),
    previous: flagParam(q, 'previous'),
    timestamps: flagParam(q, 'timestamps'),
    tailLines: intParam(q, 'tailLines'),
    limitBytes: intParam(q, 'limitBytes'),
    since,
  }
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers }).end(body)
}

export class KubeletServer {
  readonly #api: KubeletApi
  readonly #security: KubeletSecurity
  readonly #servers: Server[] = []
  readonly #limits: HttpLimits
  /** /portForward sessions and their per-pod dialers (call `podGone(netnsPath)` when a pod's sandbox goes). */
  readonly portForward: PortForwardService
  /** Path prefix ('/exec/') → the handler of upgrade requests under it. */
  readonly #upgrades = new Map<string, UpgradeHandler>()

  constructor(api: KubeletApi, security: KubeletSecurity, limits: Partial<HttpLimits> = {}) {
    this.#api = api
    this.#security = security
    this.#limits = { ...kubeletLimits, ...limits }
    this.portForward = new PortForwardService({ target: (ns, pod) => this.#api.portForwardTarget?.(ns, pod) })
    this.handleUpgrades('/portForward/', async (req, socket, head, url) => {
      const path = parsePortForwardPath(url.pathname)
      if (path === undefined) return rejectUpgrade(socket, 404, '404 page not found')
      if (path instanceof Error) return rejectUpgrade(socket, 400, path.message)
      if (req.method !== 'GET' && req.method !== 'POST') return rejectUpgrade(socket, 405, `method ${req.method} is not allowed; port-forward is GET or POST`)
      this.portForward.upgrade(req, socket, head, path)
    })
  }

  #tls(serving: KubeletServerOptions['serving']): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    const ca = this.#security.clientCaPem
    // A client certificate is asked for, not required: a caller may use a bearer token instead.
    return { cert: serving.certPem, key: serving.keyPem, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}), requestCert: Boolean(ca), rejectUnauthorized: false }
  }

  async start(opts: KubeletServerOptions): Promise<void> {
    const tls = this.#tls(opts.serving)
    const make = () => createLimitedHttpsServer(this.#limits, tls, (req, res) => void this.#handle(req, res)).on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(req, socket, head))
    if (opts.socketPath) {
      await rm(opts.socketPath, { force: true })
      const s = make()
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(opts.socketPath, resolve))
      this.#servers.push(s)
      await chmod(opts.socketPath, 0o600)
    }
    if (opts.listen) {
      const i = opts.listen.lastIndexOf(':')
      const s = make()
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(Number(opts.listen!.slice(i + 1)), opts.listen!.slice(0, i).replace(/^\[|\]$/g, ''), resolve))
      this.#servers.push(s)
    }
  }

  /** Sends upgrade requests for paths under `prefix` (like '/exec/') to `handler`, after the same authentication and authorization as every request. */
  handleUpgrades(prefix: string, handler: UpgradeHandler): void {
    this.#upgrades.set(prefix, handler)
  }

  #upgradeHandler(pathname: string): UpgradeHandler | undefined {
    for (const [prefix, handler] of this.#upgrades) if (pathname.startsWith(prefix)) return handler
    return undefined
  }

  /** Serves a renewed certificate from now on (connections already open keep the old one). */
  setServingCertificate(serving: KubeletServerOptions['serving']): void {
    const tls = this.#tls(serving)
    for (const s of this.#servers) s.setSecureContext(tls)
  }

  /** Open connections over all listeners. */
  async connections(): Promise<number> {
    const counts = await Promise.all(this.#servers.map((s) => new Promise<number>((resolve) => s.getConnections((err, n) => resolve(err ? 0 : n)))))
    return counts.reduce((a, b) => a + b, 0)
  }

  async close(): Promise<void> {
    await this.portForward.close()
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

  /** Authenticates and authorizes the request: undefined when it may go on, else the refusal (401, 403 or 500). */
  async #refusal(req: IncomingMessage, pathname: string): Promise<{ status: 401 | 403 | 500; body: string } | undefined> {
    const { auth, nodeName } = this.#security
    const authn = await auth.authenticate(req)
    if (!('user' in authn)) return { status: 401, body: 'Unauthorized' }
    const attributes = kubeletRequestAttributes(authn.user, req.method, pathname, nodeName)
    try {
      if ((await auth.authorize(attributes)).decision === 'allow') return undefined
    } catch {
      return { status: 500, body: kubeletAuthorizationError(attributes) }
    }
    return { status: 403, body: kubeletForbidden(attributes) }
  }

  /** Authenticates and authorizes the request; answers 401, 403 or 500 itself when it may not go on. */
  async #allowed(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    const refusal = await this.#refusal(req, pathname)
    if (refusal) text(res, refusal.status, refusal.body)
    return refusal === undefined
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // A peer that resets the connection is its own problem.
    socket.on('error', () => socket.destroy())
    try {
      const url = req.url?.startsWith('/') ? URL.parse(req.url, 'http://kubelet') : null
      if (!url) return rejectUpgrade(socket, 400, 'the request target must be a path (origin form)')
      const refusal = await this.#refusal(req, url.pathname)
      if (refusal) return rejectUpgrade(socket, refusal.status, refusal.body)
      const handler = this.#upgradeHandler(url.pathname)
      if (!handler) return rejectUpgrade(socket, 404, '404 page not found')
      await handler(req, socket, head, url)
    } catch (err) {
      rejectUpgrade(socket, 500, err instanceof Error ? err.message : String(err))
    }
  }

  async #summary(query: URLSearchParams, res: ServerResponse): Promise<void> {
    const req = parseSummaryRequest(query)
    let summary: Summary
    try {
      if (!this.#api.statsSummary) throw new StatsUnavailableError('this kubelet does not collect stats (no cgroup stats collector is running)')
      summary = await this.#api.statsSummary(req)
    } catch (err) {
      if (err instanceof StatsUnavailableError) text(res, 503, `stats are not available: ${err.message}`)
      else text(res, 500, `Internal Error: failed to get summary stats: ${err instanceof Error ? err.message : String(err)}`)
      return
    }
    const body = JSON.stringify(req.onlyCpuAndMemory ? cpuAndMemoryOnly(summary) : summary)
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const abort = new AbortController()
    res.on('close', () => abort.abort())
    let iterator: AsyncIterator<string | Buffer> | undefined
    try {
      let url: URL
      try {
        url = new URL(req.url ?? '/', 'http://kubelet')
      } catch {
        throw new LogRequestError(400, 'the request target is not a valid path')
      }
      if (!req.url?.startsWith('/')) throw new LogRequestError(400, 'the request target must be a path (origin form)')
      if (!(await this.#allowed(req, res, url.pathname))) return
      if (this.#upgradeHandler(url.pathname)) {
        text(res, 400, 'Upgrade request required: this path streams over WebSocket (Connection: Upgrade, Upgrade: websocket)')
        return
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        text(res, 405, `method ${req.method} is not allowed; the kubelet API answers GET`, { allow: 'GET, HEAD' })
        return
      }
      if (url.pathname === '/healthz') {
        text(res, 200, 'ok')
        return
      }
      if (url.pathname === '/pods') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.#api.pods() }))
        return
      }
      if (url.pathname === '/stats/summary') {
        await this.#summary(url.searchParams, res)
        return
      }
      const logReq = parseLogRequest(url.pathname, url.searchParams)
      if (!logReq) {
        text(res, 404, '404 page not found')
        return
      }
      iterator = this.#api.logs(logReq, abort.signal)[Symbol.asyncIterator]()
      // The first read tells a missing container apart before the 200 goes out.
      let next = await iterator.next()
      if (abort.signal.aborted) return
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' })
      while (!next.done && !abort.signal.aborted) {
        if (!res.write(next.value)) {
          // A client that stops reading: wait for it, or for it to go.
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done)
              abort.signal.removeEventListener('abort', done)
              resolve()
            }
            res.once('drain', done)
            abort.signal.addEventListener('abort', done, { once: true })
          })
        }
        if (abort.signal.aborted) break
        next = await iterator.next()
      }
      res.end()
    } catch (err) {
      if (res.headersSent) res.destroy()
      else if (err instanceof LogRequestError) text(res, err.status, err.message)
      else text(res, 500, err instanceof Error ? err.message : String(err))
    } finally {
      await iterator?.return?.().catch(() => undefined)
    }
  }
}
