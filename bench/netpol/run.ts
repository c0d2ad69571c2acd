// The NetworkPolicy benchmark: with 1,000 NetworkPolicies and 1,000 pods programmed on the
// measured node (and 1,000 more pods on other nodes as peers), through a real weft API server
// and weft's enforcer + nftables applier in the measured node's namespace:
//   1. a policy change (create/update/delete) → the first packet of the newly allowed /
//      denied flow behaving so, with real TCP/UDP probes between pod namespaces;
//   2. a new pod (peer, or selected) Ready in the API → enforcement treating it so;
//   3. the data path (bulk TCP, new connections/s, connect time) with the policy table vs a
//      node with no table, same run;
//   4. the applier's full resync of that state, and the incremental syncs of 1 and 2.
// Everything runs in namespaces this process creates and removes (on success, failure and
// Ctrl-C). See README.md.
import { nftApply } from '../../src/netfilter/nft.ts'
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadKubeconfig, RestClient } from '../../src/client/index.ts'
import { clusterView, compileNode } from '../../netpol/compile.ts'
import { allowed } from '../../netpol/reachability.ts'
import { startWeftServer } from '../apiserver/weft-server.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { nowMs, sleep } from '../lib/clock.ts'
import { atLeast, atMost, fmtMs, fmtNumber, fmtRate, machineSummary, markdownTable, textTable, verdict, type ResultRow, type Target } from '../lib/report.ts'
import { median, percentile, summarize } from '../lib/stats.ts'
import { buildCluster, createCluster, MEASURED_NODE, probeAllow, realPod, type Cluster } from './cluster.ts'
import { dataPathRound, emptyDataPathSamples, startReceivers, stopLoad, type DataPathSamples } from './data-path.ts'
import { ensureTools } from './deps.ts'
import { startEnforcer, type EnforcerProcess } from './enforcer-process.ts'
import { newPods, policyChanges, startChurn, type Sample } from './latency.ts'
import { buildNode, netns, NODE_IP, REAL_PODS, type Node } from './topology.ts'

