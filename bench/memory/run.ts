// Memory of weft's node components in a one-node lab (`weft up --nodes 1`, the demo app
// running): the node agent (kubelet, service proxy, NetworkPolicy), the cluster DNS pod and the
// Ingress controller pod — idle, then with 1,000 Services (each with an EndpointSlice of two
// endpoints), 1,000 Ingresses and 1,000 Pods added in turn. The API server is shown for
// information only: it is not a node component.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { labDown } from '../../src/lab/down.ts'
import { labUp } from '../../src/lab/up.ts'
import { warmImagesCompileCache } from '../../src/images/warm-compile-cache.ts'
import { logger } from '../../src/util/log.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { closedLoop } from '../lib/load.ts'
import { atMost, fmtNumber, machineSummary, markdownTable, textTable, verdict, type ResultRow } from '../lib/report.ts'
import { median } from '../lib/stats.ts'

const usage = `Usage: node bench/memory/run.ts [flags]   (as root: it starts a lab)

  --objects N     Services, Ingresses and Pods added per step (default 1000)
  --settle S      seconds to wait after each step before reading memory (default 20)
  --samples N     readings per step, 1 s apart; the median is shown (default 5)
  --out FILE      results file (default bench/memory/results.md; - for none)
`

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '1000' },
    settle: { type: 'string', default: '20' },
    samples: { type: 'string', default: '5' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  process.stdout.write(usage)
  process.exit(0)
}
function whole(flag: string, text: string, min: number, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`)
  return n
}
const objects = whole('objects', values.objects!, 1, 20_000)
const settleMs = whole('settle', values.settle!, 0, 600) * 1000
const samples = whole('samples', values.samples!, 1, 100)

/** The published footprint of the peers on one node: kube-proxy + CoreDNS + ingress-nginx + flannel. */
const PEER_TOTAL_MIB = 250
const MiB = 1024 * 1024

type Component = 'agent' | 'dns' | 'ingress' | 'server'
const nodeComponents: Component[] = ['agent', 'dns', 'ingress']

/** weft's processes of this lab, found by their command lines (every one names the lab's socket). */
function findProcesses(socket: string): Map<Component, number> {
  const found = new Map<Component, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let argv: string[]
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
    } catch {
      continue
    }
    if (!argv.some((a) => a === socket || a.startsWith(`${socket}`))) continue
    const entryAt = argv.findIndex((a) => a.endsWith('/src/cli/weft.mjs') || a.endsWith('/src/images/images.mjs'))
    const command = entryAt >= 0 ? argv[entryAt + 1] : undefined
    if (command === 'agent' || command === 'dns' || command === 'ingress' || command === 'server') found.set(command, Number(entry))
  }
  return found
}

interface Reading {
  /** Resident set size. */
  rss: number
  /** Pages only this process maps (Private_Clean + Private_Dirty): what ending it would free. */
  private: number
}

function readMemory(pid: number): Reading {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024
  return { rss: kb('Rss'), private: kb('Private_Clean') + kb('Private_Dirty') }
}

/** `nodejs_heap_size_used_bytes` from a component's /metrics, fetched inside the node's namespace. */
function heapUsed(netns: string, url: string): number {
  try {
    const text = execFileSync('ip', ['netns', 'exec', netns, 'curl', '-sf', '--max-time', '3', url], { encoding: 'utf8', timeout: 10_000 })
    let sum = Number.NaN
    for (const m of text.matchAll(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)$/gm)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[1])
    return sum
  } catch {
    return Number.NaN
  }
}

type Snapshot = Map<Component, Reading & { heap: number }>

async function snapshot(pids: Map<Component, number>, metrics: Map<Component, string>, netns: string): Promise<Snapshot> {
  await sleep(settleMs)
  const readings = new Map<Component, Array<Reading & { heap: number }>>()
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(1000)
    for (const [c, pid] of pids) {
      const url = metrics.get(c)
      const r = { ...readMemory(pid), heap: url ? heapUsed(netns, url) : Number.NaN }
      readings.set(c, [...(readings.get(c) ?? []), r])
    }
  }
  const out: Snapshot = new Map()
  for (const [c, rs] of readings) out.set(c, { rss: median(rs.map((r) => r.rss)), private: median(rs.map((r) => r.private)), heap: median(rs.map((r) => r.heap)) })
  return out
}

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const namespaceInfo = info('Namespace')
const serviceInfo = info('Service')
const sliceInfo = info('EndpointSlice')
const ingressInfo = info('Ingress')
const podInfo = info('Pod')

const ns = 'bench-memory'
const ip = (i: number, base: number) => `10.${base}.${Math.floor(i / 250)}.${(i % 250) + 1}`

async function addServices(client: RestClient): Promise<void> {
  await closedLoop(objects, 16, async (i) => {
    const name = `svc-${i}`
    await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } } as never)
    await client.create(sliceInfo, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [0, 1].map((k) => ({ addresses: [ip(i * 2 + k, 250)], conditions: { ready: true } })),
    } as never)
  })
}

async function addIngresses(client: RestClient): Promise<void> {
  await closedLoop(objects, 16, async (i) => {
    await client.create(ingressInfo, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: `ing-${i}`, namespace: ns },
      spec: {
        ingressClassName: 'weft',
        rules: [{ host: `app-${i}.bench.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: `svc-${i}`, port: { number: 80 } } } }] } }],
      },
    } as never)
  })
}

