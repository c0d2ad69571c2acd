// loadBalancerSourceRanges in userspace mode: the decision (pure, and the same as nftables
// mode's firewall chain for random inputs), then the relays on loopback: refused TCP
// connections reset at accept, refused UDP datagrams dropped, both counted; only the
// load-balancer IPs are filtered.
import { createSocket } from 'node:dgram'
import t, { type Test } from 'tap'
import { serviceRules } from '../../../proxy/nftables/rules.ts'
import { ProxyMetrics } from '../../../proxy/metrics.ts'
import type { ServicePort } from '../../../proxy/model.ts'
import { UserspaceLimits, UserspaceProxier, listenSpecs, sourceFilter } from '../../../proxy/userspace/index.ts'
import { cidrContains, parseCidr } from '../../../src/util/cidr.ts'
import { parseCIDR, parseIP } from '../../../src/util/ip-parse.ts'
import { HOSTILE_STRINGS, Rng } from '../../helpers/fuzz.ts'
import { endpoint, freePort, landsOn, loopbackIP, proxyState, servicePort, tcpServer, udpServer } from './helpers.ts'

const lb = (over: Partial<ServicePort>): ServicePort => servicePort({ clusterIP: '10.96.0.10', port: 80, loadBalancerIPs: ['203.0.113.7'], ...over })

t.test('decision: only with load-balancer IPs and ranges; the node in a range admits the VIP', async (t) => {
  t.equal(sourceFilter(lb({}), [], 4), undefined, 'no ranges: everyone')
  t.equal(sourceFilter(lb({ loadBalancerIPs: [], loadBalancerSourceRanges: ['10.0.0.0/8'] }), [], 4), undefined, 'no load-balancer IP: nothing to filter')
  const f = sourceFilter(lb({ loadBalancerSourceRanges: ['10.0.0.0/8', '192.168.1.0/24'] }), ['172.16.0.5'], 4)!
  t.same(f.sources, ['10.0.0.0/8', '192.168.1.0/24'])
  for (const ip of ['10.0.0.1', '10.255.255.255', '192.168.1.200']) t.ok(f.admits(ip), `${ip} is in a range`)
  for (const ip of ['11.0.0.1', '192.168.2.1', '203.0.113.7', '172.16.0.5', '', 'garbage', '10.0.0.1%eth0', '::ffff:11.0.0.1'])
    t.notOk(f.admits(ip), `${JSON.stringify(ip)} is not`)
  const node = sourceFilter(lb({ loadBalancerSourceRanges: ['10.0.0.0/8'] }), ['10.1.2.3'], 4)!
  t.same(node.sources, ['10.0.0.0/8', '203.0.113.7'], 'a node address in a range: the load-balancer IPs as sources too')
  t.ok(node.admits('203.0.113.7'))
  t.notOk(sourceFilter(lb({ loadBalancerSourceRanges: ['10.0.0.0/8'] }), ['fd00::1', '172.16.0.5'], 4)!.admits('203.0.113.7'), 'no node address of the family in a range')
})

t.test('decision: fail closed', async (t) => {
  const invalid = sourceFilter(lb({ loadBalancerSourcesRestricted: true }), ['10.0.0.1'], 4)!
  t.ok(invalid, 'ranges given, none valid: a filter')
  t.same(invalid.sources, [])
  for (const ip of ['10.0.0.1', '203.0.113.7', '0.0.0.0', '1.2.3.4']) t.notOk(invalid.admits(ip), `${ip} is refused`)
  const hostile = sourceFilter(lb({ loadBalancerSourceRanges: [...HOSTILE_STRINGS, '10.0.0.0/8 accept', '10.0.0.0/33', '2001:db8::/32'] }), [], 4)!
  t.same(hostile.sources, [], 'values that are not CIDRs of the family are left out')
  t.notOk(hostile.admits('10.0.0.1'), 'and leave no one in')
})

