// `weft dns` in its own process on free loopback ports, against a weft API server, with
// forwarding off (names outside the zone are REFUSED, nothing leaves the machine). Ready
// once /ready on its ready port answers 200 (the zone loaded from the API).
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { freePort, startProcess, waitForHttp, type ChildProcess } from '../lib/process.ts'

export const WEFT = resolve(import.meta.dirname, '../../bin/weft')

export interface WeftDnsOptions {
  apiUrl: string
  /** The kubeconfig it authenticates with (the server's admin one). */
  kubeconfig: string
  /** Where its log file goes. */
  dir: string
  label: string
  zone: string
  ttl: number
  threads?: number
  /** Write a V8 CPU profile into this dir when the process stops. */
  cpuProfDir?: string
}

export interface WeftDns {
  port: number
  metricsUrl: string
  process: ChildProcess
}

/** Whether this checkout has the `weft dns` command yet. */
export function weftDnsAvailable(): boolean {
  const r = spawnSync(WEFT, ['dns', '--help'], { encoding: 'utf8' })
  return r.status === 0 && /--listen/.test(r.stdout + r.stderr)
}

export async function startWeftDns(cleanup: Cleanup, o: WeftDnsOptions): Promise<WeftDns> {
  const [port, health, ready, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const args = [
    'dns',
    '--server', o.apiUrl,
    '--kubeconfig', o.kubeconfig,
    '--listen', `127.0.0.1:${port}`,
    '--health-listen', `127.0.0.1:${health}`,
    '--ready-listen', `127.0.0.1:${ready}`,
    '--metrics-listen', `127.0.0.1:${metrics}`,
    '--zone', o.zone,
    '--ttl', String(o.ttl),
    '--upstream', 'none',
  ]
  if (o.threads !== undefined) args.push('--threads', String(o.threads))
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'warn' }
  if (o.cpuProfDir) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${o.cpuProfDir}`.trim()
  const proc = startProcess(cleanup, WEFT, args, { logFile: join(o.dir, `weft-dns-${o.label}.log`), env })
  await waitForHttp(`http://127.0.0.1:${ready}/ready`, proc, (status) => status === 200, 60_000)
  return { port, metricsUrl: `http://127.0.0.1:${metrics}/metrics`, process: proc }
}
