// The data paths: per proxy mode and Service count, a client → node → pod path whose node
// runs that proxier with that many Services programmed. Requests go straight to the pod IP
// or to the measured ClusterIP, interleaved.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { run } from '../../src/netlink/index.ts'
import { NftablesProxier } from '../../proxy/nftables/proxier.ts'
import type { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { startProcess } from '../lib/process.ts'
import { quietLog } from './control-plane.ts'
import { connectTimes, wrk, type WrkOptions, type WrkResult } from './load.ts'
import { benchState, MEASURED_IP, MEASURED_PORT } from './services.ts'
import { POD_IP, type Path } from './topology.ts'

export type Mode = 'nftables' | 'userspace'
export type Target = 'direct' | 'clusterIP'

export interface DataPath {
  mode: Mode
  services: number
  path: Path
  /** Syncs of this path's proxier from nothing, ms (userspace: as many as asked; nftables: one). */
  syncMs: number[]
  /** Userspace: CPU seconds the proxier process (all its threads) has used so far. */
  proxierCpu?: () => number
}

/** utime + stime of a process, seconds (USER_HZ is 100 on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const USERSPACE_NODE = resolve(import.meta.dirname, 'userspace-node.ts')

export function targetURL(target: Target): string {
  return target === 'direct' ? `http://${POD_IP}/` : `http://${MEASURED_IP}:${MEASURED_PORT}/`
}

async function fetchOnce(client: string, url: string): Promise<string> {
  return run('nsenter', [`--net=/run/netns/${client}`, '--', 'curl', '-sS', '--max-time', '2', url]).catch((err: Error) => `failed: ${err.message}`)
}

/** Programs the path's node with `services` Services through the nftables proxier. */
export async function programNftables(path: Path, services: number): Promise<DataPath> {
  const state = benchState({ services, backend: { ip: POD_IP, port: 80 }, nodeIPs: path.nodeIPs })
  const proxier = new NftablesProxier({ family: 4, nft: new NftExec(path.node), log: quietLog })
  const t0 = performance.now()
  await proxier.sync(state, 'all')
  return { mode: 'nftables', services, path, syncMs: [performance.now() - t0] }
}

/** Starts a userspace proxier with `services` Services in the path's node (a child process, stopped by pid at cleanup). */
export async function startUserspace(cleanup: Cleanup, path: Path, services: number, syncRuns: number, logDir: string, workers: number): Promise<DataPath> {
  const logFile = join(logDir, `userspace-${path.index}.log`)
  const proc = startProcess(
    cleanup,
    'nsenter',
    [`--net=/run/netns/${path.node}`, '--', process.execPath, '--disable-warning=ExperimentalWarning', USERSPACE_NODE, String(services), `${POD_IP}:80`, path.nodeIPs.join(','), String(syncRuns), String(workers)],
    { logFile, env: { ...process.env, WEFT_LOG_LEVEL: 'warn' } },
  )
  const deadline = Date.now() + 300_000
  for (;;) {
    const out = readFileSync(logFile, 'utf8')
    if (/^READY/m.test(out)) {
      const syncMs = [...out.matchAll(/^SYNC ([\d.]+)$/gm)].map((m) => Number(m[1]))
      // nsenter execs node: the pid is the proxier's.
      return { mode: 'userspace', services, path, syncMs, proxierCpu: () => cpuSeconds(proc.pid) }
    }
    if (proc.exited || Date.now() > deadline) throw new Error(`the userspace proxier in ${path.node} did not get ready:\n${proc.tail()}`)
    await sleep(100)
  }
}

/** Both targets answer through the path (the ClusterIP only through the proxy). */
export async function checkPath(p: DataPath): Promise<void> {
  for (const target of ['direct', 'clusterIP'] as const) {
    const client = p.path.clients[target]
    const body = await fetchOnce(client, targetURL(target))
    if (body !== 'ok\n') throw new Error(`${p.mode} path with ${p.services} Services: ${targetURL(target)} from ${client} answered ${JSON.stringify(body)}`)
  }
}

export interface PathSamples {
  keepAlive: Record<Target, WrkResult[]>
  newConnection: Record<Target, WrkResult[]>
  connectMs: Record<Target, number[]>
  /** Userspace: the proxier's CPU seconds during each ClusterIP run. */
  proxierCpu: { keepAlive: number[]; newConnection: number[] }
}

export function emptySamples(): PathSamples {
  return {
    keepAlive: { direct: [], clusterIP: [] },
    newConnection: { direct: [], clusterIP: [] },
    connectMs: { direct: [], clusterIP: [] },
    proxierCpu: { keepAlive: [], newConnection: [] },
  }
}

export interface RoundOptions {
  keepAlive: WrkOptions
  newConnection: WrkOptions
  /** Which target goes first (alternate between rounds). */
  clusterFirst: boolean
}

/** One round of load on one path: keep-alive, then a new connection per request, each to both targets back to back. */
export async function measureRound(p: DataPath, s: PathSamples, opts: RoundOptions): Promise<void> {
  const order: Target[] = opts.clusterFirst ? ['clusterIP', 'direct'] : ['direct', 'clusterIP']
  const { clients } = p.path
  const run = async (t: Target, kind: 'keepAlive' | 'newConnection', o: WrkOptions): Promise<void> => {
    const cpu0 = p.proxierCpu?.()
    s[kind][t].push(await wrk(clients[t], targetURL(t), o))
    if (cpu0 !== undefined && t === 'clusterIP') s.proxierCpu[kind].push(p.proxierCpu!() - cpu0)
  }
  for (const t of order) await run(t, 'keepAlive', opts.keepAlive)
  for (const t of order) await run(t, 'newConnection', { ...opts.newConnection, close: true })
}

/**
 * Connect times on an idle machine (no load running), in small batches that go round every
 * path and target in turn, so a burst of noise lands on all of them alike.
 */
export async function measureConnects(paths: { path: DataPath; samples: PathSamples }[], batches: number, perBatch: number): Promise<void> {
  for (let b = 0; b < batches; b++) {
    for (const { path, samples } of paths) {
      const order: Target[] = b % 2 === 0 ? ['direct', 'clusterIP'] : ['clusterIP', 'direct']
      for (const t of order) samples.connectMs[t].push(...(await connectTimes(path.path.clients[t], targetURL(t), perBatch)))
    }
  }
}