t.test('decision: IPv6', async (t) => {
  const f = sourceFilter(servicePort({ clusterIP: 'fd00::10', port: 80, loadBalancerIPs: ['2001:db8::7'], loadBalancerSourceRanges: ['2001:db8:1::/48'] }), ['2001:db8:1::5'], 6)!
  t.same(f.sources, ['2001:db8:1::/48', '2001:db8::7'])
  t.ok(f.admits('2001:db8:1:2::9'))
  t.ok(f.admits('2001:db8::7'))
  t.notOk(f.admits('2001:db8:2::1'))
  t.notOk(f.admits('10.0.0.1'))
})

t.test('listen specs: the load-balancer IPs are marked, also when they are another address of the Service', async (t) => {
  const sp = servicePort({ clusterIP: '10.96.0.10', port: 80, nodePort: 30080, externalIPs: ['192.0.2.1'], loadBalancerIPs: ['198.51.100.7', '192.0.2.1', '10.96.0.10'] })
  t.same(
    listenSpecs(sp, 4).map((s) => [s.key, s.loadBalancer]),
    [
      ['10.96.0.10:80', true],
      ['192.0.2.1:80', true],
      ['198.51.100.7:80', true],
      ['0.0.0.0:30080', false],
    ],
  )
  t.same(listenSpecs(servicePort({ clusterIP: '10.96.0.10', port: 80, externalIPs: ['192.0.2.1'] }), 4).map((s) => s.loadBalancer), [false, false])
})

/** Whether nftables mode admits `client` to `lbIP`: its firewall chain, read as a packet filter. */
function nftablesAdmits(port: ServicePort, nodeIPs: string[], family: 4 | 6, lbIP: string, client: string): boolean {
  const state = { family, serviceCIDRs: [], clusterCIDRs: [], nodeIPs, services: new Map() }
  const rules = serviceRules({ port, endpoints: [endpoint(family === 4 ? '10.180.0.1' : 'fd00:180::1', 80)] }, state)
  const key = `${lbIP} . ${port.protocol.toLowerCase()} . ${port.port}`
  const fw = rules.elements.find((e) => e.set === 'firewall-ips' && e.key === key)
  if (fw === undefined) return true
  const [rule] = rules.chains.get(fw.value.replace(/^goto /, ''))!
  if (rule === 'drop') return false
  const m = /^ip6? saddr != \{ (.*) \} drop$/.exec(rule!)
  if (!m) throw new Error(`unexpected firewall rule ${rule}`)
  return m[1]!.split(', ').some((s) => cidrContains(parseCidr(s.includes('/') ? s : `${s}/${family === 4 ? 32 : 128}`), client))
}

t.test('the same decisions as the nftables firewall, for random Services, nodes and clients', async (t) => {
  const rng = new Rng(20240614)
  const v4 = (): string => rng.pick(['10', '192', '203']) + `.${rng.int(2)}.${rng.int(2)}.${rng.int(3)}`
  const v6 = (): string => parseIP(`2001:db8:${rng.int(2)}::${rng.int(3)}`)!.text
  const range = (family: 4 | 6): string => {
    const addr = family === 4 ? v4() : v6()
    const width = family === 4 ? 32 : 128
    const prefix = rng.pick([width, width - 1, width - 8, width - 16, 8])
    return parseCIDR(`${addr}/${prefix}`)!.text
  }
  let cases = 0
  let mismatches = 0
  for (let i = 0; i < 400; i++) {
    const family = rng.chance(0.7) ? 4 : 6
    const addr = family === 4 ? v4 : v6
    const lbIPs = [...new Set(Array.from({ length: rng.int(3) }, addr))]
    const ranges = [...new Set(Array.from({ length: rng.int(3) }, () => range(family)))]
    const port = servicePort({ clusterIP: family === 4 ? '172.30.0.41' : 'fd00:30::41', port: 80, loadBalancerIPs: lbIPs, loadBalancerSourceRanges: ranges, loadBalancerSourcesRestricted: ranges.length === 0 && rng.chance(0.3) })
    const nodeIPs = Array.from({ length: rng.int(3) }, addr)
    const filter = sourceFilter(port, nodeIPs, family)
    for (const lbIP of lbIPs) {
      for (let j = 0; j < 6; j++) {
        const client = rng.chance(0.2) ? rng.pick(lbIPs) : addr()
        cases++
        const want = nftablesAdmits(port, nodeIPs, family, lbIP, client)
        const got = filter === undefined || filter.admits(client)
        if (want !== got) {
          mismatches++
          t.fail(`${client} → ${lbIP}: nftables ${want ? 'admits' : 'refuses'}, userspace ${got ? 'admits' : 'refuses'} (ranges ${JSON.stringify(ranges)}, nodes ${JSON.stringify(nodeIPs)}, invalid ${port.loadBalancerSourcesRestricted})`)
        }
      }
    }
  }
  t.ok(cases > 1000, `${cases} cases compared`)
  t.equal(mismatches, 0)
})

