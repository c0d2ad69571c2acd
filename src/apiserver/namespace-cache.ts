// Namespaces kept in memory from a store watch, so admission does not read the store on
// every create. A name the cache has not seen yet (just created, maybe on another API
// server) is read from the store, so the cache can only be stale about phase, as
// Kubernetes' informer-fed namespace lifecycle admission is.
import { resources } from '../api/registry.ts'
import type { Store, Watch } from '../store/store.ts'
import type { Logger } from '../util/log.ts'
import { decode, prefixOf, type KObject, type ObjectStore } from './objects.ts'

const namespaceInfo = resources.find((r) => r.kind === 'Namespace')!

export class NamespaceCache {
  private readonly objects: ObjectStore
  private readonly store: Store
  private readonly log: Logger
  private readonly cache = new Map<string, KObject>()
  private watch: Watch | undefined
  private stopped = false
  private retry: NodeJS.Timeout | undefined

  constructor(objects: ObjectStore, log: Logger) {
    this.objects = objects
    this.store = objects.store
    this.log = log
  }

  async start(): Promise<void> {
    this.stopped = false
    const prefix = prefixOf(namespaceInfo)
    const page = await this.store.list(prefix)
    this.cache.clear()
    for (const kv of page.items) {
      const ns = decode(kv.value, kv.modRevision)
      this.cache.set(ns.metadata.name, ns)
    }
    this.watch = this.store.watch(prefix, page.revision, {
      onEvent: (ev) => {
        const value = ev.type === 'put' ? ev.value! : ev.prevValue
        if (value === undefined) return
        const ns = decode(value, ev.revision)
        if (ev.type === 'put') this.cache.set(ns.metadata.name, ns)
        else this.cache.delete(ns.metadata.name)
      },
      onError: (err) => {
        if (this.stopped) return
        this.log.warn({ err }, 'namespace watch ended; relisting')
        this.retry = setTimeout(() => void this.start().catch((e) => this.log.error({ err: e }, 'namespace relist failed')), 500).unref()
      },
    })
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.retry)
    this.watch?.cancel()
  }

  async get(name: string): Promise<KObject | undefined> {
    return this.cache.get(name) ?? (await this.objects.get(namespaceInfo, undefined, name))
  }
}
