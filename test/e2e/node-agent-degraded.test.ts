// The node agent on hosts that lack something it would like: no `nft`, no reference
// portmap/bandwidth plugins, a bridge that does not pass its traffic through netfilter
// (br_netfilter off). Each node still becomes Ready and pods still reach pods and Services.
import t from 'tap'
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { setSysctl } from '../../src/netlink/index.ts'
import { nodeInfo, podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { execIn, startUnderlay, type TestNode } from '../helpers/nodes.ts'

const serviceInfo = resources.find((r) => r.kind === 'Service')!
const repoBin = resolve(import.meta.dirname, '../../bin')

t.setTimeout(240_000)

/** A PATH like the host's with every command of /usr/sbin but `nft`. */
async function pathWithoutNft(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-no-nft-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const name of await readdir('/usr/sbin')) if (name !== 'nft') await symlink(join('/usr/sbin', name), join(dir, name))
  return [dir, '/usr/local/bin', '/usr/bin'].join(':')
}

const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
const client = cluster.client
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
// node-1: nftables proxy; its CNI bin dir has weft's plugins only.
const nodeOne = await underlay.addNode('node-1', { agentArgs: ['--cni-bin-dir', repoBin] })
// node-2: a host without nft.
const noNftPath = await pathWithoutNft()
const nodeTwo = await underlay.addNode('node-2', { env: { ...process.env, PATH: noNftPath } })

const isReady = (o: any) => o?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
const logOf = (node: TestNode) => readFile(node.logFile, 'utf8').catch(() => '')

async function nodeReady(name: string): Promise<any> {
  let node: any
  await until(`${name} Ready`, async () => isReady((node = await client.get<any>(nodeInfo, name).catch(() => undefined))), 60_000)
  return node
}

async function runPod(name: string, node: TestNode, labels: Record<string, string> = {}): Promise<{ ip: string; netns: string }> {
  await client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels }, spec: { nodeName: node.name, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'weft/echo', readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] } } as never)
  let pod: any
  await until(`${name} Ready`, async () => isReady((pod = await client.get<any>(podInfo, name, 'default').catch(() => undefined))), 60_000)
  return { ip: pod.status.podIP, netns: `${node.netns}-pod-${pod.metadata.uid}` }
}

/** The pod name that answers `url` from inside `netns`, or '' when nothing does. */
function answerFrom(netns: string, url: string): Promise<string> {
  return execIn(netns, 'curl', ['-s', '--max-time', '2', url]).then(
    (out) => String(JSON.parse(out).pod ?? ''),
    () => '',
  )
}

await t.test('without the reference portmap and bandwidth plugins the node becomes Ready', async (t) => {
  await nodeReady('node-1')
  const conflist = JSON.parse(await readFile(join(nodeOne.dataDir, 'net.d', '10-weft.conflist'), 'utf8'))
  t.same(conflist.plugins.map((p: any) => p.type), ['weft-cni'], 'the chain has the bridge only')
  const log = await logOf(nodeOne)
  t.match(log, /"plugins":\["portmap","bandwidth"\]/, 'the warning names the missing plugins')
  t.equal(log.match(/CNI plugins are missing/g)?.length, 1, 'warned once')
})

await t.test('without nft: host-gw routes are installed, masquerade is skipped with a warning, the proxy runs in userspace', async (t) => {
  const one = await nodeReady('node-1')
  const two = await nodeReady('node-2')
  await until('node-2 routes to node-1 pods', async () => (await execIn(nodeTwo.netns, 'ip', ['route', 'show', one.spec.podCIDR])).includes(`via ${nodeOne.ip}`), 30_000)
  t.pass(`node-2 routes ${one.spec.podCIDR} via ${nodeOne.ip}`)
  const far = await runPod('far', nodeTwo)
  t.match(far.ip, new RegExp(`^${two.spec.podCIDR.split('.').slice(0, 3).join('\\.')}\\.`))
  await until('node-1 reaches the pod on node-2', async () => (await answerFrom(nodeOne.netns, `http://${far.ip}:8080/`)) === 'far', 20_000)
  t.pass('traffic crosses the host-gw routes')
  const log = await logOf(nodeTwo)
  t.match(log, /nft is not installed/, 'the log says why masquerade is off')
  t.equal(log.match(/pod masquerade is off/g)?.length, 1, 'warned once')
  t.match(log, /"mode":"userspace"/, 'the proxy fell back to userspace')
  // weft-cni's anti-spoofing needs nft: the config turns it off, and the log says so once.
  const conflist = JSON.parse(await readFile(join(nodeTwo.dataDir, 'net.d', '10-weft.conflist'), 'utf8'))
  t.equal(conflist.plugins[0].antiSpoof, false, 'the CNI config turns anti-spoofing off')
  t.equal(log.match(/anti-spoofing is OFF/g)?.length, 1, 'warned once')
  t.match(log, /anti-spoofing is OFF.*is not installed|is not installed.*anti-spoofing is OFF/, 'with the reason')
  const oneConf = JSON.parse(await readFile(join(nodeOne.dataDir, 'net.d', '10-weft.conflist'), 'utf8'))
  t.equal(oneConf.plugins[0].antiSpoof, true, 'node-1, with nft, guards its pods')
})