// On loopback: Service addresses from 127.0.0.0/8, clients choosing their source address.

interface Setup {
  proxier: UserspaceProxier
  metrics: ProxyMetrics
  sp: ServicePort
  lbIP: string
  extIP: string
  nodePort: number
  /** Syncs the Service port changed by `over`. */
  update(over: Partial<ServicePort>): Promise<unknown>
}

async function setup(t: Test, protocol: 'TCP' | 'UDP', over: Partial<ServicePort>, nodeIPs: string[] = []): Promise<Setup> {
  const up = protocol === 'TCP' ? await tcpServer(t, 'up') : await udpServer(t, 'up')
  const clusterIP = loopbackIP()
  const lbIP = loopbackIP()
  const extIP = loopbackIP()
  const port = await freePort(lbIP)
  const nodePort = await freePort('0.0.0.0')
  const sp = servicePort({ name: `lb-${protocol.toLowerCase()}`, protocol, clusterIP, port, nodePort, externalIPs: [extIP], loadBalancerIPs: [lbIP], ...over })
  const limits = new UserspaceLimits({ socketLimit: 1000 })
  const metrics = new ProxyMetrics()
  metrics.watchUserspace(limits)
  const proxier = new UserspaceProxier({ family: 4, manageAddresses: false, limits })
  t.teardown(() => proxier.close())
  const state = (port: ServicePort) => ({ ...proxyState([{ port, endpoints: [endpoint('127.0.0.1', up.port)] }]), nodeIPs })
  await proxier.sync(state(sp), 'all')
  return { proxier, metrics, sp, lbIP, extIP, nodePort, update: (over) => proxier.sync(state({ ...sp, ...over }), new Set([sp.id])) }
}

