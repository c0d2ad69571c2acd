// One namespaced kind kept in memory from a store feed, by namespace, for admission plugins
// that read it on every write (LimitRanges, ResourceQuotas). A copy never goes back in time:
// the feed may still deliver an older version after the plugin wrote a newer one.
import type { ResourceInfo } from '../../api/registry.ts'
import type { Logger } from '../../util/log.ts'
import type { KObject, ObjectStore } from '../objects.ts'
import { StoreFeed } from '../store-feed.ts'

const revisionOf = (o: KObject): number => Number(o.metadata.resourceVersion ?? 0)

export class NamespacedCache {
  readonly #byNamespace = new Map<string, Map<string, KObject>>()
  readonly #feed: StoreFeed

  /** `onChange`: told the namespace of every object the feed brings or takes away. */
  constructor(objects: ObjectStore, info: ResourceInfo, log: Logger, onChange?: (namespace: string) => void) {
    const changed = (o: KObject) => onChange?.(o.metadata.namespace ?? '')
    this.#feed = new StoreFeed(
      objects.store,
      info,
      {
        upsert: (o) => {
          this.remember(o)
          changed(o)
        },
        remove: (o) => {
          this.#forget(o)
          changed(o)
        },
      },
      log,
    )
  }

  start(): Promise<void> {
    return this.#feed.start()
  }

  stop(): void {
    this.#feed.stop()
  }

  /** The namespace's objects, by name. */
  inNamespace(namespace: string): KObject[] {
    const here = this.#byNamespace.get(namespace)
    return here ? [...here.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0)) : []
  }

  /** Keeps `obj` unless a newer version of it is held already. */
  remember(obj: KObject): void {
    const ns = obj.metadata.namespace ?? ''
    let here = this.#byNamespace.get(ns)
    if (!here) this.#byNamespace.set(ns, (here = new Map()))
    const held = here.get(obj.metadata.name)
    if (held && held.metadata.uid === obj.metadata.uid && revisionOf(held) > revisionOf(obj)) return
    here.set(obj.metadata.name, obj)
  }

  #forget(obj: KObject): void {
    const here = this.#byNamespace.get(obj.metadata.namespace ?? '')
    const held = here?.get(obj.metadata.name)
    if (!here || !held || held.metadata.uid !== obj.metadata.uid) return
    here.delete(obj.metadata.name)
    if (here.size === 0) this.#byNamespace.delete(obj.metadata.namespace ?? '')
  }
}
