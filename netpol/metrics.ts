// NetworkPolicy enforcement's Prometheus metrics. No default process metrics here: the agent
// serves these beside the proxy's, whose registry already has them.
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client'

export type DropCounters = ReadonlyMap<string, { packets: number; bytes: number }>

export class NetpolMetrics {
  readonly registry = new Registry()
  readonly syncDuration = new Histogram({
    name: 'weft_netpol_sync_duration_seconds',
    help: 'NetworkPolicy rule sync latency in seconds, for full and partial syncs.',
    labelNames: ['sync'] as const,
    buckets: [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192],
    registers: [this.registry],
  })
  readonly syncFailures = new Counter({
    name: 'weft_netpol_sync_failures_total',
    help: 'NetworkPolicy rule syncs that failed (each is retried with backoff, as a full resync).',
    labelNames: ['sync'] as const,
    registers: [this.registry],
  })
  readonly lastSync = new Gauge({
    name: 'weft_netpol_last_sync_timestamp_seconds',
    help: 'The last time the NetworkPolicy rules were successfully synced.',
    registers: [this.registry],
  })
  readonly rules = new Gauge({
    name: 'weft_netpol_rules',
    help: "Allow entries programmed: over this node's isolated pods, their ingress and egress entries.",
    registers: [this.registry],
  })
  readonly isolatedPods = new Gauge({
    name: 'weft_netpol_isolated_pods',
    help: "This node's pods isolated by some NetworkPolicy, by direction.",
    labelNames: ['direction'] as const,
    registers: [this.registry],
  })
  readonly policyProblems = new Counter({
    name: 'weft_netpol_policy_problems_total',
    help: 'Problems that keep a NetworkPolicy or one of its rules from being enforced as written, by Event reason (each distinct problem of a policy generation counted once).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly enforcing = new Gauge({
    name: 'weft_netpol_enforcing',
    help: 'Whether this node enforces NetworkPolicy (1) or not (0), with why.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly droppedPackets: Counter<'namespace' | 'pod'>

  /** `readDrops`: the data plane's per-pod drop counters, read on every scrape (undefined: none). */
  constructor(readDrops?: () => Promise<DropCounters | undefined>) {
    this.droppedPackets = new Counter({
      name: 'weft_netpol_dropped_packets_total',
      help: 'Packets a NetworkPolicy denied, by the isolated pod (read from the nft counters on every scrape; they start again from 0 when the agent rewrites a pod).',
      labelNames: ['namespace', 'pod'] as const,
      registers: [this.registry],
      async collect() {
        const drops = readDrops ? await readDrops().catch(() => undefined) : undefined
        this.reset()
        for (const [key, { packets }] of drops ?? []) {
          if (!(Number.isFinite(packets) && packets >= 0)) continue
          const slash = key.indexOf('/')
          this.inc(slash < 0 ? { namespace: '', pod: key } : { namespace: key.slice(0, slash), pod: key.slice(slash + 1) }, packets)
        }
      },
    })
  }

  /** Every metric, for serving them from another registry too (the proxy's, in the agent). */
  get all(): Metric<string>[] {
    return [this.syncDuration, this.syncFailures, this.lastSync, this.rules, this.isolatedPods, this.policyProblems, this.enforcing, this.droppedPackets]
  }

  /** Says whether enforcement is on; `reason` replaces any earlier one. */
  setEnforcing(on: boolean, reason: string): void {
    this.enforcing.reset()
    this.enforcing.set({ reason }, on ? 1 : 0)
  }
}
