// The REST client: typed verbs over a ResourceInfo, speaking the Kubernetes REST API over HTTP/1.1.
import { TokenSource, type Credentials } from './credentials.ts'
import { HttpTransport, type HttpMethod, type TransportResponse } from './http-transport.ts'
import type { V1Preconditions, V1Status } from '@kubernetes/client-node'
import type { ResourceInfo } from '../api/registry.ts'
import { isExpired } from '../util/errors.ts'
import { errorFromResponse } from './api-status.ts'
import { resourcePath, withQuery } from './paths.ts'
import type { KubeObject, ObjectList } from './types.ts'
import { decodeWatchStream } from './watch-stream.ts'
import type { WatchEvent } from './watch-stream.ts'

/**
 * Where the API server is — a URL, or a unix socket path (crosses network namespaces) — and
 * how to authenticate there. Over a socket, TLS is spoken when credentials are given.
 */
export type ServerAddress = ({ server: string } | { socketPath: string }) & { credentials?: Credentials }

export interface RestClientOptions {
  userAgent?: string
  /** Limit on each request (headers, and body for non-watch requests). Default 30 s. */
  timeoutMs?: number
  /** Used for every write that does not name its own field manager. */
  fieldManager?: string
}

export interface CallOptions {
  signal?: AbortSignal
}

export interface ListOptions extends CallOptions {
  namespace?: string
  labelSelector?: string
  fieldSelector?: string
  limit?: number
  continue?: string
  resourceVersion?: string
  resourceVersionMatch?: 'Exact' | 'NotOlderThan'
}

export interface WriteOptions extends CallOptions {
  fieldManager?: string
  dryRun?: boolean
}

export interface CreateOptions extends WriteOptions {
  /** Used when the object itself names no namespace. */
  namespace?: string
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply'

export interface PatchOptions extends WriteOptions {
  /** Server-side apply only: take ownership of conflicting fields. */
  force?: boolean
  subresource?: string
}

export interface DeleteOptions extends CallOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground'
  preconditions?: V1Preconditions
  gracePeriodSeconds?: number
  dryRun?: boolean
}

export interface WatchOptions extends CallOptions {
  namespace?: string
  resourceVersion?: string
  labelSelector?: string
  fieldSelector?: string
  allowWatchBookmarks?: boolean
  timeoutSeconds?: number
}

export interface RequestOptions extends CallOptions {
  /** Content type of `body`; default application/json. */
  contentType?: string
  query?: Record<string, string | number | boolean | undefined>
}

export const patchContentTypes: Readonly<Record<PatchType, string>> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
}

interface SendOptions {
  body?: unknown
  contentType?: string
  signal?: AbortSignal
}

export class RestClient {
  readonly userAgent: string
  readonly timeoutMs: number
  readonly fieldManager: string | undefined
  #origin: string
  #dispatcher: HttpTransport
  #tokens: TokenSource
  #address: ServerAddress

  constructor(address: ServerAddress, opts: RestClientOptions = {}) {
    this.userAgent = opts.userAgent ?? 'weft/0.1.0'
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.fieldManager = opts.fieldManager
    this.#address = address
    this.#origin = 'socketPath' in address ? (address.credentials ? 'https://localhost' : 'http://localhost') : new URL(address.server).origin
    this.#tokens = new TokenSource(address.credentials ?? {})
    this.#dispatcher = this.#connect(address.credentials)
  }

  #connect(c: Credentials = {}): HttpTransport {
    const tls = { ca: c.caPem, cert: c.certPem, key: c.keyPem, servername: c.serverName, rejectUnauthorized: !c.insecureSkipTlsVerify }
    return new HttpTransport({ origin: this.#origin, ...('socketPath' in this.#address ? { socketPath: this.#address.socketPath } : {}), tls })
  }

  /**
   * Authenticates with new credentials from now on (a renewed client certificate): new
   * requests use new connections; those in flight, watches included, finish on the old.
   */
  setCredentials(credentials: Credentials): void {
    const old = this.#dispatcher
    this.#tokens = new TokenSource(credentials)
    this.#dispatcher = this.#connect(credentials)
    void old.close().catch(() => {})
  }

  /** The headers every request carries: content negotiation, user agent, credentials. */
  #headers(): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent }
    const token = this.#tokens.token()
    if (token) headers.authorization = `Bearer ${token}`
    return headers
  }

