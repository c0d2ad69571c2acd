// The measured node's NetworkPolicy agent, in its own process as `weft agent` would run it:
// a NetworkPolicyEnforcer (informers on NetworkPolicies, Namespaces and Pods of the real weft
// API server, the agent's default min-sync period and resync period) with a NetpolApplier
// whose nft runs in the node namespace. `node node.ts CONFIG-JSON`; it prints JSON lines:
//   {"ev":"sync","kind":"full|partial","ms":…,"at":…}  every enforcer sync (compile + apply),
//       from the enforcer's own sync-duration metric; at = when it ended (clock.ts nowMs)
//   {"ev":"apply","full":…,"ms":…,"nftMs":…,"at":…,…stats}  the data plane's part of it
//   {"ev":"ready"}  after the first (full) sync
//   {"ev":"result","id":…,…}  answers to commands read on stdin:
//   {"op":"timing","id":1,"scratch":["ns1",…],"compileRuns":5}  the applier's full resync of
//       the enforced state into each empty scratch namespace and again over it (as the
//       periodic resync does), and clusterView + compileNode of the listed objects, with
//       every object parsed (cold), with the parse cache warm (every pod compiled again), and
//       with the compile cache warm too and nothing changed (what a sync reuses).
import { createInterface } from 'node:readline'
import type { V1Namespace, V1NetworkPolicy, V1Pod } from '@kubernetes/client-node'
import { loadKubeconfig, RestClient } from '../../src/client/index.ts'
import type { NftClient, TableObjects } from '../../src/netfilter/client.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import type { NftFamily, Transaction } from '../../src/netfilter/transaction.ts'
import { logger } from '../../src/util/log.ts'
import { clusterView, compileNode, newCompileCache, newParseCache } from '../../netpol/compile.ts'
import { NetworkPolicyEnforcer, slimPod, type NetpolDataPlane, type NetpolSyncStats } from '../../netpol/enforcer.ts'
import { NetpolMetrics } from '../../netpol/metrics.ts'
import type { CompiledNode } from '../../netpol/model.ts'
import { NetpolApplier } from '../../netpol/nftables/applier.ts'
import { defaultNetpolConfig } from '../../netpol/run.ts'
import { nowMs } from '../lib/clock.ts'
import { namespaceInfo, podInfo, policyInfo } from './cluster.ts'

interface Config {
  kubeconfig: string
  nodeName: string
  nodeIPs: string[]
  netns: string
}

const config = JSON.parse(process.argv[2]!) as Config
const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n')

/** Adds up the time spent waiting for `nft`. */
class TimedNft implements NftClient {
  ms = 0
  readonly inner: NftExec
  constructor(inner: NftExec) {
    this.inner = inner
  }
  async apply(tx: Transaction): Promise<void> {
    const t0 = performance.now()
    try {
      await this.inner.apply(tx)
    } finally {
      this.ms += performance.now() - t0
    }
  }
  listTable(family: NftFamily, table: string): Promise<TableObjects | undefined> {
    return this.inner.listTable(family, table)
  }
}

/** The applier, reporting each call's stats and nft time. */
class Reporting implements NetpolDataPlane {
  readonly nft: TimedNft
  readonly applier: NetpolApplier
  constructor(netns: string) {
    this.nft = new TimedNft(new NftExec(netns))
    this.applier = new NetpolApplier({ nft: this.nft, deny: defaultNetpolConfig.deny, readTable: async () => [] })
  }
  async #timed(full: boolean, state: CompiledNode): Promise<NetpolSyncStats> {
    this.nft.ms = 0
    const stats = await (full ? this.applier.resync(state) : this.applier.sync(state))
    emit({ ev: 'apply', ...stats, ms: stats.durationMs, nftMs: this.nft.ms, at: nowMs() })
    return stats
  }
  sync(state: CompiledNode): Promise<NetpolSyncStats> {
    return this.#timed(false, state)
  }
  resync(state: CompiledNode): Promise<NetpolSyncStats> {
    return this.#timed(true, state)
  }
  dropCounters() {
    return this.applier.dropCounters()
  }
  cleanup() {
    return this.applier.cleanup()
  }
}

