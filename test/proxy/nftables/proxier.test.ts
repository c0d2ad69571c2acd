import t from 'tap'
import type { NftClient } from '../../../src/netfilter/client.ts'
import { FakeNft } from '../../../src/netfilter/fake.ts'
import { Transaction } from '../../../src/netfilter/transaction.ts'
import type { Endpoint, ProxyState, ServiceEntry, ServicePort } from '../../../proxy/model.ts'
import { NftablesProxier, type ConntrackCleaner } from '../../../proxy/nftables/proxier.ts'
import { entry, ep, port, state } from './fixtures.ts'
import { oldLayoutEntries, oldLayoutTransaction } from './old-layout.ts'

async function freshDump(st: ProxyState): Promise<string> {
  const nft = new FakeNft()
  await new NftablesProxier({ family: st.family, nft }).sync(st, 'all')
  return nft.dump(st.family === 4 ? 'ip' : 'ip6', 'weft-proxy')
}

function dump(nft: FakeNft): string {
  return nft.dump('ip', 'weft-proxy')
}

t.test('the first sync is full, whatever changed says', async (t) => {
  const nft = new FakeNft()
  const e = entry(port(), [ep('10.180.0.1')])
  const st = state([e])
  const stats = await new NftablesProxier({ family: 4, nft }).sync(st, new Set())
  t.equal(stats.servicesChanged, 1)
  t.equal(dump(nft), await freshDump(st))
  t.match(dump(nft), /add element ip weft-proxy service-ips \{ 172\.30\.0\.41 \. tcp \. 80 : goto pick-service-tcp-1 \}/)
})

t.test('partial syncs touch only the changed ports', async (t) => {
  const nft = new FakeNft()
  const p = new NftablesProxier({ family: 4, nft })
  const a = entry(port(), [ep('10.180.0.1')])
  const b = entry(port({ name: 'svc2', clusterIP: '172.30.0.42' }), [ep('10.180.0.9')])
  await p.sync(state([a, b]), 'all')
  const b2 = entry(b.port, [ep('10.180.0.9'), ep('10.180.0.10')])
  const stats = await p.sync(state([a, b2]), new Set([b.port.id]))
  t.equal(stats.servicesChanged, 1)
  const last = nft.applied.at(-1)!.render()
  t.notMatch(last, /svc1/, 'svc1 is not in the transaction')
  t.equal(dump(nft), await freshDump(state([a, b2])))
  const none = await p.sync(state([a, b2]), new Set([a.port.id]))
  t.equal(none.operations, 0, 'an unchanged port sends nothing')
  t.equal(nft.applied.length, 2, 'and applies nothing')
})

t.test('a failed apply keeps the old rules and the next sync repairs', async (t) => {
  const fake = new FakeNft()
  let fail = false
  const nft: NftClient = {
    apply: async (tx: Transaction) => {
      if (fail) throw new Error('nft: boom')
      await fake.apply(tx)
    },
    listTable: (f, name) => fake.listTable(f, name),
  }
  const p = new NftablesProxier({ family: 4, nft })
  const a = entry(port(), [ep('10.180.0.1')])
  await p.sync(state([a]), 'all')
  const before = dump(fake)
  const a2 = entry(a.port, [ep('10.180.0.2')])
  fail = true
  await t.rejects(p.sync(state([a2]), new Set([a.port.id])), /boom/)
  t.equal(dump(fake), before, 'the kernel state is untouched')
  fail = false
  // The caller lost nothing but may pass fewer changes: the proxier re-sends all the same.
  await p.sync(state([a2]), new Set())
  t.equal(dump(fake), await freshDump(state([a2])))
})

