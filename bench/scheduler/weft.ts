// weft processes for the scheduler benchmark: `weft server` (bench/apiserver/weft-server.ts,
// with or without its control plane) and `weft scheduler` on its own with the admin
// kubeconfig, each in its own process on loopback, logging into its data dir, stopped by
// pid through the benchmark's Cleanup.
import { mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { startWeftServer, weftEnv, type WeftServer } from '../apiserver/weft-server.ts'
import type { Cleanup } from '../lib/cleanup.ts'
import { startProcess, type ChildProcess } from '../lib/process.ts'

const WEFT = resolve(import.meta.dirname, '../../bin/weft')

/** A temp dir removed by the returned function (or at cleanup, whichever comes first). */
export function scratchDir(cleanup: Cleanup, prefix: string, base: string): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(join(base, prefix))
  return { dir, remove: cleanup.add(() => rmSync(dir, { recursive: true, force: true })) }
}

export function startServer(cleanup: Cleanup, options: { dataDir: string; apiOnly: boolean; cpuProfDir?: string }): Promise<WeftServer> {
  return startWeftServer(cleanup, {
    dataDir: options.dataDir,
    cpuProfDir: options.cpuProfDir,
    controlPlane: !options.apiOnly,
    // No kubelet renews node Leases here: keep the node lifecycle controller from marking
    // the benchmark's nodes Unknown mid-run.
    extraArgs: options.apiOnly ? [] : ['--node-monitor-grace-period', '100000'],
  })
}

export function startScheduler(cleanup: Cleanup, options: { server: WeftServer; logFile: string; cpuProfDir?: string }): ChildProcess {
  const args = ['scheduler', '--server', options.server.url, '--kubeconfig', options.server.kubeconfig]
  return startProcess(cleanup, WEFT, args, { logFile: options.logFile, env: weftEnv(options.cpuProfDir) })
}
