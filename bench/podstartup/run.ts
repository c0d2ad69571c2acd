// Pod startup latency on one node: a lab cluster (`weft up --nodes 1`, no demo), then
// --pods pods created at once through the scheduler, each timed from just before its
// create call to the first watch event that shows it Ready. Several runs; medians.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { V1Pod } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { labDown } from '../../src/lab/down.ts'
import { labUp } from '../../src/lab/up.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { closedLoop } from '../lib/load.ts'
import { atMost, fmtMs, fmtNumber, markdownTable, textTable, verdict, type ResultRow } from '../lib/report.ts'
import { median, summarize } from '../lib/stats.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const namespaceInfo = resources.find((r) => r.kind === 'Namespace')!

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    image: { type: 'string', default: 'registry.k8s.io/pause:3.10' },
  },
})
const podCount = Number(values.pods)
const runs = Number(values.runs)

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true

async function oneRun(client: RestClient, run: number): Promise<number[]> {
  const ns = `startup-${run}`
  await client.create(namespaceInfo, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never)
  const created = new Map<string, number>()
  const ready = new Map<string, number>()
  const abort = new AbortController()
  let allReady!: () => void
  const done = new Promise<void>((r) => (allReady = r))
  const { metadata } = await client.list(podInfo, { namespace: ns })
  const watching = (async () => {
    for await (const ev of client.watch<V1Pod>(podInfo, { namespace: ns, resourceVersion: metadata.resourceVersion, signal: abort.signal })) {
      const name = ev.object.metadata?.name
      if (!name || ready.has(name) || !isReady(ev.object)) continue
      ready.set(name, performance.now())
      if (ready.size === podCount) allReady()
    }
  })().catch(() => undefined)
  await closedLoop(podCount, 32, async (i) => {
    const name = `p-${i}`
    created.set(name, performance.now())
    await client.create(podInfo, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: values.image }] },
    } as never)
  })
  const timeout = setTimeout(() => allReady(), 120_000)
  await done
  clearTimeout(timeout)
  abort.abort()
  await watching
  if (ready.size < podCount) throw new Error(`only ${ready.size} of ${podCount} pods became Ready within 120 s`)
  const latencies = [...ready].map(([name, t]) => t - created.get(name)!)
  await client.delete(namespaceInfo, ns, undefined)
  const deadline = Date.now() + 120_000
  while ((await client.list(podInfo, { namespace: ns })).items.length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
  return latencies
}

const cleanup = new Cleanup()
cleanup.onSignals()
try {
  // A short path: the lab's unix sockets must fit in 107 bytes.
  const dir = join(mkdtempSync('/tmp/wps-'), 'lab')
  cleanup.add(() => labDown(dir).then(() => undefined))
  process.stdout.write(`starting a one-node lab in ${dir}...\n`)
  const lab = await labUp({ dataDir: dir, nodes: 1, agents: true, demo: false, timeoutMs: 120_000 })
  const client = new RestClient({ socketPath: lab.plan.socket })
  cleanup.add(() => client.close())
  const p50s: number[] = []
  const p99s: number[] = []
  for (let run = 1; run <= runs; run++) {
    const s = summarize(await oneRun(client, run))
    p50s.push(s.p50)
    p99s.push(s.p99)
    process.stdout.write(`run ${run}: ${podCount} pods, p50 ${fmtMs(s.p50)}, p99 ${fmtMs(s.p99)}, max ${fmtMs(s.max)}\n`)
  }
  const p99 = median(p99s)
  const target = atMost(2000, ' ms')
  const rows: ResultRow[] = [
    { metric: `pod startup p50, ${podCount} pods at once, 1 node (median of ${runs})`, weft: fmtMs(median(p50s)), peer: '—', ratio: '—', target: '', verdict: '' },
    { metric: `pod startup p99, ${podCount} pods at once, 1 node (median of ${runs})`, weft: fmtMs(p99), peer: 'SLO 5,000 ms', ratio: `${fmtNumber(p99 / 5000)}× SLO`, target: target.text, verdict: verdict(target, p99) },
  ]
  process.stdout.write(`\n${textTable(rows)}\n`)
  const text = `# bench/podstartup results\n\nImage \`${values.image}\`; ${runs} runs of ${podCount} pods created at once (32 create calls in flight), scheduled by weft's scheduler onto one lab node; latency = create call start → first watch event with Ready=True. The peer figure is the Kubernetes pod startup SLO (p99 ≤ 5 s, image pulls excluded).\n\n${markdownTable(rows)}\n\nPer run: ${p50s.map((p, i) => `p50 ${fmtMs(p)} / p99 ${fmtMs(p99s[i]!)}`).join('; ')}.\n`
  writeFileSync(new URL('./results.md', import.meta.url), text)
} finally {
  await cleanup.run()
}
