// The etcd store's copies of recently written values, so an update can start from one
// without a read. Bounded by the bytes of the values it holds, least recently written
// first out: at 5,000 nodes every pod ever written would otherwise stay in memory twice
// (once in the informers, once here), while updates mostly touch what was written lately
// (Leases every 10 s, a pod's status soon after its creation).
import type { KeyValue } from './store.ts'

export class ValueCache {
  readonly maxBytes: number
  readonly #entries = new Map<string, KeyValue>()
  #bytes = 0

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`value cache size ${maxBytes} must be a whole number of bytes, 0 or more`)
    this.maxBytes = maxBytes
  }

  get size(): number {
    return this.#entries.size
  }

  /** Bytes held: the keys' and values' characters (stored values are JSON, almost all ASCII, which V8 keeps at a byte a character). */
  get bytes(): number {
    return this.#bytes
  }

  get(key: string): KeyValue | undefined {
    return this.#entries.get(key)
  }

  set(kv: KeyValue): void {
    this.delete(kv.key)
    const cost = entryBytes(kv)
    if (cost > this.maxBytes) return
    this.#entries.set(kv.key, kv)
    this.#bytes += cost
    for (const [key, old] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break
      this.#entries.delete(key)
      this.#bytes -= entryBytes(old)
    }
  }

  delete(key: string): void {
    const old = this.#entries.get(key)
    if (old === undefined) return
    this.#entries.delete(key)
    this.#bytes -= entryBytes(old)
  }

  clear(): void {
    this.#entries.clear()
    this.#bytes = 0
  }
}

function entryBytes(kv: KeyValue): number {
  return kv.key.length + kv.value.length
}
