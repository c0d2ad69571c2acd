// The kubelet with cgroups against a real API server: a memory hog is OOMKilled (reason,
// exit 137) and restarted, the summary shows the pods, the eviction manager fails a pod
// with reason Evicted, and a deleted pod's cgroup goes with its sandbox.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { RestClient } from '../../src/client/index.ts'
import { CgroupManager } from '../../src/kubelet/cgroups/index.ts'
import { CniRuntime } from '../../src/kubelet/cni/index.ts'
import { parseEvictionHard } from '../../src/kubelet/eviction-thresholds.ts'
import { Kubelet, type KubeletOptions } from '../../src/kubelet/kubelet.ts'
import { listSandboxes, removeSandbox } from '../../src/kubelet/runtime/index.ts'
import { logger } from '../../src/util/log.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { podInfo, until } from '../helpers/control-plane.ts'
import { hostCgroupLayout, testCgroupParent } from '../helpers/cgroups.ts'

const layout = hostCgroupLayout()
const skip = layout?.mounts.memory === undefined || layout.mounts.cpu === undefined || process.getuid?.() !== 0 ? 'needs root and the cpu and memory controllers' : false
const parent = testCgroupParent(layout)

async function startKubelet(t: { teardown(fn: () => unknown): void }, options: Partial<KubeletOptions> = {}) {
  const server = await startTestServer(t)
  const client = new RestClient(server.address)
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-kcg-'))
  const nodeName = `node-${process.pid}-${randomBytes(2).toString('hex')}`
  const cgroups = new CgroupManager({ layout: layout!, driver: 'cgroupfs', cgroupRoot: parent })
  await cgroups.init()
  const kubelet = new Kubelet({
    client,
    nodeName,
    dataDir,
    netnsPrefix: `wkc${process.pid}`,
    hostIPs: () => ['127.0.0.1'],
    cni: new CniRuntime({ binDirs: [], confDir: join(dataDir, 'net.d'), cacheDir: join(dataDir, 'cni') }),
    dns: { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', hostResolvConf: '' },
    nodeAllocatable: { cpu: '1', memory: '1Gi' },
    log: logger('kubelet-cgroups-test'),
    resyncMs: 200,
    backoff: { initialMs: 100, maxMs: 200 },
    cgroups,
    ...options,
  })
  t.teardown(async () => {
    await kubelet.stop()
    for (const sandbox of await listSandboxes(dataDir)) {
      await removeSandbox(sandbox)
      await cgroups.removePod(sandbox.uid)
    }
    await client.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  await kubelet.start()
  const create = (name: string, spec: Record<string, unknown>) =>
    client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName, hostNetwork: true, terminationGracePeriodSeconds: 1, ...spec } } as never) as Promise<V1Pod>
  const get = (name: string) => client.get<V1Pod>(podInfo, name, 'default')
  return { client, kubelet, cgroups, create, get }
}

t.test('a memory hog is OOMKilled and restarted; the summary and removal follow the pods', { skip }, async (t) => {
  const node = await startKubelet(t)
  const hog = await node.create('hog', {
    containers: [{ name: 'main', image: 'debian', command: ['sh', '-c', 'head -c 200M /dev/zero | tail'], resources: { limits: { memory: '20Mi', cpu: '500m' } } }],
  })
  await node.create('idle', { containers: [{ name: 'main', image: 'debian', command: ['sleep', '3600'], resources: { requests: { cpu: '100m' } } }] })
  let pod: V1Pod | undefined
  await until('the hog OOMKilled and restarted', async () => {
    pod = await node.get('hog')
    const s = pod.status?.containerStatuses?.[0]
    return (s?.restartCount ?? 0) >= 1 && s?.lastState?.terminated?.reason === 'OOMKilled'
  }, 30_000)
  const last = pod!.status!.containerStatuses![0]!.lastState!.terminated!
  t.equal(last.exitCode, 137)
  t.equal(last.reason, 'OOMKilled')
  t.equal(pod!.status?.qosClass, 'Guaranteed')
  const idle = await node.get('idle')
  t.equal(idle.status?.qosClass, 'Burstable')
  await until('idle Running', async () => (await node.get('idle')).status?.phase === 'Running', 20_000)

  const summary = await node.kubelet.stats!.summary()
  t.ok((summary.node.memory?.workingSetBytes ?? 0) > 0, 'node memory')
  const idleStats = summary.pods.find((p) => p.podRef.name === 'idle')
  t.ok(idleStats, 'the idle pod is in the summary')
  t.equal(idleStats?.containers[0]?.name, 'main')
  t.ok((idleStats?.containers[0]?.memory?.workingSetBytes ?? 0) > 0, 'its container has a working set')

  const hogPath = await node.cgroups.findPod(hog.metadata!.uid!)
  t.equal(hogPath, `${parent}/weft/pod${hog.metadata!.uid}`)
  await node.client.delete(podInfo, 'hog', 'default')
  await until('the hog pod gone', async () => node.get('hog').then(() => false, () => true), 20_000)
  await until('its cgroup gone', async () => !existsSync(join(layout!.mounts.memory!, hogPath!)), 10_000)
  t.pass('the deleted pod left no cgroup')
})

t.test('the eviction manager fails a pod with reason Evicted', { skip }, async (t) => {
  let pressure = false
  const node = await startKubelet(t, {
    eviction: {
      thresholds: parseEvictionHard('--eviction-hard', 'memory.available<100Mi'),
      memory: async () => ({ capacityBytes: 1 << 30, workingSetBytes: pressure ? (1 << 30) - (50 << 20) : 0 }),
      intervalMs: 200,
      pressureTransitionMs: 0,
    },
  })
  await node.create('victim', { restartPolicy: 'Always', containers: [{ name: 'main', image: 'debian', command: ['sleep', '3600'] }] })
  await until('victim Running', async () => (await node.get('victim')).status?.phase === 'Running', 20_000)
  pressure = true
  let pod: V1Pod | undefined
  await until('victim Failed', async () => {
    pod = await node.get('victim')
    return pod.status?.phase === 'Failed'
  }, 20_000)
  t.equal(pod!.status?.reason, 'Evicted')
  t.match(pod!.status?.message, /^The node was low on resource: memory\. Threshold quantity: 100Mi, available: 50Mi\. Container main was using \S+, request is 0, has larger consumption of memory\. $/)
  t.ok(pod!.status?.conditions?.some((c) => c.type === 'DisruptionTarget' && c.status === 'True' && c.reason === 'TerminationByKubelet'))
  t.ok(node.kubelet.eviction?.memoryPressure)
  t.ok(pod!.status?.containerStatuses?.[0]?.state?.terminated, 'its container was killed and is not restarted')
  pressure = false
})
