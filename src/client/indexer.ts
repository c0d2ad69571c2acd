// The informer's cache: objects by key, plus secondary indices (value → keys).
import type { KubeObject } from './types.ts'
import { objectKey } from './types.ts'

/** The values an object is filed under in one index. */
export type IndexFunc<T> = (obj: T) => string[]

export const namespaceIndex = 'namespace'

export function byNamespace(obj: KubeObject): string[] {
  return [obj.metadata?.namespace ?? '']
}

export class Indexer<T extends KubeObject> {
  #items = new Map<string, T>()
  #indexers: Map<string, IndexFunc<T>>
  #indices = new Map<string, Map<string, Set<string>>>()
  readonly keyOf: (obj: T) => string

  constructor(indexers: Record<string, IndexFunc<T>> = {}, keyOf: (obj: T) => string = objectKey) {
    this.keyOf = keyOf
    this.#indexers = new Map(Object.entries({ [namespaceIndex]: byNamespace, ...indexers }))
    for (const name of this.#indexers.keys()) this.#indices.set(name, new Map())
  }

  get size(): number {
    return this.#items.size
  }

  get(key: string): T | undefined {
    return this.#items.get(key)
  }

  has(key: string): boolean {
    return this.#items.has(key)
  }

  list(): T[] {
    return [...this.#items.values()]
  }

  keys(): string[] {
    return [...this.#items.keys()]
  }

  /** Objects filed under `value` in index `indexName`. */
  byIndex(indexName: string, value: string): T[] {
    const index = this.#indices.get(indexName)
    if (!index) throw new Error(`no index named "${indexName}" (have: ${[...this.#indices.keys()].join(', ')})`)
    const keys = index.get(value)
    if (!keys) return []
    const out: T[] = []
    for (const key of keys) {
      const obj = this.#items.get(key)
      if (obj) out.push(obj)
    }
    return out
  }

  /** How many objects are filed under `value`, without building the list. */
  countByIndex(indexName: string, value: string): number {
    const index = this.#indices.get(indexName)
    if (!index) throw new Error(`no index named "${indexName}" (have: ${[...this.#indices.keys()].join(', ')})`)
    return index.get(value)?.size ?? 0
  }

  /** Adds an index after the fact (a controller built on a shared informer): what is cached is filed at once. */
  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.#indexers.has(name)) throw new Error(`an index named "${name}" exists already`)
    this.#indexers.set(name, fn)
    const index = new Map<string, Set<string>>()
    this.#indices.set(name, index)
    for (const [key, obj] of this.#items) file(index, fn(obj), key)
  }

  indexNames(): string[] {
    return [...this.#indexers.keys()]
  }

  /** Stores `obj` under `key`; returns the object it replaced. */
  set(key: string, obj: T): T | undefined {
    const old = this.#items.get(key)
    if (old) this.#unindex(key, old)
    this.#items.set(key, obj)
    this.#index(key, obj)
    return old
  }

  delete(key: string): T | undefined {
    const old = this.#items.get(key)
    if (!old) return undefined
    this.#unindex(key, old)
    this.#items.delete(key)
    return old
  }

  clear(): void {
    this.#items.clear()
    for (const index of this.#indices.values()) index.clear()
  }

  #index(key: string, obj: T): void {
    for (const [name, fn] of this.#indexers) file(this.#indices.get(name)!, fn(obj), key)
  }

  #unindex(key: string, obj: T): void {
    for (const [name, fn] of this.#indexers) {
      const index = this.#indices.get(name)!
      for (const value of fn(obj)) {
        const keys = index.get(value)
        if (!keys) continue
        keys.delete(key)
        if (keys.size === 0) index.delete(value)
      }
    }
  }
}

function file(index: Map<string, Set<string>>, values: string[], key: string): void {
  for (const value of values) {
    let keys = index.get(value)
    if (!keys) index.set(value, (keys = new Set()))
    keys.add(key)
  }
}
