// wrk runs: one process per run (one thread: on two cores wrk gets one, the proxy the other),
// output to a file parsed after it exits (bench/lib/timed-run.ts), ended through the Cleanup if
// cut short.
import type { Cleanup } from '../lib/cleanup.ts'
import { timedRun } from '../lib/timed-run.ts'

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
  return parseWrk((await timedRun(cleanup, 'wrk', wrkArgs(o), o.outFile)).output)
}
