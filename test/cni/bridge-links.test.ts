import t from 'tap'
import { parseBridgeConf } from '../../cni/bridge/config.ts'
import { gatewayLines, hostLines, podLines } from '../../cni/bridge/links.ts'
import { hostVethName, randomMac } from '../../cni/bridge/names.ts'
import { plannedRoutes } from '../../cni/bridge/plugin.ts'
import { masqChainName, masqRules, subnetOf } from '../../cni/masq.ts'
import { parseNetConf } from '../../cni/protocol/config.ts'

const conf = (extra: Record<string, unknown> = {}) => parseBridgeConf(parseNetConf(JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'weft-cni', ipam: { type: 'weft-ipam' }, ...extra })))

t.test('config defaults and checks', async (t) => {
  t.match(conf(), { bridge: 'cni0', isGateway: false, ipMasq: false, hairpinMode: false, ipamType: 'weft-ipam', mtu: undefined })
  t.match(conf({ isDefaultGateway: true }), { isGateway: true }, 'isDefaultGateway implies isGateway')
  t.throws(() => conf({ bridge: 'a-name-longer-than-15' }), { code: 7 })
  t.throws(() => conf({ mtu: 20 }), { code: 7 })
  t.throws(() => conf({ hairpinMode: 'yes' }), { code: 7 })
})

t.test('names', async (t) => {
  t.equal(hostVethName('abc', 'eth0'), hostVethName('abc', 'eth0'))
  t.not(hostVethName('abc', 'eth0'), hostVethName('abc', 'eth1'))
  t.match(hostVethName('abc', 'eth0'), /^veth[0-9a-f]{8}$/)
  const mac = randomMac()
  t.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)
  t.equal(parseInt(mac.slice(0, 2), 16) & 3, 2, 'locally administered unicast')
  t.match(masqChainName({ network: 'n', containerID: 'c', ifname: 'eth0' }), /^masq-[0-9a-f]{8}-[0-9a-f]{12}$/)
})

t.test('ip batch lines', async (t) => {
  const plan = { hostVeth: 'veth1', hostMac: '02:00:00:00:00:01', podIfname: 'eth0', podMac: '02:00:00:00:00:02', netns: '/run/netns/p' }
  t.same(hostLines(conf({ bridge: 'br9', mtu: 1400, hairpinMode: true }), plan), [
    'link add veth1 mtu 1400 address 02:00:00:00:00:01 type veth peer name eth0 mtu 1400 address 02:00:00:00:00:02 netns /run/netns/p',
    'link set dev veth1 master br9',
    'link set dev veth1 type bridge_slave hairpin on',
    'link set dev veth1 up',
  ])
  t.same(gatewayLines(conf({ bridge: 'br9' }), ['10.0.0.1/24', 'fd00::1/64']), ['address replace 10.0.0.1/24 dev br9', 'address replace fd00::1/64 dev br9 nodad'])
  t.same(podLines('eth0', [{ address: '10.0.0.2/24' }, { address: 'fd00::2/64' }], [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }]), [
    'link set dev eth0 up',
    'address add 10.0.0.2/24 dev eth0',
    'address add fd00::2/64 dev eth0 nodad',
    'route add 0.0.0.0/0 via 10.0.0.1 dev eth0',
  ])
})

t.test('routes', async (t) => {
  const ips = [{ address: '10.0.0.2/24', gateway: '10.0.0.1' }, { address: 'fd00::2/64', gateway: 'fd00::1' }]
  const r = plannedRoutes(conf({ isDefaultGateway: true }), ips, [{ dst: '10.9.0.0/16' }])
  t.same(r.result, [{ dst: '10.9.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '::/0', gw: 'fd00::1' }])
  t.same(r.kernel[0], { dst: '10.9.0.0/16', gw: '10.0.0.1' }, 'a route without gw goes via the family gateway')
  t.same(plannedRoutes(conf(), ips, []).result, [], 'no default route without isDefaultGateway')
})

t.test('masquerade rules', async (t) => {
  t.equal(subnetOf('10.1.2.3/24'), '10.1.2.0/24')
  t.equal(subnetOf('fd00::1:5/112'), 'fd00::1:0/112')
  t.same(masqRules('c', ['10.1.2.3/24', 'fd00::5/64']), [
    'add rule inet weft-cni c ip saddr 10.1.2.3 ip daddr != { 10.1.2.0/24, 224.0.0.0/4 } masquerade',
    'add rule inet weft-cni c ip6 saddr fd00::5 ip6 daddr != { fd00::/64, ff00::/8 } masquerade',
  ])
})
