// Resource → cgroup values as upstream's kubelet computes them, layout detection, and the
// cgroup manager and stats collector on a fake cgroup v2 tree in a temporary directory.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import {
  CgroupManager,
  cgroupPath,
  cgroupWrites,
  containerResourceConfig,
  detectLayout,
  milliCPUToQuota,
  milliCPUToShares,
  podResourceConfig,
  sharesToWeight,
} from '../../src/kubelet/cgroups/index.ts'
import { allocatableQuantities, nodeAllocatable, parseReserved } from '../../src/kubelet/cgroups/allocatable.ts'
import { parseEvictionHard } from '../../src/kubelet/eviction-thresholds.ts'
import { StatsCollector } from '../../src/kubelet/stats/collector.ts'

t.test('MilliCPUToShares, MilliCPUToQuota and the v2 weight as upstream', async (t) => {
  t.same([0, 1, 100, 1000, 300_000].map(milliCPUToShares), [2, 2, 102, 1024, 262144])
  t.same([0, 5, 200, 1500].map((m) => milliCPUToQuota(m)), [0, 1000, 20000, 150000])
  t.same([2, 1024, 262144].map(sharesToWeight), [1, 39, 10000])
})

const c = (name: string, requests: Record<string, string> = {}, limits: Record<string, string> = {}) => ({ name, resources: { requests, limits } })

