// The kubelet's pod side in one process against a real API server: hostNetwork pods (no
// network namespace, no CNI), containers as processes, volumes and logs under a temp dir.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { resources, type ResourceInfo } from '../../src/api/registry.ts'
import { RestClient, type CallOptions } from '../../src/client/index.ts'
import { CniRuntime } from '../../src/kubelet/cni/index.ts'
import { Kubelet, type KubeletOptions } from '../../src/kubelet/kubelet.ts'
import { listSandboxes, logPath, podDir, removeSandbox, volumePath } from '../../src/kubelet/runtime/index.ts'
import { rotatedLogs } from '../../src/kubelet/runtime/log-rotation.ts'
import { mountEntries } from '../../src/netlink/mounts.ts'
import { pino } from 'pino'
import { logger } from '../../src/util/log.ts'
import type { StartupTraceRecord } from '../../src/kubelet/startup-trace.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { podInfo, until } from '../helpers/control-plane.ts'

const configMapInfo = resources.find((r) => r.kind === 'ConfigMap')!
const eventInfo = resources.find((r) => r.kind === 'Event')!

interface Teardown {
  teardown(fn: () => unknown): void
}

/** A client that notes every object it GETs (`Kind/name`). */
class CountingClient extends RestClient {
  readonly gets: string[] = []
  override get<T>(info: ResourceInfo, name: string, namespace?: string, opts?: CallOptions): Promise<T> {
    this.gets.push(`${info.kind}/${name}`)
    return super.get(info, name, namespace, opts) as Promise<T>
  }
}

interface Node {
  client: CountingClient
  kubelet: Kubelet
  dataDir: string
  nodeName: string
}

let nodes = 0
async function startKubelet(t: Teardown, options: Partial<KubeletOptions> = {}): Promise<Node> {
  const server = await startTestServer(t)
  const client = new CountingClient(server.address)
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-kubelet-'))
  const nodeName = `node-${process.pid}-${++nodes}`
  const kubelet = new Kubelet({
    client,
    nodeName,
    dataDir,
    netnsPrefix: `wkt${process.pid}`,
    hostIPs: () => ['127.0.0.1'],
    cni: new CniRuntime({ binDirs: [], confDir: join(dataDir, 'net.d'), cacheDir: join(dataDir, 'cni') }),
    dns: { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', hostResolvConf: '' },
    nodeAllocatable: { cpu: '1', memory: '1Gi' },
    log: logger('kubelet-test'),
    resyncMs: 200,
    ...options,
  })
  t.teardown(async () => {
    await kubelet.stop()
    // The pods are left running by stop(): remove them (processes, mounts, files).
    for (const sandbox of await listSandboxes(dataDir)) await removeSandbox(sandbox)
    await client.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  await kubelet.start()
  return { client, kubelet, dataDir, nodeName }
}

async function createPod(node: Node, name: string, spec: Record<string, unknown>): Promise<V1Pod> {
  return node.client.create(podInfo, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName: node.nodeName, hostNetwork: true, terminationGracePeriodSeconds: 1, ...spec },
  } as never) as Promise<V1Pod>
}

async function running(node: Node, name: string): Promise<V1Pod> {
  let pod: V1Pod | undefined
  await until(`${name} Running`, async () => {
    pod = await node.client.get<V1Pod>(podInfo, name, 'default')
    return pod.status?.phase === 'Running'
  }, 20_000)
  return pod!
}

t.test('a volume refresh rewrites only configMap, secret, downwardAPI and projected volumes, from the objects they name', async (t) => {
  const node = await startKubelet(t, { volumeRefreshMs: 300 })
  await node.client.create(configMapInfo, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'env-only', namespace: 'default' }, data: { k: 'v' } } as never)
  await node.client.create(configMapInfo, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mounted', namespace: 'default' }, data: { value: 'one' } } as never)
  await createPod(node, 'refreshed', {
    containers: [{ name: 'c', image: 'debian', command: ['sleep', '3600'], env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: 'env-only', key: 'k' } } }] }],
    volumes: [{ name: 'cm', configMap: { name: 'mounted' } }, { name: 'scratch', emptyDir: {} }],
  })
  const pod = await running(node, 'refreshed')
  const dir = podDir(node.dataDir, pod.metadata!.uid!)
  // What a container may do to its emptyDir.
  chmodSync(volumePath(dir, 'scratch'), 0o755)
  node.client.gets.length = 0
  await node.client.patch(configMapInfo, 'mounted', 'default', { data: { value: 'two' } }, 'merge')
  await until('the configMap volume has the new value', async () => readFileSync(join(volumePath(dir, 'cm'), 'value'), 'utf8') === 'two', 10_000)
  t.ok(node.client.gets.includes('ConfigMap/mounted'), 'the mounted ConfigMap is read again')
  t.notOk(node.client.gets.includes('ConfigMap/env-only'), 'a ConfigMap only the environment uses is not (env is read when a container starts)')
  t.equal(statSync(volumePath(dir, 'scratch')).mode & 0o777, 0o755, 'the emptyDir keeps the mode the container gave it')
})

