// `weft server` in its own process on a free loopback port, over a fresh SQLite data
// dir or an etcd prefix; stopped by pid through the benchmark's Cleanup. HTTPS only: it
// is ready once the admin kubeconfig it writes parses and /readyz answers 200 to its CA.
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import type { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { freePort, startProcess, type ChildProcess } from '../lib/process.ts'
import { pool, send, type TlsCredentials } from './http.ts'

const WEFT = resolve(import.meta.dirname, '../../bin/weft')

export interface WeftServerOptions {
  /** Where the SQLite store (or, with etcd, just the socket and kubeconfig) lives. */
  dataDir: string
  etcdEndpoint?: string
  etcdPrefix?: string
  /** Write a V8 CPU profile of the server into this dir when it stops. */
  cpuProfDir?: string
  /** Run the controllers and scheduler too (default: `--api-only`). */
  controlPlane?: boolean
  /** More `weft server` flags. */
  extraArgs?: readonly string[]
}

export interface WeftServer {
  url: string
  process: ChildProcess
  /** The admin kubeconfig `weft server` wrote (CA and admin client certificate). */
  kubeconfig: string
  /** The admin's TLS material, for load generators' connections. */
  tls: TlsCredentials
}

/** The environment of a weft child process: quiet logs, optionally a CPU profile into `cpuProfDir`. */
export function weftEnv(cpuProfDir?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'warn' }
  if (cpuProfDir) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${cpuProfDir}`.trim()
  return env
}

export async function startWeftServer(cleanup: Cleanup, options: WeftServerOptions): Promise<WeftServer> {
  const port = await freePort()
  // By default the API server alone: the scheduler and controllers would react to every bench Pod.
  const args = ['server', ...(options.controlPlane ? [] : ['--api-only']), '--data-dir', options.dataDir, '--listen', `127.0.0.1:${port}`, ...(options.extraArgs ?? [])]
  if (options.etcdEndpoint) args.push('--etcd-endpoints', options.etcdEndpoint, '--etcd-prefix', options.etcdPrefix ?? '/weft-bench')
  const proc = startProcess(cleanup, WEFT, args, { logFile: join(options.dataDir, 'server.log'), env: weftEnv(options.cpuProfDir) })
  const url = `https://127.0.0.1:${port}`
  const kubeconfig = join(options.dataDir, 'kubeconfig')
  const deadline = Date.now() + 30_000
  let last = 'no kubeconfig yet'
  for (;;) {
    if (proc.exited || Date.now() > deadline) throw new Error(`weft server did not get ready (${last}); log ${proc.logFile}:\n${proc.tail()}`)
    // The server writes its admin kubeconfig once it serves; a half-written one is retried.
    const tls = existsSync(kubeconfig) ? adminTls(kubeconfig) : undefined
    if (tls && (last = await readyz(url, tls)) === 'ok') return { url, process: proc, kubeconfig, tls }
    await sleep(50)
  }
}

function adminTls(kubeconfig: string): TlsCredentials | undefined {
  try {
    const { credentials } = loadKubeconfig(kubeconfig)
    if (!credentials.caPem || !credentials.certPem || !credentials.keyPem) return undefined
    return { ca: credentials.caPem, cert: credentials.certPem, key: credentials.keyPem }
  } catch {
    return undefined
  }
}

async function readyz(url: string, tls: TlsCredentials): Promise<string> {
  const p = pool(url, 1, tls)
  try {
    return (await send(p, 'GET', '/readyz')).trim()
  } catch (err) {
    return (err as Error).message
  } finally {
    await p.destroy()
  }
}