t.test('container cgroup values', async (t) => {
  t.same(containerResourceConfig(c('a', { cpu: '250m' }, { cpu: '500m', memory: '64Mi' })), { cpuShares: 256, cpuQuota: 50000, cpuPeriod: 100000, memoryLimit: 67108864 })
  t.same(containerResourceConfig(c('a', {}, { cpu: '1' })), { cpuShares: 1024, cpuQuota: 100000, cpuPeriod: 100000, memoryLimit: -1 }, 'shares follow a lone limit')
  t.same(containerResourceConfig(c('a')), { cpuShares: 2, cpuQuota: -1, cpuPeriod: 100000, memoryLimit: -1 })
  t.same(cgroupWrites(1, containerResourceConfig(c('a', {}, { cpu: '200m', memory: '20Mi' }))), [
    { controller: 'cpu', file: 'cpu.shares', value: '204' },
    { controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
    { controller: 'cpu', file: 'cpu.cfs_quota_us', value: '20000' },
    { controller: 'memory', file: 'memory.limit_in_bytes', value: '20971520' },
  ])
  t.same(cgroupWrites(2, { cpuShares: 2, cpuQuota: -1, memoryLimit: -1, pidsLimit: 100 }), [
    { controller: 'cpu', file: 'cpu.weight', value: '1' },
    { controller: 'cpu', file: 'cpu.max', value: 'max 100000' },
    { controller: 'memory', file: 'memory.max', value: 'max' },
    { controller: 'pids', file: 'pids.max', value: '100' },
  ])
})

t.test('pod cgroup values (ResourceConfigForPod) by QoS class', async (t) => {
  const guaranteed = { containers: [c('a', {}, { cpu: '500m', memory: '64Mi' }), c('b', {}, { cpu: '1', memory: '128Mi' })] }
  t.same(podResourceConfig(guaranteed), { cpuShares: 1536, cpuQuota: 150000, cpuPeriod: 100000, memoryLimit: 201326592, pidsLimit: -1 })
  const burstable = { containers: [c('a', { cpu: '100m' }, { memory: '64Mi' }), c('b', { cpu: '200m' }, { cpu: '1', memory: '32Mi' })] }
  t.same(podResourceConfig(burstable, 512), { cpuShares: 307, memoryLimit: 100663296, pidsLimit: 512 }, 'no quota unless every container has a cpu limit')
  t.same(podResourceConfig({ containers: [c('a'), c('b')] }), { cpuShares: 2, pidsLimit: -1 }, 'BestEffort')
  const init = { initContainers: [c('init', { cpu: '1' }, {})], containers: [c('a', { cpu: '100m' }, {})] }
  t.equal(podResourceConfig(init).cpuShares, 1024, 'an init container larger than the app containers sets the request')
  const sidecar = { initContainers: [{ ...c('side', { cpu: '300m' }, {}), restartPolicy: 'Always' }], containers: [c('a', { cpu: '100m' }, {})] }
  t.equal(podResourceConfig(sidecar).cpuShares, milliCPUToShares(400), 'sidecars add up')
})

t.test('layout: v1 controllers from mountinfo, v2 at the root, unusable hosts refused', async (t) => {
  const v1 = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '35 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '39 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n')
  t.same(detectLayout({ mountinfo: v1 }), {
    version: 1,
    mounts: { cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids' },
  })
  t.throws(() => detectLayout({ mountinfo: '1 0 0:1 / / rw - ext4 /dev/sda rw' }), { code: 'CgroupUnavailable' })
  const root = mkdtempSync(join(tmpdir(), 'weft-cg2-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n')
  t.same(detectLayout({ root, mountinfo: `30 23 0:26 / ${root.replaceAll(' ', '\\040')} rw - cgroup2 cgroup2 rw` }), { version: 2, mounts: { cpu: root, cpuacct: root, memory: root, pids: root } })
})

t.test('naming: cgroupfs and systemd', async (t) => {
  t.equal(cgroupPath('cgroupfs', '/', { qos: 'Burstable', uid: 'ab-cd', container: 'web' }), '/weft/burstable/podab-cd/web')
  t.equal(cgroupPath('cgroupfs', '/nodes/n1', { qos: 'Guaranteed', uid: 'ab-cd' }), '/nodes/n1/weft/podab-cd')
  t.equal(cgroupPath('systemd', '/', { qos: 'BestEffort', uid: 'ab-cd', container: 'web' }), '/weft.slice/weft-besteffort.slice/weft-besteffort-podab_cd.slice/container-web.scope')
  t.equal(cgroupPath('systemd', '/', { qos: 'Guaranteed', uid: 'ab-cd' }), '/weft.slice/weft-podab_cd.slice')
  t.throws(() => cgroupPath('cgroupfs', '/', { uid: '../x' }))
  t.throws(() => new CgroupManager({ layout: { version: 2, mounts: {} }, driver: 'cgroupfs', cgroupRoot: '/a/../b' }))
})

function fakeV2(t: { teardown(fn: () => unknown): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'weft-cg2-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  return root
}
const read = (path: string) => readFileSync(path, 'utf8')

t.test('the manager on a fake v2 tree: pod tree, pod and container files, usage, OOM kills, removal', async (t) => {
  const root = fakeV2(t)
  const mgr = new CgroupManager({
    layout: { version: 2, mounts: { cpu: root, cpuacct: root, memory: root, pids: root } },
    driver: 'cgroupfs',
    podPidsLimit: 1024,
    allocatable: { cpuMilli: 2000, memoryBytes: 1 << 30, pids: 4096 },
  })
  await mgr.init()
  t.equal(read(join(root, 'cgroup.subtree_control')), '+cpu +memory +pids')
  t.equal(read(join(root, 'weft/cpu.weight')), String(sharesToWeight(2048)))
  t.equal(read(join(root, 'weft/memory.max')), String(1 << 30))
  t.equal(read(join(root, 'weft/pids.max')), '4096')
  t.equal(read(join(root, 'weft/besteffort/cpu.weight')), '1')
  t.equal(read(join(root, 'weft/cgroup.subtree_control')), '+cpu +memory +pids')

  const pod = { metadata: { uid: 'u-1' }, spec: { containers: [c('web', { cpu: '500m', memory: '32Mi' }, { memory: '64Mi' })] } }
  const podDirs = await mgr.podCgroups(pod)
  t.same(podDirs, [join(root, 'weft/burstable/podu-1')])
  t.equal(read(join(root, 'weft/burstable/podu-1/cpu.weight')), String(sharesToWeight(512)))
  t.equal(read(join(root, 'weft/burstable/podu-1/memory.max')), String(64 << 20))
  t.equal(read(join(root, 'weft/burstable/podu-1/pids.max')), '1024')
  t.notOk(existsSync(join(root, 'weft/burstable/podu-1/cpu.max')), 'no quota: no container has a cpu limit')
  t.equal(read(join(root, 'weft/burstable/cpu.weight')), String(sharesToWeight(512)), "the burstable tier's weight follows its pods' requests")
  const dirs = await mgr.containerCgroups(pod, pod.spec.containers[0]!)
  t.same(dirs, [join(root, 'weft/burstable/podu-1/web')])
  t.equal(read(join(dirs[0]!, 'cpu.max')), 'max 100000')
  t.equal(read(join(dirs[0]!, 'memory.max')), String(64 << 20))

  writeFileSync(join(dirs[0]!, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\n')
  writeFileSync(join(dirs[0]!, 'memory.current'), '1000000\n')
  writeFileSync(join(dirs[0]!, 'memory.stat'), 'anon 600000\nfile 400000\ninactive_file 300000\npgfault 42\npgmajfault 3\n')
  const usage = await mgr.usage(mgr.containerPath(mgr.podPath('u-1', 'Burstable'), 'web'))
  t.same(usage, { cpuUsageNs: 1_500_000, memoryUsageBytes: 1_000_000, workingSetBytes: 700_000, rssBytes: 600_000, pageFaults: 42, majorPageFaults: 3, memoryLimitBytes: 64 << 20 })
  t.equal(await mgr.oomKills('u-1', 'web'), 0)
  writeFileSync(join(dirs[0]!, 'memory.events'), 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n')
  t.equal(await mgr.oomKills('u-1', 'web'), 1)

  // A fresh manager (a restarted agent) still finds the pod, whatever its tier.
  const again = new CgroupManager({ layout: mgr.layout, driver: 'cgroupfs' })
  t.equal(await again.findPod('u-1'), '/weft/burstable/podu-1')
  // Files in a fake tree are not what a real cgroup holds: clear them so rmdir can work.
  for (const f of ['cpu.stat', 'memory.current', 'memory.stat', 'memory.events', 'cpu.weight', 'cpu.max', 'memory.max']) rmSync(join(dirs[0]!, f), { force: true })
  for (const f of ['cpu.weight', 'memory.max', 'pids.max', 'cgroup.subtree_control']) rmSync(join(root, 'weft/burstable/podu-1', f), { force: true })
  await again.removePod('u-1')
  t.notOk(existsSync(join(root, 'weft/burstable/podu-1')), 'the pod cgroup is gone')
})

t.test('the stats collector: node, pods and containers, with CPU rates from two samples', async (t) => {
  const root = fakeV2(t)
  const mgr = new CgroupManager({ layout: { version: 2, mounts: { cpu: root, cpuacct: root, memory: root, pids: root } }, driver: 'cgroupfs' })
  await mgr.init()
  const pod = { metadata: { uid: 'u-2' }, spec: { containers: [c('app', {}, { cpu: '1', memory: '1Gi' })] } }
  await mgr.podCgroups(pod)
  const [dir] = await mgr.containerCgroups(pod, pod.spec.containers[0]!)
  const podDir = join(root, 'weft/podu-2')
  let now = 1_000_000
  const collector = new StatsCollector({
    nodeName: 'n1',
    nodeStartTime: '2025-01-01T00:00:00Z',
    cgroups: mgr,
    pods: () => [{ uid: 'u-2', name: 'p', namespace: 'default', startTime: '2025-01-01T00:00:01Z', containers: [{ name: 'app', startTime: '2025-01-01T00:00:02Z' }] }],
    now: () => now,
  })
  writeFileSync(join(root, 'cpu.stat'), 'usage_usec 1000000\n')
  writeFileSync(join(podDir, 'cpu.stat'), 'usage_usec 0\n')
  writeFileSync(join(dir!, 'cpu.stat'), 'usage_usec 0\n')
  writeFileSync(join(dir!, 'memory.current'), '5000\n')
  writeFileSync(join(dir!, 'memory.stat'), 'inactive_file 1000\nanon 3000\n')
  await collector.sample()
  now += 10_000
  writeFileSync(join(root, 'cpu.stat'), 'usage_usec 6000000\n')
  writeFileSync(join(podDir, 'cpu.stat'), 'usage_usec 2500000\n')
  writeFileSync(join(dir!, 'cpu.stat'), 'usage_usec 2500000\n')
  const s = await collector.summary()
  t.equal(s.node.nodeName, 'n1')
  t.equal(s.node.cpu?.usageNanoCores, 500_000_000, 'node: 5 s of CPU in 10 s')
  t.ok((s.node.memory?.availableBytes ?? 0) > 0, 'node memory from /proc/meminfo')
  t.equal(s.pods.length, 1)
  const p = s.pods[0]!
  t.same(p.podRef, { name: 'p', namespace: 'default', uid: 'u-2' })
  t.equal(p.cpu?.usageNanoCores, 250_000_000)
  t.equal(p.containers[0]?.cpu?.usageCoreNanoSeconds, 2_500_000_000)
  t.equal(p.containers[0]?.cpu?.usageNanoCores, 250_000_000)
  t.same({ ...p.containers[0]?.memory, time: undefined }, { time: undefined, usageBytes: 5000, workingSetBytes: 4000, rssBytes: 3000, availableBytes: (1 << 30) - 4000 })
})

t.test('--system-reserved and node allocatable', async (t) => {
  t.same(parseReserved('--system-reserved', 'cpu=500m,memory=1Gi,pids=1000'), { cpuMilli: 500, memoryBytes: 1 << 30, pids: 1000 })
  t.same(parseReserved('--system-reserved', ''), {})
  t.throws(() => parseReserved('--system-reserved', 'gpu=1'), /only cpu, memory, ephemeral-storage and pid/)
  t.throws(() => parseReserved('--system-reserved', 'cpu'), /RESOURCE=QUANTITY/)
  t.throws(() => parseReserved('--system-reserved', 'memory=-1Gi'), /negative/)
  const capacity = { cpuMilli: 4000, memoryBytes: 8 * 2 ** 30, pids: 32768 }
  const a = nodeAllocatable(capacity, { cpuMilli: 500, memoryBytes: 1 << 30, pids: 1000 }, parseEvictionHard('--eviction-hard', 'memory.available<100Mi'))
  t.same(a, { cpuMilli: 3500, memoryBytes: 7 * 2 ** 30 - 100 * 2 ** 20, pids: 31768 })
  t.same(allocatableQuantities(a), { cpu: '3500m', memory: `${7 * 2 ** 20 - 100 * 1024}Ki` })
  t.same(nodeAllocatable(capacity, {}, parseEvictionHard('--eviction-hard', 'memory.available<10%')).memoryBytes, capacity.memoryBytes - Math.floor(capacity.memoryBytes * 0.1))
  t.same(nodeAllocatable({ cpuMilli: 1000, memoryBytes: 100 }, { cpuMilli: 2000, memoryBytes: 200 }), { cpuMilli: 0, memoryBytes: 0 }, 'never below 0')
})
