// Objects of one kind kept in step with the store, for the API server's own in-memory
// views (namespaces for admission; RBAC objects and pods for authorization): a list, then
// a watch from its revision, then a relist whenever the watch ends.
import type { ResourceInfo } from '../api/registry.ts'
import type { Store, Watch } from '../store/store.ts'
import type { Logger } from '../util/log.ts'
import { decode, prefixOf, type KObject } from './objects.ts'

export interface FeedHandlers {
  /** Called with every object of a (re)list first, then with each change. */
  upsert(obj: KObject): void
  /**
   * An object was deleted (the object as it was), or is missing from a relist (then only
   * its identity: apiVersion, kind, name, namespace, uid and, for Secrets, type).
   */
  remove(obj: KObject): void
}

/** What a feed remembers of an object: enough to say which one went, not a second copy of every pod. */
function identityOf(obj: KObject): KObject {
  const { name, namespace, uid } = obj.metadata
  const stub: KObject = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name, namespace, uid } }
  if (typeof obj.type === 'string') stub.type = obj.type
  return stub
}

export class StoreFeed {
  readonly #store: Store
  readonly #info: ResourceInfo
  readonly #handlers: FeedHandlers
  readonly #log: Logger
  /** Who the handlers were last told exists, by key, so a relist can tell them what went. */
  readonly #known = new Map<string, KObject>()
  #watch: Watch | undefined
  #retry: NodeJS.Timeout | undefined
  #stopped = false

  readonly #namespace: string | undefined

  /** `namespace`: only that namespace's objects of a namespaced kind. */
  constructor(store: Store, info: ResourceInfo, handlers: FeedHandlers, log: Logger, namespace?: string) {
    this.#store = store
    this.#info = info
    this.#handlers = handlers
    this.#log = log
    this.#namespace = namespace
  }

  async start(): Promise<void> {
    this.#stopped = false
    const prefix = prefixOf(this.#info, this.#namespace)
    const page = await this.#store.list(prefix)
    const listed = new Set<string>()
    for (const kv of page.items) {
      listed.add(kv.key)
      this.#put(kv.key, decode(kv.value, kv.modRevision))
    }
    for (const [key, obj] of this.#known) if (!listed.has(key)) this.#drop(key, obj)
    this.#watch = this.#store.watch(prefix, page.revision, {
      onEvent: (ev) => {
        const value = ev.type === 'put' ? ev.value : ev.prevValue
        if (value === undefined) return
        const obj = decode(value, ev.revision)
        if (ev.type === 'put') this.#put(ev.key, obj)
        else this.#drop(ev.key, obj)
      },
      onError: (err) => {
        if (this.#stopped) return
        this.#log.warn({ err, resource: this.#info.plural }, 'watch ended; relisting')
        this.#retry = setTimeout(() => void this.start().catch((e) => this.#log.error({ err: e, resource: this.#info.plural }, 'relist failed')), 500).unref()
      },
    })
  }

  #put(key: string, obj: KObject): void {
    this.#known.set(key, identityOf(obj))
    this.#handlers.upsert(obj)
  }

  #drop(key: string, obj: KObject): void {
    this.#known.delete(key)
    this.#handlers.remove(obj)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#retry)
    this.#watch?.cancel()
  }
}