t.test('a full sync removes chains and sets it does not want, and keeps affinity sets', async (t) => {
  const nft = new FakeNft()
  const a = entry(port({ affinitySeconds: 60 }), [ep('10.180.0.1')])
  await new NftablesProxier({ family: 4, nft }).sync(state([a]), 'all')
  const set = 'affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
  const junk = new Transaction('ip', 'weft-proxy')
    .addChain('service-STALE-ns/old/tcp/p')
    .addRule('service-STALE-ns/old/tcp/p', 'jump mark-for-masquerade')
    .addSet('affinity-STALE', 'type ipv4_addr;')
    .addElements('service-ips', ['172.30.9.9 . tcp . 80 : goto service-STALE-ns/old/tcp/p'])
    .addElements(set, ['10.9.9.9'])
  await nft.apply(junk)
  // A restarted proxier: it finds the stale objects through listTable.
  await new NftablesProxier({ family: 4, nft }).sync(state([a]), 'all')
  const after = await nft.listTable('ip', 'weft-proxy')
  t.notOk(after!.chains.includes('service-STALE-ns/old/tcp/p'))
  t.notOk(after!.sets.includes('affinity-STALE'))
  t.same(nft.elements('ip', 'weft-proxy', set), ['10.9.9.9'], 'affinity entries survive a full sync')
  t.equal(dump(nft).replace('add element ip weft-proxy affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 { 10.9.9.9 }\n', ''), await freshDump(state([a])))
})

t.test('an affinity timeout changed while no proxier ran: the restarted one replaces the set', async (t) => {
  const nft = new FakeNft()
  await new NftablesProxier({ family: 4, nft }).sync(state([entry(port({ affinitySeconds: 60 }), [ep('10.180.0.1')])]), 'all')
  const longer = state([entry(port({ affinitySeconds: 600 }), [ep('10.180.0.1')])])
  await new NftablesProxier({ family: 4, nft }).sync(longer, 'all')
  t.equal(dump(nft), await freshDump(longer), 'the table is what a fresh sync of the new timeout makes')
  t.same((await nft.listTable('ip', 'weft-proxy'))!.setTimeouts, { 'affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80': 600 })
})

