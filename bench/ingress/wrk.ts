// wrk runs: one process per run (one thread: on two cores wrk gets one, the proxy the other),
// output to a file parsed after it exits, killed by pid through the Cleanup if cut short.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import type { Cleanup } from '../lib/cleanup.ts'

export interface WrkOptions {
  url: string
  host: string
  connections: number
  seconds: number
  /** Send `Connection: close`: a new connection (and TLS handshake) per request. */
  close: boolean
  outFile: string
}

export interface WrkResult {
  requests: number
  rps: number
  p50Ms: number
  p99Ms: number
  /** Answers with status ≥ 400 (wrk's "Non-2xx or 3xx responses"). */
  non2xx: number
  socketErrors: { connect: number; read: number; write: number; timeout: number }
}

export function wrkArgs(o: WrkOptions): string[] {
  return ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '-H', `Host: ${o.host}`, ...(o.close ? ['-H', 'Connection: close'] : []), o.url]
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

function duration(text: string, label: string): number {
  const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text)
  if (!m) throw new Error(`wrk output has no "${label}" latency line:\n${text.slice(-1500)}`)
  return Number(m[1]) * UNIT_MS[m[2]!]!
}

export function parseWrk(text: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text)
  const total = /^\s*(\d+) requests in /m.exec(text)
  if (!rps || !total) throw new Error(`wrk output has no "Requests/sec" or "requests in" line:\n${text.slice(-1500)}`)
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text)
  return {
    requests: Number(total[1]),
    rps: Number(rps[1]),
    p50Ms: duration(text, '50%'),
    p99Ms: duration(text, '99%'),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) } : { connect: 0, read: 0, write: 0, timeout: 0 },
  }
}

export function errorCount(r: WrkResult): number {
  const s = r.socketErrors
  return r.non2xx + s.connect + s.read + s.write + s.timeout
}

export async function runWrk(cleanup: Cleanup, o: WrkOptions): Promise<WrkResult> {
  const fd = openSync(o.outFile, 'w')
  const child = spawn('wrk', wrkArgs(o), { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => resolve(code))
  })
  const forget = cleanup.add(() => {
    if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL')
  })
  const code = await exited
  await forget()
  const text = readFileSync(o.outFile, 'utf8')
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${text.slice(-1500)}`)
  return parseWrk(text)
}