  async get<T extends KubeObject = KubeObject>(info: ResourceInfo, name: string, namespace?: string, opts: CallOptions = {}): Promise<T> {
    const path = resourcePath(info, requireNamespace(info, namespace, 'get'), name)
    return (await this.#send('GET', path, opts)) as T
  }

  async list<T extends KubeObject = KubeObject>(info: ResourceInfo, opts: ListOptions = {}): Promise<ObjectList<T>> {
    const path = withQuery(resourcePath(info, opts.namespace), {
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      limit: opts.limit,
      continue: opts.continue,
      resourceVersion: opts.resourceVersion,
      resourceVersionMatch: opts.resourceVersionMatch,
    })
    const list = (await this.#send('GET', path, opts)) as Partial<ObjectList<T>> | undefined
    const meta = list?.metadata
    return {
      apiVersion: list?.apiVersion,
      kind: list?.kind,
      metadata: {
        resourceVersion: meta?.resourceVersion ?? '',
        ...(meta?.continue ? { continue: meta.continue } : {}),
        ...(meta?.remainingItemCount !== undefined ? { remainingItemCount: meta.remainingItemCount } : {}),
      },
      items: Array.isArray(list?.items) ? list.items : [],
    }
  }

  /**
   * Every page of a list, following `continue` (pages of `limit`, default 500). When a
   * continue token expires mid-way, lists again in one unpaged request. `map` is applied to
   * each item as its page arrives: a caller that keeps a few fields of each object never
   * holds the whole list of full objects (the informer's transform).
   */
  async listAll<T extends KubeObject = KubeObject>(info: ResourceInfo, opts: ListOptions & { map?: (item: T) => T } = {}): Promise<ObjectList<T>> {
    const limit = opts.limit ?? 500
    const map = opts.map
    const items: T[] = []
    let page = await this.list<T>(info, { ...opts, limit })
    for (;;) {
      for (const item of page.items) items.push(map ? map(item) : item)
      const cont = page.metadata.continue
      if (!cont) break
      try {
        page = await this.list<T>(info, { ...opts, limit, continue: cont, resourceVersion: undefined, resourceVersionMatch: undefined })
      } catch (err) {
        if (!isExpired(err)) throw err
        const whole = await this.list<T>(info, { ...opts, limit: undefined, continue: undefined })
        return map ? { ...whole, items: whole.items.map(map) } : whole
      }
    }
    return { apiVersion: page.apiVersion, kind: page.kind, metadata: { resourceVersion: page.metadata.resourceVersion }, items }
  }

  async create<T extends KubeObject>(info: ResourceInfo, obj: T, opts: CreateOptions = {}): Promise<T> {
    const ns = requireNamespace(info, obj.metadata?.namespace || opts.namespace, 'create')
    const path = withQuery(resourcePath(info, ns), this.#writeQuery(opts))
    return (await this.#send('POST', path, { ...opts, body: obj })) as T
  }

  /** PUT of the whole object; carries `metadata.resourceVersion` for compare-and-swap. */
  async update<T extends KubeObject>(info: ResourceInfo, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#put(info, obj, undefined, opts)
  }

  async updateStatus<T extends KubeObject>(info: ResourceInfo, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#put(info, obj, 'status', opts)
  }

  async patch<T extends KubeObject = KubeObject>(
    info: ResourceInfo,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    type: PatchType,
    opts: PatchOptions = {},
  ): Promise<T> {
    const path = withQuery(resourcePath(info, requireNamespace(info, namespace, 'patch'), name, opts.subresource), {
      ...this.#writeQuery(opts),
      force: type === 'apply' && opts.force ? true : undefined,
    })
    return (await this.#send('PATCH', path, { signal: opts.signal, body: patch, contentType: patchContentTypes[type] })) as T
  }

  /**
   * Deletes one object. The server answers with the object while finalizers or a grace
   * period hold it, and with a Success Status once it is gone.
   */
  async delete<T extends KubeObject = KubeObject>(info: ResourceInfo, name: string, namespace: string | undefined, opts: DeleteOptions = {}): Promise<T | V1Status> {
    const path = resourcePath(info, requireNamespace(info, namespace, 'delete'), name)
    const body: Record<string, unknown> = {}
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy
    if (opts.preconditions) body.preconditions = opts.preconditions
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds
    if (opts.dryRun) body.dryRun = ['All']
    const hasBody = Object.keys(body).length > 0
    const sent = hasBody ? { apiVersion: 'v1', kind: 'DeleteOptions', ...body } : undefined
    return (await this.#send('DELETE', path, { signal: opts.signal, body: sent })) as T | V1Status
  }

  /** Any request; `body` other than a string is sent as JSON. Answers with parsed JSON (or text). */
  async request<T = unknown>(method: HttpMethod, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const full = opts.query ? withQuery(path, opts.query) : path
    return (await this.#send(method, full, { body, contentType: opts.contentType, signal: opts.signal })) as T
  }

  /**
   * Watches a collection from `resourceVersion`. Iterating opens the request; the events
   * arrive as the server sends them. An ERROR event or a failed response throws its
   * ApiError (410 when the resourceVersion is too old). The iteration ends when the server
   * closes the stream, or quietly when `signal` aborts; leaving the loop early closes it.
   */
  async *watch<T extends KubeObject = KubeObject>(info: ResourceInfo, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const path = withQuery(resourcePath(info, opts.namespace), {
      watch: 'true',
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      allowWatchBookmarks: opts.allowWatchBookmarks ? 'true' : undefined,
      timeoutSeconds: opts.timeoutSeconds,
    })
    let res: TransportResponse
    try {
      res = await this.#dispatcher.request({
        path,
        method: 'GET',
        headers: this.#headers(),
        signal: opts.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: 0,
      })
    } catch (err) {
      if (opts.signal?.aborted) return
      throw err
    }
    try {
      if (res.statusCode < 200 || res.statusCode >= 300) throw errorFromResponse(res.statusCode, await res.text())
      yield* decodeWatchStream<T>(res.body)
    } catch (err) {
      if (opts.signal?.aborted) return
      throw err
    } finally {
      if (!res.body.destroyed) res.body.destroy()
    }
  }

  /** Closes idle connections once requests in flight finish. */
  /** GETs `path` for its body as a byte stream (a file, say); a non-2xx answer is an ApiError. */
  async stream(path: string, opts: { signal?: AbortSignal } = {}): Promise<NodeJS.ReadableStream & AsyncIterable<Buffer>> {
    const res = await this.#dispatcher.request({ path, method: 'GET', headers: { ...this.#headers(), accept: '*/*' }, signal: opts.signal, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs })
    if (res.statusCode < 200 || res.statusCode >= 300) throw errorFromResponse(res.statusCode, await res.text())
    return res.body
  }

  async close(): Promise<void> {
    if (!this.#dispatcher.closed) await this.#dispatcher.close()
  }

  /** Closes every connection now, failing requests in flight. */
  async destroy(): Promise<void> {
    if (!this.#dispatcher.destroyed) await this.#dispatcher.destroy()
  }

  async #put<T extends KubeObject>(info: ResourceInfo, obj: T, subresource: string | undefined, opts: WriteOptions): Promise<T> {
    const name = obj.metadata?.name
    if (!name) throw new TypeError(`update ${info.plural}: the object has no metadata.name`)
    const ns = requireNamespace(info, obj.metadata?.namespace, 'update')
    const path = withQuery(resourcePath(info, ns, name, subresource), this.#writeQuery(opts))
    return (await this.#send('PUT', path, { ...opts, body: obj })) as T
  }

  #writeQuery(opts: WriteOptions): Record<string, string | undefined> {
    return { fieldManager: opts.fieldManager ?? this.fieldManager, dryRun: opts.dryRun ? 'All' : undefined }
  }

  async #send(method: HttpMethod, path: string, opts: SendOptions): Promise<unknown> {
    const headers = this.#headers()
    let body: string | undefined
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)
      headers['content-type'] = opts.contentType ?? 'application/json'
    }
    const res = await this.#dispatcher.request({
      path,
      method,
      headers,
      body,
      signal: opts.signal,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    })
    const text = await res.text()
    if (res.statusCode < 200 || res.statusCode >= 300) throw errorFromResponse(res.statusCode, text)
    if (text === '') return undefined
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
}

function requireNamespace(info: ResourceInfo, namespace: string | undefined, verb: string): string | undefined {
  if (!info.namespaced) return undefined
  if (!namespace) throw new TypeError(`${verb} ${info.plural}: ${info.kind} is namespaced, so a namespace is required`)
  return namespace
}
