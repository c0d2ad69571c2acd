// Service addresses made local by the userspace proxier are not answered by ARP (or NDP) on
// the node's links, as with IPVS's strictARP; the node's own address still is. A node
// namespace and a peer namespace share one veth link; the peer routes the Service address
// onto the link, so reaching it needs a neighbour answer from the node.
import t, { type Test } from 'tap'
import { getSysctl, ipBatch, run, setSysctl } from '../../../src/netlink/index.ts'
import { ServiceAddressManager } from '../../../proxy/userspace/index.ts'
import { testNetns } from '../../helpers/netns.ts'

const NODE_IP = '10.123.0.1'
const PEER_IP = '10.123.0.2'
const SVC_IP = '10.96.0.77'
const NODE_IP6 = 'fd12:3::1'
const SVC_IP6 = 'fd96::77'

async function link(t: Test): Promise<{ node: string; peer: string }> {
  const node = await testNetns(t, 'sarpn')
  const peer = await testNetns(t, 'sarpp')
  await ipBatch([`link add eth0 type veth peer name eth0 netns ${peer}`, `addr add ${NODE_IP}/24 dev eth0`, `addr add ${NODE_IP6}/64 dev eth0 nodad`, 'link set eth0 up', 'link set lo up'], node)
  await ipBatch([`addr add ${PEER_IP}/24 dev eth0`, 'addr add fd12:3::2/64 dev eth0 nodad', 'link set eth0 up', `route add ${SVC_IP}/32 dev eth0`, `route add ${SVC_IP6}/128 dev eth0`], peer)
  return { node, peer }
}

/** Whether one ping from `ns` to `ip` is answered. */
function pings(ns: string, ip: string): Promise<boolean> {
  return run('nsenter', [`--net=/run/netns/${ns}`, '--', 'ping', ip.includes(':') ? '-6' : '-4', '-c', '1', '-W', '1', ip]).then(
    () => true,
    () => false,
  )
}

/** The link-layer address the peer learned for `ip`, or '' when the node never answered. */
async function neighbour(ns: string, ip: string): Promise<string> {
  const [entry] = JSON.parse(await run('nsenter', [`--net=/run/netns/${ns}`, '--', 'ip', '-j', 'neigh', 'show', ip, 'dev', 'eth0'])) as { lladdr?: string }[]
  return entry?.lladdr ?? ''
}

for (const family of [4, 6] as const) {
  const [svc, own] = family === 4 ? [SVC_IP, NODE_IP] : [SVC_IP6, NODE_IP6]

  t.test(`IPv${family}: a Service address is not answered on the node's link, the node's own address is`, async (t) => {
    const { node, peer } = await link(t)
    const m = new ServiceAddressManager({ family, netns: node })
    await m.sync(new Set([svc]))
    t.comment(`the address is on ${m.device}`)
    t.ok(await pings(peer, own), "the node's own address answers")
    t.not(await neighbour(peer, own), '', 'and its neighbour entry has a link-layer address')
    t.notOk(await pings(peer, svc), 'the Service address does not')
    t.equal(await neighbour(peer, svc), '', 'nobody answered for it')
    if (family === 4) {
      t.equal(await getSysctl('net.ipv4.conf.all.arp_ignore', node), '1')
      t.equal(await getSysctl('net.ipv4.conf.all.arp_announce', node), '2')
    }
    await m.removeAll()
  })
}

t.test('without strict ARP the node answers ARP for Service addresses (the default Linux behaviour)', async (t) => {
  const { node, peer } = await link(t)
  const m = new ServiceAddressManager({ family: 4, netns: node, strictArp: false })
  await m.sync(new Set([SVC_IP]))
  t.ok(await pings(peer, SVC_IP), 'answered')
  t.not(await neighbour(peer, SVC_IP), '')
  t.equal(await getSysctl('net.ipv4.conf.all.arp_ignore', node), '0', 'the sysctls are left alone')
  await m.removeAll()
})

t.test('stricter settings an operator made are kept', async (t) => {
  const { node } = await link(t)
  await setSysctl('net.ipv4.conf.all.arp_ignore', '2', node)
  const m = new ServiceAddressManager({ family: 4, netns: node })
  await m.sync(new Set([SVC_IP]))
  t.equal(await getSysctl('net.ipv4.conf.all.arp_ignore', node), '2', 'arp_ignore 2 is not lowered to 1')
  t.equal(await getSysctl('net.ipv4.conf.all.arp_announce', node), '2')
  await m.removeAll()
})
