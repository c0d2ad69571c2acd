// The API server benchmark: Pod creates/s, list latency at 10,000 Pods and watch
// delivery latency with 100 watchers, for weft over SQLite and over etcd, each against
// its raw storage floor measured in the same run. See README.md.
import { readdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Cleanup } from '../lib/cleanup.ts'
import { nowMs } from '../lib/clock.ts'
import { cpuSeconds } from '../lib/process.ts'
import { hotSpots } from '../lib/cpu-profile.ts'
import { startEtcd } from '../lib/etcd.ts'
import type { LoadResult } from '../lib/load.ts'
import { atLeast, atMost, fmtMs, fmtNumber, fmtRate, fmtRatio, markdownTable, textTable, verdict, type ResultRow, type Target } from '../lib/report.ts'
import { median, summarize } from '../lib/stats.ts'
import { pool, send } from './http.ts'
import { etcdPuts, etcdPutsAtRate, sqliteFloor } from './peers.ts'
import { benchPod } from './pod.ts'
import { startWeftServer } from './weft-server.ts'
import { createNamespace, createPods, createPodsProtobuf, listAll, listPaged, watchDelivery, type WatchResult } from './workloads.ts'

const usage = `Usage: node bench/apiserver/run.ts [flags]

  --backends LIST       sqlite,etcd (default both)
  --creates N           Pod creates per throughput run (default 5000)
  --concurrency N       creates in flight (default 64)
  --runs N              throughput runs per figure; medians are reported (default 3)
  --list-objects N      Pods in the listed namespace (default 10000)
  --list-runs N         timed lists of each kind (default 5)
  --page-size N         limit for the paged list (default 500)
  --watchers N          watch streams (default 100)
  --watch-rate N        mutations per second during the watch test (default 200)
  --watch-seconds N     how long the mutations run (default 10)
  --tmpdir DIR          where data dirs go (default the OS temp dir)
  --cpu-prof DIR        write a CPU profile of each server process into DIR and print its hot spots
  --out FILE            results file (default bench/apiserver/results.md; "-" for none)
`

const { values: flags } = parseArgs({
  options: {
    backends: { type: 'string', default: 'sqlite,etcd' },
    creates: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    'list-objects': { type: 'string', default: '10000' },
    'list-runs': { type: 'string', default: '5' },
    'page-size': { type: 'string', default: '500' },
    watchers: { type: 'string', default: '100' },
    'watch-rate': { type: 'string', default: '200' },
    'watch-seconds': { type: 'string', default: '10' },
    tmpdir: { type: 'string', default: tmpdir() },
    'cpu-prof': { type: 'string' },
    out: { type: 'string', default: resolve(import.meta.dirname, 'results.md') },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
})
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}

