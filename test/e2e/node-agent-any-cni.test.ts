// The agent runs whatever network config comes first in its conf dir, through the CNI
// protocol: here the reference bridge and host-local plugins from Debian.
import t from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { listNetns } from '../../src/netlink/index.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { execIn, startUnderlay } from '../helpers/nodes.ts'

t.setTimeout(120_000)

t.test('a pod wired by the reference bridge and host-local plugins', async (t) => {
  const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
  const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir, agentArgs: ['--cni-bin-dir', '/usr/lib/cni'] })
  const confDir = join(cluster.dir, 'node-1', 'net.d')
  const ipamDir = join(cluster.dir, 'node-1', 'host-local')
  await mkdir(confDir, { recursive: true })
  await writeFile(
    join(confDir, '00-reference.conflist'),
    JSON.stringify({ cniVersion: '1.0.0', name: 'reference', plugins: [{ type: 'bridge', bridge: 'cni0', isGateway: true, isDefaultGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/24' }]], dataDir: ipamDir } }] }),
  )
  const node = await underlay.addNode('node-1')
  await cluster.client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { nodeName: 'node-1', containers: [{ name: 'web', image: 'weft/echo' }] } } as never)
  let pod: any
  await until('web Running', async () => {
    pod = await cluster.client.get<any>(podInfo, 'web', 'default')
    return pod.status?.phase === 'Running'
  }, 30_000)
  t.match(pod.status.podIP, /^10\.88\.0\.\d+$/, 'the address comes from host-local')
  await until('web answers', () => execIn(node.netns, 'curl', ['-s', '--max-time', '2', `http://${pod.status.podIP}:8080/`]).then(() => true, () => false), 20_000)
  const reservations = () => readdirSync(join(ipamDir, 'reference')).filter((f) => /^\d/.test(f))
  t.same(reservations(), [pod.status.podIP])
  await cluster.client.delete(podInfo, 'web', 'default', { gracePeriodSeconds: 1 })
  await until('web gone', async () => (await cluster.client.get(podInfo, 'web', 'default').catch(() => undefined)) === undefined, 20_000)
  t.same(reservations(), [], 'DEL went through host-local too')
  t.notOk(listNetns().some((n) => n.includes(pod.metadata.uid)))
  t.notOk(existsSync(join(cluster.dir, 'node-1', 'pods', pod.metadata.uid)))
})
