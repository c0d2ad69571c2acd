// The cluster DNS benchmark (issue 6): dnsperf with the same query set (one A query per
// Service) against `weft dns` and against dnsmasq serving the same names from a hosts file,
// interleaved rounds on one machine; and weft's memory per Service. Everything listens on
// loopback only; every process is stopped by pid and every temp dir removed (on success,
// failure and Ctrl-C). See README.md.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { pool } from '../apiserver/http.ts'
import { startWeftServer } from '../apiserver/weft-server.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { hotSpots } from '../lib/cpu-profile.ts'
import { cpuSeconds } from '../lib/process.ts'
import { atLeast, fmtMs, fmtNumber, fmtRate, machineSummary, markdownTable, textTable, verdict, type ResultRow } from '../lib/report.ts'
import { median, summarize } from '../lib/stats.ts'
import { checkAnswers } from './check.ts'
import { ensureTools } from './deps.ts'
import { startDnsmasq } from './dnsmasq.ts'
import { runDnsperf, type DnsperfResult } from './dnsperf.ts'
import { measureMemory, processTree, retainedHeap, type MemorySample, type RetainedHeap } from './memory.ts'
import { defaultDnsConfig } from '../../dns/run.ts'
import { createServices, queryFileText } from './services.ts'
import { startWeftDns, weftDnsAvailable, type WeftDns } from './weft-dns.ts'

const usage = `Usage: node bench/dns/run.ts [options]

  --services N            Services in the zone and names in the query set (default 10000)
  --rounds N              rounds of (dnsmasq, weft), order alternating (default 3)
  --seconds N             dnsperf run per server and round (default 10)
  --clients N             dnsperf -c (default 10)
  --threads N             dnsperf -T (default 1)
  --outstanding N         dnsperf -q, queries in flight (default 100)
  --latency-qps N         rate of the per-query latency run (dnsperf -Q -v; default 20000, 0: skip)
  --latency-seconds N     latency run per server and round (default 5)
  --create-concurrency N  Service creates in flight (default 16)
  --dns-threads N         weft dns --threads (default: its own default)
  --zone NAME             cluster domain (default cluster.local)
  --ttl N                 answer TTL for both servers (default 5)
  --cpu-prof DIR          profile the measured weft dns process (V8 .cpuprofile into DIR) and print its hot spots
  --dnsmasq-only          measure dnsmasq alone (no weft dns: checks the harness)
  --out FILE              results file (default bench/dns/results.md; "-" for none)
`
const { values: flags } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '10' },
    threads: { type: 'string', default: '1' },
    outstanding: { type: 'string', default: '100' },
    'latency-qps': { type: 'string', default: '20000' },
    'latency-seconds': { type: 'string', default: '5' },
    'create-concurrency': { type: 'string', default: '16' },
    'dns-threads': { type: 'string' },
    zone: { type: 'string', default: 'cluster.local' },
    ttl: { type: 'string', default: '5' },
    'cpu-prof': { type: 'string' },
    'dnsmasq-only': { type: 'boolean', default: false },
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
const serviceCount = integer('services', 1)
const rounds = integer('rounds', 1)
const seconds = integer('seconds', 1)
const clients = integer('clients', 1)
const threads = integer('threads', 1)
const outstanding = integer('outstanding', 1)
const latencyQps = integer('latency-qps', 0)
const latencySeconds = integer('latency-seconds', 1)
const createConcurrency = integer('create-concurrency', 1)
const dnsThreads = flags['dns-threads'] === undefined ? undefined : integer('dns-threads', 1)
/** What weft dns runs with: --dns-threads, or its own default. */
const weftThreads = dnsThreads ?? defaultDnsConfig.threads
const ttl = integer('ttl', 0)
const zone = flags.zone!.toLowerCase().replace(/\.$/, '')
const dnsmasqOnly = flags['dnsmasq-only']!
const cpuProfDir = flags['cpu-prof'] === undefined ? undefined : resolve(flags['cpu-prof'])
if (serviceCount > 60_000) {
  process.stderr.write(`--services takes at most 60000 (the default service CIDR's size)\n`)
  process.exit(2)
}