await t.test('same-node pod → ClusterIP → pod, with and without br_netfilter', async (t) => {
  const server = await runPod('server', nodeOne, { app: 'server' })
  const caller = await runPod('caller', nodeOne)
  await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'server', namespace: 'default' }, spec: { selector: { app: 'server' }, ports: [{ port: 80, targetPort: 8080 }] } } as never)
  const svc = await client.get<any>(serviceInfo, 'server', 'default')
  const url = `http://${svc.spec.clusterIP}/`
  t.equal(await execIn(nodeOne.netns, 'sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables']).then((s) => s.trim()), '1', 'the bridge calls netfilter on node-1')
  await until('the caller reaches the server through its ClusterIP', async () => (await answerFrom(caller.netns, url)) === 'server', 30_000)
  t.pass('with br_netfilter')
  t.match(await logOf(nodeOne), /"ipv4":"br_netfilter"/, 'the agent says it relies on br_netfilter')

  // Off in node-1's namespace only (the sysctl is per namespace): replies from the server
  // are bridged straight to the caller, past the conntrack entry that would un-DNAT them.
  await setSysctl('net.bridge.bridge-nf-call-iptables', '0', nodeOne.netns)
  t.equal(await answerFrom(caller.netns, url), '', 'without br_netfilter and without the fallback the connection breaks')
  t.equal(await answerFrom(nodeOne.netns, `http://${server.ip}:8080/`), 'server', 'the server itself is fine')

  await nodeOne.stop()
  nodeOne.start()
  await until('the restarted agent falls back to masquerading', async () => (await answerFrom(caller.netns, url)) === 'server', 30_000).catch(async (err: unknown) => {
    for (const [what, args] of [['nft', ['list', 'ruleset']], ['conntrack', ['-L']]] as const) t.comment(`node-1 ${what}:\n${await execIn(nodeOne.netns, what, [...args]).catch(String)}`)
    throw err
  })
  t.pass('without br_netfilter, through the masquerade fallback')
  const log = await logOf(nodeOne)
  t.match(log, /"ipv4":"masquerade"/, 'the agent says it masquerades instead')
  const rules = await execIn(nodeOne.netns, 'nft', ['list', 'table', 'ip', 'weft-agent'])
  t.match(rules, /ct status dnat masquerade/)
  t.equal(await answerFrom(caller.netns, `http://${server.ip}:8080/`), 'server', 'pod to pod directly still works')
})

await t.test('a Node whose pod CIDR overlaps another gets a Warning Event and no routes; the others keep theirs', async (t) => {
  const one = await client.get<any>(nodeInfo, 'node-1')
  await client.create(nodeInfo, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'usurper' }, spec: { podCIDRs: [one.spec.podCIDR] }, status: { addresses: [{ type: 'InternalIP', address: '172.31.0.99' }] } } as never)
  const eventInfo = resources.find((r) => r.kind === 'Event')!
  let events: any[] = []
  await until('Warning Events about the usurper', async () => {
    events = (await client.list<any>(eventInfo, { namespace: 'default' })).items.filter((e) => e.involvedObject?.name === 'usurper' && e.reason === 'InvalidNodeNetwork')
    return events.length >= 2
  }, 20_000)
  t.ok(events.some((e) => /overlaps this node's pod CIDR/.test(e.message) && /agent of node-1/.test(e.message)), 'node-1 says it overlaps its own')
  t.ok(events.some((e) => /overlaps the pod CIDR of Node "node-1" \(created earlier\)/.test(e.message) && /agent of node-2/.test(e.message)), 'node-2 keeps node-1, the older one')
  t.equal(events[0].type, 'Warning')
  t.notMatch(await execIn(nodeOne.netns, 'ip', ['route']), '172.31.0.99', 'no route via the usurper on node-1')
  t.match(await execIn(nodeTwo.netns, 'ip', ['route', 'show', one.spec.podCIDR]), `via ${nodeOne.ip}`, 'node-2 still routes node-1 pods via node-1')
  await client.delete(nodeInfo, 'usurper', undefined)
})