function positive(name: keyof typeof flags): number {
  const n = Number(flags[name])
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive integer, got "${flags[name]}"\n\n${usage}`)
    process.exit(2)
  }
  return n
}

type Backend = 'sqlite' | 'etcd'

const config = {
  backends: flags.backends!.split(',').map((s) => s.trim()) as Backend[],
  creates: positive('creates'),
  concurrency: positive('concurrency'),
  runs: positive('runs'),
  listObjects: positive('list-objects'),
  listRuns: positive('list-runs'),
  pageSize: positive('page-size'),
  watchers: positive('watchers'),
  watchRate: positive('watch-rate'),
  watchSeconds: positive('watch-seconds'),
  tmpdir: resolve(flags.tmpdir!),
  cpuProf: flags['cpu-prof'] ? resolve(flags['cpu-prof']) : undefined,
  out: flags.out === '-' ? undefined : resolve(flags.out!),
}
for (const b of config.backends) {
  if (b !== 'sqlite' && b !== 'etcd') {
    process.stderr.write(`--backends: unknown backend "${b}" (use sqlite, etcd)\n`)
    process.exit(2)
  }
}

const LIST_NS = 'bench'
const SPILL_NS = 'bench-spill'
const WARMUP = 500

interface BackendResult {
  backend: Backend
  creates: LoadResult[]
  /**
   * Per run, the same creates in JSON and in protobuf both ways, into the same namespace
   * back to back, the order alternating from run to run, so that neither format always
   * meets the fuller store or the warmer process.
   */
  formatPairs: { json: LoadResult; protobuf: LoadResult }[]
  peer: LoadResult[]
  peerName: string
  requestBytes: number
  storedBytes: number
  listCount: number
  listFull: number[]
  listPaged: number[]
  watch: WatchResult
  /** Raw store writes at the watch test's rate (etcd only: SQLite's are microseconds). */
  writeFloor: LoadResult | undefined
  /** CPU use during the weft create runs, in cores (1 = one core busy all the time). */
  serverCores: number[]
  clientCores: number[]
  profile?: string
}

/** Runs `fn`, also returning how many cores the server process and this process kept busy meanwhile. */
async function withCpu<T>(serverPid: number, fn: () => Promise<T>): Promise<{ result: T; serverCores: number; clientCores: number }> {
  const t0 = nowMs()
  const server0 = cpuSeconds(serverPid)
  const client0 = process.cpuUsage()
  const result = await fn()
  const seconds = (nowMs() - t0) / 1000
  const client = process.cpuUsage(client0)
  return {
    result,
    serverCores: (cpuSeconds(serverPid) - server0) / seconds,
    clientCores: (client.user + client.system) / 1e6 / seconds,
  }
}

const log = (msg: string) => process.stderr.write(`${msg}\n`)

function describeRun(r: LoadResult): string {
  const s = r.latency.summary()
  return `${fmtRate(r.rate)} (p50 ${fmtMs(s.p50)}, p99 ${fmtMs(s.p99)}${r.errors ? `, ${r.errors} errors: ${(r.firstError as Error)?.message}` : ''})`
}

function mustSucceed(what: string, r: LoadResult): void {
  if (r.errors > 0) throw new Error(`${what}: ${r.errors} of ${r.ok + r.errors} calls failed; first: ${(r.firstError as Error)?.message ?? r.firstError}`)
}

async function timeIt(fn: () => Promise<number>, expected: number, what: string): Promise<number> {
  const t0 = nowMs()
  const count = await fn()
  const ms = nowMs() - t0
  if (count !== expected) throw new Error(`${what} returned ${count} items, expected ${expected}`)
  return ms
}

async function benchBackend(backend: Backend, cleanup: Cleanup): Promise<BackendResult> {
  log(`\n== weft on ${backend} ==`)
  const dataDir = cleanup.tempDir(`weft-bench-${backend}-`, config.tmpdir)
  const etcd = backend === 'etcd' ? await startEtcd(cleanup, config.tmpdir) : undefined
  const server = await startWeftServer(cleanup, { dataDir, etcdEndpoint: etcd?.endpoint, etcdPrefix: '/weft-bench', cpuProfDir: config.cpuProf })
  log(`server pid ${server.process.pid} at ${server.url}${etcd ? `, etcd pid ${etcd.process.pid} at ${etcd.endpoint}` : ''}`)
  const api = pool(server.url, config.concurrency, server.tls)
  try {
    await createNamespace(api, LIST_NS)
    await createNamespace(api, SPILL_NS)

    mustSucceed('warm-up creates', await createPods(api, WARMUP, config.concurrency, (i) => ({ namespace: SPILL_NS, name: `warm-${i}` })))
    const stored = await send(api, 'GET', `/api/v1/namespaces/${SPILL_NS}/pods/warm-0`)
    const requestBytes = JSON.stringify(benchPod(LIST_NS, 'pod-00000')).length
    log(`warm-up: ${WARMUP} creates; a Pod is ${requestBytes} B as sent, ${stored.length} B as stored`)

    // Creates fill the listed namespace first, then spill over, so the list test finds
    // its objects already there.
    const floor = backend === 'sqlite' ? sqliteFloor(cleanup.tempDir('weft-bench-raw-sqlite-', config.tmpdir)) : undefined
    floor?.open()
    const creates: LoadResult[] = []
    const formatPairs: BackendResult['formatPairs'] = []
    const peer: LoadResult[] = []
    const serverCores: number[] = []
    const clientCores: number[] = []
    for (let run = 0; run < config.runs; run++) {
      const base = run * config.creates
      const { result: r, ...cores } = await withCpu(server.process.pid, () =>
        createPods(api, config.creates, config.concurrency, (i) => {
          const g = base + i
          return { namespace: g < config.listObjects ? LIST_NS : SPILL_NS, name: `pod-${String(g).padStart(5, '0')}` }
        }),
      )
      mustSucceed(`create run ${run + 1}`, r)
      creates.push(r)
      serverCores.push(cores.serverCores)
      clientCores.push(cores.clientCores)
      log(`creates run ${run + 1}: weft ${describeRun(r)}; server ${cores.serverCores.toFixed(2)} cores, load generator ${cores.clientCores.toFixed(2)} cores`)
      const p = floor
        ? floor.inserts(`/raw/pods/run${run}/`, config.creates, () => stored)
        : await etcdPuts(etcd!.endpoint, `/raw-bench/pods/run${run}/`, config.creates, config.concurrency, () => stored)
      mustSucceed(`peer run ${run + 1}`, p)
      peer.push(p)
      log(`creates run ${run + 1}: ${backend === 'sqlite' ? 'raw node:sqlite inserts' : 'raw etcd puts'} ${describeRun(p)}`)
      const inJson = () => createPods(api, config.creates, config.concurrency, (i) => ({ namespace: SPILL_NS, name: `json-${run}-${String(i).padStart(5, '0')}` }))
      const inProtobuf = () => createPodsProtobuf(api, config.creates, config.concurrency, (i) => ({ namespace: SPILL_NS, name: `pb-${run}-${String(i).padStart(5, '0')}` }))
      const pair = run % 2 === 0 ? { json: await inJson(), protobuf: await inProtobuf() } : { protobuf: await inProtobuf(), json: await inJson() }
      mustSucceed(`JSON create run ${run + 1} (paired)`, pair.json)
      mustSucceed(`protobuf create run ${run + 1}`, pair.protobuf)
      formatPairs.push(pair)
      log(`creates run ${run + 1}: weft in JSON ${describeRun(pair.json)}, then in protobuf ${describeRun(pair.protobuf)}${run % 2 === 0 ? '' : ' (protobuf first)'}`)
    }
    floor?.close()

    const have = Math.min(config.runs * config.creates, config.listObjects)
    if (have < config.listObjects) {
      const topUp = config.listObjects - have
      mustSucceed('list top-up', await createPods(api, topUp, config.concurrency, (i) => ({ namespace: LIST_NS, name: `pod-${String(have + i).padStart(5, '0')}` })))
      log(`topped up ${topUp} Pods`)
    }
    const listFull: number[] = []
    const listPagedMs: number[] = []
    await listAll(api, LIST_NS)
    for (let i = 0; i < config.listRuns; i++) {
      listFull.push(await timeIt(() => listAll(api, LIST_NS), config.listObjects, 'full list'))
      listPagedMs.push(await timeIt(() => listPaged(api, LIST_NS, config.pageSize), config.listObjects, 'paged list'))
    }
    log(`list ${config.listObjects}: full p50 ${fmtMs(median(listFull))}, paged (limit=${config.pageSize}) p50 ${fmtMs(median(listPagedMs))}`)

    const watch = await watchDelivery(server.url, server.tls, api, {
      namespace: LIST_NS,
      watchers: config.watchers,
      rate: config.watchRate,
      seconds: config.watchSeconds,
      runId: backend,
      existing: (i) => `pod-${String(i % config.listObjects).padStart(5, '0')}`,
    })
    mustSucceed('watch-test mutations', watch.mutations)
    const d = watch.delivery.summary()
    log(`watch: ${watch.seen}/${watch.expected} deliveries, p50 ${fmtMs(d.p50)}, p99 ${fmtMs(d.p99)}; mutations ${describeRun(watch.mutations)}`)
    // The storage floor for those mutations: the same rate of raw writes to the same store.
    let writeFloor: LoadResult | undefined
    if (backend === 'etcd') {
      writeFloor = await etcdPutsAtRate(etcd!.endpoint, '/raw-bench/rate/', config.watchRate, config.watchSeconds, () => stored)
      mustSucceed('raw writes at the watch-test rate', writeFloor)
      log(`raw etcd puts at ${config.watchRate}/s: ${describeRun(writeFloor)}`)
    }

    await api.close()
    await server.process.stop(15_000)
    let profile: string | undefined
    if (config.cpuProf) {
      profile = readdirSync(config.cpuProf)
        .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${server.process.pid}.`))
        .map((f) => join(config.cpuProf!, f))[0]
    }
    return {
      backend,
      creates,
      formatPairs,
      peer,
      peerName: backend === 'sqlite' ? 'raw node:sqlite inserts' : 'raw etcd puts',
      requestBytes,
      storedBytes: stored.length,
      listCount: config.listObjects,
      listFull,
      listPaged: listPagedMs,
      watch,
      writeFloor,
      serverCores,
      clientCores,
      profile,
    }
  } finally {
    await api.destroy()
  }
}

