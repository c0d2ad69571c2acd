// The load tool benchmark: one `weft load` process against nginx on loopback, beside wrk and
// hey in the same run (closed loop, keep-alive HTTP/1.1, as fast as each goes), in requests per
// CPU-second of the tool; then weft load's memory over a 60 s open-loop run at 10,000 req/s.
// Everything listens on 127.0.0.1; every process is stopped by pid and the temp dir removed at
// the end, on an error and on Ctrl-C. See README.md.
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { LoadResult } from '../../load/types.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { freePort, startProcess, waitForHttp } from '../lib/process.ts'
import { atLeast, atMost, fmtNumber, fmtRate, machineSummary, markdownTable, textTable, verdict, type ResultRow } from '../lib/report.ts'
import { median } from '../lib/stats.ts'
import { nginxPreamble, startNginx, tempPaths } from '../ingress/nginx.ts'
import { errorCount, parseWrk, wrkArgs } from '../ingress/wrk.ts'
import { accuracyRun } from './accuracy.ts'
import { ensureTools } from './deps.ts'
import { timedRun } from '../lib/timed-run.ts'
import { parseHey } from './hey.ts'

const usage = `Usage: node bench/load/run.ts [options]

  --rounds N           rounds of the three tools, order rotated each round (default 5)
  --seconds N          each tool's run (default 10)
  --connections N      connections of every tool (default 50)
  --sweep RATES        open-loop rates to check the rate served at, comma-separated
                       (default 1000,10000,30000,60000,100000; "" skips it)
  --sweep-seconds N    each of those runs (default 5, at least 4)
  --accuracy RATES     open-loop rates against a 5 ms server (default 200,1000,2000; "" skips it)
  --memory-seconds N   the open-loop memory run (default 60; 0 skips it)
  --memory-rate N      its rate, requests/s (default 10000)
  --quick              1 round of 3 s, memory run of 20 s
  --out FILE           results file (default bench/load/results.md; "-" for none)
`
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    sweep: { type: 'string', default: '1000,10000,30000,60000,100000' },
    accuracy: { type: 'string', default: '200,1000,2000' },
    'sweep-seconds': { type: 'string', default: '5' },
    'memory-seconds': { type: 'string', default: '60' },
    'memory-rate': { type: 'string', default: '10000' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: resolve(import.meta.dirname, 'results.md') },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}