/** Pods no scheduler takes (so the lab does not run 1,000 processes), with addresses, as the DNS and controllers see running pods elsewhere. */
async function addPods(client: RestClient): Promise<void> {
  await closedLoop(objects, 16, async (i) => {
    const name = `pod-${i}`
    await client.create(podInfo, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels: { app: `app-${i % 50}` } },
      spec: { schedulerName: 'bench-memory-none', containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    } as never)
    await client.patch(podInfo, name, ns, { status: { podIP: ip(i, 251), podIPs: [{ ip: ip(i, 251) }] } }, 'merge', { subresource: 'status' })
  })
}

const cleanup = new Cleanup()
cleanup.onSignals()
const started = Date.now()
try {
  const parent = mkdtempSync('/tmp/wpm-')
  cleanup.add(() => rmSync(parent, { recursive: true, force: true }))
  const dir = join(parent, 'lab')
  cleanup.add(() => labDown(dir).then(() => undefined))
  // Measured as after a node's first start: the compile cache warm (the agent warms it for the
  // images too, but its pods may start before that is done the very first time).
  await warmImagesCompileCache(logger('bench-memory'))
  process.stdout.write(`starting a one-node lab in ${dir}...\n`)
  const lab = await labUp({ dataDir: dir, nodes: 1, agents: true, demo: true, timeoutMs: 180_000 })
  const client = new RestClient({ socketPath: lab.plan.socket, credentials: loadKubeconfig(lab.plan.kubeconfig).credentials })
  cleanup.add(() => client.destroy())
  const node = lab.plan.nodes[0]!
  const pids = findProcesses(lab.plan.socket)
  for (const c of [...nodeComponents, 'server' as const]) if (!pids.has(c)) throw new Error(`no ${c} process of the lab found (looked for command lines naming ${lab.plan.socket})`)
  const pods = (await client.list(podInfo, { namespace: 'kube-system' })).items as Array<{ status?: { podIP?: string } }>
  const dnsIP = pods.find((p) => p.status?.podIP)?.status?.podIP
  const metrics = new Map<Component, string>([
    ['agent', 'http://127.0.0.1:10249/metrics'],
    ['ingress', `http://${node.ip}:10254/metrics`],
  ])
  if (dnsIP) metrics.set('dns', `http://${dnsIP}:9153/metrics`)
  await client.create(namespaceInfo, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never)

  const steps: Array<[string, Snapshot]> = []
  process.stdout.write('idle...\n')
  steps.push(['idle', await snapshot(pids, metrics, node.netns)])
  for (const [label, add] of [
    [`+${fmtNumber(objects)} Services`, addServices],
    [`+${fmtNumber(objects)} Ingresses`, addIngresses],
    [`+${fmtNumber(objects)} Pods`, addPods],
  ] as const) {
    process.stdout.write(`${label}...\n`)
    await add(client)
    steps.push([label, await snapshot(pids, metrics, node.netns)])
  }

  const mib = (b: number) => (Number.isFinite(b) ? `${(b / MiB).toFixed(1)} MiB` : '—')
  const kib = (b: number) => (Number.isFinite(b) ? `${fmtNumber(b / 1024)} KiB` : '—')
  const idle = steps[0]![1]
  const total = (s: Snapshot, f: (r: Reading) => number) => nodeComponents.reduce((sum, c) => sum + f(s.get(c)!), 0)
  const target = atMost(PEER_TOTAL_MIB, ' MiB')
  const rows: ResultRow[] = []
  const idleTotal = total(idle, (r) => r.rss) / MiB
  rows.push({ metric: 'node components idle, RSS (agent + DNS + Ingress)', weft: mib(idleTotal * MiB), peer: `~${PEER_TOTAL_MIB} MiB`, ratio: `${fmtNumber(idleTotal / PEER_TOTAL_MIB)}×`, target: target.text, verdict: verdict(target, idleTotal) })
  rows.push({ metric: '… pages only they hold (private)', weft: mib(total(idle, (r) => r.private)), peer: '', ratio: '', target: '', verdict: '' })
  for (const c of [...nodeComponents, 'server' as const]) {
    const r = idle.get(c)!
    rows.push({ metric: `${c} idle: RSS / private / V8 heap used`, weft: `${mib(r.rss)} / ${mib(r.private)} / ${mib(r.heap)}`, peer: '', ratio: '', target: '', verdict: '' })
  }
  for (let i = 1; i < steps.length; i++) {
    const [label, s] = steps[i]!
    const before = steps[i - 1]![1]
    for (const c of nodeComponents) {
      const d = (f: (r: Reading & { heap: number }) => number) => (f(s.get(c)!) - f(before.get(c)!)) / objects
      rows.push({ metric: `${c}, ${label}: RSS / V8 heap per object`, weft: `${kib(d((r) => r.rss))} / ${kib(d((r) => r.heap))}`, peer: '', ratio: '', target: '', verdict: '' })
    }
  }
  const last = steps[steps.length - 1]!
  rows.push({ metric: `node components with all of it (${last[0]} and the rest), RSS`, weft: mib(total(last[1], (r) => r.rss)), peer: '', ratio: '', target: '', verdict: '' })
  process.stdout.write(`\n${textTable(rows)}\n`)
  const perStep = steps.map(([label, s]) => `${label}: ${[...s].map(([c, r]) => `${c} ${mib(r.rss)} (private ${mib(r.private)}, heap ${mib(r.heap)})`).join(', ')}`)
  const text =
    `# bench/memory results\n\n${machineSummary(started)}; a one-node lab with its demo app, ${fmtNumber(objects)} objects per step, ${settleMs / 1000} s settle, median of ${samples} readings.\n\n` +
    `RSS from /proc/PID/smaps_rollup (the figure \`ps\` shows; it counts the node binary's pages, shared by every Node.js process, in each), "private" = Private_Clean + Private_Dirty (what ending the process frees), V8 heap used from each component's /metrics. ` +
    `The peer is the footprint usually quoted for kube-proxy + CoreDNS + ingress-nginx + flannel on one node (~${PEER_TOTAL_MIB} MiB together). Per-object rows: the change from the step before ÷ ${fmtNumber(objects)}.\n\n` +
    `${markdownTable(rows)}\n\nPer step: ${perStep.join('. ')}.\n`
  if (values.out !== '-') writeFileSync(values.out ?? new URL('./results.md', import.meta.url), text)
} finally {
  await cleanup.run()
}
