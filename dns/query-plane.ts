// One thread's query plane: a handler over the thread's own copy of the zone. Names outside
// the zone go to the server's one forwarder and cache: built here for the main thread,
// handed in (a channel to the main thread) for query threads.
import { CachedForwarder, type Forwarding } from './forwarding.ts'
import { Forwarder, type ForwarderOptions } from './forwarder.ts'
import { QueryHandler } from './handler.ts'
import type { DnsMetrics } from './metrics.ts'
import { ResponseCache, type CacheOptions } from './response-cache.ts'
import { buildZoneIndex, type ZoneConfig, type ZoneInputs } from './zone-index.ts'

/** Plain data: it is handed to the query threads as is. */
export interface QueryPlaneConfig {
  zone: ZoneConfig
  autopath: boolean
  hostSearch: string[]
  /** No upstreams: names outside the zone are refused. */
  forwarder: ForwarderOptions
  cache: CacheOptions
}

export interface QueryPlane {
  handler: QueryHandler
  /** The forwarder and cache this plane built (the main thread's), if any. */
  forwarding: CachedForwarder | undefined
  close(): Promise<void>
}

const emptyZone: ZoneInputs = { services: [], slices: [], pods: [] }

/** `remote`: how a query thread forwards (through the main thread); without it the plane builds its own forwarder and cache. */
export function createQueryPlane(config: QueryPlaneConfig, metrics: DnsMetrics, zone: { inputs: ZoneInputs; serial?: number } = { inputs: emptyZone }, remote?: Forwarding): QueryPlane {
  const upstream = config.forwarder.upstreams.length > 0
  const own = upstream && !remote ? new CachedForwarder(new Forwarder(config.forwarder, metrics.registry), new ResponseCache(config.cache, metrics.registry, undefined, metrics.server)) : undefined
  const handler = new QueryHandler(buildZoneIndex(zone.inputs, config.zone, zone.serial), {
    metrics,
    autopath: config.autopath,
    hostSearch: config.hostSearch,
    forwarding: upstream ? (remote ?? own) : undefined,
  })
  return {
    handler,
    forwarding: own,
    async close() {
      await own?.close()
    },
  }
}
