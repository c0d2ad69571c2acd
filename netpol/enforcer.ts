// NetworkPolicy enforcement on one node, the proxy's shape: informers on NetworkPolicies,
// Namespaces and Pods of the whole cluster (a peer can be anywhere) → the pure compiler
// (clusterView + compileNode) → a data plane that programs the result. A change is synced at
// once; changes that come during a sync go together in the next (minSyncMs can add a minimum
// gap between syncs); the data plane syncs incrementally, with a full resync at
// start, after any failed sync (retried with backoff) and every resyncMs. What keeps a policy
// or one of its rules from being enforced as written becomes one Warning Event on the
// NetworkPolicy per problem and policy generation. Stopping leaves the rules in place, so a
// restarting agent does not open every isolated pod meanwhile.
import type { V1Namespace, V1NetworkPolicy, V1Pod } from '@kubernetes/client-node'
import { resources } from '../src/api/registry.ts'
import { Informer, type RestClient } from '../src/client/index.ts'
import { logger, type Logger } from '../src/util/log.ts'
import { SyncLoop } from '../src/util/sync-loop.ts'
import { ProblemReporter } from '../proxy/problem-reporter.ts'
import { clusterView, compileNode, newCompileCache, newParseCache, type ClusterView } from './compile.ts'
import { NetpolMetrics } from './metrics.ts'
import type { CompiledNode, L4Protocol, PolicyProblem } from './model.ts'
import { canonicalIP } from './parse.ts'
import { allowed } from './reachability.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!

export const EVENT_COMPONENT = 'weft-network-policy'

/**
 * On a Node whose agent relays Service traffic in userspace mode, after asking judge(): value
 * `userspace`. Other nodes' rules then treat its addresses as their own node's.
 */
export const ANN_SERVICE_RELAY = 'weft.dev/service-relay'

// The data plane's contract. NetpolApplier (netpol/nftables/applier.ts) satisfies it; tests
// hand in an in-memory one.
export interface NetpolSyncStats {
  full: boolean
  setsChanged: number
  podsChanged: number
  elementsAdded: number
  elementsRemoved: number
  durationMs: number
}

export interface NetpolDataPlane {
  /** Makes the rules match `state`, incrementally after the first call. Throws on failure, leaving the previous rules working. */
  sync(state: CompiledNode): Promise<NetpolSyncStats>
  /** Rewrites every rule of `state` (repairs whatever else changed the tables). */
  resync(state: CompiledNode): Promise<NetpolSyncStats>
  /** Denied packets and bytes per isolated pod, keyed `namespace/name`. */
  dropCounters(): Promise<Map<string, { packets: number; bytes: number }>>
  /** Removes every table the data plane made. */
  cleanup(): Promise<void>
}

export interface NetworkPolicyEnforcerOptions {
  client: RestClient
  nodeName: string
  /** This node's addresses (its traffic with its own pods is always allowed); read at every sync. */
  nodeIPs?: () => readonly string[]
  dataPlane: NetpolDataPlane
  /** At most one sync per this many ms (default 0: at once; changes during a sync go together in the next). */
  minSyncMs?: number
  /** A full resync at least this often (default 5 minutes). */
  resyncMs?: number
  /** Unhealthy when changes have waited longer than this for a successful sync (default 60 s). */
  healthTimeoutMs?: number
  /** The wait before retrying a failed sync, doubling up to maxMs (default 1 s to 30 s). */
  retry?: { initialMs: number; maxMs: number }
  metrics?: NetpolMetrics
  log?: Logger
}

export interface NetpolHealth {
  healthy: boolean
  /** False: NetworkPolicies are not enforced on this node (see reason). */
  enforcing: boolean
  reason?: string
  lastUpdated?: string
  currentTime: string
}

/**
 * What the compiler reads of a pod, and nothing else: the cache of every pod of the cluster
 * stays small (client-go's SetTransform, as Calico and kube-network-policies trim theirs).
 */
export function slimPod(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {}
  const s = pod.spec
  const st = pod.status ?? {}
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, labels: m.labels },
    spec: {
      nodeName: s?.nodeName,
      hostNetwork: s?.hostNetwork,
      containers: (s?.containers ?? []).map((c) => ({ name: c.name, ...(c.ports ? { ports: c.ports.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol })) } : {}) })),
    },
    status: { phase: st.phase, podIP: st.podIP, podIPs: st.podIPs?.map((p) => ({ ip: p.ip })) },
  }
}

function slimNamespace(ns: V1Namespace): V1Namespace {
  return { apiVersion: ns.apiVersion, kind: ns.kind, metadata: { name: ns.metadata?.name, resourceVersion: ns.metadata?.resourceVersion, labels: ns.metadata?.labels } }
}

