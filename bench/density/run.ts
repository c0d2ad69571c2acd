// bench:density — kubemark-style: `weft server` (API server, scheduler, controllers) in its
// own process, hollow nodes (bench/density/hollow-nodes.ts), and pods created as
// Deployments of 30 at --rate pods/s until every node has 30, spread over one namespace per
// --nodes-per-namespace nodes (clusterloader2's default, 100). Reported the way the upstream
// density test measures its SLIs:
//  - API call latency p99 per verb class, from the server's own request histogram
//    (apiserver_request_duration_seconds) over the run: mutating, single-object reads, lists;
//  - pod startup latency: from the create call of the pod's Deployment to the pod seen
//    Running and Ready by a watch (so it includes the ReplicaSet controller's part: an upper
//    bound of upstream's creation-to-running SLI, whose creationTimestamp has only seconds);
//  - the server process's CPU and memory, per 1,000 nodes and per 10,000 pods, and how they
//    grow across the sizes run (the fitted exponent of a power law: 1 is linear).
// Against the Kubernetes SLOs (p99 ≤ 1 s mutating and single reads, lists ≤ 30 s, startup
// p99 ≤ 5 s) and weft's own targets (100 ms, 50 ms, 2 s).
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { V1Pod } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { startEtcd } from '../lib/etcd.ts'
import { percentile } from '../lib/stats.ts'
import { startWeftServer } from '../apiserver/weft-server.ts'
import { startHollowNodes } from './hollow-nodes.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const deploymentInfo = resources.find((r) => r.kind === 'Deployment')!
const namespaceInfo = resources.find((r) => r.kind === 'Namespace')!

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100,200,400' },
    'pods-per-node': { type: 'string', default: '30' },
    'nodes-per-namespace': { type: 'string', default: '100' },
    rate: { type: 'string', default: '100' },
    store: { type: 'string', default: 'sqlite' },
    steady: { type: 'string', default: '20' },
    timeout: { type: 'string', default: '600' },
    'cpu-prof': { type: 'string' },
  },
})
const sizes = values.nodes!.split(',').map(Number)
const perNode = Number(values['pods-per-node'])
// As clusterloader2's density test (NODES_PER_NAMESPACE, default 100): the pods are spread
// over one namespace per that many nodes, so a namespace's LIST stays the size users see.
const nodesPerNamespace = Number(values['nodes-per-namespace'])
const rate = Number(values.rate)
const steadyMs = Number(values.steady) * 1000
const timeoutMs = Number(values.timeout) * 1000
const stores = values.store === 'both' ? ['sqlite', 'etcd'] : [values.store!]

interface Histogram {
  buckets: Map<number, number>
  count: number
}