const usage = `Usage: node bench/netpol/run.ts [options]

  --rounds N             rounds of every measurement, interleaved (default 5)
  --changes N            policy writes per round, in cycles of create/update/update/delete (default 80)
  --loaded-changes N     policy writes per round while other pods churn (default 40; 0: none)
  --churn-rate N         pod writes per second of that churn (default 10)
  --new-pods N           new pods per round, of each kind (peer, selected) (default 20)
  --policies N           NetworkPolicies in all (default 1000)
  --pods N               pods on the measured node (default 1000)
  --remote-pods N        pods on 9 other nodes, peers only (default 1000)
  --namespaces N         application namespaces (default 50)
  --bulk-seconds N       iperf3 run per node and round (default 5)
  --close-seconds N      wrk run with a new connection per request, per node and round (default 3)
  --connections N        wrk connections (default 16)
  --threads N            wrk threads (default 2)
  --connects N           curl connect samples per node and round (default 100)
  --create-concurrency N API writes in flight while the cluster is created (default 16)
  --max-load X           before each round, wait until the 1-minute load average is ≤ X
                         (a shared machine; default 0: do not wait)
  --max-wait N           minutes to wait for that at most, then go on (default 20)
  --skip-latency | --skip-new-pods | --skip-data-path | --skip-sync
  --out FILE             results file (default bench/netpol/results.md; "-" for none)
`
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    changes: { type: 'string', default: '80' },
    'loaded-changes': { type: 'string', default: '40' },
    'churn-rate': { type: 'string', default: '10' },
    'new-pods': { type: 'string', default: '20' },
    policies: { type: 'string', default: '1000' },
    pods: { type: 'string', default: '1000' },
    'remote-pods': { type: 'string', default: '1000' },
    namespaces: { type: 'string', default: '50' },
    'bulk-seconds': { type: 'string', default: '5' },
    'close-seconds': { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    threads: { type: 'string', default: '2' },
    connects: { type: 'string', default: '100' },
    'create-concurrency': { type: 'string', default: '16' },
    'max-load': { type: 'string', default: '0' },
    'max-wait': { type: 'string', default: '20' },
    'skip-latency': { type: 'boolean', default: false },
    'skip-new-pods': { type: 'boolean', default: false },
    'skip-data-path': { type: 'boolean', default: false },
    'skip-sync': { type: 'boolean', default: false },
    out: { type: 'string', default: resolve(import.meta.dirname, 'results.md') },
    help: { type: 'boolean', short: 'h' },
  },
})
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}
function integer(name: keyof typeof flags, min: number): number {
  const n = Number(flags[name])
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}\n\n${usage}`)
    process.exit(2)
  }
  return n
}
const rounds = integer('rounds', 1)
const changes = integer('changes', 0)
const newPodCount = integer('new-pods', 0)
const loadedChanges = integer('loaded-changes', 0)
const churnRate = integer('churn-rate', 1)
const shape = { policies: integer('policies', 4), localPods: integer('pods', 4), remotePods: integer('remote-pods', 0), namespaces: integer('namespaces', 2) }
const dp = { bulkSeconds: integer('bulk-seconds', 1), closeSeconds: integer('close-seconds', 1), connections: integer('connections', 1), threads: integer('threads', 1), connects: integer('connects', 5) }
const createConcurrency = integer('create-concurrency', 1)
const maxLoad = Number(flags['max-load'])
const maxWaitMin = integer('max-wait', 0)
if (!Number.isFinite(maxLoad) || maxLoad < 0) {
  process.stderr.write(`--max-load must be a number ≥ 0\n\n${usage}`)
  process.exit(2)
}
if (shape.localPods > 60_000 || shape.remotePods > 60_000) {
  process.stderr.write('--pods and --remote-pods go up to 60000 (the addresses are made in one /16 each)\n')
  process.exit(2)
}
if (process.getuid?.() !== 0) {
  process.stderr.write('bench:netpol creates network namespaces and nft tables in them: run it as root\n')
  process.exit(2)
}

const progress = (line: string): void => void process.stderr.write(`${line}\n`)
const started = Date.now()
const cleanup = new Cleanup()
cleanup.onSignals()
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (interrupted = true))
const prefix = `wnp${process.pid}`
const n = (count: number): string => count.toLocaleString('en-US')

/** The cluster as the compiler sees it must give the flows the bench measures their starting state. */
function checkCluster(cluster: Cluster): void {
  const withUids = (pods: unknown[]) => pods.map((p, i) => ({ ...(p as object), metadata: { ...(p as { metadata: object }).metadata, uid: `check-${i}` } }))
  const compiled = (extraPods: unknown[] = [], extraPolicies: unknown[] = []) =>
    compileNode(clusterView({ policies: [...cluster.policies, ...extraPolicies], pods: withUids([...cluster.pods, ...extraPods]), namespaces: cluster.namespaces }), MEASURED_NODE, [NODE_IP])
  const R = REAL_PODS
  const can = (node: ReturnType<typeof compiled>, from: string, to: string, proto: 'TCP' | 'UDP', port: number) => allowed([node], from, to, proto, port)
  const base = compiled()
  const expect = (what: string, got: boolean, want: boolean) => {
    if (got !== want) throw new Error(`the generated cluster is not what the bench needs: ${what} is ${got ? 'allowed' : 'denied'} by the compiled rules`)
  }
  if (base.problems.length) throw new Error(`the generated policies have problems: ${JSON.stringify(base.problems.slice(0, 3))}`)
  for (const proto of ['TCP', 'UDP'] as const) {
    expect(`client → target ${proto} with no probe-allow`, can(base, R.client, R.target, proto, 8080), false)
    expect(`client → target ${proto} with probe-allow`, can(compiled([], [probeAllow(true)]), R.client, R.target, proto, 8080), true)
    expect(`client → target ${proto} with probe-allow naming nobody`, can(compiled([], [probeAllow(false)]), R.client, R.target, proto, 8080), false)
    expect(`new peer → target ${proto} before the pod exists`, can(base, R.newPeer, R.target, proto, 8080), false)
    expect(`new peer → target ${proto} once Ready`, can(compiled([realPod('newPeer', 'check-peer')]), R.newPeer, R.target, proto, 8080), true)
    expect(`client → new target ${proto} before the pod exists`, can(base, R.client, R.newTarget, proto, 8080), true)
    expect(`client → new target ${proto} once Ready`, can(compiled([realPod('newTarget', 'check-target')]), R.client, R.newTarget, proto, 8080), false)
  }
  for (const port of [80, 5201]) expect(`sender → receiver TCP ${port}`, can(base, R.sender, R.receiver, 'TCP', port), true)
  const isolated = (ip: string, dir: 'ingress' | 'egress') => [...base.pods.values()].some((p) => p.ips.v4.includes(ip) && p[dir].isolated)
  expect('the receiver isolated for ingress (not a no-op path)', isolated(R.receiver, 'ingress'), true)
  expect('the sender isolated for egress (not a no-op path)', isolated(R.sender, 'egress'), true)
}

interface LatencyData {
  changes: Sample[][]
  loaded: Sample[][]
  peerReady: Sample[][]
  peerDeleted: Sample[][]
  targetReady: Sample[][]
  targetDeleted: Sample[][]
}

const finite = (s: Sample[]) => s.map((x) => x.ms)
const fmtSamples = (s: Sample[]) => {
  const sum = summarize(finite(s))
  const misses = s.filter((x) => !Number.isFinite(x.ms)).length
  return `p50 ${fmtMs(sum.p50)}, p99 ${fmtMs(sum.p99)}, max ${fmtMs(sum.max)} (${s.length} samples${misses ? `, ${misses} never changed within 10 s` : ''})`
}

/** Median over rounds of each round's percentile `p`, and the percentile of all samples pooled. */
function perRound(byRound: Sample[][], p: number): { median: number; pooled: number; rounds: number[] } {
  const r = byRound.filter((s) => s.length).map((s) => percentile(Float64Array.from(finite(s)).sort(), p))
  return { median: median(r), pooled: percentile(Float64Array.from(byRound.flat().map((x) => x.ms)).sort(), p), rounds: r }
}

/** With --max-load: waits (at most --max-wait) for the 1-minute load average to come down; says how long it waited. */
async function quietMachine(what: string): Promise<string> {
  if (maxLoad <= 0) return `load ${loadavg()[0]!.toFixed(1)}`
  const t0 = Date.now()
  while (loadavg()[0]! > maxLoad && Date.now() - t0 < maxWaitMin * 60_000) {
    if ((Date.now() - t0) % 60_000 < 5000) progress(`${what}: waiting for the load average (${loadavg()[0]!.toFixed(1)}) to come down to ${maxLoad}`)
    await sleep(5000)
  }
  const waited = (Date.now() - t0) / 1000
  return `load ${loadavg()[0]!.toFixed(1)}${waited > 1 ? ` after waiting ${Math.round(waited)} s` : ''}`
}

const ratioText = (r: number): string => (Number.isFinite(r) ? `${fmtNumber(r)}×` : '—')

function latencyRows(label: string, byRound: Sample[][], peer?: { text: string; ms: number }): ResultRow[] {
  const target = atMost(100, ' ms')
  const rows: ResultRow[] = []
  for (const p of [50, 99]) {
    const f = perRound(byRound, p)
    const row: ResultRow = {
      metric: `${label}: p${p}`,
      weft: fmtMs(f.median),
      peer: peer ? peer.text : '—',
      ratio: peer ? ratioText(f.median / peer.ms) : '—',
      target: p === 99 ? target.text : '',
      verdict: p === 99 ? verdict(target, f.median) : '',
    }
    rows.push(row)
  }
  return rows
}

function latencyNotes(label: string, byRound: Sample[][]): string {
  const p50 = perRound(byRound, 50)
  const p99 = perRound(byRound, 99)
  const writes = byRound.flat().map((s) => s.writeMs)
  return `${label}: all rounds pooled ${fmtSamples(byRound.flat())}; per round p50 ${p50.rounds.map(fmtMs).join(' / ')}, p99 ${p99.rounds.map(fmtMs).join(' / ')}; the API write itself took p50 ${fmtMs(summarize(writes).p50)}`
}

/** The median over rounds of policy ÷ none, each pair measured back to back. */
function pairRatio(a: number[], b: number[]): number {
  return median(a.map((x, i) => x / b[i]!))
}

function dataPathRows(s: DataPathSamples): { rows: ResultRow[]; notes: string[] } {
  const target = atLeast(0.95, '×')
  const bulkRatio = pairRatio(s.bulkGbps.policy, s.bulkGbps.none)
  const rps = (side: 'policy' | 'none') => s.newConnection[side].map((r) => r.requestsPerSecond)
  const connRatio = pairRatio(rps('policy'), rps('none'))
  const con = { policy: summarize(s.connectMs.policy), none: summarize(s.connectMs.none) }
  const us = (ms: number) => `${Math.round(ms * 1000)} µs`
  const gbps = (x: number) => `${fmtNumber(x)} Gbit/s`
  const rows: ResultRow[] = [
    { metric: 'bulk TCP (iperf3, 1 stream), table vs none (conntrack on in both)', weft: gbps(median(s.bulkGbps.policy)), peer: gbps(median(s.bulkGbps.none)), ratio: ratioText(bulkRatio), target: target.text, verdict: verdict(target, bulkRatio) },
    { metric: 'new connections/s (wrk, Connection: close), table vs none', weft: fmtRate(median(rps('policy'))), peer: fmtRate(median(rps('none'))), ratio: ratioText(connRatio), target: '', verdict: '' },
    { metric: 'TCP connect p50 (curl), table vs none', weft: us(con.policy.p50), peer: us(con.none.p50), ratio: ratioText(con.policy.p50 / con.none.p50), target: '', verdict: '' },
    { metric: 'TCP connect p99 (curl), table vs none', weft: us(con.policy.p99), peer: us(con.none.p99), ratio: ratioText(con.policy.p99 / con.none.p99), target: '', verdict: '' },
  ]
  const errors = [...s.newConnection.policy, ...s.newConnection.none].reduce((sum, r) => sum + r.errors, 0)
  const notes = [
    `data path per round: bulk ${s.bulkGbps.policy.map(fmtNumber).join(' / ')} Gbit/s with the table vs ${s.bulkGbps.none.map(fmtNumber).join(' / ')} without; ` +
      `new connections ${rps('policy').map(fmtNumber).join(' / ')} vs ${rps('none').map(fmtNumber).join(' / ')} /s (wrk errors ${errors}); ` +
      `${s.connectMs.policy.length} + ${s.connectMs.none.length} curl connects`,
  ]
  return { rows, notes }
}

interface SyncTiming {
  empty: number[]
  over: number[]
  emptyNft: number[]
  overNft: number[]
  cold: number[]
  reused: number[]
  view: number[]
  compile: number[]
  pods: number
  sets: number
  entries: number
  policies: number
  allPods: number
}

function syncRows(enforcer: EnforcerProcess, t: SyncTiming | undefined, partialFrom: number): { rows: ResultRow[]; notes: string[] } {
  const target = atMost(2000, ' ms')
  const rows: ResultRow[] = []
  const notes: string[] = []
  const first = enforcer.syncs[0]
  const firstApply = enforcer.applies[0]
  if (t) {
    const full = median(t.empty)
    const over = median(t.over)
    rows.push(
      { metric: `applier full resync into an empty namespace (${n(t.pods)} pods, ${n(t.sets)} sets)`, weft: fmtMs(full), peer: '—', ratio: ratioText(full / 2000) + ' of target', target: target.text, verdict: verdict(target, full) },
      { metric: '  of which waiting for nft', weft: fmtMs(median(t.emptyNft)), peer: '—', ratio: '—', target: '', verdict: '' },
      { metric: 'applier full resync over the loaded table (the periodic resync)', weft: fmtMs(over), peer: '—', ratio: ratioText(over / 2000) + ' of target', target: target.text, verdict: verdict(target, over) },
      { metric: 'compile of the whole cluster, every object parsed (the first sync)', weft: fmtMs(median(t.cold)), peer: '—', ratio: '—', target: '', verdict: '' },
      { metric: 'compile, parse cache warm, every pod compiled again', weft: fmtMs(median(t.view.map((v, i) => v + t.compile[i]!))), peer: '—', ratio: '—', target: '', verdict: '' },
      { metric: 'compile, parse and compile caches warm, nothing changed', weft: fmtMs(median(t.reused)), peer: '—', ratio: '—', target: '', verdict: '' },
    )
    notes.push(
      `sync timing: ${t.policies} policies, ${n(t.allPods)} pods in the API; the node's state: ${n(t.pods)} local pods, ${n(t.sets)} peer sets, ${n(t.entries)} allow entries. ` +
        `Full resyncs into empty namespaces ${t.empty.map(fmtMs).join(', ')} (nft ${t.emptyNft.map(fmtMs).join(', ')}); over the loaded table ${t.over.map(fmtMs).join(', ')} (nft ${t.overNft.map(fmtMs).join(', ')}); ` +
        `compile with every object parsed ${t.cold.map(fmtMs).join(', ')}; with both caches warm and nothing changed ${t.reused.map(fmtMs).join(', ')}; with the parse cache warm: clusterView ${t.view.map(fmtMs).join(', ')}, compileNode ${t.compile.map(fmtMs).join(', ')}`,
    )
  }
  if (first) rows.push({ metric: "enforcer's first full sync at start (compile + apply)", weft: fmtMs(first.ms), peer: '—', ratio: ratioText(first.ms / 2000) + ' of target', target: target.text, verdict: verdict(target, first.ms) })
  if (firstApply) notes.push(`enforcer start: first full sync ${fmtMs(first?.ms ?? NaN)}, of which the applier ${fmtMs(firstApply.ms)} (nft ${fmtMs(firstApply.nftMs)})`)
  const partial = enforcer.syncs.filter((s) => s.kind === 'partial' && s.at >= partialFrom).map((s) => s.ms)
  const partialApply = enforcer.applies.filter((a) => !a.full && a.at >= partialFrom)
  if (partial.length) {
    const sum = summarize(partial)
    const ap = summarize(partialApply.map((a) => a.ms))
    const nft = summarize(partialApply.map((a) => a.nftMs))
    rows.push(
      { metric: `incremental sync (compile + apply), ${n(partial.length)} syncs: p50`, weft: fmtMs(sum.p50), peer: '—', ratio: '—', target: '', verdict: '' },
      { metric: 'incremental sync: p99', weft: fmtMs(sum.p99), peer: '—', ratio: '—', target: '', verdict: '' },
      { metric: '  of which the applier (diff + nft), p50', weft: fmtMs(ap.p50), peer: '—', ratio: '—', target: '', verdict: '' },
    )
    notes.push(
      `incremental syncs during the measurements: ${n(partial.length)}, p50 ${fmtMs(sum.p50)}, p90 ${fmtMs(sum.p90)}, p99 ${fmtMs(sum.p99)}, max ${fmtMs(sum.max)}; ` +
        `the applier's part p50 ${fmtMs(ap.p50)} / p99 ${fmtMs(ap.p99)}, waiting for nft p50 ${fmtMs(nft.p50)} / p99 ${fmtMs(nft.p99)}`,
    )
  }
  const fullLater = enforcer.syncs.filter((s) => s.kind === 'full').length - 1
  if (fullLater > 0) notes.push(`${fullLater} full resync(s) of the enforcer happened during the run (its periodic resync, or a retry after a failed sync)`)
  return { rows, notes }
}

