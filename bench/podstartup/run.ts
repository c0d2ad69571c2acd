// Pod startup latency on one node: a lab cluster (`weft up --nodes 1`, no demo), then
// --pods pods created at once through the scheduler, each timed from just before its
// create call to the first watch event that shows it Ready. Several runs; medians.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { V1Pod } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { labDown } from '../../src/lab/down.ts'
import { labUp } from '../../src/lab/up.ts'
import type { StartupTraceRecord } from '../../src/kubelet/startup-trace.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { closedLoop, openLoop } from '../lib/load.ts'
import { atMost, fmtMs, fmtNumber, markdownTable, textTable, verdict, type ResultRow } from '../lib/report.ts'
import { median, summarize } from '../lib/stats.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const namespaceInfo = resources.find((r) => r.kind === 'Namespace')!

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    image: { type: 'string', default: 'registry.k8s.io/pause:3.10' },
    rate: { type: 'string', default: '5' },
    settle: { type: 'string', default: '15' },
    load: { type: 'string', default: '0' },
  },
})
const settleMs = Number(values.settle) * 1000
const paceRate = Number(values.rate)
const podCount = Number(values.pods)
const runs = Number(values.runs)
const loadCores = Number(values.load)
if (!Number.isInteger(loadCores) || loadCores < 0 || loadCores > 64) throw new Error(`--load must be a whole number of cores from 0 to 64, not "${values.load}"`)

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true

/** Where one pod's time went, each step as ms since its create call. */
type Breakdown = Record<string, number>

/** The agent's 'pod startup' lines (src/kubelet/startup-trace.ts) of namespace `ns`, by pod name. */
function agentTraces(agentLog: string, ns: string): Map<string, StartupTraceRecord> {
  const out = new Map<string, StartupTraceRecord>()
  for (const line of readFileSync(agentLog, 'utf8').split('\n')) {
    if (!line.includes('"pod startup"')) continue
    const rec = JSON.parse(line) as StartupTraceRecord & { pod?: string }
    if (rec.pod?.startsWith(`${ns}/`)) out.set(rec.pod.slice(ns.length + 1), rec)
  }
  return out
}

/** One run; `rate` pods/s (0: all at once, 32 create calls in flight). */
async function oneRun(client: RestClient, agentLog: string, run: number, rate: number): Promise<{ latencies: number[]; breakdowns: Breakdown[] }> {
  const ns = `startup-${rate}-${run}`
  await client.create(namespaceInfo, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never)
  const created = new Map<string, number>()
  const createdWall = new Map<string, number>()
  const bound = new Map<string, number>()
  const ready = new Map<string, number>()
  const abort = new AbortController()
  let allReady!: () => void
  const done = new Promise<void>((r) => (allReady = r))
  const { metadata } = await client.list(podInfo, { namespace: ns })
  const watching = (async () => {
    for await (const ev of client.watch<V1Pod>(podInfo, { namespace: ns, resourceVersion: metadata.resourceVersion, signal: abort.signal })) {
      const name = ev.object.metadata?.name
      if (name && ev.object.spec?.nodeName && !bound.has(name)) bound.set(name, performance.now())
      if (!name || ready.has(name) || !isReady(ev.object)) continue
      ready.set(name, performance.now())
      if (ready.size === podCount) allReady()
    }
  })().catch(() => undefined)
  const create = async (i: number) => {
    const name = `p-${i}`
    created.set(name, performance.now())
    createdWall.set(name, Date.now())
    await client.create(podInfo, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: values.image }] },
    } as never)
  }
  if (rate > 0) await openLoop(rate, (podCount / rate) * 1000, create)
  else await closedLoop(podCount, 32, create)
  const timeout = setTimeout(() => allReady(), 120_000)
  await done
  clearTimeout(timeout)
  abort.abort()
  await watching
  if (ready.size < podCount) throw new Error(`only ${ready.size} of ${podCount} pods became Ready within 120 s`)
  const latencies = [...ready].map(([name, t]) => t - created.get(name)!)
  const traces = agentTraces(agentLog, ns)
  const breakdowns: Breakdown[] = []
  for (const [name, t] of ready) {
    const trace = traces.get(name)
    const start = created.get(name)!
    const b: Breakdown = {}
    if (bound.has(name)) b.bound = bound.get(name)! - start
    if (trace) {
      const seen = trace.seenAt - createdWall.get(name)!
      b['agent saw it'] = seen
      for (const [step, ms] of Object.entries(trace.steps)) b[step] = seen + ms
    }
    b['Ready seen by a watch'] = t - start
    breakdowns.push(b)
  }
  await client.delete(namespaceInfo, ns, undefined)
  const deadline = Date.now() + 120_000
  while ((await client.list(podInfo, { namespace: ns })).items.length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
  // The kernel frees deleted network namespaces asynchronously, and 100 of them keep a
  // core busy for a while: let that finish so a run does not pay for the one before.
  await new Promise((r) => setTimeout(r, settleMs))
  return { latencies, breakdowns }
}

