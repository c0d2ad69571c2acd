// The proxier against the real nft in a test namespace: what it sends is accepted, and the
// kernel ends up with the same objects as the fake (traffic.test.ts sends packets through it).
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { NftExec } from '../../../src/netfilter/exec-client.ts'
import { FakeNft } from '../../../src/netfilter/fake.ts'
import { nftList } from '../../../src/netfilter/nft.ts'
import type { Family, ServiceEntry } from '../../../proxy/model.ts'
import { NftablesProxier } from '../../../proxy/nftables/proxier.ts'
import { baseRules } from '../../../proxy/nftables/rules.ts'
import { testNetns } from '../../helpers/netns.ts'
import { entry, ep, port, state } from './fixtures.ts'
import { oldLayoutEntries, oldLayoutTransaction } from './old-layout.ts'

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

/** The shared maps and sets of the layout (every table has them). */
function sharedSets(family: Family): Array<[string, 'set' | 'map']> {
  return [...baseRules(state([], { family })).sets].map(([name, { kind }]) => [name, kind])
}

async function mapSizes(ns: string, family: Family): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const [name, kind] of sharedSets(family)) {
    const items = await nftList(['list', kind, family === 4 ? 'ip' : 'ip6', 'weft-proxy', name], ns)
    const listed = items.find((i) => i[kind])?.[kind] as { elem?: unknown[] } | undefined
    out[name] = listed?.elem?.length ?? 0
  }
  return out
}

function fakeSizes(fake: FakeNft, family: Family): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name] of sharedSets(family)) out[name] = fake.elements(family === 4 ? 'ip' : 'ip6', 'weft-proxy', name)!.length
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
      t.same(await mapSizes(ns, family), fakeSizes(fake, family), `${what}: the same number of map and set elements`)
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
    const c41 = family === 4 ? '172\\.30\\.0\\.41' : 'fd00:30::41'
    t.match(text, new RegExp(`${c41} \\. tcp \\. 80 : goto pick-service-tcp-3`), 'the port with an endpoint more picks among 3')
    t.match(text, new RegExp(`${c41} \\. 80 \\. 2 : ${family === 4 ? '10\\.180\\.0\\.9' : 'fd00:10::9'} \\. 80`), 'the new endpoint is among the choices')
    t.match(text, /chain pick-service-tcp-3 \{/)
    t.match(text, /timeout 1m/, 'the affinity set has its new timeout')
    t.notMatch(text, family === 4 ? /172\.30\.0\.44/ : /fd00:30::44/, 'the deleted Service left nothing behind')
    t.match(text, family === 4 ? /10\.180\.0\.10 \. 80/ : /fd00:10::a \. 80/)
    t.ok((await real.listTable(nf, 'weft-proxy'))!.chains.length < 40, 'a few dozen chains')

    // A restarted proxier rewrites the table in one go and keeps the affinity sets.
    await new NftablesProxier({ family, nft: real }).sync(state(s2, { family }), 'all')
    await check(`IPv${family} full sync over an existing table`)
    // Pick chains come and go with the endpoint counts in use, in partial syncs.
    const s3 = s2.map((e, i) => (i === 0 ? entry(e.port, Array.from({ length: 7 }, (_, j) => ep(family === 4 ? `10.180.1.${j + 1}` : `fd00:10::1:${j + 1}`))) : e))
    await pReal.sync(state(s3, { family }), new Set([s2[0]!.port.id]))
    await pFake.sync(state(s3, { family }), new Set([s2[0]!.port.id]))
    await check(`IPv${family} partial sync with a new endpoint count`)
  }
})

t.test('upgrade: the first sync of a new weft turns the old layout (a chain per port and endpoint) into the new one', async (t) => {
  const ns = await testNetns(t, 'nftup')
  const real = new NftExec(ns)
  const fake = new FakeNft()
  await real.apply(oldLayoutTransaction())
  await fake.apply(oldLayoutTransaction())
  t.ok((await real.listTable('ip', 'weft-proxy'))!.chains.length > 40, 'the old table is loaded')
  const st = state(oldLayoutEntries())
  await new NftablesProxier({ family: 4, nft: real }).sync(st, new Set())
  await new NftablesProxier({ family: 4, nft: fake }).sync(st, new Set())
  const listed = await real.listTable('ip', 'weft-proxy')
  t.same(listed, await fake.listTable('ip', 'weft-proxy'), 'the same chains, sets and maps as the fake')
  t.same(await mapSizes(ns, 4), fakeSizes(fake, 4), 'the same number of elements')
  t.notOk(listed!.chains.some((c) => c.startsWith('endpoint-') || /^(external|local)-[A-Z0-9]{8}-/.test(c)), `no chain of the old layout is left (${listed!.chains.length} chains)`)
})