function integer(name: string, value: string, min: number): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, not "${value}"`)
  return n
}

const rounds = flags.quick ? 1 : integer('rounds', flags.rounds!, 1)
const seconds = flags.quick ? 3 : integer('seconds', flags.seconds!, 1)
const connections = integer('connections', flags.connections!, 1)
const memorySeconds = flags.quick ? 20 : integer('memory-seconds', flags['memory-seconds']!, 0)
const memoryRate = integer('memory-rate', flags['memory-rate']!, 1)
const sweepRates = flags.quick ? [1000, 10_000] : flags.sweep!.split(',').filter((r) => r.trim() !== '').map((r) => integer('sweep', r.trim(), 1))
const accuracyRates = flags.quick ? [1000] : flags.accuracy!.split(',').filter((r) => r.trim() !== '').map((r) => integer('accuracy', r.trim(), 1))
// The served rate is taken over the run's middle: its first and last second left out, so at least 4 s.
const sweepSeconds = flags.quick ? 4 : integer('sweep-seconds', flags['sweep-seconds']!, 4)
const WEFT = resolve(import.meta.dirname, '../../bin/weft')

type Tool = 'wrk' | 'hey' | 'weft'
interface Figure {
  rps: number
  perCpuSecond: number
  cpuSeconds: number
}

async function runTool(cleanup: Cleanup, tool: Tool, url: string, dir: string, label: string): Promise<Figure> {
  const out = join(dir, `${label}.out`)
  if (tool === 'wrk') {
    const run = await timedRun(cleanup, 'wrk', wrkArgs({ url, host: '127.0.0.1', connections, seconds, close: false, outFile: out }), out)
    const r = parseWrk(run.output)
    if (errorCount(r) > 0) throw new Error(`wrk saw errors (see ${out})`)
    return { rps: r.rps, perCpuSecond: r.requests / run.cpuSeconds, cpuSeconds: run.cpuSeconds }
  }
  if (tool === 'hey') {
    const run = await timedRun(cleanup, 'hey', ['-z', `${seconds}s`, '-c', String(connections), url], out)
    const r = parseHey(run.output)
    if (r.non200 + r.errors > 0) throw new Error(`hey saw errors (see ${out})`)
    return { rps: r.rps, perCpuSecond: r.requests / run.cpuSeconds, cpuSeconds: run.cpuSeconds }
  }
  const resultDir = join(dir, label)
  const run = await timedRun(cleanup, WEFT, ['load', url, '--connections', String(connections), '--duration', `${seconds}s`, '--progress', 'none', '--out', resultDir], out)
  const result = JSON.parse(readFileSync(join(resultDir, 'result.json'), 'utf8')) as LoadResult
  if (result.totals.errors > 0) throw new Error(`weft load saw errors (see ${out})`)
  return { rps: result.totals.okRate, perCpuSecond: result.totals.sent / run.cpuSeconds, cpuSeconds: run.cpuSeconds }
}

interface SweepRun {
  rate: number
  /** Requests per second nginx answered in the middle of the run (its stub_status counter). */
  served: number
  p50: number
  p99: number
  cpuSeconds: number
}

/** nginx's request counter (stub_status). */
async function nginxRequests(statusUrl: string): Promise<number> {
  const text = await (await fetch(statusUrl, { signal: AbortSignal.timeout(2000) })).text()
  const m = /^\s*\d+\s+\d+\s+(\d+)\s*$/m.exec(text)
  if (!m) throw new Error(`nginx stub_status said: ${text}`)
  return Number(m[1])
}

/**
 * One open-loop run at `rate`. result.json's sent rate is the schedule's (requests are timed from
 * when they were meant to go, however late they went), so the rate the tool really kept is taken
 * where the requests arrive: nginx's request counter, sampled every 500 ms, over the middle of the
 * run (the first and the last second left out).
 */
async function sweepRun(cleanup: Cleanup, url: string, statusUrl: string, dir: string, rate: number): Promise<SweepRun> {
  const resultDir = join(dir, `sweep-${rate}`)
  const out = join(dir, `sweep-${rate}.out`)
  const samples: { at: number; requests: number }[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      samples.push({ at: performance.now(), requests: await nginxRequests(statusUrl) })
      await sleep(500)
    }
  })()
  const run = await timedRun(cleanup, WEFT, ['load', url, '--rate', String(rate), '--connections', '256', '--duration', `${sweepSeconds}s`, '--progress', 'none', '--out', resultDir], out)
  sampling = false
  await sampler
  const result = JSON.parse(readFileSync(join(resultDir, 'result.json'), 'utf8')) as LoadResult
  // The command's start-up comes first: the run's middle is measured from its first request.
  const first = samples.findIndex((s, i) => i > 0 && s.requests > samples[i - 1]!.requests)
  const from = samples.find((s) => first >= 0 && s.at >= samples[first]!.at + 1000)
  const to = [...samples].reverse().find((s) => from !== undefined && s.at <= from.at + (sweepSeconds - 2) * 1000)
  // Each sample is a request too: those taken in between are not the tool's.
  const ownRequests = from && to ? samples.indexOf(to) - samples.indexOf(from) : 0
  const served = from && to && to.at > from.at ? ((to.requests - from.requests - ownRequests) / (to.at - from.at)) * 1000 : NaN
  const at = (p: number) => result.latency.percentiles.find((x) => x.p === p)?.ms ?? NaN
  return { rate, served, p50: at(50), p99: at(99), cpuSeconds: run.cpuSeconds }
}

interface MemoryRun {
  rssMiB: number[]
  p99: number
}

function rssMiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : undefined
  } catch {
    return undefined
  }
}

async function memoryRun(cleanup: Cleanup, url: string, dir: string): Promise<MemoryRun> {
  const resultDir = join(dir, 'memory')
  const proc = startProcess(cleanup, WEFT, ['load', url, '--rate', String(memoryRate), '--connections', '64', '--duration', `${memorySeconds}s`, '--progress', 'none', '--out', resultDir], { logFile: join(dir, 'memory.out') })
  const rss: number[] = []
  while (!proc.exited) {
    await sleep(1000)
    const value = rssMiB(proc.pid)
    if (value !== undefined) rss.push(value)
  }
  const result = JSON.parse(readFileSync(join(resultDir, 'result.json'), 'utf8')) as LoadResult
  if (result.totals.errors > 0) throw new Error(`weft load saw errors in the memory run (see ${proc.logFile})`)
  return { rssMiB: rss, p99: result.latency.percentiles.find((p) => p.p === 99)?.ms ?? NaN }
}

async function main(): Promise<void> {
  const started = Date.now()
  ensureTools()
  const cleanup = new Cleanup()
  cleanup.onSignals()
  try {
    const dir = cleanup.tempDir('weft-bench-load-')
    const port = await freePort()
    // One nginx worker: on two cores, the tool gets one core and nginx the other.
    const nginx = startNginx(
      cleanup,
      dir,
      `${nginxPreamble(dir, 1, true)}