function rowsFor(r: BackendResult): ResultRow[] {
  const tag = `[${r.backend}]`
  const rate = median(r.creates.map((c) => c.rate))
  const peerRate = median(r.peer.map((c) => c.rate))
  const p50 = median(r.creates.map((c) => c.latency.summary().p50))
  const p99 = median(r.creates.map((c) => c.latency.summary().p99))
  const peerP50 = median(r.peer.map((c) => c.latency.summary().p50))
  const peerP99 = median(r.peer.map((c) => c.latency.summary().p99))
  const pairedJsonP50 = median(r.formatPairs.map((f) => f.json.latency.summary().p50))
  const protobufP50 = median(r.formatPairs.map((f) => f.protobuf.latency.summary().p50))
  const protobufP50Ratio = median(r.formatPairs.map((f) => f.protobuf.latency.summary().p50 / f.json.latency.summary().p50))
  const pairedJsonRate = median(r.formatPairs.map((f) => f.json.rate))
  const protobufRate = median(r.formatPairs.map((f) => f.protobuf.rate))
  const protobufRateRatio = median(r.formatPairs.map((f) => f.protobuf.rate / f.json.rate))
  const full = summarize(r.listFull)
  const paged = summarize(r.listPaged)
  const delivery = r.watch.delivery.summary()
  const mutation = r.watch.mutations.latency.summary()
  const row = (metric: string, weft: number, fmt: (n: number) => string, target?: Target, peer?: number, ratio?: number): ResultRow => ({
    metric: `${tag} ${metric}`,
    weft: fmt(weft),
    peer: peer === undefined ? '' : fmt(peer),
    ratio: ratio === undefined ? '' : fmtRatio(ratio),
    target: target?.text ?? '',
    verdict: verdict(target, weft),
  })
  const n = fmtNumber(r.listCount)
  return [
    row(`Pod creates/s (c=${config.concurrency}, median of ${r.creates.length}) vs ${r.peerName}`, rate, fmtRate, r.backend === 'sqlite' ? atLeast(2000, '/s') : undefined, peerRate, rate / peerRate),
    row('create latency p50', p50, fmtMs, undefined, peerP50),
    row('create latency p99', p99, fmtMs, undefined, peerP99),
    row('create latency p50 in protobuf vs in JSON (paired runs; ratio: median of the pairs)', protobufP50, fmtMs, atMost(pairedJsonP50 * 1.1, ' ms (JSON + 10%)'), pairedJsonP50, protobufP50Ratio),
    row('Pod creates/s in protobuf vs in JSON (paired runs)', protobufRate, fmtRate, undefined, pairedJsonRate, protobufRateRatio),
    row(`full list of ${n} Pods, median`, full.p50, fmtMs),
    row(`full list of ${n} Pods, p99`, full.p99, fmtMs),
    row(`paged list-all (limit=${config.pageSize}), median`, paged.p50, fmtMs),
    row(`paged list-all (limit=${config.pageSize}), p99`, paged.p99, fmtMs),
    row(`watch delivery p50 (${config.watchers} watchers, ${config.watchRate}/s)`, delivery.p50, fmtMs),
    row(`watch delivery p99 (${config.watchers} watchers, ${config.watchRate}/s)`, delivery.p99, fmtMs, atMost(50, ' ms')),
    row(
      `mutating call p99 under watch load${r.writeFloor ? ' vs raw etcd puts at that rate' : ''}`,
      mutation.p99,
      fmtMs,
      atMost(100, ' ms'),
      r.writeFloor?.latency.summary().p99,
      r.writeFloor ? mutation.p99 / r.writeFloor.latency.summary().p99 : undefined,
    ),
    {
      metric: `${tag} watch events delivered`,
      weft: `${r.watch.seen.toLocaleString('en-US')} / ${r.watch.expected.toLocaleString('en-US')}`,
      peer: '',
      ratio: '',
      target: 'all',
      verdict: r.watch.seen >= r.watch.expected ? 'pass' : 'FAIL',
    },
  ]
}