/** apiserver_request_duration_seconds by verb class, from the Prometheus text. */
function histograms(text: string): Map<string, Map<string, Histogram>> {
  const out = new Map<string, Map<string, Histogram>>()
  for (const line of text.split('\n')) {
    const m = /^apiserver_request_duration_seconds_(bucket|count)\{([^}]*)\} (\S+)/.exec(line)
    if (!m) continue
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    const series = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`
    const cls = verbClass(labels.verb ?? '')
    // Resource requests only (/metrics and /readyz are not API calls).
    if (!cls || !labels.resource) continue
    let byClass = out.get(cls)
    if (!byClass) out.set(cls, (byClass = new Map()))
    let h = byClass.get(series)
    if (!h) byClass.set(series, (h = { buckets: new Map(), count: 0 }))
    if (m[1] === 'count') h.count = Number(m[3])
    else if (labels.le !== '+Inf') h.buckets.set(Number(labels.le), Number(m[3]))
  }
  return out
}

function verbClass(verb: string): string | undefined {
  if (['CREATE', 'UPDATE', 'PATCH', 'DELETE', 'DELETECOLLECTION'].includes(verb)) return 'mutating'
  if (verb === 'GET') return 'read'
  if (verb === 'LIST') return 'list'
  return undefined
}

/** p99 of the requests between two scrapes (Prometheus' histogram_quantile, linear within a bucket), in ms. */
function p99(before: Histogram | undefined, after: Histogram): number {
  const count = after.count - (before?.count ?? 0)
  if (count <= 0) return NaN
  const target = count * 0.99
  let prevLe = 0
  let prevCum = 0
  for (const le of [...after.buckets.keys()].sort((a, b) => a - b)) {
    const cum = after.buckets.get(le)! - (before?.buckets.get(le) ?? 0)
    if (cum >= target) return (prevLe + ((le - prevLe) * (target - prevCum)) / Math.max(1, cum - prevCum)) * 1000
    prevLe = le
    prevCum = cum
  }
  return Infinity
}

function procStats(pid: number): { cpuS: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  const rssPages = Number(fields[21])
  return { cpuS: ticks / 100, rssMiB: (rssPages * 4096) / 1024 / 1024 }
}

interface RunResult {
  store: string
  nodes: number
  pods: number
  startupP50: number
  startupP99: number
  worst: Record<string, { series: string; ms: number }>
  cpuCores: number
  rssMiB: number
  createSeconds: number
  /** Lease renewals per second in steady state (a live node renews every 10 s), and failures over the run. */
  /** Cores used by the server and by this process (hollow nodes, load, probes) from the first create to the last pod Running. */
  loadCpu: { server: number; bench: number }
  /** The server's event-loop delay over the run (ms): how long a request could wait behind other work. */
  loopDelay: { p99: number; max: number }
  renewalsPerSecond: number
  renewFailures: number
  statusErrors: number
}

async function oneRun(cleanup: Cleanup, store: string, nodes: number): Promise<RunResult> {
  const dir = cleanup.tempDir(`weft-density-${nodes}-`)
  const etcd = store === 'etcd' ? await startEtcd(cleanup, dir) : undefined
  const server = await startWeftServer(cleanup, {
    dataDir: dir,
    controlPlane: true,
    etcdEndpoint: etcd?.endpoint,
    // A /8 of /24s: room for every hollow node's pod CIDR, as a real cluster of this size would have.
    extraArgs: ['--dns-replicas', '0', '--ingress', 'none', '--leader-elect=false', '--cluster-cidr', '10.0.0.0/8'],
    cpuProfDir: values['cpu-prof'],
  })
  const client = new RestClient(loadKubeconfig(server.kubeconfig), { userAgent: 'weft-density', timeoutMs: 60_000 })
  cleanup.add(() => client.destroy())
  const hollow = await startHollowNodes(client, nodes)
  cleanup.add(() => hollow.stop())
  const namespaces = Array.from({ length: Math.max(1, Math.ceil(nodes / nodesPerNamespace)) }, (_, i) => `density-${i}`)
  for (const name of namespaces) await client.create(namespaceInfo, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as never)

  // Startup: the Deployment's create call to the watch showing each of its pods Running and Ready.
  const deploymentCreated = new Map<string, number>()
  const running = new Map<string, number>()
  const abort = new AbortController()
  const total = nodes * perNode
  let allRunning!: () => void
  const finished = new Promise<void>((r) => (allRunning = r))
  const { metadata } = await client.list(podInfo, { limit: 1 })
  void (async () => {
    for await (const ev of client.watch<V1Pod>(podInfo, { resourceVersion: metadata.resourceVersion, signal: abort.signal })) {
      const { name, namespace } = ev.object.metadata ?? {}
      if (!name || !namespace?.startsWith('density-')) continue
      const key = `${namespace}/${name}`
      const ready = ev.object.status?.phase === 'Running' && ev.object.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      if (ready && !running.has(key)) {
        running.set(key, performance.now() - (deploymentCreated.get(`${namespace}/${ev.object.metadata?.labels?.app}`) ?? performance.now()))
        if (running.size >= total) allRunning()
      }
    }
  })().catch(() => undefined)

  const metricsBefore = histograms(await client.request<string>('GET', '/metrics'))
  // Clients that read as users do: a single pod every 200 ms, one namespace's pods every 5 s.
  const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!
  const probes = [
    setInterval(() => {
      const keys = [...running.keys()]
      if (!keys.length) return
      const [namespace, name] = pick(keys).split('/') as [string, string]
      void client.get(podInfo, name, namespace).catch(() => undefined)
    }, 200),
    // The list is read and dropped, not parsed: the bench process also runs the hollow nodes.
    setInterval(
      () =>
        void (async () => {
          for await (const _chunk of await client.stream(`/api/v1/namespaces/${pick(namespaces)}/pods`));
        })().catch(() => undefined),
      5000,
    ),
  ]
  cleanup.add(() => probes.forEach(clearInterval))
  const started = performance.now()
  // Both processes' CPU while the pods are created and started: on two cores, a load
  // generator near one full core is part of what the startup latency measures.
  const serverCpuAtStart = procStats(server.process.pid).cpuS
  const benchCpuAtStart = process.cpuUsage()
  const deployments = Math.ceil(total / 30)
  for (let i = 0; i < deployments; i++) {
    const replicas = Math.min(30, total - i * 30)
    const name = `d-${i}`
    const namespace = namespaces[i % namespaces.length]!
    // Paced: one Deployment of 30 every 30/rate seconds.
    const due = started + (i * 30 * 1000) / rate
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    deploymentCreated.set(`${namespace}/${name}`, performance.now())
    await client.create(deploymentInfo, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace },
      spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '10m', memory: '10Mi' } } }] } } },
    } as never)
  }
  const createSeconds = (performance.now() - started) / 1000
  const timer = setTimeout(allRunning, timeoutMs)
  await finished
  clearTimeout(timer)
  const loadSeconds = (performance.now() - started) / 1000
  const benchCpu = process.cpuUsage(benchCpuAtStart)
  const loadCpu = { server: (procStats(server.process.pid).cpuS - serverCpuAtStart) / loadSeconds, bench: (benchCpu.user + benchCpu.system) / 1e6 / loadSeconds }
  // Steady state: every node renewing, nothing changing; the memory the cluster holds.
  let rssMiB = 0
  const steadyStart = procStats(server.process.pid)
  const renewedBefore = hollow.renewed
  const steadyAt = performance.now()
  while (performance.now() - steadyAt < steadyMs) {
    rssMiB = Math.max(rssMiB, procStats(server.process.pid).rssMiB)
    await sleep(1000)
  }
  const steadyEnd = procStats(server.process.pid)
  const renewalsPerSecond = (hollow.renewed - renewedBefore) / ((performance.now() - steadyAt) / 1000)
  probes.forEach(clearInterval)
  const metricsText = await client.request<string>('GET', '/metrics')
  const metricsAfter = histograms(metricsText)
  // prom-client's event-loop delay figures cover the time since the previous scrape: the whole run.
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metricsText)?.[1] ?? NaN) * 1000
  const loopDelay = { p99: gauge('nodejs_eventloop_lag_p99_seconds'), max: gauge('nodejs_eventloop_lag_max_seconds') }
  abort.abort()

  const startups = [...running.values()].sort((a, b) => a - b)
  const worst: RunResult['worst'] = {}
  for (const [cls, series] of metricsAfter) {
    for (const [name, h] of series) {
      const v = p99(metricsBefore.get(cls)?.get(name), h)
      if (Number.isFinite(v) && (!worst[cls] || v > worst[cls]!.ms)) worst[cls] = { series: name, ms: v }
    }
  }
  if (running.size < total) console.error(`  only ${running.size} of ${total} pods were Running after ${values.timeout} s`)
  await hollow.stop()
  await server.process.stop()
  return {
    store,
    nodes,
    pods: running.size,
    startupP50: percentile(startups, 50),
    startupP99: percentile(startups, 99),
    worst,
    cpuCores: (steadyEnd.cpuS - steadyStart.cpuS) / (steadyMs / 1000),
    rssMiB,
    createSeconds,
    loadCpu,
    loopDelay,
    renewalsPerSecond,
    renewFailures: hollow.renewFailures,
    statusErrors: hollow.errors,
  }
}

/** Least-squares slope of log(y) on log(x): the exponent of y ∝ x^k. */
function exponent(xs: number[], ys: number[]): number {
  const lx = xs.map(Math.log)
  const ly = ys.map(Math.log)
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length
  const my = ly.reduce((a, b) => a + b, 0) / ly.length
  let num = 0
  let den = 0
  for (let i = 0; i < lx.length; i++) {
    num += (lx[i]! - mx) * (ly[i]! - my)
    den += (lx[i]! - mx) ** 2
  }
  return den === 0 ? NaN : num / den
}

const f = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : '—')

/** One size's figures, printed as soon as that size is done (a long series keeps what it measured). */
function report(r: RunResult): void {
  const w = (cls: string) => (r.worst[cls] ? `${f(r.worst[cls]!.ms)} (${r.worst[cls]!.series})` : '—')
  console.log(`${r.store}, ${r.nodes} nodes, ${r.pods} pods running (created over ${r.createSeconds.toFixed(0)} s):`)
  console.log(`  pod startup p50 ${f(r.startupP50)}, p99 ${f(r.startupP99)}  [≤ 5 s / ≤ 2 s] ${r.startupP99 <= 2000 ? 'pass' : r.startupP99 <= 5000 ? 'SLO met, target missed' : 'FAIL'}`)
  console.log(`  API p99, worst series: mutating ${w('mutating')} [≤ 1 s / ≤ 100 ms], single reads ${w('read')} [≤ 1 s / ≤ 50 ms], lists ${w('list')} [≤ 30 s]`)
  console.log(`  while creating: the server used ${r.loadCpu.server.toFixed(2)} cores, the hollow nodes and load generator ${r.loadCpu.bench.toFixed(2)}; the server's event-loop delay p99 ${f(r.loopDelay.p99)}, max ${f(r.loopDelay.max)}`)
  console.log(`  hollow nodes: ${r.renewalsPerSecond.toFixed(0)} Lease renewals/s in steady state (${(r.nodes / 10).toFixed(0)} expected), ${r.renewFailures} renewals and ${r.statusErrors} pod status writes failed over the run`)
  console.log(`  server in steady state: ${r.cpuCores.toFixed(2)} cores, ${r.rssMiB.toFixed(0)} MiB RSS = ${((r.cpuCores * 1000) / r.nodes).toFixed(2)} cores and ${((r.rssMiB * 1000) / r.nodes).toFixed(0)} MiB per 1,000 nodes, ${((r.rssMiB * 10_000) / Math.max(1, r.pods)).toFixed(0)} MiB per 10,000 pods`)
}