http {
${tempPaths(dir)}
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location / { return 200 "ok\\n"; }
    location = /nginx-status { stub_status; }
  }
}
`,
      'nginx',
    )
    const url = `http://127.0.0.1:${port}/`
    await waitForHttp(url, nginx, (status) => status === 200)
    const figures: Record<Tool, Figure[]> = { wrk: [], hey: [], weft: [] }
    const order: Tool[] = ['wrk', 'hey', 'weft']
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < order.length; i++) {
        const tool = order[(i + round) % order.length]!
        const f = await runTool(cleanup, tool, url, dir, `${tool}-${round}`)
        figures[tool].push(f)
        process.stderr.write(`round ${round + 1}/${rounds} ${tool}: ${fmtRate(f.rps)}, ${fmtNumber(f.perCpuSecond)} requests per CPU-second (${f.cpuSeconds.toFixed(2)} CPU-s)\n`)
      }
    }
    const med = (tool: Tool, key: keyof Figure) => median(figures[tool].map((f) => f[key]))
    const perCpu = { wrk: med('wrk', 'perCpuSecond'), hey: med('hey', 'perCpuSecond'), weft: med('weft', 'perCpuSecond') }
    const rps = { wrk: med('wrk', 'rps'), hey: med('hey', 'rps'), weft: med('weft', 'rps') }
    const vsWrk = atLeast(0.5, '×')
    const vsHey = atLeast(1.0, '×')
    const rows: ResultRow[] = [
      { metric: 'keep-alive requests per CPU-second, vs wrk', weft: fmtNumber(perCpu.weft), peer: fmtNumber(perCpu.wrk), ratio: `${(perCpu.weft / perCpu.wrk).toFixed(2)}×`, target: vsWrk.text, verdict: verdict(vsWrk, perCpu.weft / perCpu.wrk) },
      { metric: 'keep-alive requests per CPU-second, vs hey', weft: fmtNumber(perCpu.weft), peer: fmtNumber(perCpu.hey), ratio: `${(perCpu.weft / perCpu.hey).toFixed(2)}×`, target: vsHey.text, verdict: verdict(vsHey, perCpu.weft / perCpu.hey) },
      { metric: 'keep-alive requests/s (wall), vs wrk', weft: fmtRate(rps.weft), peer: fmtRate(rps.wrk), ratio: `${(rps.weft / rps.wrk).toFixed(2)}×`, target: '', verdict: '' },
      { metric: 'keep-alive requests/s (wall), vs hey', weft: fmtRate(rps.weft), peer: fmtRate(rps.hey), ratio: `${(rps.weft / rps.hey).toFixed(2)}×`, target: '', verdict: '' },
    ]
    const sweep: SweepRun[] = []
    for (const rate of sweepRates) {
      const r = await sweepRun(cleanup, url, `${url}nginx-status`, dir, rate)
      sweep.push(r)
      process.stderr.write(`open loop at ${fmtRate(rate)}: nginx served ${fmtRate(r.served)}, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.cpuSeconds.toFixed(2)} CPU-s\n`)
    }
    const p50Bound = atMost(0.3, ' ms')
    const rateBound = atMost(1, '%')
    for (const rate of accuracyRates) {
      const a = await accuracyRun(cleanup, WEFT, dir, rate, 5)
      process.stderr.write(`accuracy at ${fmtRate(rate)}: p50 ${a.p50} ms (the server's own median delay ${a.serverMedianDelay.toFixed(3)} ms), the server saw ${a.serverRate.toFixed(1)}/s\n`)
      const p50Error = Math.abs(a.p50 - 5)
      const rateError = (Math.abs(a.serverRate - rate) / rate) * 100
      rows.push(
        { metric: `accuracy, 5 ms server at --rate ${rate}: p50 (server's own ${a.serverMedianDelay.toFixed(3)} ms)`, weft: `${a.p50.toFixed(3)} ms`, peer: '5 ms', ratio: `${p50Error.toFixed(3)} ms off`, target: p50Bound.text, verdict: verdict(p50Bound, p50Error) },
        { metric: `accuracy, 5 ms server at --rate ${rate}: rate the server saw`, weft: `${a.serverRate.toFixed(1)}/s`, peer: fmtRate(rate), ratio: `${rateError.toFixed(2)}% off`, target: rateBound.text, verdict: verdict(rateBound, rateError) },
      )
    }
    const withinRate = atLeast(0.99, '×')
    for (const r of sweep)
      rows.push({ metric: `open loop: rate served at --rate ${r.rate} (p50 ${r.p50} ms, p99 ${r.p99} ms)`, weft: fmtRate(r.served), peer: fmtRate(r.rate), ratio: `${(r.served / r.rate).toFixed(3)}×`, target: withinRate.text, verdict: verdict(withinRate, r.served / r.rate) })
    let memoryNote = ''
    if (memorySeconds > 0) {
      const m = await memoryRun(cleanup, url, dir)
      const at = (s: number) => m.rssMiB[Math.min(m.rssMiB.length - 1, Math.max(0, s - 1))] ?? NaN
      const early = at(10)
      const last = m.rssMiB[m.rssMiB.length - 1] ?? NaN
      const growth = last / early
      const flat = atMost(1.1, '×')
      rows.push(
        { metric: `RSS at ${fmtRate(memoryRate)}, end of ${memorySeconds} s vs 10 s`, weft: `${last.toFixed(0)} MiB`, peer: `${early.toFixed(0)} MiB`, ratio: `${growth.toFixed(2)}×`, target: flat.text, verdict: verdict(flat, growth) },
      )
      memoryNote = `Memory run: RSS each second ${m.rssMiB.map((v) => v.toFixed(0)).join(' ')} MiB; p99 ${m.p99.toFixed(2)} ms.`
    }
    const header = `weft load vs wrk and hey against nginx (1 worker) on loopback: ${rounds} rounds of ${seconds} s, ${connections} connections, medians; ${machineSummary(started)}.`
    process.stdout.write(`\n${header}\n\n${textTable(rows)}\n${memoryNote}\n`)
    if (flags.out !== '-') {
      const raw = order.map((t) => `- ${t}: ${figures[t].map((f) => `${fmtRate(f.rps)} / ${fmtNumber(f.perCpuSecond)} per CPU-s`).join('; ')}`).join('\n')
      writeFileSync(flags.out!, `# bench/load results\n\n${header}\n\n${markdownTable(rows)}\n\n${memoryNote}\n\nEvery run (requests/s, requests per CPU-second):\n${raw}\n`)
    }
  } finally {
    await cleanup.run()
  }
}

await main()