const progress = (line: string): void => void process.stderr.write(`${line}\n`)
const started = Date.now()
const cleanup = new Cleanup()
cleanup.onSignals()
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (interrupted = true))

const n = (count: number): string => count.toLocaleString('en-US')
const fmtBytes = (b: number): string => (Number.isFinite(b) ? `${fmtNumber(b)} B` : '—')
const fmtMiB = (b: number): string => (Number.isFinite(b) ? `${fmtNumber(b / 2 ** 20)} MiB` : '—')
const ratioText = (r: number): string => (Number.isFinite(r) ? `${fmtNumber(r)}×` : '—')
const COREDNS_BYTES_PER_OBJECT = 1024

interface Server {
  label: 'weft' | 'dnsmasq'
  port: number
  pid: number
  throughput: DnsperfResult[]
  /** Server CPU seconds used during each throughput run. */
  cpu: number[]
  latency: DnsperfResult[]
}

function treeCpu(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    try {
      return sum + cpuSeconds(p)
    } catch {
      return sum
    }
  }, 0)
}

const perf = { clients, threads, outstanding }

async function throughputRun(work: string, s: Server, secs: number, record: boolean, round: number): Promise<void> {
  const cpu0 = treeCpu(s.pid)
  const r = await runDnsperf(cleanup, { port: s.port, queryFile: join(work, 'queries.txt'), seconds: secs, ...perf, outFile: join(work, `dnsperf-${s.label}-${round}.txt`) })
  const cpu = treeCpu(s.pid) - cpu0
  if (r.completed === 0) throw new Error(`${s.label}: dnsperf got no answers (see ${work}/dnsperf-${s.label}-${round}.txt)`)
  if (!record) return
  s.throughput.push(r)
  s.cpu.push(cpu)
  progress(`round ${round}: ${s.label} ${fmtRate(r.qps)}, average latency ${fmtMs(r.avgLatencyMs)}, lost ${r.lost}, server CPU ${cpu.toFixed(1)} s`)
}

async function latencyRun(work: string, s: Server, round: number): Promise<void> {
  const r = await runDnsperf(cleanup, {
    port: s.port,
    queryFile: join(work, 'queries.txt'),
    seconds: latencySeconds,
    ...perf,
    maxQps: latencyQps,
    verbose: true,
    outFile: join(work, `dnsperf-latency-${s.label}-${round}.txt`),
  })
  s.latency.push(r)
  const sum = summarize(r.latenciesMs)
  progress(`round ${round}: ${s.label} at ${fmtRate(r.qps)}: p50 ${fmtMs(sum.p50)}, p99 ${fmtMs(sum.p99)}, lost ${r.lost}`)
}

function rcodeText(results: readonly DnsperfResult[]): string {
  const total: Record<string, number> = {}
  for (const r of results) for (const [code, count] of Object.entries(r.rcodes)) total[code] = (total[code] ?? 0) + count
  return Object.entries(total)
    .map(([code, count]) => `${code} ${n(count)}`)
    .join(', ')
}

function row(metric: string, weft: string, peer: string, ratio: number, target?: ReturnType<typeof atLeast>): ResultRow {
  return { metric, weft, peer, ratio: ratioText(ratio), target: target?.text ?? '', verdict: verdict(target, ratio) }
}

