// `weft server` in its own process on a free loopback port, over a fresh SQLite data
// dir or an etcd prefix; stopped by pid through the benchmark's Cleanup.
import { join, resolve } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { existsSync } from 'node:fs'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { freePort, startProcess, type ChildProcess } from '../lib/process.ts'
import type { TlsCredentials } from './http.ts'

const WEFT = resolve(import.meta.dirname, '../../bin/weft')

export interface WeftServerOptions {
  /** Where the SQLite store (or, with etcd, just the socket and kubeconfig) lives. */
  dataDir: string
  etcdEndpoint?: string
  etcdPrefix?: string
  /** Write a V8 CPU profile of the server into this dir when it stops. */
  cpuProfDir?: string
}

export interface WeftServer {
  url: string
  process: ChildProcess
  /** The admin kubeconfig `weft server` wrote (CA and admin client certificate). */
  kubeconfig: string
  /** The admin's TLS material, for load generators' connections. */
  tls: TlsCredentials
}

export async function startWeftServer(cleanup: Cleanup, options: WeftServerOptions): Promise<WeftServer> {
  const port = await freePort()
  // The API server alone: the scheduler and controllers would react to every bench Pod.
  const args = ['server', '--api-only', '--data-dir', options.dataDir, '--listen', `127.0.0.1:${port}`]
  if (options.etcdEndpoint) args.push('--etcd-endpoints', options.etcdEndpoint, '--etcd-prefix', options.etcdPrefix ?? '/weft-bench')
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'warn' }
  if (options.cpuProfDir) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${options.cpuProfDir}`.trim()
  const proc = startProcess(cleanup, WEFT, args, { logFile: join(options.dataDir, 'server.log'), env })
  const url = `https://127.0.0.1:${port}`
  const kubeconfig = join(options.dataDir, 'kubeconfig')
  // The server writes its admin kubeconfig once it serves.
  const deadline = Date.now() + 30_000
  while (!existsSync(kubeconfig)) {
    if (proc.exited || Date.now() > deadline) throw new Error(`weft server did not start; log ${proc.logFile}:\n${proc.tail()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const { credentials } = loadKubeconfig(kubeconfig)
  return { url, process: proc, kubeconfig, tls: { ca: credentials.caPem!, cert: credentials.certPem!, key: credentials.keyPem! } }
}
