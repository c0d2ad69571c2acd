// `weft ingress --workers N` in its own process on free loopback ports (HTTP, HTTPS, status), against a
// weft API server, at WEFT_LOG_LEVEL=warn (its per-request access line is logged at info, so
// it is off). Ready once /readyz answers 200.
import { join, resolve } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { freePort, startProcess, waitForHttp, type ChildProcess } from '../lib/process.ts'

export const WEFT = resolve(import.meta.dirname, '../../bin/weft')

export interface WeftIngressOptions {
  apiUrl: string
  /** The kubeconfig it authenticates with (the server's admin one). */
  kubeconfig: string
  /** Where its log file goes. */
  dir: string
  label: string
  /** Write a V8 CPU profile into this dir when the process stops. */
  cpuProfDir?: string
  /** --workers (default 1: one thread serving, against one nginx worker). */
  workers?: number
  /** Run node with --perf-basic-prof (JIT frames named for perf; perf.ts). */
  perfBasicProf?: boolean
}

export interface WeftIngress {
  httpPort: number
  httpsPort: number
  statusPort: number
  process: ChildProcess
}

export async function startWeftIngress(cleanup: Cleanup, o: WeftIngressOptions): Promise<WeftIngress> {
  const [httpPort, httpsPort, statusPort] = [await freePort(), await freePort(), await freePort()]
  const args = ['ingress', '--server', o.apiUrl, '--kubeconfig', o.kubeconfig, '--http-listen', `127.0.0.1:${httpPort}`, '--https-listen', `127.0.0.1:${httpsPort}`, '--status-listen', `127.0.0.1:${statusPort}`, '--workers', String(o.workers ?? 1)]
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'warn' }
  if (o.perfBasicProf) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --perf-basic-prof`.trim()
  if (o.cpuProfDir) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${o.cpuProfDir}`.trim()
  const proc = startProcess(cleanup, WEFT, args, { logFile: join(o.dir, `weft-ingress-${o.label}.log`), env })
  await waitForHttp(`http://127.0.0.1:${statusPort}/readyz`, proc, (status) => status === 200, 60_000)
  return { httpPort, httpsPort, statusPort, process: proc }
}