function buildRows(weft: Server | undefined, dnsmasq: Server, memory: { weft?: [MemorySample, MemorySample]; dnsmasq: [MemorySample, MemorySample] }, retained: RetainedHeap | undefined): ResultRow[] {
  const rows: ResultRow[] = []
  const qps = (s: Server) => median(s.throughput.map((r) => r.qps))
  const avg = (s: Server) => median(s.throughput.map((r) => r.avgLatencyMs))
  const perCpu = (s: Server) => median(s.throughput.map((r, i) => r.completed / s.cpu[i]!))
  const pct = (s: Server, p: 'p50' | 'p99') => median(s.latency.map((r) => summarize(r.latenciesMs)[p]))
  const lost = (s: Server) => s.throughput.reduce((sum, r) => sum + r.lost, 0) + s.latency.reduce((sum, r) => sum + r.lost, 0)
  // Ratios per round (each pair measured back to back), then the median.
  const perRound = (f: (r: DnsperfResult, i: number, s: Server) => number) => (weft ? median(weft.throughput.map((r, i) => f(r, i, weft) / f(dnsmasq.throughput[i]!, i, dnsmasq))) : Number.NaN)
  const w = (f: (s: Server) => string) => (weft ? f(weft) : '—')
  rows.push(row(`queries/s (dnsperf -c ${clients} -T ${threads} -q ${outstanding}, median of ${rounds})`, w((s) => fmtRate(qps(s))), fmtRate(qps(dnsmasq)), perRound((r) => r.qps), weft ? atLeast(1, '×') : undefined))
  rows.push(row('average latency at that load (dnsperf)', w((s) => fmtMs(avg(s))), fmtMs(avg(dnsmasq)), perRound((r) => r.avgLatencyMs)))
  rows.push(row('queries per server CPU-second', w((s) => fmtNumber(perCpu(s))), fmtNumber(perCpu(dnsmasq)), perRound((r, i, s) => r.completed / s.cpu[i]!)))
  if (latencyQps > 0) {
    const latRatio = (p: 'p50' | 'p99') => (weft ? pct(weft, p) / pct(dnsmasq, p) : Number.NaN)
    rows.push(row(`latency p50 at ${n(latencyQps)} queries/s (dnsperf -v)`, w((s) => fmtMs(pct(s, 'p50'))), fmtMs(pct(dnsmasq, 'p50')), latRatio('p50')))
    rows.push(row(`latency p99 at ${n(latencyQps)} queries/s (dnsperf -v)`, w((s) => fmtMs(pct(s, 'p99'))), fmtMs(pct(dnsmasq, 'p99')), latRatio('p99')))
  }
  rows.push({ metric: 'queries lost (all runs)', weft: w((s) => n(lost(s))), peer: n(lost(dnsmasq)), ratio: '—', target: '', verdict: '' })
  const perService = (m: [MemorySample, MemorySample], k: keyof MemorySample) => (m[1][k] - m[0][k]) / serviceCount
  const wm = memory.weft
  const dm = memory.dnsmasq
  rows.push(row(`RSS with ${n(serviceCount)} Services`, wm ? fmtMiB(wm[1].rss) : '—', fmtMiB(dm[1].rss), wm ? wm[1].rss / dm[1].rss : Number.NaN))
  rows.push(row(`RSS per Service (${n(serviceCount)} − none) ÷ ${n(serviceCount)}`, wm ? fmtBytes(perService(wm, 'rss')) : '—', fmtBytes(perService(dm, 'rss')), wm ? perService(wm, 'rss') / perService(dm, 'rss') : Number.NaN))
  rows.push(row('RSS per Service vs CoreDNS', wm ? fmtBytes(perService(wm, 'rss')) : '—', `CoreDNS ~${n(COREDNS_BYTES_PER_OBJECT)} B`, wm ? perService(wm, 'rss') / COREDNS_BYTES_PER_OBJECT : Number.NaN))
  if (wm && Number.isFinite(wm[1].heap)) {
    rows.push(row('V8 heap used per Service vs CoreDNS', fmtBytes(perService(wm, 'heap')), `CoreDNS ~${n(COREDNS_BYTES_PER_OBJECT)} B`, perService(wm, 'heap') / COREDNS_BYTES_PER_OBJECT))
  }
  if (retained) {
    const main = retained.mainBytes / retained.services
    const thread = retained.threadIndexBytes / retained.services
    const total = main + (weftThreads - 1) * thread
    rows.push(row('retained heap per Service after GC: main thread', fmtBytes(main), `CoreDNS ~${n(COREDNS_BYTES_PER_OBJECT)} B`, main / COREDNS_BYTES_PER_OBJECT))
    rows.push(row('… and per extra query thread (its own index)', fmtBytes(thread), '—', Number.NaN))
    rows.push(row(`retained heap per Service, ${weftThreads} thread(s) in all`, fmtBytes(total), `CoreDNS ~${n(COREDNS_BYTES_PER_OBJECT)} B`, total / COREDNS_BYTES_PER_OBJECT))
  }
  return rows
}

