// Wires a NetworkPolicyEnforcer to the nftables data plane: what `weft agent` runs. Where nft
// cannot be used the agent runs on without enforcement, but says so loudly: an error in the
// log, weft_netpol_enforcing 0 with the reason, and /healthz/netpol answering 503. Never a
// silent allow-all. Disabled (--network-policy=false), it removes the tables an earlier run
// left, rather than leave frozen rules that nothing updates.
//
// The agent waits for the first sync (so pods it starts are covered), but not forever: reads
// the node may not make (an API server without weft:network-policy-agent, say) would otherwise
// hold the kubelet back. Past startTimeoutMs enforcement goes on starting in the background,
// unhealthy until it has synced.
import type { RestClient } from '../src/client/index.ts'
import { NftExec, probeNftables, type NftProbeResult } from '../src/netfilter/index.ts'
import type { Route } from '../src/util/http-endpoints.ts'
import type { Logger } from '../src/util/log.ts'
import { NetworkPolicyEnforcer, type NetpolDataPlane, type NetpolHealth } from './enforcer.ts'
import { NetpolMetrics } from './metrics.ts'
import { NetpolApplier, type NetpolApplierOptions } from './nftables/applier.ts'

export type DenyAction = 'drop' | 'reject'

export interface NetpolConfig {
  /** --network-policy: false creates nothing. */
  enabled: boolean
  /** --network-policy-deny: denied packets are dropped, or rejected (TCP reset, ICMP unreachable). */
  deny: DenyAction
  /** --network-policy-log-rate: denied packets logged per second at most; 0: none. */
  logRate: number
  /** --network-policy-resync-period. */
  resyncMs: number
  /** At most one sync per this many ms (the proxy's --min-sync-period). */
  minSyncMs: number
}

export const defaultNetpolConfig: NetpolConfig = { enabled: true, deny: 'drop', logRate: 0, resyncMs: 300_000, minSyncMs: 0 }

export interface NetpolDeps {
  client: RestClient
  nodeName: string
  nodeIPs: () => readonly string[]
  /**
   * What the forward hook cannot see on this node, if anything: pod-to-pod traffic on the
   * bridge of a family br_netfilter does not hand to netfilter. Enforcement then runs but is
   * incomplete: an error at start, and /healthz/netpol answers 503 with this reason.
   */
  coverageGap?: string
  log: Logger
  probe?: () => Promise<NftProbeResult>
  createDataPlane?: (opts: NetpolApplierOptions) => Promise<NetpolDataPlane>
  /** How long the agent waits for the first sync before it goes on (default 30 s). */
  startTimeoutMs?: number
  /** For tests: the enforcer's health timeout and retry waits. */
  healthTimeoutMs?: number
  retry?: { initialMs: number; maxMs: number }
}

export interface RunningNetpol {
  /** Undefined when enforcement is off (disabled, or nft unusable). */
  enforcer: NetworkPolicyEnforcer | undefined
  metrics: NetpolMetrics
  health(now?: number): NetpolHealth
  /** Stops watching; the rules stay in place unless `cleanup` (then every pod is reachable again). */
  stop(opts?: { cleanup?: boolean }): Promise<void>
}

function off(metrics: NetpolMetrics, healthy: boolean, reason: string): RunningNetpol {
  metrics.setEnforcing(false, reason)
  return {
    enforcer: undefined,
    metrics,
    health: (now = Date.now()) => ({ healthy, enforcing: false, reason, currentTime: new Date(now).toISOString() }),
    stop: async () => undefined,
  }
}

export async function startNetworkPolicy(config: NetpolConfig, deps: NetpolDeps, signal?: AbortSignal): Promise<RunningNetpol> {
  const { log } = deps
  const probe = await (deps.probe ?? (() => probeNftables()))()
  let dataPlane: NetpolDataPlane | undefined
  let why = probe.ok ? '' : probe.reason
  if (probe.ok) {
    try {
      dataPlane = await (deps.createDataPlane ?? (async (o) => new NetpolApplier(o)))({ nft: new NftExec(), deny: config.deny, ...(config.logRate ? { logRate: config.logRate } : {}), log })
    } catch (err) {
      why = `the nftables data plane could not be set up: ${err instanceof Error ? err.message : String(err)}`
    }
  }
  if (!config.enabled) {
    // Rules an earlier agent left would go on isolating pods with nothing keeping them current.
    await dataPlane?.cleanup().catch((err: unknown) => log.warn({ err }, 'could not remove the NetworkPolicy tables an earlier agent left'))
    log.info('NetworkPolicy enforcement is off (--network-policy=false): NetworkPolicies are not enforced on this node')
    return off(new NetpolMetrics(), true, 'disabled by --network-policy=false')
  }
  if (!dataPlane) {
    const reason = `nftables cannot be used: ${why}`
    log.error(
      { reason },
      `NetworkPolicy enforcement is OFF: ${reason}. No NetworkPolicy is enforced on this node, so its pods accept and send any traffic whatever the policies say; fix that and restart the agent, or pass --network-policy=false to say this is intended`,
    )
    return off(new NetpolMetrics(), false, reason)
  }
  let enforcer: NetworkPolicyEnforcer | undefined
  const metrics = new NetpolMetrics(() => enforcer?.dropCounters() ?? Promise.resolve(undefined))
  enforcer = new NetworkPolicyEnforcer({
    client: deps.client,
    nodeName: deps.nodeName,
    nodeIPs: deps.nodeIPs,
    dataPlane,
    minSyncMs: config.minSyncMs,
    resyncMs: config.resyncMs,
    ...(deps.healthTimeoutMs !== undefined ? { healthTimeoutMs: deps.healthTimeoutMs } : {}),
    ...(deps.retry ? { retry: deps.retry } : {}),
    metrics,
    log,
  })
  log.info({ deny: config.deny, logRate: config.logRate, resyncMs: config.resyncMs }, 'enforcing NetworkPolicy')
  const gap = deps.coverageGap
  if (gap) log.error({ reason: gap }, `NetworkPolicy enforcement is INCOMPLETE: ${gap}`)
  const running = enforcer
  let started = false
  let stopping = false
  const starting = running.start(signal).then(() => {
    started = true
  })
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, deps.startTimeoutMs ?? 30_000)))
  try {
    await Promise.race([starting, timeout])
  } catch (err) {
    await running.stop()
    throw err
  } finally {
    clearTimeout(timer)
  }
  if (!started) {
    log.warn(
      { waitedMs: deps.startTimeoutMs ?? 30_000 },
      "NetworkPolicy enforcement has not listed NetworkPolicies, Namespaces and Pods yet (may this node list and watch them? weft:network-policy-agent grants it): the agent goes on, and policies are enforced once they are listed; /healthz/netpol answers 503 until then",
    )
    starting.catch((err: unknown) => {
      if (!stopping && !signal?.aborted) log.error({ err }, 'NetworkPolicy enforcement did not start')
    })
  }
  return {
    enforcer: running,
    metrics,
    health: (now) => {
      const h = running.health(now)
      return gap ? { ...h, healthy: false, reason: h.healthy ? gap : `${h.reason}; ${gap}` } : h
    },
    async stop(opts = {}) {
      stopping = true
      await running.stop()
      if (opts.cleanup) await running.cleanup()
    },
  }
}

/** GET /healthz/netpol: 200 while healthy (or disabled on purpose), else 503; the body says whether policies are enforced and why not. */
export function netpolHealthRoute(netpol: Pick<RunningNetpol, 'health'>): Route {
  return (res) => {
    const h = netpol.health()
    res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' })
    res.end(JSON.stringify(h) + '\n')
  }
}