/** The Event of a compiler problem: the reason says whether the whole policy or one rule is affected. */
export function problemEvent(p: PolicyProblem): { reason: string; message: string } {
  return { reason: p.scope === 'policy' ? 'PolicyNotEnforced' : 'InvalidRule', message: `${p.field}: ${p.message}` }
}

export class NetworkPolicyEnforcer {
  readonly options: NetworkPolicyEnforcerOptions
  readonly metrics: NetpolMetrics
  readonly log: Logger
  readonly problems: ProblemReporter
  #policies: Informer<V1NetworkPolicy>
  #namespaces: Informer<V1Namespace>
  #pods: Informer<V1Pod>
  /** Policy key → the generation its problems were reported for. */
  #reportedGeneration = new Map<string, number | undefined>()
  #loop: SyncLoop
  #needFull = true
  #stopped = false
  /** The last state the data plane accepted. */
  #state: CompiledNode | undefined
  /** What that state was compiled from, with other nodes' compiled states as judge() needs them. */
  #judged: { view: ClusterView; nodeOf?: Map<string, string>; nodes: Map<string, CompiledNode> } | undefined
  /** Parsed objects of the informers' caches, so a sync parses only what changed. */
  #parsed = newParseCache()
  /** What the last compile built, reused where nothing it depends on changed. */
  #compiled = newCompileCache()