function notes(weft: Server | undefined, dnsmasq: Server, created: number, memory: { weft?: [MemorySample, MemorySample]; dnsmasq: [MemorySample, MemorySample] }): string[] {
  const lines: string[] = [`${n(serviceCount)} Services created through the API at ${fmtRate(created)} (${createConcurrency} in flight)`]
  for (const s of [dnsmasq, ...(weft ? [weft] : [])]) {
    lines.push(
      `${s.label}: queries/s per round ${s.throughput.map((r) => fmtNumber(r.qps)).join(' / ')}; average latency ${s.throughput.map((r) => fmtMs(r.avgLatencyMs)).join(' / ')}; ` +
        `server CPU ${s.cpu.map((c) => `${c.toFixed(1)} s`).join(' / ')}; response codes ${rcodeText([...s.throughput, ...s.latency])}` +
        (s.latency.length ? `; fixed-rate p99 ${s.latency.map((r) => fmtMs(summarize(r.latenciesMs).p99)).join(' / ')} at ${s.latency.map((r) => fmtNumber(r.qps)).join(' / ')} queries/s` : ''),
    )
  }
  const mem = (label: string, m: [MemorySample, MemorySample]) =>
    `${label} memory: RSS ${fmtMiB(m[0].rss)} with none, ${fmtMiB(m[1].rss)} with ${n(serviceCount)}` + (Number.isFinite(m[1].heap) ? `; V8 heap used ${fmtMiB(m[0].heap)} → ${fmtMiB(m[1].heap)}` : '')
  lines.push(mem('dnsmasq', memory.dnsmasq))
  if (memory.weft) lines.push(mem('weft', memory.weft))
  return lines
}

