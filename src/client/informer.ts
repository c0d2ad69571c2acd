// Informer: list, then watch from the list's resourceVersion, keeping an indexed cache and
// telling handlers about every change, across reconnects and relists.
import type { ResourceInfo } from '../api/registry.ts'
import { apiVersionOf } from '../api/registry.ts'
import { isExpired } from '../util/errors.ts'
import { Backoff, sleep } from './backoff.ts'
import type { BackoffOptions } from './backoff.ts'
import { Indexer } from './indexer.ts'
import type { IndexFunc } from './indexer.ts'
import { compareResourceVersions } from './resource-version.ts'
import type { RestClient } from './rest-client.ts'
import type { KubeObject } from './types.ts'
import type { WatchEvent } from './watch-stream.ts'

/** What an informer needs of a client: RestClient, or any stand-in with these two verbs. */
export type ListWatchClient = Pick<RestClient, 'listAll' | 'watch'>

export interface InformerHandlers<T> {
  onAdd?(obj: T): void
  onUpdate?(oldObj: T, newObj: T): void
  /** Gets the object's last state: the DELETED event's, or the cached one when a relist found it gone. */
  onDelete?(obj: T): void
}

/** A pino logger fits. */
export interface InformerLogger {
  warn(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

export interface InformerOptions<T> {
  namespace?: string
  labelSelector?: string
  fieldSelector?: string
  /** Every resyncMs, `onUpdate(obj, obj)` for every cached object. Off by default. */
  resyncMs?: number
  /** Extra indices; a `namespace` index is always there. */
  indexers?: Record<string, IndexFunc<T>>
  /** List page size. Default 500. */
  pageSize?: number
  /** Reconnect delays after failures. Default 500 ms doubling to 30 s, jittered. */
  backoff?: BackoffOptions
  /** Asked of the server per watch request. Default: random in [300, 600). */
  watchTimeoutSeconds?: number
  logger?: InformerLogger
  /**
   * Applied to every object before it is cached or handed to handlers (client-go's
   * SetTransform): a component that reads a few fields keeps only those.
   */
  transform?: (obj: T) => T
}

/** A watch that ran at least this long was healthy even if it saw no events. */
const healthyWatchMs = 1000

export class Informer<T extends KubeObject = KubeObject> {
  readonly client: ListWatchClient
  readonly info: ResourceInfo
  readonly indexer: Indexer<T>
  /** Handler calls that threw (and were logged) so far. */
  handlerErrors = 0
  #opts: InformerOptions<T>
  #handlers: InformerHandlers<T>[] = []
  #resourceVersion = ''
  #synced = false
  #syncWaiters = new Set<(synced: boolean) => void>()
  #abort: AbortController | undefined
  #running: Promise<void> | undefined
  #resyncTimer: NodeJS.Timeout | undefined

  constructor(client: ListWatchClient, info: ResourceInfo, opts: InformerOptions<T> = {}) {
    this.client = client
    this.info = info
    this.#opts = opts
    this.indexer = new Indexer<T>(opts.indexers)
  }

  /** The resourceVersion the cache is current to (from the last list, event or bookmark). */
  get resourceVersion(): string {
    return this.#resourceVersion
  }

  get running(): boolean {
    return this.#running !== undefined
  }

  hasSynced(): boolean {
    return this.#synced
  }

  /** True once the first list is in the cache; false if `signal` aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true)
    if (signal?.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      const onAbort = (): void => done(false)
      const done = (synced: boolean): void => {
        this.#syncWaiters.delete(done)
        signal?.removeEventListener('abort', onAbort)
        resolve(synced)
      }
      this.#syncWaiters.add(done)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** By key: `namespace/name`, or `name` for cluster-scoped kinds. Cached objects are shared: do not mutate them. */
  get(key: string): T | undefined {
    return this.indexer.get(key)
  }

  list(): T[] {
    return this.indexer.list()
  }

  byIndex(indexName: string, value: string): T[] {
    return this.indexer.byIndex(indexName, value)
  }

  /**
   * Registers handlers; objects already cached are replayed to `onAdd`. Returns a function
   * that unregisters them.
   */
  addHandlers(handlers: InformerHandlers<T>): () => void {
    this.#handlers.push(handlers)
    if (handlers.onAdd) for (const obj of this.indexer.list()) this.#call(handlers, 'onAdd', obj)
    return () => {
      this.#handlers = this.#handlers.filter((h) => h !== handlers)
    }
  }

  onAdd(fn: (obj: T) => void): () => void {
    return this.addHandlers({ onAdd: fn })
  }

  onUpdate(fn: (oldObj: T, newObj: T) => void): () => void {
    return this.addHandlers({ onUpdate: fn })
  }

  onDelete(fn: (obj: T) => void): () => void {
    return this.addHandlers({ onDelete: fn })
  }

  start(): void {
    if (this.#running) return
    const abort = new AbortController()
    this.#abort = abort
    this.#running = this.#run(abort.signal)
    if (this.#opts.resyncMs && this.#opts.resyncMs > 0) {
      this.#resyncTimer = setInterval(() => this.#resync(), this.#opts.resyncMs)
    }
  }

  /** Ends the watch request and every timer; resolves once nothing is left running. */
  async stop(): Promise<void> {
    clearInterval(this.#resyncTimer)
    this.#resyncTimer = undefined
    this.#abort?.abort()
    const running = this.#running
    if (running) await running
    this.#running = undefined
    this.#abort = undefined
    for (const done of [...this.#syncWaiters]) done(false)
  }

  async #run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.#opts.backoff)
    let needList = true
    while (!signal.aborted) {
      let expired = false
      try {
        if (needList) {
          await this.#relist(signal)
          if (signal.aborted) break
          needList = false
        }
        const started = Date.now()
        const events = await this.#watch(signal)
        if (signal.aborted) break
        if (events > 0 || Date.now() - started >= healthyWatchMs) {
          backoff.reset()
          continue
        }
      } catch (err) {
        if (signal.aborted) break
        expired = isExpired(err)
        if (expired) {
          needList = true
          this.#opts.logger?.debug?.({ resource: this.info.plural, resourceVersion: this.#resourceVersion }, 'watch expired; relisting')
        } else {
          this.#opts.logger?.warn({ err, resource: this.info.plural }, needList ? 'list failed' : 'watch failed')
        }
      }
      const delay = backoff.next()
      // A first "too old" relists at once; only repeats of it wait.
      if (!(expired && backoff.attempts === 1)) await sleep(delay, signal)
    }
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const list = await this.client.listAll<T>(this.info, {
      namespace: this.#opts.namespace,
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      limit: this.#opts.pageSize,
      signal,
      // Page by page: with a transform, the full objects of one page are garbage before the next arrives.
      map: (listed) => {
        this.#fillTypeMeta(listed)
        return this.#opts.transform ? this.#opts.transform(listed) : listed
      },
    })
    if (signal.aborted) return
    const seen = new Set<string>()
    for (const item of list.items) {
      const key = this.indexer.keyOf(item)
      seen.add(key)
      const old = this.indexer.get(key)
      if (!old) {
        this.indexer.set(key, item)
        this.#notify('onAdd', item)
      } else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion) {
        this.indexer.set(key, item)
        this.#notify('onUpdate', old, item)
      }
    }
    for (const key of this.indexer.keys()) {
      if (seen.has(key)) continue
      const gone = this.indexer.delete(key)
      if (gone) this.#notify('onDelete', gone)
    }
    this.#resourceVersion = list.metadata.resourceVersion
    if (!this.#synced) {
      this.#synced = true
      for (const done of [...this.#syncWaiters]) done(true)
    }
  }

  async #watch(signal: AbortSignal): Promise<number> {
    let events = 0
    const stream = this.client.watch<T>(this.info, {
      namespace: this.#opts.namespace,
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: this.#opts.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
      signal,
    })
    for await (const ev of stream) {
      events++
      this.#apply(ev)
    }
    return events
  }

  #apply(ev: WatchEvent<T>): void {
    let obj = ev.object
    const rv = obj.metadata?.resourceVersion
    if (ev.type !== 'BOOKMARK') {
      this.#fillTypeMeta(obj)
      if (this.#opts.transform) obj = this.#opts.transform(obj)
      const key = this.indexer.keyOf(obj)
      const old = this.indexer.get(key)
      const order = compareResourceVersions(rv, old?.metadata?.resourceVersion)
      if (ev.type === 'DELETED') {
        if (old && !(order !== undefined && order < 0)) {
          this.indexer.delete(key)
          this.#notify('onDelete', obj)
        }
      } else if (!old) {
        this.indexer.set(key, obj)
        this.#notify('onAdd', obj)
      } else if (order === undefined || order > 0) {
        this.indexer.set(key, obj)
        this.#notify('onUpdate', old, obj)
      }
    }
    if (rv && compareResourceVersions(rv, this.#resourceVersion) !== -1) this.#resourceVersion = rv
  }

  #resync(): void {
    if (!this.#synced) return
    for (const obj of this.indexer.list()) this.#notify('onUpdate', obj, obj)
  }

  #fillTypeMeta(obj: T): void {
    if (!obj.apiVersion) obj.apiVersion = apiVersionOf(this.info)
    if (!obj.kind) obj.kind = this.info.kind
  }

  #notify(event: 'onAdd' | 'onDelete', obj: T): void
  #notify(event: 'onUpdate', oldObj: T, newObj: T): void
  #notify(event: keyof InformerHandlers<T>, a: T, b?: T): void {
    for (const h of this.#handlers) this.#call(h, event, a, b)
  }

  #call(h: InformerHandlers<T>, event: keyof InformerHandlers<T>, a: T, b?: T): void {
    try {
      if (event === 'onUpdate') h.onUpdate?.(a, b ?? a)
      else h[event]?.(a)
    } catch (err) {
      this.handlerErrors++
      this.#opts.logger?.warn({ err, resource: this.info.plural, event, key: this.indexer.keyOf(b ?? a) }, 'informer handler threw')
    }
  }
}
