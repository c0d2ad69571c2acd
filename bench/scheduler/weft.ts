// weft processes for the scheduler benchmark: `weft server` (with or without its control
// plane) and `weft scheduler` on their own, each in its own process on loopback, logging
// into its data dir, stopped by pid through the benchmark's Cleanup.
import { mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { freePort, startProcess, waitForHttp, type ChildProcess } from '../lib/process.ts'

const WEFT = resolve(import.meta.dirname, '../../bin/weft')

function env(cpuProfDir: string | undefined): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'warn' }
  if (cpuProfDir) e.NODE_OPTIONS = `${e.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${cpuProfDir}`.trim()
  return e
}

/** A temp dir removed by the returned function (or at cleanup, whichever comes first). */
export function scratchDir(cleanup: Cleanup, prefix: string, base: string): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(join(base, prefix))
  return { dir, remove: cleanup.add(() => rmSync(dir, { recursive: true, force: true })) }
}

export interface WeftServer {
  url: string
  process: ChildProcess
}

export async function startServer(
  cleanup: Cleanup,
  options: { dataDir: string; apiOnly: boolean; cpuProfDir?: string },
): Promise<WeftServer> {
  const port = await freePort()
  const args = ['server', '--data-dir', options.dataDir, '--listen', `127.0.0.1:${port}`]
  // No kubelet renews node Leases here: keep the node lifecycle controller from marking
  // the benchmark's nodes Unknown mid-run.
  if (options.apiOnly) args.push('--api-only')
  else args.push('--node-monitor-grace-period', '100000')
  const proc = startProcess(cleanup, WEFT, args, { logFile: join(options.dataDir, 'server.log'), env: env(options.cpuProfDir) })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/readyz`, proc, (status) => status === 200, 30_000)
  return { url, process: proc }
}

export function startScheduler(cleanup: Cleanup, options: { url: string; logFile: string; cpuProfDir?: string }): ChildProcess {
  return startProcess(cleanup, WEFT, ['scheduler', '--server', options.url], { logFile: options.logFile, env: env(options.cpuProfDir) })
}
