// Eviction: --eviction-hard parsing, upstream's ranking and message, the manager's rounds
// on fake sources, and a memory hog evicted from a cgroup of the test's own that stands in
// for the node.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { V1Pod } from '@kubernetes/client-node'
import t from 'tap'
import { CgroupManager } from '../../src/kubelet/cgroups/index.ts'
import { EvictionManager, evictionMessage, isCriticalPod, rankForMemory, type PodMemoryUsage } from '../../src/kubelet/eviction.ts'
import { DEFAULT_EVICTION_HARD, formatBinaryQuantity, parseEvictionHard } from '../../src/kubelet/eviction-thresholds.ts'
import { createSandbox, removeSandbox, startContainer, stopContainer, type ContainerProcess } from '../../src/kubelet/runtime/index.ts'
import { hostCgroupLayout, testCgroupParent } from '../helpers/cgroups.ts'

const Mi = 2 ** 20

function pod(name: string, opts: { request?: string; limit?: string; priority?: number; annotations?: Record<string, string> } = {}): V1Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: {
      ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
      containers: [{ name: 'main', resources: { ...(opts.request ? { requests: { memory: opts.request } } : {}), ...(opts.limit ? { limits: { memory: opts.limit } } : {}) } }],
    },
  }
}
const usage = (p: V1Pod, bytes: number | undefined): PodMemoryUsage => ({ pod: p, ...(bytes !== undefined ? { containers: [{ name: 'main', workingSetBytes: bytes }] } : {}) })

t.test('--eviction-hard: upstream syntax, refusals', async (t) => {
  t.same(parseEvictionHard('--eviction-hard', 'memory.available<100Mi'), [{ signal: 'memory.available', quantity: 100 * Mi, text: '100Mi' }])
  t.same(parseEvictionHard('--eviction-hard', 'memory.available<5%')[0]?.percentage, 0.05)
  t.equal(parseEvictionHard('--eviction-hard', DEFAULT_EVICTION_HARD).length, 5)
  t.same(parseEvictionHard('--eviction-hard', ''), [])
  t.throws(() => parseEvictionHard('--eviction-hard', 'memory.free<1Gi'), /unsupported eviction signal memory.free/)
  t.throws(() => parseEvictionHard('--eviction-hard', 'memory.available>1Gi'), /only operator/)
  t.throws(() => parseEvictionHard('--eviction-hard', 'memory.available<1Gi,memory.available<2Gi'), /duplicate/)
  t.throws(() => parseEvictionHard('--eviction-hard', 'memory.available<150%'), /percentage/)
  t.throws(() => parseEvictionHard('--eviction-hard', 'memory.available<lots'), /not a quantity/)
  t.throws(() => parseEvictionHard('--eviction-hard', 'memory.available<-1Mi'), /negative/)
})

t.test('quantities print as resource.Quantity (BinarySI)', async (t) => {
  t.same([100 * Mi, 12345 * 1024, 1536, 1000, 512, 0, 3 * 2 ** 30].map(formatBinaryQuantity), ['100Mi', '12345Ki', '1536', '1k', '512', '0', '3Gi'])
})

t.test('ranking under memory pressure: no stats, above requests, priority, usage above requests', async (t) => {
  const names = (ps: PodMemoryUsage[]) => ps.map((p) => p.pod.metadata!.name)
  const within = usage(pod('within', { request: '100Mi' }), 50 * Mi)
  const over = usage(pod('over', { request: '10Mi' }), 20 * Mi)
  const bigOver = usage(pod('big-over', { request: '10Mi' }), 80 * Mi)
  const besteffort = usage(pod('besteffort'), 30 * Mi)
  const important = usage(pod('important', { priority: 1000 }), 500 * Mi)
  const nostats = usage(pod('nostats'), undefined)
  t.same(names(rankForMemory([within, over, bigOver, besteffort, important, nostats])), ['nostats', 'big-over', 'besteffort', 'over', 'important', 'within'])
  t.same(names(rankForMemory([within, usage(pod('low', { request: '100Mi', priority: -5 }), 10 * Mi)])), ['low', 'within'], 'among pods within their requests, lower priority first')
  t.ok(isCriticalPod(pod('crit', { priority: 2_000_000_000 })))
  t.ok(isCriticalPod(pod('static', { annotations: { 'kubernetes.io/config.source': 'file' } })))
  t.notOk(isCriticalPod(pod('plain')))
})

