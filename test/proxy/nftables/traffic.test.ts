// The nftables layout with real traffic: a node namespace running the proxier's table,
// three pod namespaces routed through it (10.180.0.1-3, the pod network) and an outside
// client (192.168.50.2, not in the pod network) on the node's address 192.168.50.1. Each
// endpoint answers with its name and the source address it saw, so the test sees the
// balancing, the traffic policies, masquerading, hairpin and affinity. Everything lives in
// the test's own namespaces.
import t, { type Test } from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { NftClient } from '../../../src/netfilter/client.ts'
import { NftExec } from '../../../src/netfilter/exec-client.ts'
import type { Transaction } from '../../../src/netfilter/transaction.ts'
import { run } from '../../../src/netlink/exec.ts'
import type { ServiceEntry } from '../../../proxy/model.ts'
import { NftablesProxier } from '../../../proxy/nftables/proxier.ts'
import { testNetns } from '../../helpers/netns.ts'
import { entry, ep, port, state } from './fixtures.ts'

const WHO = new URL('./programs/who.ts', import.meta.url).pathname
const NODE_IP = '192.168.50.1'
const CLIENT_IP = '192.168.50.2'
/** The node's address on the pod links: what masqueraded traffic to a pod comes from. */
const NODE_POD_SIDE = '10.180.255.254'
const POD_IP = (i: number) => `10.180.0.${i}`

interface Agent {
  ask(op: 'tcp' | 'udp', host: string, port: number, count: number, timeoutMs?: number): Promise<string[]>
}

function startAgent(t: Test, ns: string, name: string): Promise<Agent> {
  const child: ChildProcessWithoutNullStreams = spawn('ip', ['netns', 'exec', ns, process.execPath, WHO, name, '8080', '8081'])
  t.teardown(() => {
    child.stdin.end()
    child.kill()
  })
  const waiting = new Map<number, (answers: string[]) => void>()
  let next = 0
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.stderr.on('data', (b: Buffer) => t.comment(`${name}: ${b}`))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: boolean; id?: number; answers?: string[] }
      if (m.ready) {
        resolve({
          ask: (op, host, port, count, timeoutMs = 1500) =>
            new Promise((done) => {
              const id = ++next
              waiting.set(id, done)
              child.stdin.write(JSON.stringify({ id, op, host, port, count, timeoutMs }) + '\n')
            }),
        })
      } else {
        waiting.get(m.id!)?.(m.answers!)
        waiting.delete(m.id!)
      }
    })
  })
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args)
}

/** An NftClient that keeps the text of every transaction it applied. */
class Recording implements NftClient {
  readonly texts: string[] = []
  readonly inner: NftClient
  constructor(inner: NftClient) {
    this.inner = inner
  }
  async apply(tx: Transaction): Promise<void> {
    await this.inner.apply(tx)
    this.texts.push(tx.render())
  }
  listTable: NftClient['listTable'] = (family, table) => this.inner.listTable(family, table)
}

const names = (answers: string[]) => new Set(answers.map((a) => a.split(' ')[0]))
const sources = (answers: string[]) => new Set(answers.map((a) => a.split(' ')[1]))