t.test('upgrade: the first full sync turns a table of the old layout (a chain per port and endpoint) into the new one', async (t) => {
  const nft = new FakeNft()
  await nft.apply(oldLayoutTransaction())
  const before = (await nft.listTable('ip', 'weft-proxy'))!
  t.ok(before.chains.length > 40, `the old table has a chain per port and endpoint (${before.chains.length})`)
  const sticky = 'affinity-HWKQSTED-ns1/np/tcp/p80__10.180.0.3/80'
  await nft.apply(new Transaction('ip', 'weft-proxy').addElements(sticky, ['10.9.9.9']))
  const st = state(oldLayoutEntries())
  await new NftablesProxier({ family: 4, nft }).sync(st, new Set())
  t.same(nft.elements('ip', 'weft-proxy', sticky), ['10.9.9.9'], 'a client remembered by the old layout stays with its endpoint')
  t.equal(dump(nft).replace(`add element ip weft-proxy ${sticky} { 10.9.9.9 }\n`, ''), await freshDump(st), 'then the table is what a fresh sync makes')
  const after = (await nft.listTable('ip', 'weft-proxy'))!
  t.notOk(after.chains.some((c) => /^(endpoint|external|service|local)-[A-Z0-9]{8}-ns1\/(svc1|lb|big)\//.test(c) || c.startsWith('endpoint-')), 'no chain of the old layout is left')
})

t.test('a change of pod networks resyncs everything', async (t) => {
  const nft = new FakeNft()
  const p = new NftablesProxier({ family: 4, nft })
  const a = entry(port(), [ep('10.180.0.1')])
  await p.sync(state([a]), 'all')
  const st = state([a], { clusterCIDRs: ['10.244.0.0/16'] })
  await p.sync(st, new Set())
  t.equal(dump(nft), await freshDump(st))
})

t.test('UDP conntrack cleanup', async (t) => {
  const calls: string[] = []
  const conntrack: ConntrackCleaner = {
    flushUdpToServiceIP: (ip) => (calls.push(`service ${ip}`), 1),
    flushUdpToNodePort: (np, family) => (calls.push(`:${np} (IPv${family})`), 1),
    flushUdpServiceEndpoint: (ip, e) => (calls.push(`${ip} -> ${e}`), 1),
    flushUdpNodePortEndpoint: async (np, e) => {
      calls.push(`:${np} -> ${e}`)
      throw new Error('conntrack failed')
    },
  }
  const nft = new FakeNft()
  const p = new NftablesProxier({ family: 4, nft, conntrack })
  const udp = port({ protocol: 'UDP', nodePort: 30053, externalIPs: ['192.168.99.1'] })
  await p.sync(state([entry(udp, [])]), 'all')
  t.same(calls, [])
  await p.sync(state([entry(udp, [ep('10.180.0.1'), ep('10.180.0.2')])]), new Set([udp.id]))
  t.same(calls, ['service 172.30.0.41', 'service 192.168.99.1', ':30053 (IPv4)'], 'first endpoint: entries to the service IPs and the NodePort go')
  calls.length = 0
  await p.sync(state([entry(udp, [ep('10.180.0.2')])]), new Set([udp.id]))
  t.same(calls, ['172.30.0.41 -> 10.180.0.1', '192.168.99.1 -> 10.180.0.1', ':30053 -> 10.180.0.1'], 'a gone endpoint: its entries go (a failure is only logged)')
  calls.length = 0
  await p.sync(state([]), new Set([udp.id]))
  t.same(calls, ['172.30.0.41 -> 10.180.0.2', '192.168.99.1 -> 10.180.0.2', ':30053 -> 10.180.0.2'], 'a deleted service')
  calls.length = 0
  const tcp = port({ name: 'tcp' })
  await p.sync(state([entry(tcp, [ep('10.180.0.1')])]), new Set([tcp.id]))
  await p.sync(state([entry(tcp, [])]), new Set([tcp.id]))
  t.same(calls, [], 'TCP is left alone')
})

t.test('close leaves the rules in place', async (t) => {
  const nft = new FakeNft()
  const p = new NftablesProxier({ family: 4, nft })
  await p.sync(state([entry(port(), [ep('10.180.0.1')])]), 'all')
  const n = nft.applied.length
  await p.close()
  t.equal(nft.applied.length, n)
  t.ok(nft.hasTable('ip', 'weft-proxy'))
})

t.test('IPv6', async (t) => {
  const nft = new FakeNft()
  const p = new NftablesProxier({ family: 6, nft })
  const a = entry(port({ clusterIP: 'fd00:30::41', nodePort: 30080 }), [ep('fd00:10::1')])
  const st = state([a], { family: 6 })
  await p.sync(st, 'all')
  t.match(nft.dump('ip6', 'weft-proxy'), /add element ip6 weft-proxy service-ips \{ fd00:30::41 \. tcp \. 80 : goto pick-service-tcp-1 \}/)
  t.match(nft.dump('ip6', 'weft-proxy'), /add element ip6 weft-proxy service-endpoints-tcp \{ fd00:30::41 \. 80 \. 0 : fd00:10::1 \. 80 \}/)
  await t.rejects(p.sync(state([a]), 'all'), /IPv6 nftables proxier was handed an IPv4 state/)
})

// A seeded random walk over Service changes: after every partial sync, the table equals a
// fresh full sync of the same state.
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('partial syncs end where a full sync of the final state starts', async (t) => {
  for (const seed of [1, 2, 3, 4]) {
    const rand = rng(seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
    const nft = new FakeNft()
    const p = new NftablesProxier({ family: 4, nft, conntrack: { flushUdpToServiceIP: () => 0, flushUdpToNodePort: () => 0, flushUdpServiceEndpoint: () => 0, flushUdpNodePortEndpoint: () => 0 } })
    const services = new Map<string, ServiceEntry>()
    const names = ['a', 'b', 'c', 'd', 'e']
    const portNames = ['http', 'https']
    const randomEndpoint = (): Endpoint => {
      const ready = rand() < 0.7
      return { ip: `10.180.0.${1 + Math.floor(rand() * 6)}`, port: 8080, ready, serving: ready || rand() < 0.5, terminating: !ready && rand() < 0.7, local: rand() < 0.4 }
    }
    const randomPort = (name: string, portName: string): ServicePort => {
      const i = names.indexOf(name)
      return port({
        name,
        portName,
        protocol: rand() < 0.7 ? 'TCP' : 'UDP',
        clusterIP: `172.30.0.${10 + i}`,
        port: portName === 'http' ? 80 : 443,
        nodePort: rand() < 0.4 ? 30000 + i * 10 + portNames.indexOf(portName) : 0,
        externalIPs: rand() < 0.2 ? ['192.168.99.1'] : [],
        loadBalancerIPs: rand() < 0.3 ? [`203.0.113.${i}`] : [],
        loadBalancerSourceRanges: rand() < 0.5 ? ['198.51.100.0/24'] : [],
        affinitySeconds: rand() < 0.3 ? pick([60, 10800]) : 0,
        externalLocal: rand() < 0.3,
        internalLocal: rand() < 0.2,
      })
    }
    const sortEndpoints = (eps: Endpoint[]): Endpoint[] => {
      const seen = new Map<string, Endpoint>()
      for (const e of eps) seen.set(e.ip, e)
      return [...seen.values()].sort((x, y) => (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0))
    }
    await p.sync(state([]), 'all')
    for (let step = 0; step < 60; step++) {
      const changed = new Set<string>()
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
        const existing = [...services.values()]
        const r = rand()
        if (r < 0.3 || existing.length === 0) {
          const pt = randomPort(pick(names), pick(portNames))
          const old = [...services.values()].find((e) => e.port.name === pt.name && e.port.portName === pt.portName)
          if (old) {
            services.delete(old.port.id)
            changed.add(old.port.id)
          }
          const eps: Endpoint[] = []
          for (let n = Math.floor(rand() * 4); n > 0; n--) eps.push(randomEndpoint())
          services.set(pt.id, { port: pt, endpoints: sortEndpoints(eps) })
          changed.add(pt.id)
        } else if (r < 0.45) {
          const e = pick(existing)
          services.delete(e.port.id)
          changed.add(e.port.id)
        } else {
          const e = pick(existing)
          const eps = [...e.endpoints]
          if (eps.length && rand() < 0.5) eps.splice(Math.floor(rand() * eps.length), 1)
          else eps.push(randomEndpoint())
          services.set(e.port.id, { port: e.port, endpoints: sortEndpoints(eps) })
          changed.add(e.port.id)
        }
      }
      const st = state([...services.values()])
      await p.sync(st, changed)
      const want = await freshDump(st)
      if (dump(nft) !== want) {
        t.equal(dump(nft), want, `seed ${seed} step ${step}`)
        return
      }
    }
    t.pass(`seed ${seed}: 60 random steps converge`)
  }
})

t.test('a Service port whose rules would not be valid nft is refused alone: the others are programmed', async (t) => {
  const nft = new FakeNft()
  const p = new NftablesProxier({ family: 4, nft })
  const good = entry(port({ name: 'good', clusterIP: '172.30.0.42' }), [ep('10.180.0.1')])
  // Values no parser let through: straight into the model. The rendered rules are refused
  // by checkServiceRules (the nft grammar). Values of the wrong type or family that would
  // still be valid nft words (a port "80 accept", an IPv6 address in the IPv4 table) are the
  // parser's to refuse (test/proxy/service-entries.test.ts): the model's types rule them out.
  const hostile = [
    entry(port({ name: 'ext', clusterIP: '172.30.0.43', externalIPs: ['1.2.3.4 . tcp . 22 : goto service-x, 5.6.7.8'] }), [ep('10.180.0.2')]),
    entry(port({ name: 'nl', clusterIP: '172.30.0.44\nflush ruleset' }), [ep('10.180.0.3')]),
    entry(port({ name: 'lb', clusterIP: '172.30.0.45', loadBalancerIPs: ['1.2.3.5 } accept ; flush ruleset ; add rule ip weft-proxy x {'], loadBalancerSourceRanges: ['10.0.0.0/8'] }), [ep('10.180.0.4')]),
    entry(port({ name: 'ep', clusterIP: '172.30.0.46' }), [ep('10.180.0.5 } ; flush ruleset')]),
    // A name reaches nft only in the chain and set names of ClientIP affinity.
    entry(port({ name: 'sp ace', clusterIP: '172.30.0.47', affinitySeconds: 60 }), [ep('10.180.0.6')]),
    entry(port({ name: 'num', clusterIP: '172.30.0.48', port: '80; flush ruleset' as unknown as number }), [ep('10.180.0.7')]),
  ]
  const stats = await p.sync(state([good, ...hostile]), 'all')
  const text = dump(nft)
  t.match(text, /service-ips \{ 172\.30\.0\.42 \. tcp \. 80 : goto pick-service-tcp-1 \}/, 'the good Service is programmed')
  t.notMatch(text, /flush ruleset|1\.2\.3\.4|5\.6\.7\.8|172\.30\.0\.4[3-8]|10\.180\.0\.[2-7]|sp ace/, 'nothing of the refused ones')
  t.same([...(stats.refused?.keys() ?? [])].sort(), hostile.map((h) => h.port.id).sort(), 'each refused port is listed')
  t.match(stats.refused?.get(hostile[0]!.port.id), { namespace: 'ns1', name: 'ext', message: /ns1\/ext.*holds "," outside braces.*not programmed/ })

  // A partial sync: a good port turning bad loses its rules; the others stay.
  const bad = entry({ ...good.port, externalIPs: ['9.9.9.9 ; accept'] }, good.endpoints)
  const again = await p.sync(state([bad, ...hostile]), new Set([good.port.id]))
  t.ok(again.refused?.has(good.port.id))
  t.notMatch(dump(nft), /172\.30\.0\.42|10\.180\.0\.1/, 'its rules are gone')
  const fixed = await p.sync(state([good, ...hostile.slice(1)]), new Set([good.port.id, hostile[0]!.port.id]))
  t.notOk(fixed.refused?.has(good.port.id), 'fixed: no longer refused')
  t.notOk(fixed.refused?.has(hostile[0]!.port.id), 'deleted: no longer refused')
  t.equal(fixed.refused?.size, hostile.length - 1)
  t.equal(dump(nft), await freshDump(state([good, ...hostile.slice(1)])), 'the same as a fresh full sync')
})

t.test('a source range that is not a CIDR is left out: the load balancer admits no one, as in userspace mode', async (t) => {
  const nft = new FakeNft()
  const closed = entry(port({ name: 'closed', clusterIP: '172.30.0.45', loadBalancerIPs: ['1.2.3.5'], loadBalancerSourceRanges: ['10.0.0.0/8 } accept ; flush ruleset ; add rule ip weft-proxy x {'] }), [ep('10.180.0.4')])
  const stats = await new NftablesProxier({ family: 4, nft }).sync(state([closed]), 'all')
  t.equal(stats.refused?.size, 0)
  const firewall = nft.dump('ip', 'weft-proxy').split('\n').filter((l) => /^add rule ip weft-proxy firewall-[A-Z0-9]+-ns1\/closed\//.test(l))
  t.same(firewall.map((l) => l.replace(/^add rule ip weft-proxy firewall-\S+ /, '')), ['drop'])
  t.notMatch(nft.dump('ip', 'weft-proxy'), /flush ruleset/)
})

t.test('a hostile service or pod network from the configuration fails the sync loudly', async (t) => {
  const p = new NftablesProxier({ family: 4, nft: new FakeNft() })
  await t.rejects(p.sync(state([], { clusterCIDRs: ['10.0.0.0/8 } ; flush ruleset'] }), 'all'), /pod network.*10\.0\.0\.0\/8/)
  await t.rejects(p.sync(state([], { serviceCIDRs: ['10.96.0.0/12\nflush ruleset'] }), 'all'), /service network/)
  await t.rejects(p.sync(state([], { nodeIPs: ['192.168.0.2; flush ruleset'] }), 'all'), /node address/)
  // The text as it would be rendered is checked, not a canonical copy of it.
  await t.rejects(new NftablesProxier({ family: 6, nft: new FakeNft() }).sync(state([], { family: 6, serviceCIDRs: ['FD00:30::/108'], clusterCIDRs: [], nodeIPs: [] }), 'all'), /service network "FD00:30::\/108" is not an IPv6 CIDR in canonical form/)
  await t.rejects(p.sync(state([], { clusterCIDRs: ['10.0.0.1/8'] }), 'all'), /pod network "10\.0\.0\.1\/8"/)
  await t.rejects(p.sync(state([], { nodeIPs: ['::ffff:192.168.0.2'] }), 'all'), /node address "::ffff:192\.168\.0\.2" is not an IPv4 address/)
})