t.test("upstream's eviction message", async (t) => {
  const [threshold] = parseEvictionHard('--eviction-hard', 'memory.available<100Mi')
  t.equal(
    evictionMessage(usage(pod('hog', { request: '10Mi' }), 300 * Mi), threshold!, 2 ** 30, 90 * Mi),
    'The node was low on resource: memory. Threshold quantity: 100Mi, available: 90Mi. Container main was using 300Mi, request is 10Mi, has larger consumption of memory. ',
  )
  t.equal(evictionMessage(usage(pod('ok', { request: '1Gi' }), 3 * Mi), threshold!, 2 ** 30, 12345 * 1024), 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 12345Ki. ')
  const [pct] = parseEvictionHard('--eviction-hard', 'memory.available<10%')
  t.match(evictionMessage(usage(pod('be'), Mi), pct!, 1000 * Mi, 50 * Mi), /^The node was low on resource: memory\. Threshold quantity: 100Mi, available: 50Mi\. Container main was using 1Mi, request is 0, /)
})

t.test('the manager: one pod per round, MemoryPressure with its transition period, critical pods spared', async (t) => {
  let working = 950 * Mi
  let now = 0
  const evicted: string[] = []
  const pressure: boolean[] = []
  let pods = [usage(pod('a', { request: '10Mi' }), 100 * Mi), usage(pod('b', { request: '10Mi' }), 200 * Mi), usage(pod('crit', { priority: 2_000_000_000 }), 900 * Mi)]
  const mgr = new EvictionManager({
    thresholds: parseEvictionHard('--eviction-hard', 'memory.available<100Mi'),
    memory: async () => ({ capacityBytes: 1000 * Mi, workingSetBytes: working }),
    pods: async () => pods,
    evict: async (p) => {
      evicted.push(p.metadata!.name!)
      pods = pods.filter((x) => x.pod !== p)
    },
    pressureTransitionMs: 60_000,
    onPressureChange: (p) => pressure.push(p),
    now: () => now,
  })
  t.equal((await mgr.synchronize())?.metadata?.name, 'b', 'the largest consumer above its request goes first')
  t.ok(mgr.memoryPressure)
  t.equal((await mgr.synchronize())?.metadata?.name, 'a')
  t.equal(await mgr.synchronize(), undefined, 'the critical pod is never evicted')
  t.same(evicted, ['b', 'a'])
  working = 100 * Mi
  now += 30_000
  t.equal(await mgr.synchronize(), undefined)
  t.ok(mgr.memoryPressure, 'pressure stays for the transition period')
  now += 31_000
  await mgr.synchronize()
  t.notOk(mgr.memoryPressure)
  t.same(pressure, [true, false])
})

// A memory cgroup of the test's own, limited to 64Mi, is "the node"; the pods' cgroups sit under it.
const layout = hostCgroupLayout()
const skip = layout?.mounts.memory === undefined || process.getuid?.() !== 0 ? 'needs root and the memory controller' : false
const parent = testCgroupParent(layout)

t.test('a memory hog in a 64Mi "node" is evicted; the quiet pod stays', { skip }, async (t) => {
  const mgr = new CgroupManager({ layout: layout!, driver: 'cgroupfs', cgroupRoot: `${parent}/node` })
  await mgr.init()
  const nodeDir = join(layout!.mounts.memory!, parent, 'node')
  const nodeLimit = 64 * Mi
  writeFileSync(join(nodeDir, layout!.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'), String(nodeLimit))
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-ev-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const procs = new Map<string, ContainerProcess>()
  const hog = pod('hog', { request: '5Mi' })
  const quiet = pod('quiet', { request: '10Mi' })
  for (const [p, argv] of [
    [quiet, ['sleep', '1000']],
    [hog, ['sh', '-c', 'x=$(head -c 20M /dev/zero | tr "\\0" a); sleep 1000']],
  ] as const) {
    await mgr.podCgroups(p)
    const cgroups = await mgr.containerCgroups(p, p.spec!.containers[0]!)
    const sb = await createSandbox({ dataDir, uid: p.metadata!.uid!, namespace: 'default', name: p.metadata!.name!, hostname: p.metadata!.name! })
    t.teardown(() => removeSandbox(sb))
    const proc = await startContainer(sb, { name: 'main', argv: [...argv], env: [], restartCount: 0, cgroups })
    t.teardown(() => stopContainer(proc, 0))
    procs.set(p.metadata!.name!, proc)
  }
  const nodeMemory = async () => {
    const u = await mgr.usage(`${parent}/node`)
    return { capacityBytes: nodeLimit, workingSetBytes: u.workingSetBytes ?? 0 }
  }
  // Wait for the hog to hold its memory.
  const deadline = Date.now() + 10_000
  while ((await nodeMemory()).workingSetBytes < 20 * Mi && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  const messages: string[] = []
  const active = new Set([hog, quiet])
  const manager = new EvictionManager({
    thresholds: parseEvictionHard('--eviction-hard', 'memory.available<50Mi'),
    memory: nodeMemory,
    pods: async () =>
      Promise.all(
        [...active].map(async (p) => {
          const u = await mgr.usage(mgr.containerPath((await mgr.findPod(p.metadata!.uid!))!, 'main'))
          return { pod: p, containers: [{ name: 'main', workingSetBytes: u.workingSetBytes ?? 0 }] }
        }),
      ),
    evict: async (p, message) => {
      messages.push(message)
      active.delete(p)
      await stopContainer(procs.get(p.metadata!.name!)!, 1)
    },
    pressureTransitionMs: 0,
  })
  const victim = await manager.synchronize()
  t.equal(victim?.metadata?.name, 'hog')
  t.ok(manager.memoryPressure, 'MemoryPressure while the threshold is met')
  t.match(messages[0], /^The node was low on resource: memory\. Threshold quantity: 50Mi, available: \d+(Ki|Mi)?\. Container main was using \d+(Ki|Mi)?, request is 5Mi, has larger consumption of memory\. $/)
  // The hog's memory is given back: the next round evicts nobody and the pressure is over.
  t.equal(await manager.synchronize(), undefined)
  t.notOk(manager.memoryPressure)
  t.ok(active.has(quiet), 'the quiet pod stays')
  await mgr.removePod(hog.metadata!.uid!)
  await stopContainer(procs.get('quiet')!, 0)
  await mgr.removePod(quiet.metadata!.uid!)
})

t.test('the Node reports MemoryPressure and the reduced allocatable', async (t) => {
  const { nodeStatus } = await import('../../src/kubelet/node-status.ts')
  const host = { cpus: 2, memoryBytes: 4 * 2 ** 30, kernel: 'k', arch: 'amd64', os: 'linux', allocatable: { cpu: '1500m', memory: '3000000Ki' } }
  const id = { name: 'n', internalIPs: ['10.0.0.1'], kubeletPort: 10250 }
  const status = nodeStatus(id, host, { memoryPressure: true }, undefined, new Date())
  const c = status?.conditions?.find((x) => x.type === 'MemoryPressure')
  t.same([c?.status, c?.reason], ['True', 'KubeletHasInsufficientMemory'])
  t.same([status?.allocatable?.cpu, status?.allocatable?.memory, status?.allocatable?.pods], ['1500m', '3000000Ki', '110'])
  t.equal(status?.capacity?.cpu, '2')
  const calm = nodeStatus(id, host, {}, undefined, new Date())
  t.equal(calm?.conditions?.find((x) => x.type === 'MemoryPressure')?.status, 'False')
})
