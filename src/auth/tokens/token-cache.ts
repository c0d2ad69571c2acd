// A bounded map of token results with per-entry expiry. Keys are token digests, never tokens.
// When full, the oldest insertion goes: one Map delete, no bookkeeping on a hit.

interface Entry<V> {
  value: V
  expiresAt: number
}

export class TokenCache<V> {
  readonly maxEntries: number
  readonly #entries = new Map<string, Entry<V>>()

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('the token cache needs room for at least one entry')
    this.maxEntries = maxEntries
  }

  get size(): number {
    return this.#entries.size
  }

  /** The value stored under `key` unless it has expired by `now` (ms). */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt > now) return entry.value
    this.#entries.delete(key)
    return undefined
  }

  set(key: string, value: V, expiresAt: number): void {
    this.#entries.delete(key)
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!)
    this.#entries.set(key, { value, expiresAt })
  }

  clear(): void {
    this.#entries.clear()
  }

  keys(): IterableIterator<string> {
    return this.#entries.keys()
  }
}
