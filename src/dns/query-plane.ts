// One thread's query plane: the handler with its own forwarder and cache (a forwarded name is
// cached by the thread that asked). The main thread and every query thread build theirs here.
import type { Registry } from 'prom-client'
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
  /** Empty: names outside the zone are refused. */
  forwarder: ForwarderOptions
  cache: CacheOptions
}

export interface QueryPlane {
  handler: QueryHandler
  close(): Promise<void>
}

export function createQueryPlane(config: QueryPlaneConfig, metrics: DnsMetrics, inputs: ZoneInputs = { services: [], slices: [], pods: [] }, serial?: number): QueryPlane {
  const registry: Registry = metrics.registry
  const forwarder = config.forwarder.upstreams.length > 0 ? new Forwarder(config.forwarder, registry) : undefined
  const cache = forwarder ? new ResponseCache(config.cache, registry, undefined, metrics.server) : undefined
  const handler = new QueryHandler(buildZoneIndex(inputs, config.zone, serial), { metrics, autopath: config.autopath, hostSearch: config.hostSearch, forwarder, cache })
  return {
    handler,
    async close() {
      await forwarder?.close()
    },
  }
}
