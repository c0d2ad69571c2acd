// Scheduling throughput: an API-only weft server holds `nodes` Ready nodes and `pods`
// pending pods; then `weft scheduler` starts in its own process and a pod watch here
// timestamps each binding (the first event showing spec.nodeName) until all are bound.
import type { V1Pod } from '@kubernetes/client-node'
import { join } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { nowMs, sleep } from '../lib/clock.ts'
import { cpuSeconds } from '../lib/process.ts'
import { pool } from '../apiserver/http.ts'
import { createAll, createNamespace, list, watch } from './api.ts'
import { benchNode, benchPod, nodeName } from './objects.ts'
import { scratchDir, startScheduler, startServer } from './weft.ts'

export interface SchedulingOptions {
  nodes: number
  pods: number
  concurrency: number
  tmpdir: string
  /** Profile the scheduler and the server processes into this dir. */
  cpuProfDir?: string
  timeoutMs: number
  log: (msg: string) => void
}

export interface SchedulingResult {
  nodes: number
  pods: number
  /** Setup rates: node and pod creates per second. */
  nodeCreateRate: number
  podCreateRate: number
  /** Process start → first binding seen (informer sync of all nodes and pods included). */
  startupMs: number
  /** First → last binding. */
  windowMs: number
  /** Bindings per second between the first and the last binding. */
  rate: number
  /** Bindings per second from the scheduler's process start. */
  rateFromStart: number
  /** Bindings per second, per second of the window: min and max show how steady it was. */
  perSecond: number[]
  schedulerCores: number
  serverCores: number
  /** Nodes that got at least one pod, and the most pods any node got. */
  nodesUsed: number
  maxPodsPerNode: number
  schedulerPid: number
  serverPid: number
}

const NS = 'sched-bench'

export async function schedulingRun(cleanup: Cleanup, o: SchedulingOptions): Promise<SchedulingResult> {
  const scratch = scratchDir(cleanup, `weft-bench-sched-${o.nodes}-`, o.tmpdir)
  const server = await startServer(cleanup, { dataDir: scratch.dir, apiOnly: true, cpuProfDir: o.cpuProfDir })
  const api = pool(server.url, o.concurrency, server.tls)
  const watchPool = pool(server.url, 1, server.tls)
  let stopScheduler: (() => Promise<void>) | undefined
  try {
    await createNamespace(api, NS)
    const nodesMade = await createAll(api, () => '/api/v1/nodes', o.nodes, o.concurrency, (i) => benchNode(nodeName(i)))
    const podsMade = await createAll(api, () => `/api/v1/namespaces/${NS}/pods`, o.pods, o.concurrency, (i) => benchPod(NS, `pod-${String(i).padStart(6, '0')}`))
    o.log(`  ${o.nodes} nodes at ${nodesMade.rate.toFixed(0)}/s, ${o.pods} pending pods at ${podsMade.rate.toFixed(0)}/s`)

    const { items, resourceVersion } = await list<V1Pod>(api, `/api/v1/namespaces/${NS}/pods`)
    const alreadyBound = items.filter((p) => p.spec?.nodeName).length
    if (items.length !== o.pods || alreadyBound > 0) throw new Error(`expected ${o.pods} pending pods, found ${items.length} (${alreadyBound} bound)`)

    const boundAt = new Map<string, number>()
    const perNode = new Map<string, number>()
    const stream = await watch<V1Pod>(watchPool, `/api/v1/namespaces/${NS}/pods`, resourceVersion, (e) => {
      const name = e.object.metadata?.name
      const node = e.object.spec?.nodeName
      if (!name || !node || boundAt.has(name)) return
      boundAt.set(name, nowMs())
      perNode.set(node, (perNode.get(node) ?? 0) + 1)
    })
    void stream.done.catch(() => {})

    const started = nowMs()
    const serverCpu0 = cpuSeconds(server.process.pid)
    const scheduler = startScheduler(cleanup, { server, logFile: join(scratch.dir, 'scheduler.log'), cpuProfDir: o.cpuProfDir })
    stopScheduler = () => scheduler.stop(15_000)
    let schedulerCpu = 0
    while (boundAt.size < o.pods) {
      if (scheduler.exited) throw new Error(`weft scheduler exited after ${boundAt.size} bindings; log ${scheduler.logFile}:\n${scheduler.tail()}`)
      if (nowMs() - started > o.timeoutMs) {
        throw new Error(`only ${boundAt.size} of ${o.pods} pods bound after ${(o.timeoutMs / 1000).toFixed(0)} s; log ${scheduler.logFile}:\n${scheduler.tail()}`)
      }
      // Read while the process is alive: /proc goes away once it exits.
      schedulerCpu = cpuSeconds(scheduler.pid)
      await sleep(20)
    }
    schedulerCpu = cpuSeconds(scheduler.pid)
    const serverCpu = cpuSeconds(server.process.pid) - serverCpu0
    stream.close()
    await stopScheduler()

    const times = [...boundAt.values()].sort((a, b) => a - b)
    const first = times[0]
    const last = times[times.length - 1]
    const windowMs = last - first
    const perSecond: number[] = []
    for (const t of times) {
      const s = Math.floor((t - first) / 1000)
      perSecond[s] = (perSecond[s] ?? 0) + 1
    }
    const fullSeconds = perSecond.slice(0, Math.floor(windowMs / 1000)).map((n) => n ?? 0)
    const totalMs = last - started
    return {
      nodes: o.nodes,
      pods: o.pods,
      nodeCreateRate: nodesMade.rate,
      podCreateRate: podsMade.rate,
      startupMs: first - started,
      windowMs,
      rate: windowMs > 0 ? ((times.length - 1) / windowMs) * 1000 : Number.NaN,
      rateFromStart: (times.length / totalMs) * 1000,
      perSecond: fullSeconds,
      schedulerCores: schedulerCpu / (totalMs / 1000),
      serverCores: serverCpu / (totalMs / 1000),
      nodesUsed: perNode.size,
      maxPodsPerNode: Math.max(...perNode.values()),
      schedulerPid: scheduler.pid,
      serverPid: server.process.pid,
    }
  } finally {
    await stopScheduler?.()
    await watchPool.destroy()
    await api.destroy()
    await server.process.stop(15_000)
    await scratch.remove()
  }
}
