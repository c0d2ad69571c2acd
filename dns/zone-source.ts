// Informers → ZoneIndex: watches Services, EndpointSlices and (for pod records and autopath)
// Pods, and hands out a freshly built index after each batch of changes.
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node'
import { resources } from '../src/api/registry.ts'
import { Informer, type RestClient } from '../src/client/index.ts'
import type { Logger } from '../src/util/log.ts'
import { buildZoneIndex, type ZoneConfig, type ZoneIndex, type ZoneInputs } from './zone-index.ts'
import { zonePod, zoneService, zoneSlice } from './zone-objects.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
/**
 * Objects per list request. Each page is trimmed as it arrives; a page of 500 full Services
 * lived long enough to be promoted to V8's old space, whose emptied pages the process then
 * kept (with 10,000 Services: 26 MiB of old space for 18 MiB of objects, against 18 for 17
 * with pages of 100).
 */
const LIST_PAGE = 100

export interface ZoneSourceOptions {
  client: RestClient
  config: ZoneConfig
  /** Watch Pods too (pod records in verified mode, autopath). */
  watchPods: boolean
  /** A new index, and the (trimmed) objects it was built from. */
  onIndex(index: ZoneIndex, inputs: ZoneSnapshot): void
  log: Logger
  /** Changes within this many ms are built into one index (default 10). */
  batchMs?: number
  /** At most one build per this many ms (default 100). */
  minIntervalMs?: number
}

/** The objects of one index, as arrays (they cross to the query threads). */
export interface ZoneSnapshot extends ZoneInputs {
  services: V1Service[]
  slices: V1EndpointSlice[]
  pods: V1Pod[]
  serial: number
}

/** Only what the zone reads of a pod: an update that changes none of it needs no rebuild. */
function podFingerprint(p: V1Pod): string {
  const ips = (p.status?.podIPs ?? []).map((i) => i.ip).join(',') || (p.status?.podIP ?? '')
  return `${ips}/${p.status?.phase ?? ''}/${p.metadata?.deletionTimestamp ?? ''}`
}

export class ZoneSource {
  readonly options: ZoneSourceOptions
  #services: Informer<V1Service>
  #slices: Informer<V1EndpointSlice>
  #pods: Informer<V1Pod> | undefined
  #timer: NodeJS.Timeout | undefined
  #lastBuild = 0
  #serial = Math.floor(Date.now() / 1000)
  #ready = false
  #stopped = false
  #snapshot: ZoneSnapshot | undefined
  builds = 0

  constructor(options: ZoneSourceOptions) {
    this.options = options
    const changed = () => this.#changed()
    const handlers = { onAdd: changed, onUpdate: changed, onDelete: changed }
    this.#services = new Informer<V1Service>(options.client, info('Service'), { logger: options.log, transform: zoneService, pageSize: LIST_PAGE })
    this.#services.addHandlers(handlers)
    this.#slices = new Informer<V1EndpointSlice>(options.client, info('EndpointSlice'), { logger: options.log, transform: zoneSlice, pageSize: LIST_PAGE })
    this.#slices.addHandlers(handlers)
    if (options.watchPods) {
      this.#pods = new Informer<V1Pod>(options.client, info('Pod'), { logger: options.log, transform: zonePod, pageSize: LIST_PAGE })
      this.#pods.addHandlers({ onAdd: changed, onDelete: changed, onUpdate: (a, b) => podFingerprint(a) !== podFingerprint(b) && this.#changed() })
    }
  }

  /** The objects of the latest index. */
  get snapshot(): ZoneSnapshot | undefined {
    return this.#snapshot
  }

  /** True once every informer has listed and the first index is built. */
  get ready(): boolean {
    return this.#ready
  }

  async start(signal?: AbortSignal): Promise<void> {
    const informers = this.#informers()
    for (const i of informers) i.start()
    const synced = await Promise.all(informers.map((i) => i.waitForSync(signal)))
    if (!synced.every(Boolean) || this.#stopped) throw new Error('the DNS server stopped before it had listed Services, EndpointSlices and Pods')
    this.#build()
    this.#ready = true
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await Promise.all(this.#informers().map((i) => i.stop()))
  }

  #informers(): Informer<V1Service | V1EndpointSlice | V1Pod>[] {
    return [this.#services, this.#slices, ...(this.#pods ? [this.#pods] : [])] as Informer<V1Service | V1EndpointSlice | V1Pod>[]
  }

  #changed(): void {
    if (!this.#ready || this.#timer || this.#stopped) return
    const wait = Math.max(this.options.batchMs ?? 10, this.#lastBuild + (this.options.minIntervalMs ?? 100) - performance.now())
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (!this.#stopped) this.#build()
    }, wait)
  }

  #build(): void {
    const start = performance.now()
    const snapshot: ZoneSnapshot = { services: this.#services.indexer.list(), slices: this.#slices.indexer.list(), pods: this.#pods?.indexer.list() ?? [], serial: ++this.#serial }
    const index = buildZoneIndex(snapshot, this.options.config, snapshot.serial)
    this.#lastBuild = performance.now()
    this.#snapshot = snapshot
    this.builds++
    this.options.log.debug({ services: index.serviceCount, ms: Math.round(this.#lastBuild - start) }, 'zone built')
    this.options.onIndex(index, snapshot)
  }
}
