// EndpointSlice update latency: a full weft server (API + scheduler + controllers) holds
// `services` Services, each selecting `podsPerService` pods bound to nodes, running but not
// Ready. Once every slice lists its endpoints, pods are flipped to Ready at a steady rate
// (open loop) through the status subresource, and an EndpointSlice watch here records
// the time from sending each status write to the first slice event showing that pod's
// endpoint ready.
import type { V1EndpointSlice } from '@kubernetes/client-node'
import type { Cleanup } from '../lib/cleanup.ts'
import { nowMs, sleep } from '../lib/clock.ts'
import { openLoop, closedLoop, type LoadResult } from '../lib/load.ts'
import { cpuSeconds } from '../lib/process.ts'
import { Samples } from '../lib/stats.ts'
import { pool, send } from '../apiserver/http.ts'
import { createAll, createNamespace, list, watch } from './api.ts'
import { benchNode, benchPod, benchService, nodeName, podIP, runningStatus } from './objects.ts'
import { scratchDir, startServer } from './weft.ts'

export interface EndpointSliceOptions {
  services: number
  podsPerService: number
  nodes: number
  rate: number
  seconds: number
  concurrency: number
  tmpdir: string
  cpuProfDir?: string
  log: (msg: string) => void
}

export interface EndpointSliceResult {
  /** Status write sent → slice event with the endpoint ready, per flipped pod (ms). */
  latency: Samples
  flips: LoadResult
  expected: number
  seen: number
  /** Time from the last pod's status write until every slice listed its (not-ready) endpoints. */
  settleMs: number
  serverCores: number
  serverPid: number
}

const NS = 'eps-bench'
const SLICES = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`
const serviceName = (s: number) => `svc-${String(s).padStart(5, '0')}`
const podName = (s: number, k: number) => `${serviceName(s)}-${k}`

export async function endpointSliceRun(cleanup: Cleanup, o: EndpointSliceOptions): Promise<EndpointSliceResult> {
  const totalPods = o.services * o.podsPerService
  const flipsWanted = Math.round(o.rate * o.seconds)
  if (flipsWanted > totalPods) throw new Error(`${o.rate}/s for ${o.seconds} s is ${flipsWanted} flips, but there are only ${totalPods} pods: raise --services or lower the rate`)
  const scratch = scratchDir(cleanup, 'weft-bench-eps-', o.tmpdir)
  const server = await startServer(cleanup, { dataDir: scratch.dir, apiOnly: false, cpuProfDir: o.cpuProfDir })
  o.log(`  server pid ${server.process.pid} at ${server.url}`)
  const api = pool(server.url, o.concurrency, server.tls)
  const watchPool = pool(server.url, 1, server.tls)
  try {
    await createNamespace(api, NS)
    await createAll(api, () => '/api/v1/nodes', o.nodes, o.concurrency, (i) => benchNode(nodeName(i)))
    await createAll(api, () => `/api/v1/namespaces/${NS}/services`, o.services, o.concurrency, (s) => benchService(NS, serviceName(s), { app: serviceName(s) }))
    // Pod i is replica k = ⌊i / services⌋ of service s = i mod services, so the first
    // `services` flips each touch a different Service.
    const podOf = (i: number) => ({ s: i % o.services, k: Math.floor(i / o.services) })
    await createAll(api, () => `/api/v1/namespaces/${NS}/pods`, totalPods, o.concurrency, (i) => {
      const { s, k } = podOf(i)
      return benchPod(NS, podName(s, k), { labels: { app: serviceName(s) }, nodeName: nodeName(i % o.nodes) })
    })
    const statusPath = (i: number) => {
      const { s, k } = podOf(i)
      return `/api/v1/namespaces/${NS}/pods/${podName(s, k)}/status`
    }
    const running = await closedLoop(totalPods, o.concurrency, (i) =>
      send(api, 'PATCH', statusPath(i), JSON.stringify(runningStatus(podIP(i), false)), 'application/merge-patch+json').then(() => {}),
    )
    if (running.errors) throw new Error(`${running.errors} status writes failed; first: ${(running.firstError as Error)?.message}`)
    const wroteAll = nowMs()
    o.log(`  ${o.nodes} nodes, ${o.services} services, ${totalPods} pods running but not ready`)

    // Every slice must list its pods before the clock starts.
    let resourceVersion = ''
    for (;;) {
      const slices = await list<V1EndpointSlice>(api, SLICES)
      const endpoints = slices.items.reduce((n, s) => n + (s.endpoints?.length ?? 0), 0)
      if (endpoints === totalPods) {
        resourceVersion = slices.resourceVersion
        break
      }
      if (nowMs() - wroteAll > 120_000) throw new Error(`EndpointSlices list ${endpoints} of ${totalPods} endpoints after 120 s; server log ${server.process.logFile}:\n${server.process.tail()}`)
      await sleep(250)
    }
    const settleMs = nowMs() - wroteAll
    o.log(`  all ${totalPods} endpoints in slices ${(settleMs / 1000).toFixed(1)} s after the last status write`)

    const sentAt = new Map<string, number>()
    const latency = new Samples()
    const stream = await watch<V1EndpointSlice>(watchPool, SLICES, resourceVersion, (e) => {
      if (e.type !== 'ADDED' && e.type !== 'MODIFIED') return
      const at = nowMs()
      for (const ep of e.object.endpoints ?? []) {
        const name = ep.targetRef?.name
        if (!name || ep.conditions?.ready !== true) continue
        const t0 = sentAt.get(name)
        if (t0 === undefined) continue
        latency.add(at - t0)
        sentAt.delete(name)
      }
    })
    void stream.done.catch(() => {})

    const serverCpu0 = cpuSeconds(server.process.pid)
    const t0 = nowMs()
    const flips = await openLoop(o.rate, o.seconds * 1000, async (i) => {
      const { s, k } = podOf(i)
      sentAt.set(podName(s, k), nowMs())
      await send(api, 'PATCH', statusPath(i), JSON.stringify(runningStatus(podIP(i), true)), 'application/merge-patch+json')
    })
    const deadline = nowMs() + 10_000
    while (latency.length < flips.ok && nowMs() < deadline) await sleep(10)
    const serverCores = (cpuSeconds(server.process.pid) - serverCpu0) / ((nowMs() - t0) / 1000)
    stream.close()
    return { latency, flips, expected: flips.ok, seen: latency.length, settleMs, serverCores, serverPid: server.process.pid }
  } finally {
    await watchPool.destroy()
    await api.destroy()
    await server.process.stop(15_000)
    await scratch.remove()
  }
}
