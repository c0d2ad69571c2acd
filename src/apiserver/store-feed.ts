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
  remove(obj: KObject): void
  /** A relist starts: forget everything (the list that follows says what exists). */
  reset(): void
}

export class StoreFeed {
  readonly #store: Store
  readonly #info: ResourceInfo
  readonly #handlers: FeedHandlers
  readonly #log: Logger
  #watch: Watch | undefined
  #retry: NodeJS.Timeout | undefined
  #stopped = false

  constructor(store: Store, info: ResourceInfo, handlers: FeedHandlers, log: Logger) {
    this.#store = store
    this.#info = info
    this.#handlers = handlers
    this.#log = log
  }

  async start(): Promise<void> {
    this.#stopped = false
    const prefix = prefixOf(this.#info)
    const page = await this.#store.list(prefix)
    this.#handlers.reset()
    for (const kv of page.items) this.#handlers.upsert(decode(kv.value, kv.modRevision))
    this.#watch = this.#store.watch(prefix, page.revision, {
      onEvent: (ev) => {
        const value = ev.type === 'put' ? ev.value : ev.prevValue
        if (value === undefined) return
        const obj = decode(value, ev.revision)
        if (ev.type === 'put') this.#handlers.upsert(obj)
        else this.#handlers.remove(obj)
      },
      onError: (err) => {
        if (this.#stopped) return
        this.#log.warn({ err, resource: this.#info.plural }, 'watch ended; relisting')
        this.#retry = setTimeout(() => void this.start().catch((e) => this.#log.error({ err: e, resource: this.#info.plural }, 'relist failed')), 500).unref()
      },
    })
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#retry)
    this.#watch?.cancel()
  }
}