try {
  ensureTools()
  if (!dnsmasqOnly && !weftDnsAvailable()) {
    throw new Error('`bin/weft dns --help` does not work in this checkout yet: run with --dnsmasq-only to check the harness against dnsmasq alone')
  }
  const work = cleanup.tempDir('weft-bench-dns-')
  const api = await startWeftServer(cleanup, { dataDir: cleanup.tempDir('api-', work) })
  const client = pool(api.url, createConcurrency, api.tls)
  cleanup.add(() => client.destroy())
  progress(`API server at ${api.url}`)

  // Baselines: each server started before the Services exist.
  const memory: { weft?: [MemorySample, MemorySample]; dnsmasq: [MemorySample, MemorySample] } = { dnsmasq: [{ rss: 0, heap: 0 }, { rss: 0, heap: 0 }] }
  let weftEmpty: MemorySample | undefined
  if (!dnsmasqOnly) {
    const empty = await startWeftDns(cleanup, { apiUrl: api.url, kubeconfig: api.kubeconfig, dir: work, label: 'empty', zone, ttl, threads: dnsThreads })
    weftEmpty = await measureMemory(empty.process.pid, empty.metricsUrl)
    await empty.process.stop()
    progress(`weft dns with no Services: RSS ${fmtMiB(weftEmpty.rss)}`)
  }
  const emptyDnsmasq = await startDnsmasq(cleanup, work, [], ttl)
  const dnsmasqEmpty = await measureMemory(emptyDnsmasq.process.pid, undefined, 500, 3)
  await emptyDnsmasq.process.stop()

  const { services, perSecond } = await createServices(client, serviceCount, createConcurrency, zone)
  progress(`created ${n(serviceCount)} Services at ${fmtRate(perSecond)}`)
  writeFileSync(join(work, 'queries.txt'), queryFileText(services))
  const retained = dnsmasqOnly ? undefined : await retainedHeap(api.url, api.kubeconfig)
  if (retained) progress(`retained heap after GC: main thread ${fmtBytes(retained.mainBytes / retained.services)} per Service, each extra query thread ${fmtBytes(retained.threadIndexBytes / retained.services)}`)

  const dm = await startDnsmasq(cleanup, work, services, ttl)
  memory.dnsmasq = [dnsmasqEmpty, await measureMemory(dm.process.pid, undefined, 500, 3)]
  const dnsmasq: Server = { label: 'dnsmasq', port: dm.port, pid: dm.process.pid, throughput: [], cpu: [], latency: [] }
  let weft: Server | undefined
  let weftProcess: WeftDns | undefined
  if (!dnsmasqOnly) {
    if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true })
    weftProcess = await startWeftDns(cleanup, { apiUrl: api.url, kubeconfig: api.kubeconfig, dir: work, label: 'full', zone, ttl, threads: dnsThreads, cpuProfDir })
    const wd = weftProcess
    memory.weft = [weftEmpty!, await measureMemory(wd.process.pid, wd.metricsUrl)]
    weft = { label: 'weft', port: wd.port, pid: wd.process.pid, throughput: [], cpu: [], latency: [] }
  }
  const servers = weft ? [dnsmasq, weft] : [dnsmasq]
  const checked = await checkAnswers(servers, services)
  progress(`answers agree: ${checked} sampled lookups (UDP and TCP) return each Service's clusterIP`)

  // Warm-up (JIT, caches), not recorded.
  for (const s of servers) await throughputRun(work, s, 2, false, 0)
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? servers : [...servers].reverse()
    for (const s of order) await throughputRun(work, s, seconds, true, round)
    if (latencyQps > 0) for (const s of order) await latencyRun(work, s, round)
  }

  let profileText = ''
  if (cpuProfDir && weftProcess) {
    const before = new Set(readdirSync(cpuProfDir))
    await weftProcess.process.stop(15_000)
    const file = readdirSync(cpuProfDir).find((f) => f.endsWith('.cpuprofile') && !before.has(f))
    if (file) {
      const { busyMs, spots } = hotSpots(join(cpuProfDir, file), 15, resolve(import.meta.dirname, '../..'))
      profileText = `weft dns CPU profile ${join(cpuProfDir, file)} (${fmtMs(busyMs)} busy), self time:\n${spots.map((h) => `  ${(h.share * 100).toFixed(1).padStart(5)}%  ${h.name}`).join('\n')}\n`
      process.stdout.write(`\n${profileText}`)
    } else progress(`no CPU profile appeared in ${cpuProfDir}`)
  }
  const rows = buildRows(weft, dnsmasq, memory, retained)
  const setup =
    `${machineSummary(started)}; ${n(serviceCount)} Services, ${rounds} rounds of ${seconds} s per server (order alternating), ` +
    `dnsperf -c ${clients} -T ${threads} -q ${outstanding}` +
    (latencyQps > 0 ? `, latency runs of ${latencySeconds} s at -Q ${latencyQps} -v` : '') +
    `; weft dns ${dnsThreads === undefined ? 'default threads' : `--threads ${dnsThreads}`}, TTL ${ttl} s`
  process.stdout.write(`\ncluster DNS: weft dns vs dnsmasq (peer) — ${setup}\n\n${textTable(rows)}\n`)
  if (flags.out !== '-') {
    const md =
      `# bench/dns results\n\n${new Date().toISOString()}: ${setup}.\n\n` +
      `"weft" = \`weft dns\` (zone from the API), "peer" = dnsmasq (same names from a hosts file); ratio = weft ÷ peer, the median over rounds of ratios measured back to back ` +
      `(latency percentiles and memory: ratio of the figures shown). Memory rows: RSS after start-up with the ${n(serviceCount)} Services minus with none, each server started fresh.` +
      (dnsmasqOnly ? ' This run measured dnsmasq alone (--dnsmasq-only).' : '') +
      `\n\n${markdownTable(rows)}\n\nPer server:\n\n${notes(weft, dnsmasq, perSecond, memory)
        .map((l) => `- ${l}`)
        .join('\n')}\n` +
      (profileText ? `\n\`\`\`\n${profileText}\`\`\`\n` : '')
    writeFileSync(flags.out!, md)
    process.stdout.write(`\nwrote ${flags.out}\n`)
  }
} catch (err) {
  if (!interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`)
  process.exitCode = 1
} finally {
  await cleanup.run()
}
