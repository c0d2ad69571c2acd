// Controllers that hand out addresses decide from informer caches, and a cache lags the
// controller's own writes by a moment. OwnWrites remembers what a controller just wrote
// and lays it over the cached objects until the cache shows it (or a while has passed,
// in case the write failed), so two decisions in a row never hand out the same thing.
export class OwnWrites<V> {
  private readonly pending = new Map<string, { value: V; until: number }>()
  private readonly ttlMs: number

  constructor(ttlMs = 10_000) {
    this.ttlMs = ttlMs
  }

  record(key: string, value: V): void {
    this.pending.set(key, { value, until: Date.now() + this.ttlMs })
  }

  /** The value written for `key` if the cache (`cached`) does not show it yet. */
  overlay(key: string, cached: V): V | undefined {
    const entry = this.pending.get(key)
    if (!entry) return undefined
    if (Date.now() > entry.until || JSON.stringify(entry.value) === JSON.stringify(cached)) {
      this.pending.delete(key)
      return undefined
    }
    return entry.value
  }
}
