// Names outside the zone: asked upstream through the cache. The main thread owns the one
// forwarder and cache of a server (one cache, one concurrency cap, one view of upstream
// health, as CoreDNS has); query threads hand such queries to it (query-thread.ts).
import type { Forwarder } from './forwarder.ts'
import type { ResponseCache } from './response-cache.ts'
import type { ParsedQuery } from './wire.ts'

export interface Forwarded {
  reply: Buffer
  /** Answered from the cache, not upstream. */
  cached: boolean
}

export interface Forwarding {
  resolve(bytes: Uint8Array, query: ParsedQuery): Promise<Forwarded>
}

export class CachedForwarder implements Forwarding {
  readonly forwarder: Forwarder
  readonly cache: ResponseCache

  constructor(forwarder: Forwarder, cache: ResponseCache) {
    this.forwarder = forwarder
    this.cache = cache
  }

  async resolve(bytes: Uint8Array, query: ParsedQuery): Promise<Forwarded> {
    const hit = this.cache.get(query, bytes)
    if (hit) return { reply: hit, cached: true }
    return { reply: this.cache.set(query, await this.forwarder.forward(bytes, query)), cached: false }
  }

  close(): Promise<void> {
    return this.forwarder.close()
  }
}