function profileReport(r: BackendResult): string {
  if (!r.profile) return ''
  const { busyMs, spots } = hotSpots(r.profile, 15, resolve(import.meta.dirname, '../..'))
  const lines = spots.map((s) => `  ${(s.share * 100).toFixed(1).padStart(5)}%  ${fmtMs(s.ms).padStart(10)}  ${s.name}`)
  return `CPU profile of the ${r.backend} server (${r.profile}), ${fmtMs(busyMs)} busy, top self time:\n${lines.join('\n')}\n`
}

function resultsMarkdown(results: BackendResult[], rows: ResultRow[], startedAt: Date, seconds: number): string {
  const details = results
    .map((r) => {
      const runs = r.creates.map((c, i) => `| ${i + 1} | ${fmtRate(c.rate)} | ${fmtMs(c.latency.summary().p50)} | ${fmtMs(c.latency.summary().p99)} | ${fmtRate(r.peer[i].rate)} | ${fmtMs(r.formatPairs[i].json.latency.summary().p50)} | ${fmtMs(r.formatPairs[i].protobuf.latency.summary().p50)} |`)
      return [
        `### ${r.backend}`,
        '',
        `A Pod is ${r.requestBytes} B as sent and ${r.storedBytes} B as stored (the peer writes the stored text).`,
        `During the create runs the server process kept ${fmtNumber(median(r.serverCores))} cores busy and the load generator ${fmtNumber(median(r.clientCores))} (medians; ${availableParallelism()} CPUs in all).`,
        '',
        `| run | weft creates/s | p50 | p99 | ${r.peerName}/s | paired JSON p50 | protobuf p50 |`,
        '|---:|---:|---:|---:|---:|---:|---:|',
        ...runs,
      ].join('\n')
    })
    .join('\n\n')
  return `# API server benchmark — last run

Run ${startedAt.toISOString()}, took ${seconds.toFixed(0)} s. Node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}).
Parameters: ${config.creates} creates × ${config.runs} runs at concurrency ${config.concurrency}; lists of ${config.listObjects} Pods × ${config.listRuns} runs
(pages of ${config.pageSize}); ${config.watchers} watchers, ${config.watchRate} mutations/s for ${config.watchSeconds} s. Data dirs under ${config.tmpdir}.

${markdownTable(rows)}

Ratios are weft ÷ peer. List and latency figures include the load generator's own JSON parsing.

${details}
`
}

async function main(): Promise<void> {
  const cleanup = new Cleanup()
  cleanup.onSignals()
  const startedAt = new Date()
  const t0 = nowMs()
  const results: BackendResult[] = []
  try {
    for (const backend of config.backends) results.push(await benchBackend(backend, cleanup))
  } finally {
    await cleanup.run()
  }
  const rows = results.flatMap(rowsFor)
  process.stdout.write(`\n${textTable(rows)}\n\n`)
  for (const r of results) {
    const text = profileReport(r)
    if (text) process.stdout.write(`${text}\n`)
  }
  const seconds = (nowMs() - t0) / 1000
  if (config.out) {
    writeFileSync(config.out, resultsMarkdown(results, rows, startedAt, seconds))
    log(`results written to ${config.out}`)
  }
}

await main().catch((err: unknown) => {
  process.stderr.write(`bench/apiserver: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