const cleanup = new Cleanup()
cleanup.onSignals()
try {
  const results: RunResult[] = []
  console.log(`density (hollow nodes, ${perNode} pods per node created as Deployments at ${rate} pods/s; SLO / weft target in brackets)`)
  for (const store of stores) {
    for (const n of sizes) {
      console.error(`density: ${store}, ${n} hollow nodes, ${n * perNode} pods at ${rate} pods/s…`)
      // Each size cleans up after itself (a Cleanup runs once); the outer one covers Ctrl-C.
      const sized = new Cleanup()
      const done = cleanup.add(() => sized.run())
      try {
        const r = await oneRun(sized, store, n)
        results.push(r)
        report(r)
      } finally {
        await done()
      }
    }
  }
  for (const store of stores) {
    const rs = results.filter((r) => r.store === store)
    if (rs.length < 2) continue
    const xs = rs.map((r) => r.nodes)
    console.log(`${store}: growth from ${xs[0]} to ${xs[xs.length - 1]} nodes — CPU ∝ nodes^${exponent(xs, rs.map((r) => r.cpuCores)).toFixed(2)}, memory ∝ nodes^${exponent(xs, rs.map((r) => r.rssMiB)).toFixed(2)} (1 = linear)`)
  }
} finally {
  await cleanup.run()
}