/** p50 and p99 over pods of each step's time since the create call, in the steps' order. */
function breakdownText(breakdowns: Breakdown[]): string {
  const steps: string[] = []
  for (const b of breakdowns) for (const k of Object.keys(b)) if (!steps.includes(k)) steps.push(k)
  const rows = steps.map((step) => {
    const values = breakdowns.map((b) => b[step]).filter((v): v is number => v !== undefined)
    const s = summarize(values)
    return `| ${step} | ${fmtMs(s.p50)} | ${fmtMs(s.p99)} | ${values.length} |`
  })
  return ['| step (time since the create call) | p50 | p99 | pods |', '|:---|---:|---:|---:|', ...rows].join('\n')
}

const cleanup = new Cleanup()
cleanup.onSignals()
try {
  // A short path: the lab's unix sockets must fit in 107 bytes.
  const parent = mkdtempSync('/tmp/wps-')
  cleanup.add(() => rmSync(parent, { recursive: true, force: true }))
  const dir = join(parent, 'lab')
  cleanup.add(() => labDown(dir).then(() => undefined))
  process.stdout.write(`starting a one-node lab in ${dir}...\n`)
  const lab = await labUp({ dataDir: dir, nodes: 1, agents: true, demo: false, timeoutMs: 120_000 })
  // The lab's admin kubeconfig (system:masters), over the server's unix socket.
  const client = new RestClient({ socketPath: lab.plan.socket, credentials: loadKubeconfig(lab.plan.kubeconfig).credentials })
  cleanup.add(() => client.destroy())
  // --load N: N processes spinning for the whole run (by pid, stopped at cleanup), so a loaded
  // machine's figures can be made again.
  for (let i = 0; i < loadCores; i++) {
    const spinner = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' })
    cleanup.add(() => {
      if (spinner.exitCode === null && spinner.pid !== undefined) process.kill(spinner.pid, 'SIGKILL')
    })
  }
  if (loadCores > 0) process.stdout.write(`${loadCores} spinning process${loadCores === 1 ? '' : 'es'} keep${loadCores === 1 ? 's' : ''} ${loadCores === 1 ? 'a core' : `${loadCores} cores`} busy for the whole run\n`)
  const rows: ResultRow[] = []
  const perRun: string[] = []
  const breakdowns: string[] = []
  const target = atMost(2000, ' ms')
  for (const [rate, label] of [
    [paceRate, `${paceRate} pods/s`],
    [0, 'all at once'],
  ] as const) {
    const p50s: number[] = []
    const p99s: number[] = []
    const steps: Breakdown[] = []
    for (let run = 1; run <= runs; run++) {
      const result = await oneRun(client, lab.plan.nodes[0]!.log, run, rate)
      steps.push(...result.breakdowns)
      const s = summarize(result.latencies)
      p50s.push(s.p50)
      p99s.push(s.p99)
      process.stdout.write(`${label}, run ${run}: ${podCount} pods, p50 ${fmtMs(s.p50)}, p99 ${fmtMs(s.p99)}, max ${fmtMs(s.max)}\n`)
    }
    const p99 = median(p99s)
    const paced = rate > 0
    rows.push(
      { metric: `pod startup p50, ${podCount} pods ${label}, 1 node`, weft: fmtMs(median(p50s)), peer: '—', ratio: '—', target: '', verdict: '' },
      { metric: `pod startup p99, ${podCount} pods ${label}, 1 node`, weft: fmtMs(p99), peer: 'SLO 5,000 ms', ratio: `${fmtNumber(p99 / 5000)}× SLO`, target: paced ? target.text : '', verdict: paced ? verdict(target, p99) : '' },
    )
    perRun.push(`${label}: ${p50s.map((p, i) => `p50 ${fmtMs(p)} / p99 ${fmtMs(p99s[i]!)}`).join('; ')}`)
    const table = breakdownText(steps)
    process.stdout.write(`\nwhere the time goes, ${label} (all runs' pods):\n${table}\n`)
    breakdowns.push(`Where the time goes, ${label} (every pod of the ${runs} runs; the agent's steps from its "pod startup" log lines, src/kubelet/startup-trace.ts):\n\n${table}`)
  }
  process.stdout.write(`\n${textTable(rows)}\n`)
  const loadText = loadCores > 0 ? ` With ${loadCores} spinning process${loadCores === 1 ? '' : 'es'} keeping ${loadCores === 1 ? 'a core' : `${loadCores} cores`} busy the whole time (\`--load ${loadCores}\`).` : ' On an otherwise quiet machine (`--load 0`).'
  const text = `# bench/podstartup results${loadCores > 0 ? ` (--load ${loadCores})` : ''}\n\nImage \`${values.image}\`; ${runs} runs (medians shown) of ${podCount} pods scheduled by weft's scheduler onto one lab node, created at ${paceRate} pods/s (the way the Kubernetes SLO is measured: under steady load) and then all at once (32 create calls in flight). Latency = create call start → first watch event with Ready=True. The peer figure is the Kubernetes pod startup SLO (p99 ≤ 5 s, image pulls excluded); the target applies to the paced load.${loadText}\n\n${markdownTable(rows)}\n\nPer run: ${perRun.join('. ')}.\n\n${breakdowns.join('\n\n')}\n`
  writeFileSync(new URL(loadCores > 0 ? './results-loaded.md' : './results.md', import.meta.url), text)
} finally {
  await cleanup.run()
}
