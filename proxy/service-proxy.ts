// `weft proxy`: watches Services, EndpointSlices and its Node, and keeps one Proxier per IP
// family in step. Changes are batched (at most one sync per minSyncMs, src/util/sync-loop.ts), applied as partial
// syncs of the changed Service ports, with a full resync at start, after any failed sync,
// when the node's addresses change, and every fullSyncMs. What the proxy had to drop from a
// Service (values that do not parse, rules the renderer refused) becomes a Warning Event on
// it and a metric; the rest of that Service and every other one is still programmed.
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node'
import { resources } from '../src/api/registry.ts'
import { Informer, type RestClient } from '../src/client/index.ts'
import { parseCidr } from '../src/util/cidr.ts'
import { logger, type Logger } from '../src/util/log.ts'
import { SyncLoop } from '../src/util/sync-loop.ts'
import { ChangeTracker } from './change-tracker.ts'
import { ProxyMetrics } from './metrics.ts'
import { chooseMode, type ModeChoice, type NftablesProbe, type RequestedMode } from './mode.ts'
import type { Family, ProxyState } from './model.ts'
import { ProblemReporter } from './problem-reporter.ts'
import { ServiceHealthServer } from './service-health.ts'
import { slimEndpointSlice, slimService } from './slim-objects.ts'
import type { Proxier, ProxyMode, RefusedPort } from './proxier.ts'
import { familyOf, nodeAddresses, serviceKey } from './service-entries.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!

export interface ServiceProxyOptions {
  client: RestClient
  nodeName: string
  mode: RequestedMode
  /** The service network(s); their families are the families the proxy serves. */
  serviceCIDRs: string[]
  /** The pod network(s): Service traffic from elsewhere is masqueraded. */
  clusterCIDRs: string[]
  /** The node's addresses when its Node object has none (yet). */
  nodeIPs?: string[]
  createProxier: (mode: ProxyMode, family: Family) => Proxier
  probe: NftablesProbe
  /** At most one sync per this many ms (default 100). */
  minSyncMs?: number
  /** A full resync at least this often (default 10 minutes). */
  fullSyncMs?: number
  /** /healthz fails when changes have waited longer than this for a successful sync (default 60 s). */
  healthTimeoutMs?: number
  /**
   * Serve kube-proxy's health check of every LoadBalancer Service with externalTrafficPolicy
   * Local on its healthCheckNodePort (default false; `weft proxy` and `weft agent` turn it on).
   */
  serviceHealthChecks?: boolean
  /** Where those listeners bind (default: the node's addresses; while none is known, every address). */
  serviceHealthHosts?: string[]
  log?: Logger
}

export interface ProxyHealth {
  healthy: boolean
  lastUpdated?: string
  currentTime: string
  mode?: ProxyMode
}

export class ServiceProxy {
  readonly options: ServiceProxyOptions
  readonly metrics: ProxyMetrics
  readonly log: Logger
  readonly families: Family[]
  readonly problems: ProblemReporter
  /** The per-Service health check listeners (when options.serviceHealthChecks). */
  readonly serviceHealth: ServiceHealthServer | undefined
  choice: ModeChoice | undefined
  #tracker: ChangeTracker
  /** Per family: the Service keys whose ports the data plane refused at the last sync. */
  #refusedKeys = new Map<Family, Set<string>>()
  /** The Node's addresses that did not parse, as last reported. */
  #badNodeAddresses = ''
  /** Services whose health check listener could not be opened at the last sync. */
  #healthFailed = new Set<string>()
  #proxiers = new Map<Family, Proxier>()
  #pendingIds = new Map<Family, Set<string>>()
  #needFull = new Set<Family>()
  #informers: { start(): void; stop(): Promise<void>; waitForSync(signal?: AbortSignal): Promise<unknown> }[] = []
  #nodeIPs: string[] = []
  /** Syncs start once the informers have listed everything; failed ones are retried (1 s doubling to 30 s). */
  #loop: SyncLoop
  #stopped = false

