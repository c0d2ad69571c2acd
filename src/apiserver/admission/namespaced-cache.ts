// One namespaced kind kept in memory from a store feed, by namespace, for admission plugins
// that read it on every write (LimitRanges, ResourceQuotas). Which objects exist is the
// feed's word alone; a plugin that wrote one may hand back its newer copy (`refresh`), and a
// copy never goes back in time: the feed may still deliver an older version afterwards.
// While the feed holds nothing for a namespace, `lookup` asks the store and keeps the answer
// up to 30 s or until the feed brings a change there, as upstream's live lookup covers an
// informer that lags behind a create. An object the API server would refuse today (only one
// stored before it checked can be such) is left out of every answer, logged once per version,
// so it fails alone instead of failing every write in its namespace.
import type { ResourceInfo } from '../../api/registry.ts'
import type { Logger } from '../../util/log.ts'
import { fromKeyValue, type KObject, type ObjectStore } from '../objects.ts'
import { StoreFeed } from '../store-feed.ts'

const LIVE_LOOKUP_TTL_MS = 30_000

const revisionOf = (o: KObject): number => Number(o.metadata.resourceVersion ?? 0)
const byName = (a: KObject, b: KObject): number => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0)
/** `obj` if it is a newer version of `held`, else `held`. */
const newer = (held: KObject, obj: KObject): KObject => (held.metadata.uid === obj.metadata.uid && revisionOf(obj) > revisionOf(held) ? obj : held)

/** Field causes as `field: message` lines, for the log. */
export function causeTexts(causes: readonly { field?: string; message?: string }[]): string[] {
  return causes.map((c) => `${c.field ?? ''}: ${c.message ?? ''}`)
}

export class NamespacedCache {
  readonly #objects: ObjectStore
  readonly #info: ResourceInfo
  readonly #byNamespace = new Map<string, Map<string, KObject>>()
  readonly #live = new Map<string, { until: number; items: Promise<KObject[]> }>()
  readonly #feed: StoreFeed
  readonly #log: Logger
  /** What the API server's validation says is wrong with an object (nothing: usable). */
  readonly #problems: (obj: KObject) => string[]
  /** The verdict on each copy seen: a copy is judged once. */
  readonly #usable = new WeakMap<KObject, boolean>()
  /** The objects (uid and version) already logged as unusable. */
  readonly #reported = new Set<string>()

  constructor(objects: ObjectStore, info: ResourceInfo, log: Logger, problems: (obj: KObject) => string[] = () => []) {
    this.#objects = objects
    this.#info = info
    this.#log = log
    this.#problems = problems
    this.#feed = new StoreFeed(objects.store, info, { upsert: (o) => this.#put(o), remove: (o) => this.#forget(o) }, log)
  }

  start(): Promise<void> {
    return this.#feed.start()
  }

  stop(): void {
    this.#feed.stop()
  }

  /** The feed's objects in the namespace, by name, the unusable left out. */
  inNamespace(namespace: string): KObject[] {
    const here = this.#byNamespace.get(namespace)
    return here ? [...here.values()].filter((o) => this.isUsable(o)).sort(byName) : []
  }

  /** The namespace's objects by name (the unusable left out): the feed's, or while it holds none there, the store's. */
  async lookup(namespace: string): Promise<KObject[]> {
    if (this.#byNamespace.has(namespace)) return this.inNamespace(namespace)
    const now = Date.now()
    let entry = this.#live.get(namespace)
    if (!entry || entry.until < now) {
      for (const [ns, e] of this.#live) if (e.until < now) this.#live.delete(ns)
      const items = this.#objects.list(this.#info, namespace).then((page) => page.items.map(fromKeyValue).sort(byName))
      entry = { until: now + LIVE_LOOKUP_TTL_MS, items }
      this.#live.set(namespace, entry)
      items.catch(() => {
        if (this.#live.get(namespace) === entry) this.#live.delete(namespace)
      })
    }
    return (await entry.items).filter((o) => this.isUsable(o))
  }

  /** A newer version of an object held (one the caller wrote); never adds an object. */
  refresh(obj: KObject): void {
    const ns = obj.metadata.namespace ?? ''
    const here = this.#byNamespace.get(ns)
    const held = here?.get(obj.metadata.name)
    if (here && held) here.set(obj.metadata.name, newer(held, obj))
    const entry = this.#live.get(ns)
    if (!entry) return
    const items = entry.items.then((list) => list.map((o) => (o.metadata.name === obj.metadata.name ? newer(o, obj) : o)))
    // A failed lookup reaches the callers of lookup; this copy of it needs no handler of its own.
    items.catch(() => undefined)
    entry.items = items
  }

  /**
   * `use(obj)`, or `fallback` when that throws: an object the plugin cannot use (only one
   * stored before the API server checked it can be such) is passed over alone, logged once
   * per version, instead of failing every write in its namespace.
   */
  guarded<T>(obj: KObject, use: () => T, fallback: T): T {
    try {
      return use()
    } catch (err) {
      this.#report(obj, { err })
      return fallback
    }
  }

  /** Whether the API server's validation takes the object today (judged once per copy). */
  isUsable(obj: KObject): boolean {
    let usable = this.#usable.get(obj)
    if (usable === undefined) {
      const problems = this.guarded(obj, () => this.#problems(obj), ['its validation failed'])
      usable = problems.length === 0
      if (!usable) this.#report(obj, { problems })
      this.#usable.set(obj, usable)
    }
    return usable
  }

  #report(obj: KObject, why: { err?: unknown; problems?: string[] }): void {
    const version = `${obj.metadata.uid}/${obj.metadata.resourceVersion}`
    if (this.#reported.has(version)) return
    if (this.#reported.size >= 1000) this.#reported.clear()
    this.#reported.add(version)
    this.#log.error({ ...why, kind: this.#info.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }, 'admission passes over an object it cannot use; fix or delete it')
  }

  #put(obj: KObject): void {
    const ns = obj.metadata.namespace ?? ''
    let here = this.#byNamespace.get(ns)
    if (!here) this.#byNamespace.set(ns, (here = new Map()))
    const held = here.get(obj.metadata.name)
    here.set(obj.metadata.name, held && held.metadata.uid === obj.metadata.uid && revisionOf(held) > revisionOf(obj) ? held : obj)
    // What the feed brings is newer than any answer the store gave before.
    this.#live.delete(ns)
  }

  #forget(obj: KObject): void {
    const ns = obj.metadata.namespace ?? ''
    this.#live.delete(ns)
    const here = this.#byNamespace.get(ns)
    const held = here?.get(obj.metadata.name)
    if (!here || !held || held.metadata.uid !== obj.metadata.uid) return
    here.delete(obj.metadata.name)
    if (here.size === 0) this.#byNamespace.delete(ns)
  }
}
