// Persistent volumes end to end: a real API server and control plane, a node as a network
// namespace with `weft agent` in it (test/helpers/nodes.ts, which removes everything it
// made), a claim of the default local-path class, and pods as processes that share its
// directory one after the other.
import t from 'tap'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { nodeInfo, podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { startUnderlay } from '../helpers/nodes.ts'

const exec = promisify(execFile)
const claimInfo = resources.find((r) => r.kind === 'PersistentVolumeClaim')!
const volumeInfo = resources.find((r) => r.kind === 'PersistentVolume')!

t.setTimeout(180_000)

const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
const shared = join(cluster.dir, 'shared')
await mkdir(shared, { recursive: true })
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir, agentArgs: ['--allow-host-path', shared] })
const nodeOne = await underlay.addNode('node-1')
const client = cluster.client

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await exec('kubectl', ['--kubeconfig', cluster.kubeconfig, ...args])
  return stdout
}

const getPod = (name: string): Promise<any> => client.get<any>(podInfo, name, 'default').catch(() => undefined)
const isRunning = (pod: any) => pod?.status?.containerStatuses?.[0]?.state?.running !== undefined

async function createPod(name: string, spec: object): Promise<void> {
  await client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { terminationGracePeriodSeconds: 2, ...spec } } as never)
}

const claimPod = (name: string, claimName: string, script: string, readOnly = false) => ({
  volumes: [{ name: 'data', persistentVolumeClaim: { claimName, readOnly } }],
  containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', script], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
})

await t.test('the node publishes its local-path directory', async (t) => {
  let node: any
  await until('node-1 Ready with its annotation', async () => {
    node = await client.get<any>(nodeInfo, 'node-1').catch(() => undefined)
    return node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
  }, 30_000)
  t.equal(node.metadata.annotations['weft.dev/local-path-dir'], join(nodeOne.dataDir, 'storage'))
})

let volumeDir = ''
let pvName = ''
await t.test('a pod writes to its claim; after it is gone, another pod reads what it wrote', async (t) => {
  await client.create(claimInfo, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'default' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } as never)
  await createPod('writer', claimPod('writer', 'data', 'echo written-by-writer > /data/file && exec sleep 3600'))
  await until('the writer running', async () => isRunning(await getPod('writer')), 60_000)
  const claim = await client.get<any>(claimInfo, 'data', 'default')
  pvName = claim.spec.volumeName
  t.equal(pvName, `pvc-${claim.metadata.uid}`)
  volumeDir = join(nodeOne.dataDir, 'storage', `${pvName}_default_data`)
  await until('the file on the node', () => existsSync(join(volumeDir, 'file')), 10_000)
  t.equal(readFileSync(join(volumeDir, 'file'), 'utf8'), 'written-by-writer\n')
  t.equal(statSync(volumeDir).mode & 0o777, 0o777, 'made by the agent as local-path makes it')
  t.equal(statSync(join(nodeOne.dataDir, 'storage')).mode & 0o777, 0o700, 'in a storage dir only root reaches')

  await client.delete(podInfo, 'writer', 'default')
  await until('the writer gone', async () => (await getPod('writer')) === undefined, 30_000)
  await createPod('reader', claimPod('reader', 'data', 'cat /data/file; if touch /data/other 2>/dev/null; then echo writable; else echo read-only; fi; exec sleep 3600', true))
  await until('the reader running', async () => isRunning(await getPod('reader')), 60_000)
  let logs = ''
  await until('the reader printed', async () => /only|writable/.test((logs = await kubectl('logs', 'reader'))), 15_000)
  t.same(logs.trim().split('\n'), ['written-by-writer', 'read-only'], 'it sees the file, through a read-only mount (the claim says readOnly)')
  t.equal((await getPod('reader')).spec.nodeName, 'node-1')
})

await t.test('a pod whose claim is not bound waits in ContainerCreating, and starts once it is', async (t) => {
  await client.create(claimInfo, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'manual', namespace: 'default' }, spec: { storageClassName: '', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } as never)
  // Pinned to the node by hand: the agent, not the scheduler, is what waits here.
  await createPod('waiter', { nodeName: 'node-1', ...claimPod('waiter', 'manual', 'cat /data/hello; exec sleep 3600') })
  await until('a FailedMount event', async () => {
    const events = (await client.list<any>(resources.find((r) => r.kind === 'Event')!, { namespace: 'default' })).items
    return events.some((e: any) => e.involvedObject.name === 'waiter' && e.reason === 'FailedMount' && e.message.includes('error processing PVC default/manual: PVC is not bound'))
  }, 30_000)
  t.equal((await getPod('waiter')).status.containerStatuses?.[0]?.state?.waiting?.reason ?? 'ContainerCreating', 'ContainerCreating')
  const dir = join(shared, 'manual')
  await mkdir(dir)
  await exec('sh', ['-c', `echo from-the-admin > ${dir}/hello`])
  await client.create(volumeInfo, { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'manual-pv' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: dir, type: 'Directory' }, storageClassName: '' } } as never)
  await until('the waiter running', async () => isRunning(await getPod('waiter')), 60_000)
  await until('the waiter printed', async () => (await kubectl('logs', 'waiter')).includes('from-the-admin'), 15_000)
  t.pass('the volume made by hand is mounted')
})

await t.test('the claim deleted: its Delete volume goes, and the agent removes its directory', async (t) => {
  for (const p of ['reader', 'waiter']) await client.delete(podInfo, p, 'default')
  await until('the pods gone', async () => (await getPod('reader')) === undefined && (await getPod('waiter')) === undefined, 30_000)
  await client.delete(claimInfo, 'data', 'default')
  await until('the volume gone', async () => (await client.get(volumeInfo, pvName).catch(() => undefined)) === undefined, 60_000)
  t.notOk(existsSync(volumeDir), 'its directory is gone from the node')
  await client.delete(claimInfo, 'manual', 'default')
  await until('the hand-made volume Released', async () => (await client.get<any>(volumeInfo, 'manual-pv')).status?.phase === 'Released', 30_000)
  t.ok(existsSync(join(shared, 'manual', 'hello')), 'Retain: its data stays')
})