  constructor(options: ServiceProxyOptions) {
    this.options = options
    this.metrics = new ProxyMetrics()
    this.log = options.log ?? logger('proxy')
    const families = new Set<Family>()
    for (const cidr of options.serviceCIDRs) families.add(parseCidr(cidr).family)
    if (families.size === 0) throw new Error('the proxy needs at least one service CIDR (--service-cidr)')
    this.families = [...families]
    this.#tracker = new ChangeTracker(this.families, options.nodeName)
    this.#nodeIPs = options.nodeIPs ?? []
    this.problems = new ProblemReporter({ client: options.client, nodeName: options.nodeName, log: this.log })
    this.serviceHealth = options.serviceHealthChecks ? new ServiceHealthServer({ log: this.log, proxyHealthy: () => this.health().healthy }) : undefined
    this.#loop = new SyncLoop({
      minSyncMs: options.minSyncMs ?? 100,
      fullSyncMs: options.fullSyncMs ?? 600_000,
      ...(options.healthTimeoutMs !== undefined ? { healthTimeoutMs: options.healthTimeoutMs } : {}),
      sync: () => this.#sync(),
      fullDue: () => {
        for (const family of this.families) this.#needFull.add(family)
      },
      what: 'proxy',
      log: this.log,
    })
  }

  get mode(): ProxyMode | undefined {
    return this.choice?.mode
  }

  async start(signal?: AbortSignal): Promise<void> {
    const o = this.options
    this.choice = await chooseMode(o.mode, o.probe)
    this.metrics.mode.set({ mode: this.choice.mode, reason: this.choice.reason }, 1)
    this.log.info({ mode: this.choice.mode, reason: this.choice.reason, families: this.families }, 'service proxy mode chosen')
    for (const family of this.families) {
      this.#proxiers.set(family, o.createProxier(this.choice.mode, family))
      this.#pendingIds.set(family, new Set())
      this.#needFull.add(family)
    }
    const services = new Informer<V1Service>(o.client, info('Service'), { logger: this.log, transform: slimService })
    services.addHandlers({ onAdd: (s) => this.#changed(() => this.#tracker.setService(s)), onUpdate: (_, s) => this.#changed(() => this.#tracker.setService(s)), onDelete: (s) => this.#changed(() => this.#tracker.deleteService(s)) })
    const slices = new Informer<V1EndpointSlice>(o.client, info('EndpointSlice'), { logger: this.log, transform: slimEndpointSlice })
    slices.addHandlers({ onAdd: (s) => this.#changed(() => this.#tracker.setSlice(s)), onUpdate: (_, s) => this.#changed(() => this.#tracker.setSlice(s)), onDelete: (s) => this.#changed(() => this.#tracker.deleteSlice(s)) })
    const nodes = new Informer<V1Node>(o.client, info('Node'), { fieldSelector: `metadata.name=${o.nodeName}`, logger: this.log })
    nodes.addHandlers({ onAdd: (n) => this.#nodeChanged(n), onUpdate: (_, n) => this.#nodeChanged(n) })
    this.#informers = [services, slices, nodes]
    for (const i of this.#informers) i.start()
    const synced = await Promise.all(this.#informers.map((i) => i.waitForSync(signal)))
    // A sync from half-listed caches would replace working rules with rejects.
    if (!synced.every(Boolean) || this.#stopped) throw new Error('the service proxy stopped before it had listed Services, EndpointSlices and its Node')
    await this.#loop.start()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    const stopping = this.#loop.stop()
    await Promise.all(this.#informers.map((i) => i.stop()))
    await stopping
    await this.serviceHealth?.close()
    for (const proxier of this.#proxiers.values()) await proxier.close()
  }

  health(now = Date.now()): ProxyHealth {
    const { healthy, lastUpdated, currentTime } = this.#loop.health(now)
    return { healthy, lastUpdated, currentTime, mode: this.mode }
  }

  /** Runs a sync now (after any in flight) and resolves when it is done. */
  syncNow(): Promise<void> {
    return this.#loop.syncNow()
  }

  #changed(apply: () => void): void {
    apply()
    this.metrics.pendingChanges.set(this.#tracker.pending)
    this.#loop.changed()
  }

  #nodeChanged(node: V1Node): void {
    const { ips, bad } = nodeAddresses(node)
    if (bad.join() !== this.#badNodeAddresses) {
      this.#badNodeAddresses = bad.join()
      if (bad.length) {
        this.metrics.invalidNodeAddresses.inc(bad.length)
        this.log.warn({ node: this.options.nodeName, addresses: bad }, `Node ${this.options.nodeName}: status.addresses holds ${bad.join(', ')}, not IP addresses; the proxy ignores them (fix whatever writes the Node's status)`)
      }
    }
    if (ips.length === 0 || ips.join() === this.#nodeIPs.join()) return
    this.#nodeIPs = ips
    for (const family of this.families) this.#needFull.add(family)
    this.#loop.changed()
  }

  async #sync(): Promise<{ ok: boolean; full: boolean }> {
    for (const [family, ids] of this.#tracker.take()) for (const id of ids) this.#pendingIds.get(family)!.add(id)
    this.metrics.pendingChanges.set(0)
    this.#reportFieldProblems()
    let failed = false
    let fullSynced = false
    for (const [family, proxier] of this.#proxiers) {
      const full = this.#needFull.has(family)
      const ids = this.#pendingIds.get(family)!
      if (!full && ids.size === 0) continue
      const kind = full ? 'full' : 'partial'
      const started = performance.now()
      try {
        const stats = await proxier.sync(this.#state(family), full ? 'all' : ids)
        if (stats.refused) this.#reportRefused(family, stats.refused)
        this.metrics.syncDuration.observe({ sync: kind, family: `IPv${family}` }, (performance.now() - started) / 1000)
        this.metrics.servicesProgrammed.set({ family: `IPv${family}` }, this.#tracker.entries(family).size)
        ids.clear()
        this.#needFull.delete(family)
        if (full) fullSynced = true
        this.log.debug({ family, sync: kind, ms: Math.round(performance.now() - started), ...stats }, 'synced proxy rules')
      } catch (err) {
        failed = true
        // As kube-proxy does: whatever a failed sync left, the retry rewrites everything.
        this.#needFull.add(family)
        this.metrics.syncFailures.inc({ sync: kind, family: `IPv${family}` })
        this.log.warn({ err, family, sync: kind }, 'proxy sync failed; retrying')
      }
    }
    await this.#syncServiceHealth().catch((err: unknown) => this.log.error({ err }, 'could not update the health check listeners'))
    if (!failed) this.metrics.lastSync.set(Date.now() / 1000)
    return { ok: !failed, full: fullSynced }
  }

  /** Opens and closes the health check listeners to match the Services, and hands them the local endpoint counts. */
  async #syncServiceHealth(): Promise<void> {
    const hc = this.serviceHealth
    if (!hc) return
    const ports = this.#tracker.healthCheckNodePorts()
    // No Service with a health check port, none served and no failure to clear: nothing to do.
    if (ports.size === 0 && hc.size === 0 && this.#healthFailed.size === 0) return
    const failures = await hc.syncServices(ports, this.options.serviceHealthHosts ?? this.#nodeIPs)
    // As kube-proxy counts them: ready endpoints on this node, each address once, over every port and family.
    const local = new Map<string, number>()
    for (const key of ports.keys()) {
      const ips = new Set<string>()
      for (const family of this.families) for (const { endpoints } of this.#tracker.serviceEntries(family, key)) for (const ep of endpoints) if (ep.local && ep.ready) ips.add(ep.ip)
      local.set(key, ips.size)
    }
    hc.syncEndpoints(local)
    for (const key of this.#healthFailed) if (!ports.has(key)) this.problems.set(key, 'healthcheck', undefined, [])
    this.#healthFailed = new Set(failures.keys())
    for (const key of ports.keys()) {
      const err = failures.get(key)
      const message = err && `node ${this.options.nodeName} failed to start healthcheck "${key}" on port ${ports.get(key)}: ${err.message}; the load balancer cannot tell whether this node has endpoints (free the port, or check the node's addresses)`
      this.problems.set(key, 'healthcheck', this.#tracker.service(key), message ? [{ reason: 'FailedToStartServiceHealthcheck', message }] : [])
    }
  }

  #reportFieldProblems(): void {
    for (const [key, { service, problems }] of this.#tracker.takeProblems()) {
      if (!service) {
        this.problems.forget(key)
        continue
      }
      const fresh = this.problems.set(key, 'fields', service, problems.map((p) => ({ reason: 'InvalidServiceField', message: p.message })))
      const kinds = new Map(problems.map((p) => [p.message, p.kind]))
      for (const f of fresh) this.metrics.invalidServiceFields.inc({ field: kinds.get(f.message)! })
    }
  }

  #reportRefused(family: Family, refused: ReadonlyMap<string, RefusedPort>): void {
    const byKey = new Map<string, string[]>()
    for (const r of refused.values()) {
      const key = serviceKey(r.namespace, r.name)
      byKey.set(key, [...(byKey.get(key) ?? []), r.message])
    }
    const source = `rules/IPv${family}`
    const before = this.#refusedKeys.get(family) ?? new Set<string>()
    for (const key of before) if (!byKey.has(key)) this.problems.set(key, source, undefined, [])
    for (const [key, messages] of byKey) {
      const fresh = this.problems.set(key, source, this.#tracker.service(key), messages.map((message) => ({ reason: 'ServiceRulesRefused', message })))
      if (fresh.length) this.metrics.refusedServiceRules.inc({ family: `IPv${family}` }, fresh.length)
    }
    this.#refusedKeys.set(family, new Set(byKey.keys()))
  }

  #state(family: Family): ProxyState {
    const o = this.options
    return {
      family,
      serviceCIDRs: o.serviceCIDRs.filter((c) => familyOf(c) === family),
      clusterCIDRs: o.clusterCIDRs.filter((c) => familyOf(c) === family),
      nodeIPs: this.#nodeIPs.filter((ip) => familyOf(ip) === family),
      services: this.#tracker.entries(family),
    }
  }
}