  constructor(options: NetworkPolicyEnforcerOptions) {
    this.options = options
    this.log = options.log ?? logger('netpol')
    this.metrics = options.metrics ?? new NetpolMetrics(() => this.dropCounters())
    this.problems = new ProblemReporter({ client: options.client, nodeName: options.nodeName, log: this.log, kind: 'NetworkPolicy', component: EVENT_COMPONENT })
    const o = options
    const handlers = { onAdd: () => this.#changed(), onUpdate: () => this.#changed(), onDelete: () => this.#changed() }
    this.#policies = new Informer<V1NetworkPolicy>(o.client, info('NetworkPolicy'), { logger: this.log })
    this.#namespaces = new Informer<V1Namespace>(o.client, info('Namespace'), { logger: this.log, transform: slimNamespace })
    this.#pods = new Informer<V1Pod>(o.client, info('Pod'), { logger: this.log, transform: slimPod })
    for (const i of [this.#policies, this.#namespaces, this.#pods]) i.addHandlers(handlers)
    this.#loop = new SyncLoop({
      minSyncMs: o.minSyncMs ?? 0,
      fullSyncMs: o.resyncMs ?? 300_000,
      ...(o.healthTimeoutMs !== undefined ? { healthTimeoutMs: o.healthTimeoutMs } : {}),
      ...(o.retry ? { retry: o.retry } : {}),
      sync: () => this.#sync(),
      fullDue: () => void (this.#needFull = true),
      what: 'NetworkPolicy',
      log: this.log,
    })
  }

  /** The last compiled state the data plane accepted. */
  get state(): CompiledNode | undefined {
    return this.#state
  }

  async start(signal?: AbortSignal): Promise<void> {
    const informers = [this.#policies, this.#namespaces, this.#pods]
    for (const i of informers) i.start()
    const synced = await Promise.all(informers.map((i) => i.waitForSync(signal)))
    // A sync from half-listed caches would isolate pods without their peers.
    if (!synced.every(Boolean) || this.#stopped) throw new Error('NetworkPolicy enforcement stopped before it had listed NetworkPolicies, Namespaces and Pods')
    this.metrics.setEnforcing(true, 'enforcing')
    await this.#loop.start()
  }

  /** Stops watching; the rules stay as they are (cleanup() removes them). */
  async stop(): Promise<void> {
    this.#stopped = true
    const stopping = this.#loop.stop()
    await Promise.all([this.#policies, this.#namespaces, this.#pods].map((i) => i.stop()))
    await stopping
  }

  /** Removes the data plane's tables: every pod of this node is reachable again. */
  cleanup(): Promise<void> {
    return this.options.dataPlane.cleanup()
  }

  dropCounters(): Promise<Map<string, { packets: number; bytes: number }> | undefined> {
    return this.#state ? this.options.dataPlane.dropCounters() : Promise.resolve(undefined)
  }

  /** The proxy's health semantics: healthy once synced, while no change waits longer than healthTimeoutMs, and full resyncs keep succeeding. */
  health(now = Date.now()): NetpolHealth {
    const h = this.#loop.health(now)
    return { ...h, enforcing: true, ...(h.healthy ? {} : { reason: this.#loop.lastSuccess === undefined ? 'the rules have not been synced yet' : h.reason }) }
  }

  /** Runs a sync now (after any in flight) and resolves when it is done. */
  syncNow(): Promise<void> {
    return this.#loop.syncNow()
  }

  /** The nodeIPs callback's answer changed: sync again. */
  nodeAddressesChanged(): void {
    this.#changed()
  }

  #changed(): void {
    this.#loop.changed()
  }

  #compile(): { view: ClusterView; state: CompiledNode } {
    const view = clusterView({ policies: this.#policies.indexer.list(), pods: this.#pods.indexer.list(), namespaces: this.#namespaces.indexer.list() }, this.#parsed)
    return { view, state: compileNode(view, this.options.nodeName, this.options.nodeIPs?.() ?? [], this.#compiled) }
  }

  /**
   * Whether the rules in force allow a connection from `source` to `destination` (a pod's
   * address) on `protocol`/`port`: the source pod's egress and the destination pod's ingress,
   * wherever they run, judged from the state last synced. The userspace service proxy asks it
   * for the connections it relays from the node's own address. True before the first sync,
   * as the kernel then has no rules either.
   */
  judge(source: string, destination: string, protocol: L4Protocol, port: number): boolean {
    const j = this.#judged
    if (!j || !this.#state) return true
    if (!j.nodeOf) {
      j.nodeOf = new Map()
      for (const p of j.view.pods) if (p.usable) for (const ip of [...p.ips.v4, ...p.ips.v6]) j.nodeOf.set(ip, p.node)
    }
    const nodes = [this.#state]
    for (const ip of [source, destination]) {
      const c = canonicalIP(ip)
      const node = c && j.nodeOf.get(c.ip)
      if (!node || node === this.options.nodeName) continue
      let compiled = j.nodes.get(node)
      if (!compiled) j.nodes.set(node, (compiled = compileNode(j.view, node)))
      nodes.push(compiled)
    }
    return allowed(nodes, source, destination, protocol, port)
  }

  async #sync(): Promise<{ ok: boolean; full: boolean }> {
    const full = this.#needFull
    const kind = full ? 'full' : 'partial'
    const started = performance.now()
    let state: CompiledNode
    let view: ClusterView
    try {
      ;({ view, state } = this.#compile())
      this.#reportProblems(state.problems)
      const dp = this.options.dataPlane
      const stats = full ? await dp.resync(state) : await dp.sync(state)
      this.metrics.syncDuration.observe({ sync: kind }, (performance.now() - started) / 1000)
      this.log.debug({ sync: kind, ms: Math.round(performance.now() - started), ...stats }, 'synced NetworkPolicy rules')
    } catch (err) {
      // As the proxy does: whatever a failed sync left, the retry rewrites everything.
      this.#needFull = true
      this.metrics.syncFailures.inc({ sync: kind })
      this.log.warn({ err, sync: kind, failures: this.#loop.failures + 1 }, 'NetworkPolicy sync failed; retrying')
      return { ok: false, full }
    }
    this.#state = state
    this.#judged = { view, nodes: new Map() }
    this.#needFull = false
    this.metrics.lastSync.set(Date.now() / 1000)
    let rules = 0
    let ingress = 0
    let egress = 0
    for (const pod of state.pods.values()) {
      if (pod.ingress.isolated) (ingress++, (rules += pod.ingress.allow.length))
      if (pod.egress.isolated) (egress++, (rules += pod.egress.allow.length))
    }
    this.metrics.rules.set(rules)
    this.metrics.isolatedPods.set({ direction: 'ingress' }, ingress)
    this.metrics.isolatedPods.set({ direction: 'egress' }, egress)
    return { ok: true, full }
  }

  /** One Event per problem and policy generation; a problem that went away and came back is reported again. */
  #reportProblems(problems: readonly PolicyProblem[]): void {
    const byPolicy = new Map<string, PolicyProblem[]>()
    for (const p of problems) byPolicy.set(p.policy, [...(byPolicy.get(p.policy) ?? []), p])
    for (const key of [...this.#reportedGeneration.keys()]) {
      if (byPolicy.has(key)) continue
      this.#reportedGeneration.delete(key)
      this.problems.forget(key)
    }
    for (const [key, list] of byPolicy) {
      const policy = this.#policies.indexer.get(key)
      const generation = policy?.metadata?.generation
      if (this.#reportedGeneration.has(key) && this.#reportedGeneration.get(key) !== generation) this.problems.forget(key)
      this.#reportedGeneration.set(key, generation)
      const fresh = this.problems.set(key, 'compile', policy, list.map(problemEvent))
      for (const f of fresh) this.metrics.policyProblems.inc({ reason: f.reason })
    }
  }
}