t.test('real traffic through the nftables layout', async (t) => {
  const node = await testNetns(t, 'pxnode')
  const client = await testNetns(t, 'pxcli')
  const pods = [await testNetns(t, 'pxp1'), await testNetns(t, 'pxp2'), await testNetns(t, 'pxp3')]
  await run('ip', ['netns', 'exec', node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
  await ip('-n', node, 'link', 'set', 'lo', 'up')
  await ip('-n', node, 'link', 'add', 'vc', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client)
  await ip('-n', node, 'addr', 'add', `${NODE_IP}/24`, 'dev', 'vc')
  await ip('-n', node, 'link', 'set', 'vc', 'up')
  await ip('-n', client, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', 'eth0')
  await ip('-n', client, 'link', 'set', 'eth0', 'up')
  await ip('-n', client, 'route', 'add', 'default', 'via', NODE_IP)
  // As on a real node, Service addresses are routed somewhere (a default route): what the
  // table does not DNAT is forwarded, or refused. The route goes back out the client's link:
  // no ICMP redirect, which would use up the client's ICMP rate-limit token before the refusal.
  await ip('-n', node, 'route', 'add', 'default', 'via', CLIENT_IP)
  for (const dev of ['all', 'vc']) await run('ip', ['netns', 'exec', node, 'sysctl', '-qw', `net.ipv4.conf.${dev}.send_redirects=0`])
  for (const [i, pod] of pods.entries()) {
    const link = `vp${i + 1}`
    await ip('-n', node, 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod)
    await ip('-n', node, 'addr', 'add', `${NODE_POD_SIDE}/32`, 'dev', link)
    await ip('-n', node, 'link', 'set', link, 'up')
    await ip('-n', node, 'route', 'add', `${POD_IP(i + 1)}/32`, 'dev', link)
    await ip('-n', pod, 'addr', 'add', `${POD_IP(i + 1)}/32`, 'dev', 'eth0')
    await ip('-n', pod, 'link', 'set', 'eth0', 'up')
    await ip('-n', pod, 'route', 'add', NODE_POD_SIDE, 'dev', 'eth0')
    await ip('-n', pod, 'route', 'add', 'default', 'via', NODE_POD_SIDE)
  }
  const outside = await startAgent(t, client, 'client')
  const [p1, p2, p3] = await Promise.all(pods.map((ns, i) => startAgent(t, ns, `p${i + 1}`)))

  // Every pod runs on this node (local), but for `local`'s p2, which stands for one elsewhere.
  const all = [1, 2, 3].map((i) => ep(POD_IP(i), { port: 8080, local: true }))
  const web = entry(port({ name: 'web', clusterIP: '172.30.0.10', nodePort: 30080, externalIPs: ['192.168.60.1'] }), all)
  const services: ServiceEntry[] = [
    web,
    entry(port({ name: 'dns', protocol: 'UDP', portName: 'dns', clusterIP: '172.30.0.11', port: 53 }), [1, 2, 3].map((i) => ep(POD_IP(i), { port: 8081, local: true }))),
    entry(port({ name: 'solo', clusterIP: '172.30.0.12' }), [ep(POD_IP(1), { port: 8080, local: true })]),
    entry(port({ name: 'local', clusterIP: '172.30.0.13', nodePort: 30081, externalLocal: true }), [ep(POD_IP(1), { port: 8080, local: true }), ep(POD_IP(2), { port: 8080 })]),
    entry(port({ name: 'sticky', clusterIP: '172.30.0.14', affinitySeconds: 60 }), all),
    entry(port({ name: 'empty', clusterIP: '172.30.0.15' }), []),
  ]
  const st = (list: ServiceEntry[]) => state(list, { serviceCIDRs: ['172.30.0.0/16'], clusterCIDRs: ['10.180.0.0/16'], nodeIPs: [NODE_IP] })
  const nft = new Recording(new NftExec(node))
  const proxier = new NftablesProxier({ family: 4, nft })
  await proxier.sync(st(services), 'all')

  await t.test('a ClusterIP from outside the pod network: every endpoint, masqueraded', async (t) => {
    const answers = await outside.ask('tcp', '172.30.0.10', 80, 90)
    t.same([...names(answers)].sort(), ['p1', 'p2', 'p3'], `all endpoints answered (${answers.slice(0, 4)}…)`)
    // 30 each expected; fewer than 10 of 90 has a probability of about 1e-6 for a uniform pick.
    for (const name of ['p1', 'p2', 'p3']) t.ok(answers.filter((a) => a.startsWith(`${name} `)).length >= 10, `${name} got its share`)
    t.same([...sources(answers)], [NODE_POD_SIDE], 'from the node, not the client')
  })

  await t.test('a ClusterIP from a pod: not masqueraded, except a pod that reached itself (hairpin)', async (t) => {
    const answers = await p2.ask('tcp', '172.30.0.10', 80, 40)
    t.same([...names(answers)].sort(), ['p1', 'p2', 'p3'])
    for (const a of answers) t.equal(a.split(' ')[1], a.startsWith('p2 ') ? NODE_POD_SIDE : POD_IP(2), a)
    t.same(await p1.ask('tcp', '172.30.0.12', 80, 3), Array(3).fill(`p1 ${NODE_POD_SIDE}`), 'the only endpoint reaches itself through its Service')
  })

  await t.test('UDP is balanced too', async (t) => {
    const answers = await outside.ask('udp', '172.30.0.11', 53, 30)
    t.same([...names(answers)].sort(), ['p1', 'p2', 'p3'], `${answers.slice(0, 4)}…`)
  })

  await t.test('NodePort and externalIP under Cluster policy: every endpoint, masqueraded', async (t) => {
    const viaNodePort = await outside.ask('tcp', NODE_IP, 30080, 30)
    t.same([...names(viaNodePort)].sort(), ['p1', 'p2', 'p3'])
    t.same([...sources(viaNodePort)], [NODE_POD_SIDE])
    const viaExternal = await outside.ask('tcp', '192.168.60.1', 80, 30)
    t.same([...names(viaExternal)].sort(), ['p1', 'p2', 'p3'])
    t.same([...sources(viaExternal)], [NODE_POD_SIDE])
  })

  await t.test('externalTrafficPolicy Local: outside traffic only to the local endpoint with its source kept; pods to any', async (t) => {
    const fromOutside = await outside.ask('tcp', NODE_IP, 30081, 20)
    t.same([...new Set(fromOutside)], [`p1 ${CLIENT_IP}`])
    const fromPod = await p3.ask('tcp', NODE_IP, 30081, 30)
    t.same([...names(fromPod)].sort(), ['p1', 'p2'], 'a pod uses every endpoint')
    t.same([...sources(fromPod)], [POD_IP(3)], 'not masqueraded')
  })

  await t.test('ClientIP affinity sticks', async (t) => {
    const answers = await outside.ask('tcp', '172.30.0.14', 80, 12)
    t.equal(names(answers).size, 1, `one endpoint answered all (${answers[0]})`)
    t.match(answers[0], /^p[123] /)
  })

  await t.test('no endpoints: refused at once', async (t) => {
    t.same(await outside.ask('tcp', '172.30.0.15', 80, 2), ['ECONNREFUSED', 'ECONNREFUSED'])
    t.same(await p2.ask('tcp', '172.30.0.15', 80, 1), ['ECONNREFUSED'], 'from a pod too')
    t.same(await p2.ask('tcp', '172.30.0.10', 81, 1), ['ECONNREFUSED'], 'an unserved port of a ClusterIP too')
    t.same(await outside.ask('tcp', '172.30.99.99', 80, 1, 700), ['timeout'], 'an address no Service has: dropped')
  })

  await t.test('an endpoint change is map elements only, and traffic follows it', async (t) => {
    const moved = services.map((s) => (s === web ? entry(web.port, [ep(POD_IP(2), { port: 8080, local: true }), ep(POD_IP(3), { port: 8080, local: true }), ep(POD_IP(1), { port: 8081, local: true })]) : s))
    // p1 :8081 is UDP only: a TCP connection the new endpoint gets is refused.
    const before = nft.texts.length
    await proxier.sync(st(moved), new Set([web.port.id]))
    const text = nft.texts.slice(before).join('')
    t.notMatch(text, / (chain|rule|set|map) /, 'no chain, rule, set or map operation')
    t.match(text, /add element ip weft-proxy service-endpoints-tcp \{[^}]*172\.30\.0\.10 \. 80 \. 2 : 10\.180\.0\.1 \. 8081/)
    const answers = await outside.ask('tcp', '172.30.0.10', 80, 40)
    t.same([...new Set(answers.map((a) => (a === 'ECONNREFUSED' ? a : a.split(' ')[0])))].sort(), ['ECONNREFUSED', 'p2', 'p3'], 'the replaced endpoint gets its share')
    const fewer = services.map((s) => (s === web ? entry(web.port, [ep(POD_IP(3), { port: 8080, local: true })]) : s))
    await proxier.sync(st(fewer), new Set([web.port.id]))
    t.same([...names(await outside.ask('tcp', '172.30.0.10', 80, 10))], ['p3'], 'down to one endpoint')
  })
})
