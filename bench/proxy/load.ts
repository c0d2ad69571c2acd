// Load from inside a client namespace: wrk for throughput (keep-alive, or a new connection
// per request), curl for TCP connect times (one curl fetching many URLs with
// `Connection: close`, so each fetch opens its own connection and reports time_connect).
import { spawn, type ChildProcess } from 'node:child_process'

const running = new Set<ChildProcess>()

/** Runs a load tool inside `netns`; resolves with its stdout, rejects on a non-zero exit. */
export function inClient(netns: string, command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    child.once('error', reject)
    child.once('close', (code, signal) => {
      running.delete(child)
      if (code === 0) resolve(out)
      else reject(new Error(`${command} in ${netns} failed (${signal ?? `exit ${code}`}): ${err.trim() || out.trim()}`))
    })
  })
}

/** Kills (by pid) the wrk and curl processes still running: for cleanup on Ctrl-C or an error. */
export function stopLoad(): void {
  for (const child of running) {
    if (child.pid === undefined || child.exitCode !== null) continue
    try {
      process.kill(child.pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

export interface WrkResult {
  requestsPerSecond: number
  /** wrk's latency percentiles, ms (request sent → response read; a connect is not part of it). */
  p50: number
  p99: number
  /** connect, read, write and timeout errors, and non-2xx answers. */
  errors: number
}

export interface WrkOptions {
  seconds: number
  threads: number
  connections: number
  /** A new connection for every request. */
  close?: boolean
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, m: 60_000 }

function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text)
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : Number.NaN
}

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${out}`)
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)
    return m ? durationMs(m[1]!) : Number.NaN
  }
  let errors = 0
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  if (sock) errors += sock.slice(1).reduce((sum, n) => sum + Number(n), 0)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  if (non2xx) errors += Number(non2xx[1])
  return { requestsPerSecond: Number(rps[1]), p50: pct('50'), p99: pct('99'), errors }
}

export async function wrk(client: string, url: string, opts: WrkOptions): Promise<WrkResult> {
  const args = ['--latency', `-t${opts.threads}`, `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '2s']
  if (opts.close) args.push('-H', 'Connection: close')
  return parseWrk(await inClient(client, 'wrk', [...args, url]))
}

/** `count` sequential connects to `url` from `client`; each one's TCP connect time in ms. */
export async function connectTimes(client: string, url: string, count: number): Promise<number[]> {
  const out = await inClient(client, 'curl', [
    '-sS',
    '--max-time',
    '10',
    '-o',
    '/dev/null',
    '-H',
    'Connection: close',
    '-w',
    '%{num_connects} %{time_connect}\\n',
    `${url}?[1-${count}]`,
  ])
  const times: number[] = []
  for (const line of out.trim().split('\n')) {
    const [connects, seconds] = line.split(' ')
    // A fetch that reused a connection measured no connect.
    if (connects === '1') times.push(Number(seconds) * 1000)
  }
  return times
}
