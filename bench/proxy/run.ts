// The service proxy benchmark (issue 5): the data path through a ClusterIP against straight
// to the pod IP, for the nftables and userspace proxiers with 10, 1,000 and 10,000 Services
// programmed, and the control plane's sync times. Everything runs in namespaces this
// process creates and removes (on success, failure and Ctrl-C). See README.md.
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Cleanup } from '../lib/cleanup.ts'
import { atLeast, atMost, fmtMs, fmtNumber, fmtRate, machineSummary, markdownTable, textTable, verdict, type ResultRow, type Target } from '../lib/report.ts'
import { median, summarize } from '../lib/stats.ts'
import { startBackend } from './backend.ts'
import { nftSyncTimes, type NftSyncTimes } from './control-plane.ts'
import { checkPath, emptySamples, measureConnects, measureRound, programNftables, startUserspace, type DataPath, type Mode, type PathSamples } from './data-path.ts'
import { ensureTools } from './deps.ts'
import { stopLoad, type WrkResult } from './load.ts'
import { addPath, podNamespace, POD_IP } from './topology.ts'
import { defaultProxyConfig } from '../../proxy/run.ts'

const usage = `Usage: node bench/proxy/run.ts [options]

  --services LIST     Service counts of the data path (default 10,1000,10000)
  --modes LIST        proxiers (default nftables,userspace)
  --rounds N          rounds over every path, interleaved (default 3)
  --seconds N         keep-alive wrk run per target and round (default 5)
  --close-seconds N   new-connection wrk run per target and round (default 3)
  --connections N     keep-alive wrk connections (default 32; new-connection runs use half)
  --threads N         wrk threads (default 2)
  --connects N        TCP connect-time samples per target and round (default 100)
  --nginx-workers N   backend nginx worker processes (default 1)
  --cp-services N     Services of the control-plane runs (default 10000)
  --cp-runs N         control-plane runs, each in a fresh namespace (default 3)
  --cp-partials N     one-endpoint changes per control-plane run (default 5)
  --us-sync-runs N    userspace syncs of 1,000 Services from nothing (default 3)
  --us-workers N      userspace relay threads (default: the proxy's --userspace-workers default, ${defaultProxyConfig.userspaceWorkers} here)
  --skip-data-path | --skip-control-plane
  --out FILE          results file (default bench/proxy/results.md; "-" for none)
`
const { values: flags } = parseArgs({
  options: {
    services: { type: 'string', default: '10,1000,10000' },
    modes: { type: 'string', default: 'nftables,userspace' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    'close-seconds': { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    connects: { type: 'string', default: '100' },
    'nginx-workers': { type: 'string', default: '1' },
    'cp-services': { type: 'string', default: '10000' },
    'cp-runs': { type: 'string', default: '3' },
    'cp-partials': { type: 'string', default: '5' },
    'us-sync-runs': { type: 'string', default: '3' },
    'us-workers': { type: 'string', default: String(defaultProxyConfig.userspaceWorkers) },
    'skip-data-path': { type: 'boolean', default: false },
    'skip-control-plane': { type: 'boolean', default: false },
    out: { type: 'string', default: resolve(import.meta.dirname, 'results.md') },
    help: { type: 'boolean', short: 'h' },
  },
})
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}
function positive(name: keyof typeof flags): number {
  const n = Number(flags[name])
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive integer\n\n${usage}`)
    process.exit(2)
  }
  return n
}
const serviceCounts = flags.services!.split(',').map(Number)
const modes = flags.modes!.split(',') as Mode[]
if (serviceCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 60_000) || modes.some((m) => m !== 'nftables' && m !== 'userspace')) {
  process.stderr.write(`--services takes counts (1..60000), --modes nftables and/or userspace\n\n${usage}`)
  process.exit(2)
}
const rounds = positive('rounds')
const seconds = positive('seconds')
const closeSeconds = positive('close-seconds')
const connections = positive('connections')
const threads = positive('threads')
const connects = positive('connects')
const nginxWorkers = positive('nginx-workers')
const cpServices = positive('cp-services')
const cpRuns = positive('cp-runs')
const cpPartials = positive('cp-partials')
const usSyncRuns = positive('us-sync-runs')
const usWorkers = positive('us-workers')
if (process.getuid?.() !== 0) {
  process.stderr.write('bench:proxy creates network namespaces: run it as root\n')
  process.exit(2)
}

const progress = (line: string): void => void process.stderr.write(`${line}\n`)
const started = Date.now()
const cleanup = new Cleanup()
cleanup.onSignals()
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (interrupted = true))
const prefix = `wpb${process.pid}`

interface Measured {
  path: DataPath
  samples: PathSamples
}

/** Each round's connect samples come in this many batches per path and target. */
const CONNECT_BATCHES = 5

const n = (count: number): string => count.toLocaleString('en-US')
const ratioText = (r: number): string => `${fmtNumber(r)}×`
const fmtUs = (ms: number): string => `${Math.round(ms * 1000)} µs`
const med = (results: { requestsPerSecond: number }[]): number => median(results.map((r) => r.requestsPerSecond))

/** The median over rounds of ClusterIP ÷ direct, each pair measured back to back. */
function roundRatio(results: Record<'direct' | 'clusterIP', WrkResult[]>, figure: (r: WrkResult) => number): number {
  return median(results.clusterIP.map((r, i) => figure(r) / figure(results.direct[i]!)))
}

function row(metric: string, weft: string, peer: string, ratio: number, target?: Target): ResultRow {
  return { metric, weft, peer, ratio: ratioText(ratio), target: target?.text ?? '', verdict: verdict(target, ratio) }
}

async function dataPath(work: string): Promise<{ rows: ResultRow[]; notes: string[] }> {
  const pod = await podNamespace(cleanup, `${prefix}-pod`)
  await startBackend(cleanup, pod, POD_IP, `${work}/nginx`, nginxWorkers)
  const paths: DataPath[] = []
  let index = 0
  for (const mode of modes) {
    for (const services of serviceCounts) {
      const path = await addPath(cleanup, pod, prefix, ++index)
      const p = mode === 'nftables' ? await programNftables(path, services) : await startUserspace(cleanup, path, services, services === 1000 ? usSyncRuns : 1, work, usWorkers)
      await checkPath(p)
      progress(`${mode} path with ${n(services)} Services ready (sync ${p.syncMs.map((ms) => fmtMs(ms)).join(', ')})`)
      paths.push(p)
    }
  }
  cleanup.add(stopLoad)
  const keepAlive = { seconds, threads, connections }
  const newConnection = { seconds: closeSeconds, threads, connections: Math.max(1, connections >> 1) }
  // Warm-up (ARP, conntrack, nginx, the userspace proxier's JIT): one short run per target.
  for (const p of paths) await measureRound(p, emptySamples(), { keepAlive: { ...keepAlive, seconds: 1 }, newConnection: { ...newConnection, seconds: 1 }, clusterFirst: false })
  const measured: Measured[] = paths.map((path) => ({ path, samples: emptySamples() }))
  for (let round = 0; round < rounds; round++) {
    // Rotate the path order each round so no path always runs first or last.
    for (let i = 0; i < measured.length; i++) {
      const m = measured[(i + round) % measured.length]!
      await measureRound(m.path, m.samples, { keepAlive, newConnection, clusterFirst: round % 2 === 1 })
      const ka = m.samples.keepAlive
      progress(
        `round ${round + 1}/${rounds} ${m.path.mode} ${n(m.path.services)} Services: keep-alive ${fmtRate(ka.clusterIP.at(-1)!.requestsPerSecond)} via ClusterIP, ${fmtRate(ka.direct.at(-1)!.requestsPerSecond)} direct`,
      )
    }
    await measureConnects(measured, CONNECT_BATCHES, Math.ceil(connects / CONNECT_BATCHES))
  }

  const rows: ResultRow[] = []
  const notes: string[] = []
  const connectP50 = new Map<string, number>()
  for (const { path: p, samples: s } of measured) {
    const label = `${p.mode}, ${n(p.services)} Services`
    const ka = s.keepAlive
    const nc = s.newConnection
    const con = { c: summarize(s.connectMs.clusterIP).p50, d: summarize(s.connectMs.direct).p50 }
    connectP50.set(`${p.mode} ${p.services}`, con.c)
    const target = p.mode === 'nftables' ? atLeast(0.95, '×') : atLeast(0.7, '×')
    rows.push(
      row(`${label}: keep-alive req/s`, fmtRate(med(ka.clusterIP)), fmtRate(med(ka.direct)), roundRatio(ka, (r) => r.requestsPerSecond), target),
      row(`${label}: keep-alive latency p50`, fmtMs(median(ka.clusterIP.map((r) => r.p50))), fmtMs(median(ka.direct.map((r) => r.p50))), roundRatio(ka, (r) => r.p50)),
      row(`${label}: new-connection req/s`, fmtRate(med(nc.clusterIP)), fmtRate(med(nc.direct)), roundRatio(nc, (r) => r.requestsPerSecond), p.mode === 'userspace' ? atLeast(0.5, '×') : undefined),
      row(`${label}: TCP connect p50`, fmtUs(con.c), fmtUs(con.d), con.c / con.d),
    )
    if (p.mode === 'userspace') {
      // Requests per second of the proxier's CPU (all its threads) during the ClusterIP runs: what a core buys.
      const perCpu = (runs: WrkResult[], cpu: number[], secs: number): number => median(runs.map((r, i) => (r.requestsPerSecond * secs) / cpu[i]!))
      const cpuNote = (cpu: number[], secs: number): string => cpu.map((c) => fmtNumber(c / secs)).join(' / ')
      rows.push(
        { metric: `${label}: keep-alive req per proxier CPU-second`, weft: fmtNumber(perCpu(ka.clusterIP, s.proxierCpu.keepAlive, seconds)), peer: '—', ratio: '—', target: '', verdict: '' },
        { metric: `${label}: new connections per proxier CPU-second`, weft: fmtNumber(perCpu(nc.clusterIP, s.proxierCpu.newConnection, closeSeconds)), peer: '—', ratio: '—', target: '', verdict: '' },
      )
      notes.push(`${label}: proxier CPUs busy during the ClusterIP runs (${usWorkers} relay thread(s)): keep-alive ${cpuNote(s.proxierCpu.keepAlive, seconds)}, new-connection ${cpuNote(s.proxierCpu.newConnection, closeSeconds)}`)
    }
    const errors = [...s.keepAlive.clusterIP, ...s.keepAlive.direct, ...s.newConnection.clusterIP, ...s.newConnection.direct].reduce((sum, r) => sum + r.errors, 0)
    notes.push(
      `${label}: keep-alive ClusterIP ${s.keepAlive.clusterIP.map((r) => fmtNumber(r.requestsPerSecond)).join(' / ')} vs direct ${s.keepAlive.direct.map((r) => fmtNumber(r.requestsPerSecond)).join(' / ')} req/s; ` +
        `new-connection ClusterIP ${s.newConnection.clusterIP.map((r) => fmtNumber(r.requestsPerSecond)).join(' / ')} vs direct ${s.newConnection.direct.map((r) => fmtNumber(r.requestsPerSecond)).join(' / ')} req/s; ` +
        `${s.connectMs.clusterIP.length} + ${s.connectMs.direct.length} connects; wrk errors ${errors}; proxier sync from nothing ${p.syncMs.map((ms) => fmtMs(ms)).join(', ')}`,
    )
  }
  const lo = Math.min(...serviceCounts)
  const hi = Math.max(...serviceCounts)
  if (lo !== hi) {
    for (const mode of modes) {
      const a = connectP50.get(`${mode} ${hi}`)!
      const b = connectP50.get(`${mode} ${lo}`)!
      rows.push(row(`${mode}: ClusterIP connect p50, ${n(hi)} vs ${n(lo)} Services`, fmtUs(a), fmtUs(b), a / b, atMost(1.1, '×')))
    }
  }
  const userspace1000 = paths.find((p) => p.mode === 'userspace' && p.services === 1000)
  if (userspace1000) {
    const ms = median(userspace1000.syncMs)
    rows.push({ metric: `userspace: sync 1,000 Services from nothing (median of ${userspace1000.syncMs.length})`, weft: fmtMs(ms), peer: '—', ratio: '—', target: '', verdict: '' })
  }
  return { rows, notes }
}

function controlPlaneRows(t: NftSyncTimes): ResultRow[] {
  const full = median(t.full)
  const partial = median(t.partial)
  const fullTarget = atMost(2000, ' ms')
  const partialTarget = atMost(50, ' ms')
  const fullNft = median(t.fullNft)
  const partialNft = median(t.partialNft)
  return [
    { metric: `nftables: full sync, ${n(cpServices)} Services × 5 endpoints`, weft: fmtMs(full), peer: '—', ratio: '—', target: fullTarget.text, verdict: verdict(fullTarget, full) },
    { metric: '  of which waiting for nft', weft: fmtMs(fullNft), peer: '—', ratio: '—', target: '', verdict: '' },
    { metric: '  CPU time (weft and nft)', weft: fmtMs(median(t.fullCpu)), peer: '—', ratio: '—', target: '', verdict: '' },
    {
      metric: `nftables: one endpoint change, ${n(cpServices)} Services`,
      weft: fmtMs(partial),
      peer: 'kube-proxy 141 ms',
      ratio: ratioText(partial / 141),
      target: partialTarget.text,
      verdict: verdict(partialTarget, partial),
    },
    { metric: '  of which waiting for nft', weft: fmtMs(partialNft), peer: '—', ratio: '—', target: '', verdict: '' },
    { metric: '  CPU time (weft and nft)', weft: fmtMs(median(t.partialCpu)), peer: '—', ratio: '—', target: '', verdict: '' },
  ]
}

try {
  ensureTools()
  const work = cleanup.tempDir('weft-bench-proxy-')
  const rows: ResultRow[] = []
  const notes: string[] = []
  if (!flags['skip-data-path']) {
    const d = await dataPath(work)
    rows.push(...d.rows)
    notes.push(...d.notes)
  }
  if (!flags['skip-control-plane']) {
    const t = await nftSyncTimes(cleanup, prefix, cpRuns, cpServices, cpPartials, progress)
    rows.push(...controlPlaneRows(t))
    notes.push(
      `nftables control plane: full syncs ${t.full.map((ms) => fmtMs(ms)).join(', ')} (${n(t.fullOps)} nft operations, ${(t.fullBytes / 1e6).toFixed(1)} MB of nft input, ${n(t.chains)} chains in the table), of which waiting for nft ${t.fullNft.map((ms) => fmtMs(ms)).join(', ')}, CPU time ${t.fullCpu.map((ms) => fmtMs(ms)).join(', ')}; ` +
        `one-endpoint changes ${t.partial.map((ms) => fmtMs(ms)).join(', ')} (${t.partialOps} operations), of which waiting for nft ${t.partialNft.map((ms) => fmtMs(ms)).join(', ')}, CPU time ${t.partialCpu.map((ms) => fmtMs(ms)).join(', ')}`,
    )
  }
  const setup = [
    machineSummary(started),
    ...(flags['skip-data-path']
      ? []
      : [
          `${rounds} rounds, ${usWorkers} userspace relay thread(s), wrk ${threads} threads × ${connections} connections for ${seconds} s keep-alive and ${Math.max(1, connections >> 1)} connections for ${closeSeconds} s with a new connection per request, ${connects} curl connects per target and round; nginx ${nginxWorkers} worker(s)`,
        ]),
  ].join('; ')
  process.stdout.write(`\nservice proxy: ClusterIP (weft) vs straight to the pod (peer) — ${setup}\n\n${textTable(rows)}\n`)
  if (flags.out !== '-') {
    const md =
      `# bench/proxy results\n\n${new Date().toISOString()}: ${setup}.\n\n` +
      `Data-path rows: "weft" = through the ClusterIP, "peer" = straight to the pod IP over the same client → node → pod route, measured back to back; ratio = weft ÷ peer. ` +
      `Connect-flatness rows: ClusterIP connect p50 with the most Services ÷ with the fewest. Control-plane rows: medians over ${cpRuns} fresh namespaces.\n\n` +
      `${markdownTable(rows)}\n\nPer path (one figure per round):\n\n${notes.map((l) => `- ${l}`).join('\n')}\n`
    writeFileSync(flags.out!, md)
    process.stdout.write(`\nwrote ${flags.out}\n`)
  }
} catch (err) {
  if (!interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`)
  process.exitCode = 1
} finally {
  await cleanup.run()
}
