// The proxier against the real nft in a test namespace: what it sends is accepted, and the
// kernel ends up with the same objects as the fake.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { NftExec } from '../../../src/netfilter/exec-client.ts'
import { FakeNft } from '../../../src/netfilter/fake.ts'
import { nftList } from '../../../src/netfilter/nft.ts'
import type { Family, ServiceEntry } from '../../../proxy/model.ts'
import { NftablesProxier } from '../../../proxy/nftables/proxier.ts'
import { testNetns } from '../../helpers/netns.ts'
import { entry, ep, port, state } from './fixtures.ts'

function realistic(family: Family): ServiceEntry[] {
  const a = family === 4 ? (n: number) => `10.180.0.${n}` : (n: number) => `fd00:10::${n}`
  const c = family === 4 ? (n: number) => `172.30.0.${n}` : (n: number) => `fd00:30::${n}`
  return [
    entry(port({ clusterIP: c(41) }), [ep(a(1)), ep(a(2), { local: true })]),
    entry(port({ clusterIP: c(41), portName: 'https', port: 443 }), [ep(a(1), { port: 443 })]),
    entry(port({ name: 'np', clusterIP: c(42), nodePort: 30080, externalIPs: [c(200)], affinitySeconds: 10800 }), [ep(a(3)), ep(a(4))]),
    entry(port({ name: 'lb', clusterIP: c(43), nodePort: 30081, loadBalancerIPs: [c(201)], loadBalancerSourceRanges: [family === 4 ? '192.168.0.0/16' : 'fd00:192::/64'], externalLocal: true }), [ep(a(5), { local: true }), ep(a(6))]),
    entry(port({ name: 'dns', protocol: 'UDP', portName: 'dns', port: 53, clusterIP: c(44), nodePort: 30082 }), []),
    entry(port({ name: 'itp', protocol: 'SCTP', clusterIP: c(45), internalLocal: true }), [ep(a(7))]),
    entry(port({ name: 'term', clusterIP: c(46) }), [ep(a(8), { ready: false, serving: true, terminating: true })]),
    entry(port({ name: 'big', clusterIP: c(47) }), Array.from({ length: 12 }, (_, i) => ep(a(20 + i)))),
  ]
}

async function mapSizes(ns: string, family: 'ip' | 'ip6'): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const m of ['service-ips', 'service-nodeports', 'no-endpoint-services', 'no-endpoint-nodeports', 'firewall-ips']) {
    const items = await nftList(['list', 'map', family, 'weft-proxy', m], ns)
    const map = items.find((i) => i.map)?.map as { elem?: unknown[] } | undefined
    out[m] = map?.elem?.length ?? 0
  }
  return out
}

function fakeSizes(fake: FakeNft, family: 'ip' | 'ip6'): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of ['service-ips', 'service-nodeports', 'no-endpoint-services', 'no-endpoint-nodeports', 'firewall-ips']) out[m] = fake.elements(family, 'weft-proxy', m)!.length
  return out
}

t.test('full and partial syncs against the real nft', async (t) => {
  const ns = await testNetns(t, 'nftpx')
  for (const family of [4, 6] as const) {
    const nf = family === 4 ? 'ip' : 'ip6'
    const real = new NftExec(ns)
    const fake = new FakeNft()
    const pReal = new NftablesProxier({ family, nft: real })
    const pFake = new NftablesProxier({ family, nft: fake })
    const check = async (what: string): Promise<void> => {
      t.same(await real.listTable(nf, 'weft-proxy'), await fake.listTable(nf, 'weft-proxy'), `${what}: the same chains, sets and maps as the fake`)
      t.same(await mapSizes(ns, nf), fakeSizes(fake, nf), `${what}: the same number of map elements`)
    }

    const s1 = realistic(family)
    await pReal.sync(state(s1, { family }), 'all')
    await pFake.sync(state(s1, { family }), 'all')
    await check(`IPv${family} full sync`)

    // An endpoint more, an affinity timeout change with an endpoint gone, a Service gone, a new one.
    const s2 = [...s1]
    s2[0] = entry(s1[0]!.port, [...s1[0]!.endpoints, ep(family === 4 ? '10.180.0.9' : 'fd00:10::9')])
    s2[2] = entry({ ...s1[2]!.port, affinitySeconds: 60 }, s1[2]!.endpoints.slice(0, 1))
    const gone = s2.splice(4, 1)[0]!
    const added = entry(port({ name: 'new', protocol: 'UDP', clusterIP: family === 4 ? '172.30.0.50' : 'fd00:30::50' }), [ep(family === 4 ? '10.180.0.10' : 'fd00:10::a')])
    s2.push(added)
    const changed = new Set([s1[0]!.port.id, s1[2]!.port.id, gone.port.id, added.port.id])
    const stats = await pReal.sync(state(s2, { family }), changed)
    await pFake.sync(state(s2, { family }), changed)
    t.equal(stats.servicesChanged, 4)
    await check(`IPv${family} partial sync`)

    const text = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', nf, 'weft-proxy'], { encoding: 'utf8' })
    t.match(text, /chain service-ULMVA6XW-ns1\/svc1\/tcp\/p80 \{[^}]*numgen random mod 3 0 goto/, 'the new endpoint is among the choices')
    t.match(text, /timeout 1m/, 'the affinity set has its new timeout')
    t.notMatch(text, /ns1\/dns\//, 'the deleted Service left nothing behind')
    t.match(text, family === 4 ? /dnat to 10\.180\.0\.10:80/ : /dnat to \[fd00:10::a\]:80/)

    // A restarted proxier rewrites the table in one go and keeps the affinity sets.
    await new NftablesProxier({ family, nft: real }).sync(state(s2, { family }), 'all')
    await check(`IPv${family} full sync over an existing table`)
  }
})