t.test('a container that cannot start gets a Warning Event "Failed" on its pod', async (t) => {
  const node = await startKubelet(t)
  const pod = await createPod(node, 'unstartable', {
    containers: [{ name: 'c', image: 'debian', command: ['true'], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }] }],
  })
  let events: any[] = []
  await until('an Event for the pod', async () => {
    events = (await node.client.list<any>(eventInfo, { namespace: 'default' })).items.filter((e) => e.involvedObject?.uid === pod.metadata!.uid)
    return events.length > 0
  }, 10_000)
  t.equal(events.length, 1, 'one Event')
  t.match(events[0], {
    type: 'Warning',
    reason: 'Failed',
    message: /^Error: container c: configmap "nope" not found/,
    involvedObject: { kind: 'Pod', name: 'unstartable', namespace: 'default' },
    source: { component: 'kubelet', host: node.nodeName },
  })
})

t.test('container logs are rotated at the configured size, keeping the configured number of files', async (t) => {
  const node = await startKubelet(t, { logRotation: { maxSize: 2048, maxFiles: 2, intervalMs: 100 } })
  const pod = await createPod(node, 'chatty', {
    containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', `i=0; while :; do echo "line $i ${'x'.repeat(80)}"; i=$((i+1)); sleep 0.02; done`] }],
  })
  await running(node, 'chatty')
  const log = logPath(podDir(node.dataDir, pod.metadata!.uid!), 'c', 0)
  const seen = new Set<string>()
  let most = 0
  await until('two rotations', async () => {
    const rotated = rotatedLogs(log)
    for (const r of rotated) seen.add(r)
    most = Math.max(most, rotated.length)
    return seen.size >= 2
  }, 15_000)
  t.equal(most, 1, 'at most maxFiles files: the live one and one rotated')
})

t.test('an emptyDir with medium Memory is a tmpfs, of its sizeLimit when it has one', async (t) => {
  const node = await startKubelet(t)
  const pod = await createPod(node, 'memory', {
    containers: [{ name: 'c', image: 'debian', command: ['sleep', '3600'] }],
    volumes: [
      { name: 'limited', emptyDir: { medium: 'Memory', sizeLimit: '2Mi' } },
      { name: 'unlimited', emptyDir: { medium: 'Memory' } },
      { name: 'disk', emptyDir: {} },
    ],
  })
  await running(node, 'memory')
  const dir = podDir(node.dataDir, pod.metadata!.uid!)
  const at = (name: string) => mountEntries().findLast((e) => e.target === volumePath(dir, name))
  t.equal(at('limited')?.fstype, 'tmpfs')
  t.ok(at('limited')?.superOptions.includes('size=2048k'), `size 2Mi: ${at('limited')?.superOptions}`)
  t.equal(at('unlimited')?.fstype, 'tmpfs')
  t.notOk(at('unlimited')?.superOptions.includes('size=2048k'), 'no sizeLimit: the tmpfs default')
  t.equal(at('disk'), undefined, 'a default emptyDir is a plain directory')
})

t.test('pod Ready set to False by someone else (the node lifecycle controller) is said again', async (t) => {
  const node = await startKubelet(t)
  await createPod(node, 'steady', { containers: [{ name: 'c', image: 'debian', command: ['sleep', '600'] }] })
  await until('steady Ready', async () => (await node.client.get<V1Pod>(podInfo, 'steady', 'default')).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false, 20_000)
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
  await node.client.patch(podInfo, 'steady', 'default', { status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }] } }, 'strategic', { subresource: 'status' })
  await until('Ready True again', async () => (await node.client.get<V1Pod>(podInfo, 'steady', 'default')).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false, 10_000)
  t.pass('the kubelet re-asserted what it owns')
})

t.test("a pod's startup is logged once, step by step, when it first turns Ready", async (t) => {
  const lines: string[] = []
  const node = await startKubelet(t, { log: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) })
  await createPod(node, 'traced', { containers: [{ name: 'c', image: 'debian', command: ['sleep', '3600'] }] })
  const startups = () => lines.map((l) => JSON.parse(l) as StartupTraceRecord & { msg: string; pod: string }).filter((l) => l.msg === 'pod startup')
  await until('the startup line', async () => startups().length > 0, 20_000)
  const [line] = startups()
  t.equal(line!.pod, 'default/traced')
  t.ok(Math.abs(line!.seenAt - Date.now()) < 60_000, 'seenAt is wall-clock time')
  const steps = Object.entries(line!.steps)
  t.same(steps.map(([s]) => s), ['sandbox', 'sandboxReady', 'config', 'containers', 'runningStatus', 'ready'], 'every step of a host-network pod, in order (no CNI)')
  const times = steps.map(([, ms]) => ms)
  t.same(times, [...times].sort((a, b) => a - b), 'times only grow')
  // A later status write (a resync) does not log it again.
  await new Promise((r) => setTimeout(r, 600))
  t.equal(startups().length, 1)
})
