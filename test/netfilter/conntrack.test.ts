import t from 'tap'
import { run } from '../../src/netlink/exec.ts'
import { inNetns } from '../../src/netlink/netns.ts'
import { ipBatch } from '../../src/netlink/index.ts'
import { flushUdpNodePortEndpoint, flushUdpServiceEndpoint, flushUdpToNodePort, flushUdpToServiceIP } from '../../src/netfilter/conntrack.ts'
import { nftApply } from '../../src/netfilter/nft.ts'
import { testNetns } from '../helpers/netns.ts'

// Inside the namespace: a veth pair holding the "endpoint" 10.1.0.5 / fd00:1::5, routes to
// the fake Service ranges, and DNAT of UDP 10.96.0.10:53 / [fd00:96::10]:53 to port 5353.
async function setup(ns: string): Promise<void> {
  await ipBatch(
    [
      'link add v0 type veth peer name v1',
      'link set v0 up',
      'link set v1 up',
      'addr add 10.1.0.5/24 dev v0',
      'addr add fd00:1::5/64 dev v0 nodad',
      'route add 10.96.0.0/24 dev v0',
      'route add fd00:96::/64 dev v0',
    ],
    ns,
  )
  await nftApply(
    [
      'add table inet wtnat',
      'add chain inet wtnat out { type nat hook output priority -100; }',
      'add rule inet wtnat out ip daddr 10.96.0.10 udp dport 53 dnat ip to 10.1.0.5:5353',
      'add rule inet wtnat out ip6 daddr fd00:96::10 udp dport 53 dnat ip6 to [fd00:1::5]:5353',
    ],
    ns,
  )
}

async function send(ns: string, ip: string, port: number): Promise<void> {
  const [file, argv] = inNetns(ns, 'bash', ['-c', `echo x > /dev/udp/${ip}/${port}`])
  await run(file, argv)
}

async function entries(ns: string): Promise<string[]> {
  const [file, argv] = inNetns(ns, 'conntrack', ['-L', '-p', 'udp'])
  const [file6, argv6] = inNetns(ns, 'conntrack', ['-L', '-f', 'ipv6', '-p', 'udp'])
  const out = (await run(file, argv)) + (await run(file6, argv6))
  return out.split('\n').filter((l) => l.trim())
}

t.test('UDP conntrack entries are flushed by service IP, endpoint and node port', async (t) => {
  const ns = await testNetns(t, 'ct')
  await setup(ns)

  t.equal(await flushUdpToServiceIP('10.96.0.10', ns), 0, 'nothing to flush is success with 0')
  await send(ns, '10.96.0.10', 53)
  t.match((await entries(ns)).join('\n'), /dst=10\.96\.0\.10 .*dport=53 .*src=10\.1\.0\.5 .*sport=5353/, 'the DNAT-ed entry exists')
  t.equal(await flushUdpToServiceIP('10.96.0.99', ns), 0, 'another service IP matches nothing')
  t.equal(await flushUdpToServiceIP('10.96.0.10', ns), 1)
  t.same(await entries(ns), [], 'gone')

  await send(ns, '10.96.0.10', 53)
  t.equal(await flushUdpServiceEndpoint('10.96.0.10', '10.1.0.9', ns), 0, 'another endpoint matches nothing')
  t.equal(await flushUdpServiceEndpoint('10.96.0.10', '10.1.0.5', ns), 1)
  t.same(await entries(ns), [])

  await send(ns, '10.96.0.10', 53)
  t.equal(await flushUdpNodePortEndpoint(53, '10.1.0.5', ns), 1, 'by destination port and endpoint')
  t.same(await entries(ns), [])

  await send(ns, 'fd00:96::10', 53)
  t.match((await entries(ns)).join('\n'), /dst=fd00:96::10/, 'the IPv6 entry exists')
  t.equal(await flushUdpServiceEndpoint('fd00:96::10', 'fd00:1::5', ns), 1, 'IPv6 service endpoint')
  await send(ns, 'fd00:96::10', 53)
  t.equal(await flushUdpNodePortEndpoint(53, 'fd00:1::5', ns), 1, 'IPv6 node port')
  await send(ns, 'fd00:96::10', 53)
  t.equal(await flushUdpToServiceIP('fd00:96::10', ns), 1, 'IPv6 service IP')
  t.same(await entries(ns), [])

  await send(ns, '10.96.0.10', 53)
  await send(ns, 'fd00:96::10', 53)
  t.equal(await flushUdpToNodePort(54, 4, ns), 0, 'another port matches nothing')
  t.equal(await flushUdpToNodePort(53, 4, ns), 1, 'by destination port, IPv4')
  t.equal(await flushUdpToNodePort(53, 6, ns), 1, 'by destination port, IPv6')
  t.same(await entries(ns), [])
})
