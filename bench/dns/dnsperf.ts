// dnsperf runs: one process per run, output to a file that is parsed after it exits, killed
// by pid through the benchmark's Cleanup if the run is cut short. dnsperf 2.10 reports QPS
// and average/min/max latency; percentiles come from a `-v` run, which prints one
// `> RCODE name type seconds` line per answered query.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import type { Cleanup } from '../lib/cleanup.ts'

export interface DnsperfOptions {
  port: number
  queryFile: string
  seconds: number
  clients: number
  threads: number
  /** Queries in flight at most (dnsperf -q). */
  outstanding: number
  /** Rate cap, queries per second (dnsperf -Q); unset: as fast as the server answers. */
  maxQps?: number
  /** Per-query latencies (dnsperf -v). */
  verbose?: boolean
  /** Where dnsperf's stdout and stderr go. */
  outFile: string
}

export interface DnsperfResult {
  sent: number
  completed: number
  lost: number
  qps: number
  avgLatencyMs: number
  minLatencyMs: number
  maxLatencyMs: number
  stddevLatencyMs: number
  /** Answers per response code, e.g. { NOERROR: 1000 }. */
  rcodes: Record<string, number>
  /** Each answered query's latency in ms (verbose runs only, else empty). */
  latenciesMs: Float64Array
}

export function dnsperfArgs(o: DnsperfOptions): string[] {
  const args = ['-s', '127.0.0.1', '-p', String(o.port), '-d', o.queryFile, '-l', String(o.seconds), '-c', String(o.clients), '-T', String(o.threads), '-q', String(o.outstanding)]
  if (o.maxQps !== undefined) args.push('-Q', String(o.maxQps))
  if (o.verbose) args.push('-v')
  return args
}

function field(text: string, label: string): number {
  const m = new RegExp(`^\\s*${label}:\\s+([\\d.]+)`, 'm').exec(text)
  if (!m) throw new Error(`dnsperf output has no "${label}" line:\n${text.slice(-1500)}`)
  return Number(m[1])
}

/** Parses dnsperf's statistics block (and, if present, its `-v` per-query lines). */
export function parseDnsperf(text: string): DnsperfResult {
  const latency = /^\s*Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/m.exec(text)
  if (!latency) throw new Error(`dnsperf output has no "Average Latency" line:\n${text.slice(-1500)}`)
  const rcodes: Record<string, number> = {}
  const codes = /^\s*Response codes:\s+(.*)$/m.exec(text)
  for (const m of (codes?.[1] ?? '').matchAll(/([A-Z]+) (\d+) \(/g)) rcodes[m[1]!] = Number(m[2])
  const latencies: number[] = []
  let at = text.indexOf('\n> ')
  while (at >= 0) {
    const end = text.indexOf('\n', at + 1)
    const line = text.slice(at + 1, end < 0 ? undefined : end)
    latencies.push(Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000)
    at = end < 0 ? -1 : text.indexOf('\n> ', end)
  }
  return {
    sent: field(text, 'Queries sent'),
    completed: field(text, 'Queries completed'),
    lost: field(text, 'Queries lost'),
    qps: field(text, 'Queries per second'),
    avgLatencyMs: Number(latency[1]) * 1000,
    minLatencyMs: Number(latency[2]) * 1000,
    maxLatencyMs: Number(latency[3]) * 1000,
    stddevLatencyMs: field(text, 'Latency StdDev \\(s\\)') * 1000,
    rcodes,
    latenciesMs: Float64Array.from(latencies),
  }
}

export async function runDnsperf(cleanup: Cleanup, o: DnsperfOptions): Promise<DnsperfResult> {
  const fd = openSync(o.outFile, 'w')
  const child = spawn('dnsperf', dnsperfArgs(o), { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const pid = child.pid
  if (pid === undefined) throw new Error('could not start dnsperf (is it installed?)')
  const stop = cleanup.add(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL')
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (c) => resolve(c))
  })
  await stop()
  const text = readFileSync(o.outFile, 'utf8')
  if (code !== 0) throw new Error(`dnsperf ${dnsperfArgs(o).join(' ')} exited with ${code}:\n${text.slice(-1500)}`)
  return parseDnsperf(text)
}
