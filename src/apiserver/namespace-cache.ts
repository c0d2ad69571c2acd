// Namespaces kept in memory from a store watch, so admission does not read the store on
// every create. A name the cache has not seen yet (just created, maybe on another API
// server) is read from the store, so the cache can only be stale about phase, as
// Kubernetes' informer-fed namespace lifecycle admission is.
import { resources } from '../api/registry.ts'
import type { Logger } from '../util/log.ts'
import type { KObject, ObjectStore } from './objects.ts'
import { StoreFeed } from './store-feed.ts'

const namespaceInfo = resources.find((r) => r.kind === 'Namespace')!

export class NamespaceCache {
  private readonly objects: ObjectStore
  private readonly cache = new Map<string, KObject>()
  private readonly feed: StoreFeed

  constructor(objects: ObjectStore, log: Logger) {
    this.objects = objects
    this.feed = new StoreFeed(objects.store, namespaceInfo, {
      upsert: (ns) => this.cache.set(ns.metadata.name, ns),
      remove: (ns) => this.cache.delete(ns.metadata.name),
    }, log)
  }

  start(): Promise<void> {
    return this.feed.start()
  }

  stop(): void {
    this.feed.stop()
  }

  async get(name: string): Promise<KObject | undefined> {
    return this.cache.get(name) ?? (await this.objects.get(namespaceInfo, undefined, name))
  }
}
