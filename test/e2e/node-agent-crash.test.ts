// An agent SIGKILLed in the middle of a pod's CNI ADD: the restarted agent must not run the
// pod without an IP. It kills the orphaned plugin, tears the half-made sandbox down (CNI
// DEL, release) and makes a new one, as the kubelet does with a sandbox whose network is
// not ready.
import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { listNetns } from '../../src/netlink/index.ts'
import { isAlive, processStartTime } from '../../src/util/proc.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { execIn, startUnderlay } from '../helpers/nodes.ts'
import { fakeBin } from '../kubelet/cni-fake-plugin.ts'

t.setTimeout(180_000)

const repoBin = resolve(import.meta.dirname, '../../bin')

t.test('SIGKILL during CNI ADD: after a restart the pod runs with an IP and nothing half-made is left', async (t) => {
  const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
  const bin = await fakeBin(t, ['blocker'])
  const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir, agentArgs: ['--cni-bin-dir', `${repoBin}:${bin.dir}:/usr/lib/cni`] })
  const nodeDir = join(cluster.dir, 'node-1')
  const ipamDir = join(nodeDir, 'crash-ipam')
  const pidFile = join(bin.dir, 'blocker.pid')
  await mkdir(join(nodeDir, 'net.d'), { recursive: true })
  // weft's own plugins wire the pod; then a plugin that blocks the first ADD until it is killed.
  await writeFile(
    join(nodeDir, 'net.d', '00-crash.conflist'),
    JSON.stringify({
      cniVersion: '1.1.0',
      name: 'crashnet',
      plugins: [
        { type: 'weft-cni', bridge: 'cni0', isGateway: true, isDefaultGateway: true, ipam: { type: 'weft-ipam', ranges: [[{ subnet: '10.88.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir } },
        { type: 'blocker', fake: { sleepOn: 'ADD', sleepOnceFile: join(bin.dir, 'blocked-once'), pidFile } },
      ],
    }),
  )
  const node = await underlay.addNode('node-1')
  // Whatever the blocker left running is this test's to stop (pid + start time checked).
  let blocker: { pid: number; starttime: number }[] = []
  t.teardown(() => {
    for (const p of blocker) if (isAlive(p)) process.kill(p.pid, 'SIGKILL')
  })

  await cluster.client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 2, containers: [{ name: 'web', image: 'weft/echo' }] } } as never)
  await until('the blocker to be in the middle of ADD', () => existsSync(pidFile), 60_000)
  blocker = (await readFile(pidFile, 'utf8')).split(' ').map(Number).map((pid) => ({ pid, starttime: processStartTime(pid)! }))
  const uid = ((await cluster.client.get<any>(podInfo, 'web', 'default')) as any).metadata.uid as string
  const reservations = () => (existsSync(join(ipamDir, 'crashnet')) ? readdirSync(join(ipamDir, 'crashnet')).filter((f) => /^\d/.test(f)).sort() : [])
  const hostVeths = async () => (await execIn(node.netns, 'ip', ['-o', 'link', 'show', 'type', 'veth'])).split('\n').filter((l) => /^\d+: veth/.test(l))
  const podNamespaces = () => listNetns().filter((n) => n.startsWith(`${node.netns}-pod-`))
  t.equal(reservations().length, 1, 'weft-ipam reserved an address before the agent died')
  t.equal((await hostVeths()).length, 1, 'and weft-cni made the veth')

  await node.kill()
  t.ok(blocker.every((p) => isAlive(p)), 'the plugin the dead agent ran is orphaned, still blocking')
  node.start()

  let pod: any
  await until('web Running with an IP', async () => {
    pod = await cluster.client.get<any>(podInfo, 'web', 'default')
    return pod.status?.phase === 'Running' && typeof pod.status.podIP === 'string' && pod.status.podIP !== ''
  }, 45_000)
  t.equal(pod.metadata.uid, uid)
  t.match(pod.status.podIP, /^10\.88\.0\.\d+$/, 'the IP comes from the chain')
  t.same(reservations(), [pod.status.podIP], 'exactly one reservation: the first one was released')
  t.equal((await hostVeths()).length, 1, 'one veth on the node')
  t.same(podNamespaces(), [`${node.netns}-pod-${uid}`], 'one pod namespace')
  const record = JSON.parse(readFileSync(join(nodeDir, 'pods', uid, 'sandbox.json'), 'utf8'))
  t.same(record.ips, [pod.status.podIP], 'the sandbox records the IP')
  t.notOk(blocker.some((p) => isAlive(p)), 'the orphaned plugin invocation was killed')
  t.same(readdirSync(ipamDir).filter((n) => n.includes('weft-lock')), [], 'no IPAM lock is left')
  await until('web answers on its IP', () => execIn(node.netns, 'curl', ['-s', '--max-time', '2', `http://${pod.status.podIP}:8080/`]).then(() => true, () => false), 20_000)
  t.pass('web answers on its IP')

  await cluster.client.delete(podInfo, 'web', 'default', { gracePeriodSeconds: 1 })
  await until('web gone', async () => (await cluster.client.get(podInfo, 'web', 'default').catch(() => undefined)) === undefined, 20_000)
  t.same(reservations(), [], 'DEL released it')
  t.same(await hostVeths(), [], 'and removed the veth')
})