const client = new RestClient(loadKubeconfig(config.kubeconfig), { userAgent: 'weft-bench-netpol' })
const dataPlane = new Reporting(config.netns)
const metrics = new NetpolMetrics()
// The enforcer observes every sync's duration (compile + apply) here; pass it on as an event.
const histogram = metrics.syncDuration
const observe = histogram.observe.bind(histogram) as (labels: { sync: string }, seconds: number) => void
;(histogram as unknown as { observe: typeof observe }).observe = (labels, seconds) => {
  emit({ ev: 'sync', kind: labels.sync, ms: seconds * 1000, at: nowMs() })
  observe(labels, seconds)
}
const enforcer = new NetworkPolicyEnforcer({
  client,
  nodeName: config.nodeName,
  nodeIPs: () => config.nodeIPs,
  dataPlane,
  minSyncMs: defaultNetpolConfig.minSyncMs,
  resyncMs: defaultNetpolConfig.resyncMs,
  metrics,
  log: logger('netpol'),
})

async function timing(scratch: string[], compileRuns: number): Promise<Record<string, unknown>> {
  const state = enforcer.state
  if (!state) throw new Error('nothing enforced yet')
  const empty: number[] = []
  const over: number[] = []
  const emptyNft: number[] = []
  const overNft: number[] = []
  for (const ns of scratch) {
    const nft = new TimedNft(new NftExec(ns))
    const applier = new NetpolApplier({ nft, deny: defaultNetpolConfig.deny, readTable: async () => [] })
    empty.push((await applier.resync(state)).durationMs)
    emptyNft.push(nft.ms)
    nft.ms = 0
    over.push((await applier.resync(state)).durationMs)
    overNft.push(nft.ms)
    await applier.cleanup()
  }
  const [policies, pods, namespaces] = await Promise.all([
    client.listAll<V1NetworkPolicy>(policyInfo),
    client.listAll<V1Pod>(podInfo),
    client.listAll<V1Namespace>(namespaceInfo),
  ])
  const slim = pods.items.map(slimPod)
  // Cold: every object parsed (the enforcer's first sync). Warm: parsed objects from the cache
  // (every later sync, where only the objects that changed are parsed again).
  const cold: number[] = []
  const reused: number[] = []
  const view: number[] = []
  const compile: number[] = []
  for (let i = 0; i < compileRuns; i++) {
    let t0 = performance.now()
    compileNode(clusterView({ policies: policies.items, pods: slim, namespaces: namespaces.items }), config.nodeName, config.nodeIPs)
    cold.push(performance.now() - t0)
    const cache = newParseCache()
    clusterView({ policies: policies.items, pods: slim, namespaces: namespaces.items }, cache)
    t0 = performance.now()
    const v = clusterView({ policies: policies.items, pods: slim, namespaces: namespaces.items }, cache)
    const t1 = performance.now()
    compileNode(v, config.nodeName, config.nodeIPs)
    view.push(t1 - t0)
    compile.push(performance.now() - t1)
    // Both caches warm and nothing changed: what a sync pays for what it can reuse.
    const compiled = newCompileCache()
    compileNode(v, config.nodeName, config.nodeIPs, compiled)
    t0 = performance.now()
    compileNode(clusterView({ policies: policies.items, pods: slim, namespaces: namespaces.items }, cache), config.nodeName, config.nodeIPs, compiled)
    reused.push(performance.now() - t0)
  }
  let rules = 0
  for (const p of state.pods.values()) rules += (p.ingress.isolated ? p.ingress.allow.length : 0) + (p.egress.isolated ? p.egress.allow.length : 0)
  return { empty, over, emptyNft, overNft, cold, reused, view, compile, pods: state.pods.size, sets: state.sets.size, entries: rules, policies: policies.items.length, allPods: pods.items.length }
}

process.on('SIGTERM', () => {
  void enforcer.stop().finally(() => process.exit(0))
})
await enforcer.start()
emit({ ev: 'ready' })
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { op: string; id: number; scratch?: string[]; compileRuns?: number }
  if (cmd.op !== 'timing') return
  timing(cmd.scratch ?? [], cmd.compileRuns ?? 5).then(
    (r) => emit({ ev: 'result', id: cmd.id, ...r }),
    (err: unknown) => emit({ ev: 'result', id: cmd.id, error: String((err as Error)?.stack ?? err) }),
  )
})
process.stdin.on('end', () => void enforcer.stop().finally(() => process.exit(0)))