// Published figures (see README.md, "Peers").
// kube-network-policies' committed scalability report: enforce idle 322 / 308 / 316 ms, loaded
// 333 / 312 / 307 ms, revoke 2,320 / 2,320 / 2,328 ms over its three flavors (one run each); the medians.
const KNP_ENFORCE = { text: 'kube-network-policies 316 ms', ms: 316 }
const KNP_REVOKE = { text: 'kube-network-policies 2,320 ms', ms: 2320 }
const KNP_ENFORCE_LOADED = { text: 'kube-network-policies 312 ms', ms: 312 }

try {
  ensureTools()
  const work = cleanup.tempDir('weft-bench-netpol-')
  const cluster = buildCluster(shape)
  checkCluster(cluster)
  progress(`cluster: ${cluster.namespaces.length} namespaces, ${n(cluster.pods.length)} pods (${n(shape.localPods)} on ${MEASURED_NODE}), ${n(cluster.policies.length)} NetworkPolicies`)

  const api = await startWeftServer(cleanup, { dataDir: cleanup.tempDir('api-', work) })
  const client = new RestClient(loadKubeconfig(api.kubeconfig), { userAgent: 'weft-bench-netpol', timeoutMs: 60_000 })
  cleanup.add(() => client.destroy())
  const created = await createCluster(client, cluster, createConcurrency)
  progress(`API server at ${api.url}: created pods at ${fmtRate(created.podsPerSecond)} (create + status), policies at ${fmtRate(created.policiesPerSecond)}`)

  const measured = await buildNode(cleanup, `${prefix}-m`, ['client', 'target', 'newPeer', 'newTarget', 'sender', 'receiver'], new Set(['client', 'target', 'newPeer', 'newTarget']))
  const baseline = await buildNode(cleanup, `${prefix}-b`, ['sender', 'receiver'], new Set())
  // Every weft node has conntrack on (the service proxy's NAT chains need it), policies or not:
  // the baseline gets an empty NAT chain as the proxy's table does, so the ratio is the policy
  // table's cost, not conntrack's.
  await nftApply(['add table ip weft-bench-conntrack', 'add chain ip weft-bench-conntrack prerouting { type nat hook prerouting priority dstnat; policy accept; }'], baseline.ns)
  const enforcer = await startEnforcer(cleanup, { kubeconfig: api.kubeconfig, nodeName: MEASURED_NODE, nodeIPs: [NODE_IP], netns: measured.ns, logDir: work })
  progress(`enforcer (pid ${enforcer.pid}) synced: first full sync ${fmtMs(enforcer.syncs[0]?.ms ?? NaN)}`)
  const agent = (node: Node, role: 'client' | 'newPeer') => node.pods.get(role)!.agent!

  const runData = !flags['skip-data-path']
  if (runData) {
    cleanup.add(stopLoad)
    await startReceivers(cleanup, measured, work)
    await startReceivers(cleanup, baseline, work)
    progress('bulk and HTTP receivers answer through both nodes')
  }

  const lat: LatencyData = { changes: [], loaded: [], peerReady: [], peerDeleted: [], targetReady: [], targetDeleted: [] }
  const dps = emptyDataPathSamples()
  const partialFrom = nowMs()
  const churnWrites: number[] = []
  const loads: string[] = []
  for (let round = 0; round < rounds; round++) {
    const tag = `round ${round + 1}/${rounds}`
    loads.push(await quietMachine(tag))
    if (!flags['skip-latency'] && changes > 0) {
      const s = await policyChanges(client, agent(measured, 'client'), changes)
      lat.changes.push(s)
      progress(`${tag} policy changes: allowed ${fmtSamples(s.filter((x) => x.expect === 'allow'))}; denied ${fmtSamples(s.filter((x) => x.expect === 'deny'))}`)
    }
    if (!flags['skip-latency'] && loadedChanges > 0) {
      const churn = startChurn(client, cluster.pods, churnRate)
      let s: Sample[]
      try {
        s = await policyChanges(client, agent(measured, 'client'), loadedChanges)
      } finally {
        const c = await churn.stop()
        churnWrites.push(c.writes)
        if (c.errors) throw new Error(`${c.errors} churn writes failed; first: ${c.firstError}`)
      }
      lat.loaded.push(s)
      progress(`${tag} policy changes under churn (${churnRate} pod writes/s): allowed ${fmtSamples(s.filter((x) => x.expect === 'allow'))}; denied ${fmtSamples(s.filter((x) => x.expect === 'deny'))}`)
    }
    if (!flags['skip-new-pods'] && newPodCount > 0) {
      const peer = await newPods(client, agent(measured, 'newPeer'), 'newPeer', newPodCount)
      lat.peerReady.push(peer.ready)
      lat.peerDeleted.push(peer.deleted)
      const sel = await newPods(client, agent(measured, 'client'), 'newTarget', newPodCount)
      lat.targetReady.push(sel.ready)
      lat.targetDeleted.push(sel.deleted)
      progress(`${tag} new pods: peer Ready → allowed ${fmtSamples(peer.ready)}; selected Ready → isolated ${fmtSamples(sel.ready)}`)
    }
    if (runData) {
      await dataPathRound({ policy: measured, none: baseline }, dps, dp, round % 2 === 0)
      progress(`${tag} data path: bulk ${fmtNumber(dps.bulkGbps.policy.at(-1)!)} vs ${fmtNumber(dps.bulkGbps.none.at(-1)!)} Gbit/s, new connections ${fmtRate(dps.newConnection.policy.at(-1)!.requestsPerSecond)} vs ${fmtRate(dps.newConnection.none.at(-1)!.requestsPerSecond)} (table vs none)`)
    }
  }

  let timing: SyncTiming | undefined
  if (!flags['skip-sync']) {
    loads.push(`sync timing ${await quietMachine('sync timing')}`)
    const scratch: string[] = []
    for (let i = 0; i < rounds; i++) scratch.push(await netns(cleanup, `${prefix}-s${i}`))
    timing = (await enforcer.command({ op: 'timing', scratch, compileRuns: rounds })) as unknown as SyncTiming
    progress(`full resync ${timing.empty.map(fmtMs).join(', ')} into empty namespaces, ${timing.over.map(fmtMs).join(', ')} over the loaded table`)
  }

  const rows: ResultRow[] = []
  const notes: string[] = []
  const byExpect = (data: Sample[][], e: 'allow' | 'deny') => data.map((s) => s.filter((x) => x.expect === e))
  if (lat.changes.length) {
    rows.push(...latencyRows('policy change → newly allowed flow', byExpect(lat.changes, 'allow'), KNP_ENFORCE), ...latencyRows('policy change → newly denied flow', byExpect(lat.changes, 'deny'), KNP_REVOKE))
    notes.push(latencyNotes('policy change → allowed (create, update)', byExpect(lat.changes, 'allow')), latencyNotes('policy change → denied (update, delete)', byExpect(lat.changes, 'deny')))
  }
  if (lat.loaded.length) {
    const under = `under churn (${churnRate} pod writes/s)`
    rows.push(...latencyRows(`policy change ${under} → allowed`, byExpect(lat.loaded, 'allow'), KNP_ENFORCE_LOADED), ...latencyRows(`policy change ${under} → denied`, byExpect(lat.loaded, 'deny'), KNP_REVOKE))
    notes.push(
      latencyNotes(`policy change ${under} → allowed`, byExpect(lat.loaded, 'allow')),
      latencyNotes(`policy change ${under} → denied`, byExpect(lat.loaded, 'deny')) + `; churn writes per round ${churnWrites.join(' / ')}`,
    )
  }
  if (lat.peerReady.length) {
    rows.push(...latencyRows('new peer pod Ready → its flow allowed', lat.peerReady), ...latencyRows('new selected pod Ready → isolated (flow denied)', lat.targetReady))
    notes.push(
      latencyNotes('new peer pod Ready → allowed', lat.peerReady),
      latencyNotes('new selected pod Ready → isolated', lat.targetReady),
      latencyNotes('(not a target) peer pod deleted → its flow denied', lat.peerDeleted),
      latencyNotes('(not a target) selected pod deleted → isolation lifted', lat.targetDeleted),
    )
  }
  if (runData) {
    const d = dataPathRows(dps)
    rows.push(...d.rows)
    notes.push(...d.notes)
  }
  notes.push(`1-minute load average at the start of each round: ${loads.join(' / ')} (${cpus().length} CPUs; the machine is shared, and the bench's own processes count too${maxLoad > 0 ? `; --max-load ${maxLoad}` : ''})`)
  const sr = syncRows(enforcer, timing, partialFrom)
  rows.push(...sr.rows)
  notes.push(...sr.notes)

  const setup =
    `${machineSummary(started)}; ${n(cluster.policies.length)} NetworkPolicies in ${shape.namespaces} namespaces, ${n(shape.localPods)} pods on the measured node and ${n(shape.remotePods)} on other nodes; ` +
    `${rounds} rounds of ${changes} policy writes, ${loadedChanges} more under ${churnRate} pod writes/s of churn, ${newPodCount} new peer and ${newPodCount} new selected pods` +
    (runData ? `, iperf3 ${dp.bulkSeconds} s, wrk ${dp.threads} threads × ${dp.connections} connections for ${dp.closeSeconds} s with a new connection per request, ${dp.connects} curl connects per node` : '')
  process.stdout.write(`\nNetworkPolicy — ${setup}\n\n${textTable(rows)}\n`)
  if (flags.out !== '-') {
    const mix = [...cluster.mix].map(([kind, count]) => `${count} × ${kind}`).join('; ')
    const md =
      `# bench/netpol results\n\n${new Date().toISOString()}: ${setup}.\n\n` +
      `Latency rows: the median over rounds of each round's p50 / p99 (all rounds pooled under the table); "peer" is the published figure named in README.md, ratio = weft ÷ peer. ` +
      `Data-path rows: "weft" = through the measured node with the policy table, "peer" = the same pair through a node with no table, same run; ratio = the median over rounds of the pairs measured back to back. ` +
      `Sync rows: medians; ratio = weft ÷ the target.\n\n` +
      `${markdownTable(rows)}\n\nDetails:\n\n${notes.map((l) => `- ${l}`).join('\n')}\n\nThe policy mix: ${mix}.\n`
    writeFileSync(flags.out!, md)
    process.stdout.write(`\nwrote ${flags.out}\n`)
  }
} catch (err) {
  if (!interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`)
  process.exitCode = 1
} finally {
  await cleanup.run()
}
