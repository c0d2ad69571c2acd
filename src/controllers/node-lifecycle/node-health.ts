// What the node lifecycle controller keeps between passes, as upstream's does: when it last
// saw each node's heartbeat change (by its own clock: never the node's timestamps, which
// another machine's clock wrote), and a rate limiter per zone for the NoExecute taints that
// evict pods, slowed down or stopped when much of a zone, or the whole cluster, goes silent
// at once (more likely a network or control-plane fault than dead nodes).
import type { V1Lease, V1Node } from '@kubernetes/client-node'

export const ZONE_LABEL = 'topology.kubernetes.io/zone'

export interface NodeHealthOptions {
  /** NoExecute taints per second in a healthy zone (--node-eviction-rate, upstream 0.1). */
  evictionRate: number
  /** The same in a zone that is partly down, when it is large (--secondary-node-eviction-rate, 0.01). */
  secondaryEvictionRate: number
  /** A zone with this share of nodes not Ready (and more than 2) is partly down (--unhealthy-zone-threshold, 0.55). */
  unhealthyZoneThreshold: number
  /** A partly down zone of at most this many nodes gets no evictions at all (--large-cluster-size-threshold, 50). */
  largeClusterSizeThreshold: number
}

export const defaultNodeHealthOptions: NodeHealthOptions = { evictionRate: 0.1, secondaryEvictionRate: 0.01, unhealthyZoneThreshold: 0.55, largeClusterSizeThreshold: 50 }

export type ZoneState = 'Normal' | 'PartialDisruption' | 'FullDisruption'

/** Upstream's ComputeZoneState. */
export function zoneState(ready: number, notReady: number, threshold: number): ZoneState {
  if (ready === 0 && notReady > 0) return 'FullDisruption'
  if (notReady > 2 && notReady / (ready + notReady) >= threshold) return 'PartialDisruption'
  return 'Normal'
}

interface Seen {
  /** The heartbeat as the node wrote it: the Lease's renewTime and the Ready condition's heartbeat. */
  beat: string
  /** When this controller first saw that heartbeat (ms, its own clock). */
  at: number
}

interface Bucket {
  tokens: number
  at: number
}

export class NodeHealth {
  readonly options: NodeHealthOptions
  readonly #seen = new Map<string, Seen>()
  readonly #buckets = new Map<string, Bucket>()

  constructor(options: Partial<NodeHealthOptions> = {}) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
    this.options = { ...defaultNodeHealthOptions, ...given }
  }

  /**
   * When the node's heartbeat was last seen to change, by this controller's clock. A node
   * seen for the first time counts as heard from now: a controller that just started (or
   * just became leader) gives every node a full grace period.
   */
  lastHeard(node: V1Node, lease: V1Lease | undefined, nowMs: number): number {
    const name = node.metadata!.name!
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready')
    const beat = `${String(lease?.spec?.renewTime ?? '')}|${String(ready?.lastHeartbeatTime ?? '')}`
    const seen = this.#seen.get(name)
    if (seen && seen.beat === beat) return seen.at
    this.#seen.set(name, { beat, at: nowMs })
    return nowMs
  }

  forget(name: string): void {
    this.#seen.delete(name)
  }

  /**
   * The eviction rate for each zone now, from every node's Ready status (true: Ready):
   * upstream's handleDisruption. When every zone is fully down, no zone evicts.
   */
  zoneRates(nodes: { zone: string; ready: boolean }[]): { rates: Map<string, number>; states: Map<string, ZoneState>; allDisrupted: boolean } {
    const counts = new Map<string, { ready: number; notReady: number }>()
    for (const n of nodes) {
      const c = counts.get(n.zone) ?? { ready: 0, notReady: 0 }
      if (n.ready) c.ready++
      else c.notReady++
      counts.set(n.zone, c)
    }
    const states = new Map<string, ZoneState>()
    for (const [zone, c] of counts) states.set(zone, zoneState(c.ready, c.notReady, this.options.unhealthyZoneThreshold))
    const allDisrupted = states.size > 0 && [...states.values()].every((s) => s === 'FullDisruption')
    const rates = new Map<string, number>()
    for (const [zone, state] of states) {
      const size = counts.get(zone)!.ready + counts.get(zone)!.notReady
      const rate = allDisrupted ? 0 : state === 'PartialDisruption' ? (size > this.options.largeClusterSizeThreshold ? this.options.secondaryEvictionRate : 0) : this.options.evictionRate
      rates.set(zone, rate)
    }
    return { rates, states, allDisrupted }
  }

  /**
   * Takes one token of the zone's bucket (burst 1, refilled at `rate` per second), as the
   * rate-limited NoExecute tainter does; false when none is left: try again after `retryMs`.
   */
  takeEvictionToken(zone: string, rate: number, nowMs: number): { ok: boolean; retryMs: number } {
    if (!(rate > 0)) return { ok: false, retryMs: 10_000 }
    const b = this.#buckets.get(zone) ?? { tokens: 1, at: nowMs }
    b.tokens = Math.min(1, b.tokens + ((nowMs - b.at) / 1000) * rate)
    b.at = nowMs
    this.#buckets.set(zone, b)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return { ok: true, retryMs: 0 }
    }
    return { ok: false, retryMs: Math.ceil(((1 - b.tokens) / rate) * 1000) }
  }
}

export function zoneOf(node: V1Node): string {
  return node.metadata?.labels?.[ZONE_LABEL] ?? ''
}