async function refused(metrics: ProxyMetrics, protocol: 'TCP' | 'UDP'): Promise<number> {
  const text = await metrics.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`weft_proxy_userspace_source_range_refused_total{protocol="${protocol}"} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

/** One datagram from `source` (any port) to host:port: the reply text, or 'timeout'. */
async function udpFrom(t: Test, source: string, host: string, port: number, text: string, ms = 400): Promise<string> {
  const socket = createSocket('udp4')
  t.teardown(() => {
    try {
      socket.close()
    } catch {
      // closed
    }
  })
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.bind(0, source, () => resolve()))
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), ms)
    socket.once('message', (msg) => {
      clearTimeout(timer)
      resolve(msg.toString())
    })
    socket.send(text, port, host)
  })
}

const INSIDE = '127.0.0.3'
const OUTSIDE = '127.0.1.3'

/** connectOutcome from a chosen source address. */
async function outcomeFrom(t: Test, host: string, port: number, source: string): Promise<string> {
  try {
    await landsOn(t, host, port, source)
    return 'ok'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message
  }
}

t.test('TCP: a client outside the ranges is reset at a load-balancer IP, and only there', async (t) => {
  const { metrics, sp, lbIP, extIP, nodePort } = await setup(t, 'TCP', { loadBalancerSourceRanges: ['127.0.0.0/24'] })
  t.equal(await landsOn(t, lbIP, sp.port, INSIDE), 'up', 'a client in the range is relayed')
  t.match(await outcomeFrom(t, lbIP, sp.port, OUTSIDE), /ECONNRESET|closed before/, 'a client outside is reset')
  t.equal(await refused(metrics, 'TCP'), 1, 'and counted')
  t.equal(await landsOn(t, sp.clusterIP, sp.port, OUTSIDE), 'up', 'the ClusterIP is not filtered')
  t.equal(await landsOn(t, extIP, sp.port, OUTSIDE), 'up', 'nor an externalIP')
  t.equal(await landsOn(t, '127.0.0.1', nodePort, OUTSIDE), 'up', 'nor the NodePort')
  t.equal(await refused(metrics, 'TCP'), 1)
})

t.test('TCP: range changes apply to new connections; no valid range admits no one', async (t) => {
  const { metrics, sp, lbIP, update } = await setup(t, 'TCP', {})
  t.equal(await landsOn(t, lbIP, sp.port, OUTSIDE), 'up', 'no ranges: everyone')
  await update({ loadBalancerSourceRanges: ['127.0.0.0/24'] })
  t.match(await outcomeFrom(t, lbIP, sp.port, OUTSIDE), /ECONNRESET|closed before/, 'ranges added: outside is refused')
  t.equal(await landsOn(t, lbIP, sp.port, INSIDE), 'up')
  await update({ loadBalancerSourceRanges: [], loadBalancerSourcesRestricted: true })
  t.match(await outcomeFrom(t, lbIP, sp.port, INSIDE), /ECONNRESET|closed before/, 'no valid range: the inside client is refused too')
  t.equal(await landsOn(t, sp.clusterIP, sp.port, INSIDE), 'up', 'the ClusterIP still serves')
  await update({ loadBalancerSourceRanges: [], loadBalancerSourcesRestricted: false })
  t.equal(await landsOn(t, lbIP, sp.port, OUTSIDE), 'up', 'ranges removed: everyone again')
  t.equal(await refused(metrics, 'TCP'), 2)
})

t.test('TCP: the node in a range admits requests sourced from the load-balancer IP', async (t) => {
  const ranges = { loadBalancerSourceRanges: ['10.0.0.0/8'] }
  const outside = await setup(t, 'TCP', ranges, ['172.16.0.5'])
  // A loopback destination's default source is the destination itself: the node talking to its own VIP.
  t.match(await outcomeFrom(t, outside.lbIP, outside.sp.port, outside.lbIP), /ECONNRESET|closed before/, 'node not in a range: its VIP-sourced request is refused')
  const inside = await setup(t, 'TCP', ranges, ['10.1.2.3'])
  t.equal(await landsOn(t, inside.lbIP, inside.sp.port, inside.lbIP), 'up', 'node in a range: admitted')
  t.match(await outcomeFrom(t, inside.lbIP, inside.sp.port, OUTSIDE), /ECONNRESET|closed before/, 'others outside the ranges still are not')
})

t.test('UDP: datagrams of clients outside the ranges are dropped at a load-balancer IP', async (t) => {
  const { metrics, sp, lbIP } = await setup(t, 'UDP', { loadBalancerSourceRanges: ['127.0.0.0/24'], nodePort: 0 })
  t.equal(await udpFrom(t, INSIDE, lbIP, sp.port, 'a', 2000), 'up:a', 'a client in the range is relayed')
  t.equal(await udpFrom(t, OUTSIDE, lbIP, sp.port, 'b'), 'timeout', 'a client outside gets nothing')
  t.equal(await udpFrom(t, OUTSIDE, lbIP, sp.port, 'c'), 'timeout')
  t.equal(await refused(metrics, 'UDP'), 2, 'each dropped datagram is counted')
  t.equal(await udpFrom(t, OUTSIDE, sp.clusterIP, sp.port, 'd', 2000), 'up:d', 'the ClusterIP is not filtered')
})
