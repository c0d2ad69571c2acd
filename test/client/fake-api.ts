// A small in-memory Kubernetes API for the client tests: CRUD on any `/api` or `/apis`
// collection, paged lists, ndjson watches from a resourceVersion with compaction (410),
// bookmarks, and hooks to close streams or fail the next request.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { randomUUID } from 'node:crypto'

export interface FakeObject {
  apiVersion?: string
  kind?: string
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; [k: string]: unknown }
  [k: string]: unknown
}

export interface RecordedRequest {
  method: string
  path: string
  query: URLSearchParams
  headers: http.IncomingHttpHeaders
  body: string
}

interface Watcher {
  plural: string
  namespace: string | undefined
  bookmarks: boolean
  res: http.ServerResponse
}

interface HistoryEntry {
  rv: number
  plural: string
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  object: FakeObject
}

interface Route {
  plural: string
  namespace: string | undefined
  name: string | undefined
  subresource: string | undefined
}

const routeRe = /^\/(?:api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/

function clone<T>(x: T): T {
  return structuredClone(x)
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

export class FakeApi {
  readonly server: http.Server
  rv = 100
  /** Watches from a resourceVersion below this get 410. */
  compactedRv = 0
  /** How a too-old watch is refused: a 200 stream with an ERROR event, or a 410 response. */
  expiredAs: 'event' | 'status' = 'event'
  /** When set, a list with a `continue` token answers 410 (as an expired continue does). */
  expireContinue = false
  readonly requests: RecordedRequest[] = []
  readonly objects = new Map<string, FakeObject>()
  readonly connections = new Set<Socket>()
  #history: HistoryEntry[] = []
  #watchers = new Set<Watcher>()
  #failures: { status: number; body: string }[] = []

  constructor() {
    this.server = http.createServer((req, res) => this.#handle(req, res))
    this.server.on('connection', (socket) => {
      this.connections.add(socket)
      socket.on('close', () => this.connections.delete(socket))
    })
  }

  static async listen(where: { socketPath?: string } = {}): Promise<FakeApi> {
    const fake = new FakeApi()
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject)
      if (where.socketPath) fake.server.listen(where.socketPath, resolve)
      else fake.server.listen(0, '127.0.0.1', resolve)
    })
    return fake
  }

  get url(): string {
    const addr = this.server.address() as AddressInfo
    return `http://127.0.0.1:${addr.port}`
  }

  get watchCount(): number {
    return this.#watchers.size
  }

  watchRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.query.get('watch') === 'true')
  }

  listRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'GET' && r.query.get('watch') !== 'true')
  }

  /**
   * Creates or replaces an object as a client write would: new resourceVersion, a watch
   * event. `silent` skips the event, as if it happened in a compacted past.
   */
  put(plural: string, obj: FakeObject, opts: { silent?: boolean } = {}): FakeObject {
    const key = this.#key(plural, obj.metadata.namespace, obj.metadata.name)
    const old = this.objects.get(key)
    const stored = clone(obj)
    stored.metadata.uid = old?.metadata.uid ?? stored.metadata.uid ?? randomUUID()
    stored.metadata.resourceVersion = String(++this.rv)
    this.objects.set(key, stored)
    if (!opts.silent) this.#emit({ rv: this.rv, plural, type: old ? 'MODIFIED' : 'ADDED', object: stored })
    return clone(stored)
  }

  /** Deletes an object; `silent` skips the watch event, as if it happened in a compacted past. */
  remove(plural: string, namespace: string | undefined, name: string, opts: { silent?: boolean } = {}): FakeObject | undefined {
    const key = this.#key(plural, namespace, name)
    const old = this.objects.get(key)
    if (!old) return undefined
    this.objects.delete(key)
    const gone = clone(old)
    gone.metadata.resourceVersion = String(++this.rv)
    if (!opts.silent) this.#emit({ rv: this.rv, plural, type: 'DELETED', object: gone })
    return gone
  }

  /** Forgets all history: watches from before now get 410. */
  compact(): void {
    this.compactedRv = this.rv
    this.#history = []
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that allows them. */
  bookmark(): void {
    for (const w of this.#watchers) {
      if (!w.bookmarks) continue
      w.res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Bookmark', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } }) + '\n')
    }
  }

  /** Writes raw bytes to every open watch stream. */
  sendRaw(data: string): void {
    for (const w of this.#watchers) w.res.write(data)
  }

  /** Ends every open watch stream cleanly (as a server-side timeout does). */
  closeWatches(): void {
    for (const w of this.#watchers) w.res.end()
    this.#watchers.clear()
  }

  /** The next non-watch request answers `status` with `body` (a Status or raw text). */
  failNext(status: number, body: unknown): void {
    this.#failures.push({ status, body: typeof body === 'string' ? body : JSON.stringify(body) })
  }

  async close(): Promise<void> {
    this.closeWatches()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  #key(plural: string, namespace: string | undefined, name: string): string {
    return `${plural}/${namespace ?? ''}/${name}`
  }

  #emit(entry: HistoryEntry): void {
    this.#history.push(entry)
    for (const w of this.#watchers) if (this.#matches(w.plural, w.namespace, entry)) this.#send(w.res, entry)
  }

  #matches(plural: string, namespace: string | undefined, entry: HistoryEntry): boolean {
    return entry.plural === plural && (!namespace || entry.object.metadata.namespace === namespace)
  }

  #send(res: http.ServerResponse, entry: HistoryEntry): void {
    res.write(JSON.stringify({ type: entry.type, object: entry.object }) + '\n')
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake')
      const body = Buffer.concat(chunks).toString('utf8')
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body })
      const m = routeRe.exec(url.pathname)
      if (!m) return this.#status(res, 404, 'NotFound', `no route for ${url.pathname}`)
      const route: Route = { namespace: m[1], plural: m[2], name: m[3], subresource: m[4] }
      if (url.searchParams.get('watch') === 'true') return this.#watch(req, res, route, url.searchParams)
      const failure = this.#failures.shift()
      if (failure) {
        res.writeHead(failure.status, { 'content-type': failure.body.startsWith('{') ? 'application/json' : 'text/plain' })
        return res.end(failure.body)
      }
      this.#crud(res, route, req.method ?? 'GET', url.searchParams, body)
    })
  }

  #status(res: http.ServerResponse, code: number, reason: string, message: string, details?: Record<string, unknown>): void {
    this.#json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 300 ? 'Success' : 'Failure', message, reason, code, ...(details ? { details } : {}) })
  }

  #json(res: http.ServerResponse, code: number, value: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' })
    res.end(JSON.stringify(value))
  }

  #crud(res: http.ServerResponse, route: Route, method: string, query: URLSearchParams, body: string): void {
    const { plural, namespace, name } = route
    if (!name) {
      if (method === 'GET') return this.#list(res, route, query)
      if (method === 'POST') {
        const obj = JSON.parse(body) as FakeObject
        if (namespace) obj.metadata.namespace = namespace
        if (this.objects.has(this.#key(plural, namespace, obj.metadata.name))) {
          return this.#status(res, 409, 'AlreadyExists', `${plural} "${obj.metadata.name}" already exists`, { name: obj.metadata.name, kind: plural })
        }
        return this.#json(res, 201, this.put(plural, obj))
      }
      return this.#status(res, 405, 'MethodNotAllowed', `${method} is not allowed on a collection`)
    }
    const key = this.#key(plural, namespace, name)
    const current = this.objects.get(key)
    if (!current) return this.#status(res, 404, 'NotFound', `${plural} "${name}" not found`, { name, kind: plural })
    if (method === 'GET') return this.#json(res, 200, current)
    if (method === 'PUT') {
      const obj = JSON.parse(body) as FakeObject
      const want = obj.metadata.resourceVersion
      if (want && want !== current.metadata.resourceVersion) {
        return this.#status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: plural })
      }
      const next = route.subresource === 'status' ? { ...clone(current), status: obj.status } : obj
      return this.#json(res, 200, this.put(plural, next))
    }
    if (method === 'PATCH') return this.#json(res, 200, this.put(plural, mergePatch(current, JSON.parse(body)) as FakeObject))
    if (method === 'DELETE') {
      this.remove(plural, namespace, name)
      return this.#status(res, 200, '', '', { name, kind: plural })
    }
    return this.#status(res, 405, 'MethodNotAllowed', `${method} is not allowed`)
  }

  #list(res: http.ServerResponse, route: Route, query: URLSearchParams): void {
    if (query.get('continue') && this.expireContinue) {
      return this.#status(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.')
    }
    const selector = query.get('labelSelector')
    const [lk, lv] = selector ? selector.split('=') : []
    const items = [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(`${route.plural}/`) && (!route.namespace || o.metadata.namespace === route.namespace))
      .filter(([, o]) => !lk || o.metadata.labels?.[lk] === lv)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, o]) => {
        const item = clone(o)
        delete item.apiVersion
        delete item.kind
        return item
      })
    const offset = Number(query.get('continue') ?? 0)
    const limit = Number(query.get('limit') ?? 0)
    const page = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset)
    const more = limit > 0 && offset + limit < items.length
    this.#json(res, 200, {
      kind: 'List',
      apiVersion: 'v1',
      metadata: { resourceVersion: String(this.rv), ...(more ? { continue: String(offset + limit) } : {}) },
      items: page,
    })
  }

  #watch(req: http.IncomingMessage, res: http.ServerResponse, route: Route, query: URLSearchParams): void {
    const from = Number(query.get('resourceVersion') || 0)
    if (from > 0 && from < this.compactedRv) {
      const message = `too old resource version: ${from} (${this.compactedRv})`
      if (this.expiredAs === 'status') return this.#status(res, 410, 'Expired', message)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Expired', code: 410 } }) + '\n')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    const watcher: Watcher = { plural: route.plural, namespace: route.namespace, bookmarks: query.get('allowWatchBookmarks') === 'true', res }
    let backlog = ''
    if (from === 0) {
      for (const [k, o] of this.objects) {
        if (k.startsWith(`${route.plural}/`) && (!route.namespace || o.metadata.namespace === route.namespace)) backlog += JSON.stringify({ type: 'ADDED', object: o }) + '\n'
      }
    } else {
      for (const e of this.#history) if (e.rv > from && this.#matches(route.plural, route.namespace, e)) backlog += JSON.stringify({ type: e.type, object: e.object }) + '\n'
    }
    // One write: many events arrive in one chunk.
    if (backlog) res.write(backlog)
    else res.flushHeaders()
    this.#watchers.add(watcher)
    req.socket.on('close', () => this.#watchers.delete(watcher))
    res.on('close', () => this.#watchers.delete(watcher))
  }
}
