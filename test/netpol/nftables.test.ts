// The NetworkPolicy nftables renderer and applier against the fake nft: what the table holds
// for the documentation's examples, which lines an incremental sync sends, and that any chain
// of incremental syncs ends where one full sync of the last state does.
import t, { type Test } from 'tap'
import { FakeNft } from '../../src/netfilter/fake.ts'
import { NftError } from '../../src/netfilter/nft.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'
import { compile, type CompileInput } from '../../netpol/compile.ts'
import type { CompiledNode, LocalPod } from '../../netpol/model.ts'
import { NetpolApplier } from '../../netpol/nftables/applier.ts'
import { podChain, TABLE } from '../../netpol/nftables/names.ts'
import { checkAddress, checkPrefix, entryRules, NetpolRenderError, portMatch, type NetpolRenderOptions } from '../../netpol/nftables/rules.ts'
import { fullTransaction } from '../../netpol/nftables/transactions.ts'
import { namespace, pod, policy } from './fixtures.ts'

const http = [{ name: 'http', containerPort: 8080 }]

/** The docs' "test-network-policy" example, on node-1, with the node's address. */
const docs: CompileInput = {
  node: 'node-1',
  nodeIPs: ['192.168.100.1', 'fd00:100::1'],
  namespaces: [namespace('default'), namespace('myproject', { project: 'myproject' })],
  pods: [
    pod('default', 'db', { labels: { role: 'db' }, ips: ['10.0.0.1', 'fd00::1'] }),
    pod('default', 'frontend', { labels: { role: 'frontend' }, ips: ['10.0.0.2', 'fd00::2'], node: 'node-2' }),
    pod('myproject', 'web', { labels: { app: 'web' }, ips: ['10.0.1.1'], node: 'node-2', ports: http }),
    pod('default', 'client', { labels: { role: 'client' }, ips: ['10.0.0.3'] }),
  ],
  policies: [
    policy('default', 'test-network-policy', {
      podSelector: { matchLabels: { role: 'db' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }, { namespaceSelector: { matchLabels: { project: 'myproject' } } }, { podSelector: { matchLabels: { role: 'frontend' } } }],
          ports: [{ protocol: 'TCP', port: 6379 }],
        },
      ],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }],
    }),
  ],
}

function rulesOf(fake: FakeNft, chain: string): string[] {
  return fake.rules('inet', TABLE, chain) ?? []
}

function podOf(state: CompiledNode, key: string): LocalPod {
  return [...state.pods.values()].find((p) => p.key === key)!
}

function fullTransactionLines(state: CompiledNode, opts: NetpolRenderOptions): string[] {
  return lines(fullTransaction(state, opts))
}

function lines(tx: Transaction): string[] {
  return tx.render().trim().split('\n')
}

/** Syncs `states` in order through one applier (incremental after the first) and checks the table equals a fresh full sync of each. */
async function syncAll(t: Test, states: CompiledNode[], opts: { deny?: 'drop' | 'reject'; logRate?: number } = {}): Promise<{ fake: FakeNft; txs: Transaction[] }> {
  const fake = new FakeNft()
  const a = new NetpolApplier({ nft: fake, ...opts })
  const txs: Transaction[] = []
  for (const [i, s] of states.entries()) {
    const before = fake.applied.length
    const stats = await a.sync(s)
    t.equal(stats.full, i === 0, `sync ${i} is ${i === 0 ? 'full' : 'incremental'}`)
    txs.push(...fake.applied.slice(before))
    const ref = new FakeNft()
    await new NetpolApplier({ nft: ref, ...opts }).sync(s)
    t.equal(fake.dump('inet', TABLE), ref.dump('inet', TABLE), `after sync ${i}: the table a full sync writes`)
  }
  return { fake, txs }
}

t.test('values that are not canonical addresses, ports or set names are refused before rendering', async (t) => {
  t.equal(checkAddress('10.0.0.1', 4), '10.0.0.1')
  t.equal(checkAddress('fd00::1', 6), 'fd00::1')
  for (const bad of ['10.0.0.01', '10.0.0.1 ', '10.0.0.1; flush ruleset', 'fd00:0::1', '::ffff:10.0.0.1', 'x', '10.0.0.0/8']) t.throws(() => checkAddress(bad, bad.includes(':') ? 6 : 4), NetpolRenderError, bad)
  t.throws(() => checkAddress('fd00::1', 4), NetpolRenderError, 'wrong family')
  t.equal(checkPrefix('10.0.0.0/8', 4), '10.0.0.0/8')
  t.equal(checkPrefix('10.1.2.3', 4), '10.1.2.3')
  t.throws(() => checkPrefix('10.0.0.1/8', 4), NetpolRenderError, 'host bits set')
  t.throws(() => portMatch({ protocol: 'TCP', from: 70000, to: 70000 }), NetpolRenderError)
  t.throws(() => portMatch({ protocol: 'TCP', from: 1.5, to: 2 }), NetpolRenderError)
  t.throws(() => portMatch({ protocol: 'TCP', from: 90, to: 80 }), NetpolRenderError)
  t.throws(() => portMatch({ protocol: 'ICMP' as 'TCP', from: 80, to: 80 }), NetpolRenderError)
  t.equal(portMatch({ protocol: 'SCTP', from: 0, to: 65535 }), 'meta l4proto sctp')
  t.equal(portMatch({ protocol: 'UDP', from: 53, to: 53 }), 'meta l4proto udp th dport 53')
  t.equal(portMatch({ protocol: 'TCP', from: 80, to: 81 }), 'meta l4proto tcp th dport 80-81')
  t.throws(() => entryRules('ingress', { policy: 'a/b', peers: 'np-pods-x; flush ruleset', ports: 'any' }, [4], new Map()), NetpolRenderError)
  t.throws(() => entryRules('ingress', { policy: 'a/b', peers: 'np-pods-aaaaaaaaaaaaaaaa', ports: 'any' }, [4], new Map()), /not in the compiled state/)

  const state = compile(docs)
  const db = podOf(state, 'default/db')
  const hostile = { ...state, pods: new Map([[db.uid, { ...db, ips: { v4: ['10.0.0.1 } ; flush ruleset ; add element inet x y {'], v6: [] } }]]) }
  const fake = new FakeNft()
  const a = new NetpolApplier({ nft: fake })
  await t.rejects(a.sync(hostile), NetpolRenderError)
  t.same(fake.applied, [], 'nothing reached nft')
})

t.test("the documentation's example: the whole table", async (t) => {
  const state = compile(docs)
  const text = fullTransactionLines(state, { deny: 'drop' })
  const db = podOf(state, 'default/db')
  const inC = podChain('ingress', db.uid)
  const outC = podChain('egress', db.uid)
  t.same(text.slice(0, 3), ['add table inet weft-netpol', 'delete table inet weft-netpol', 'add table inet weft-netpol'], 'the table is replaced whole')

  const fake = new FakeNft()
  await new NetpolApplier({ nft: fake }).sync(state)
  t.same(rulesOf(fake, 'forward'), [
    'ct state established,related accept',
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert, nd-redirect } accept',
    'ip saddr @node-ips-v4 accept',
    'ip daddr @node-ips-v4 accept',
    'ip6 saddr @node-ips-v6 accept',
    'ip6 daddr @node-ips-v6 accept',
    'ip saddr vmap @egress-v4',
    'ip6 saddr vmap @egress-v6',
    'ip daddr vmap @ingress-v4',
    'ip6 daddr vmap @ingress-v6',
  ])
  t.match(fake.dump('inet', TABLE), /add chain inet weft-netpol forward \{ type filter hook forward priority filter; policy accept; \}/)
  t.same(fake.elements('inet', TABLE, 'node-ips-v4'), ['192.168.100.1'])
  t.same(fake.elements('inet', TABLE, 'node-ips-v6'), ['fd00:100::1'])
  t.same(fake.elements('inet', TABLE, 'ingress-v4'), [`10.0.0.1 : jump ${inC}`], 'only the isolated db pod has a verdict')
  t.same(fake.elements('inet', TABLE, 'ingress-v6'), [`fd00::1 : jump ${inC}`])
  t.same(fake.elements('inet', TABLE, 'egress-v4'), [`10.0.0.1 : jump ${outC}`])

  const ingress = rulesOf(fake, inC)
  const sets = [...state.sets.values()]
  const cidrs = sets.find((s) => s.kind === 'addresses' && s.intervals && s.v4.some((c) => c.startsWith('172.17.')))!
  t.match(fake.dump('inet', TABLE), new RegExp(`add set inet weft-netpol ${cidrs.name}-v4 \\{ type ipv4_addr; flags interval; \\}`), 'ipBlocks are interval sets')
  t.same(fake.elements('inet', TABLE, `${cidrs.name}-v4`), ['172.17.0.0/24', '172.17.128.0/17', '172.17.16.0/20', '172.17.2.0/23', '172.17.32.0/19', '172.17.4.0/22', '172.17.64.0/18', '172.17.8.0/21'], 'the except hole is cut')
  t.ok(ingress.includes(`ip saddr @${cidrs.name}-v4 meta l4proto tcp th dport 6379 accept`))
  t.equal(ingress.filter((r) => /^ip saddr @np-\S+-v4 meta l4proto tcp th dport 6379 accept$/.test(r)).length, 3, 'three peers, each a set, each on port 6379')
  t.equal(ingress.filter((r) => /^ip6 saddr @np-\S+-v6 meta l4proto tcp th dport 6379 accept$/.test(r)).length, 3, 'and the same for IPv6 (db is dual-stack)')
  t.equal(ingress.at(-1), 'counter drop', 'the chain ends in a counted drop')
  const podsSets = sets.filter((s) => s.kind === 'addresses' && !s.intervals)
  t.same(podsSets.map((s) => fake.elements('inet', TABLE, `${s.name}-v4`)).sort(), [['10.0.0.2'], ['10.0.1.1']], 'frontend and the myproject pods, by address')

  const egress = rulesOf(fake, outC)
  t.equal(egress.length, 3)
  t.match(egress[0], /^ip daddr @np-cidrs-\S+-v4 meta l4proto tcp th dport 5978 return$/, 'egress allows return, so the ingress of the destination is judged next')
  t.match(egress[1], /^ip6 daddr @np-cidrs-\S+-v6 meta l4proto tcp th dport 5978 return$/)
  t.equal(egress[2], 'counter drop')
  t.equal(rulesOf(fake, podChain('ingress', podOf(state, 'default/client').uid)).length, 0, 'the client pod is not isolated: no chain')
  t.notOk(fake.dump('inet', TABLE).includes('client'), 'no API text in the table')
})

t.test('egress named ports are address . protocol . port triples; peers any and ports any', async (t) => {
  const input: CompileInput = {
    node: 'node-1',
    namespaces: [namespace('x'), namespace('y')],
    pods: [pod('x', 'a', { ips: ['10.0.0.1'] }), pod('y', 'web', { labels: { app: 'web' }, ips: ['10.0.1.1', 'fd00::1:1'], node: 'node-2', ports: http })],
    policies: [
      policy('x', 'named', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 'http' }] }, { ports: [{ protocol: 'UDP', port: 53 }] }] }),
      policy('x', 'all-in', { podSelector: {}, ingress: [{}] }),
    ],
  }
  const state = compile(input)
  const a = podOf(state, 'x/a')
  const fake = new FakeNft()
  await new NetpolApplier({ nft: fake }).sync(state)
  const egress = rulesOf(fake, podChain('egress', a.uid))
  t.match(egress, [/^ip daddr \. meta l4proto \. th dport @np-ports-[a-z2-7]{16}-v4 return$/, 'meta l4proto udp th dport 53 return', 'counter drop'], 'a v4-only pod has v4 rules only; peers any: no address match')
  const ports = [...state.sets.values()].find((s) => s.kind === 'addressPorts')!
  t.match(fake.dump('inet', TABLE), new RegExp(`add set inet weft-netpol ${ports.name}-v4 \\{ type ipv4_addr \\. inet_proto \\. inet_service; \\}`))
  t.same(fake.elements('inet', TABLE, `${ports.name}-v4`), ['10.0.1.1 . tcp . 8080'])
  t.same(fake.elements('inet', TABLE, `${ports.name}-v6`), ['fd00::1:1 . tcp . 8080'])
  t.same(rulesOf(fake, podChain('ingress', a.uid)), ['accept', 'counter drop'], 'an ingress rule with no from and no ports accepts everything')
})

t.test('reject and log options', async (t) => {
  const state = compile(docs)
  const db = podOf(state, 'default/db')
  const fake = new FakeNft()
  await new NetpolApplier({ nft: fake, deny: 'reject', logRate: 10 }).sync(state)
  t.same(rulesOf(fake, podChain('ingress', db.uid)).slice(-3), ['limit rate 10/second log prefix "weft-netpol ingress default/db "', 'meta l4proto tcp counter reject with tcp reset', 'counter reject'])
  t.same(rulesOf(fake, podChain('egress', db.uid)).slice(-3), ['limit rate 10/second log prefix "weft-netpol egress default/db "', 'meta l4proto tcp counter reject with tcp reset', 'counter reject'])

  const odd = { ...state, pods: new Map([[db.uid, { ...db, key: 'default/Db"x' }]]) }
  const f2 = new FakeNft()
  await new NetpolApplier({ nft: f2, logRate: 1 }).sync(odd)
  t.equal(rulesOf(f2, podChain('ingress', db.uid)).at(-2), `limit rate 1/second log prefix "weft-netpol ingress ${podChain('ingress', db.uid)} "`, 'a key that is not DNS labels is not written: the chain name stands in')
  await t.rejects(new NetpolApplier({ nft: new FakeNft(), logRate: 0.5 }).sync(state), NetpolRenderError)
  t.throws(() => new NetpolApplier({ nft: new FakeNft(), deny: 'ignore' as 'drop' }))
})

t.test('a pod joining a selector: only add element lines', async (t) => {
  const before = compile(docs)
  const after = compile({ ...docs, pods: [...docs.pods, pod('default', 'frontend2', { labels: { role: 'frontend' }, ips: ['10.0.0.9', 'fd00::9'], node: 'node-3' })] })
  const { txs } = await syncAll(t, [before, after])
  const inc = lines(txs[1]!)
  t.ok(inc.length > 0)
  t.ok(inc.every((l) => l.startsWith('add element inet weft-netpol np-pods-')), inc.join('\n'))
  t.same(inc.map((l) => l.replace(/np-pods-\S+/, 'S')), ['add element inet weft-netpol S { 10.0.0.9 }', 'add element inet weft-netpol S { fd00::9 }'])

  const fake = new FakeNft()
  const a = new NetpolApplier({ nft: fake })
  await a.sync(before)
  const stats = await a.sync(after)
  t.match(stats, { full: false, setsChanged: 1, podsChanged: 0, elementsAdded: 2, elementsRemoved: 0 })
  const leave = await a.sync(before)
  t.match(leave, { full: false, setsChanged: 1, podsChanged: 0, elementsAdded: 0, elementsRemoved: 2 })
  t.same(lines(fake.applied.at(-1)!).map((l) => l.replace(/np-pods-\S+/, 'S')), ['delete element inet weft-netpol S { 10.0.0.9 }', 'delete element inet weft-netpol S { fd00::9 }'])
  const same = await a.sync(before)
  t.match(same, { full: false, setsChanged: 0, podsChanged: 0, elementsAdded: 0 })
  t.equal(fake.applied.length, 3, 'nothing changed: nothing sent')
})

t.test("a policy change: only that pod's chains are flushed and refilled", async (t) => {
  const before = compile(docs)
  const changed = structuredClone(docs.policies[0]) as ReturnType<typeof policy>
  changed.spec!.ingress![0]!.ports = [{ protocol: 'TCP', port: 6380 }]
  const after = compile({ ...docs, policies: [changed] })
  const { txs } = await syncAll(t, [before, after])
  const inc = lines(txs[1]!)
  const chain = podChain('ingress', podOf(after, 'default/db').uid)
  t.equal(inc[0], `flush chain inet weft-netpol ${chain}`)
  t.ok(inc.slice(1).every((l) => l.startsWith(`add rule inet weft-netpol ${chain} `)), 'then only its rules')
  t.ok(inc.some((l) => l.includes('th dport 6380 accept')))
  t.notOk(inc.some((l) => l.includes('element') || l.includes('vmap')), 'no verdict map or set element touched')
})

t.test('pods coming and going, isolation gained and lost, sets appearing and disappearing', async (t) => {
  const s0 = compile(docs)
  // A new local pod that the policy selects, and one that is not isolated.
  const s1 = compile({ ...docs, pods: [...docs.pods, pod('default', 'db2', { labels: { role: 'db' }, ips: ['10.0.0.5'] }), pod('default', 'free', { ips: ['10.0.0.6'] })] })
  // The policy now has only an egress rule to a new ipBlock: the ingress sets go, db loses ingress isolation.
  const s2 = compile({ ...docs, pods: [...docs.pods, pod('default', 'db2', { labels: { role: 'db' }, ips: ['10.0.0.5'] })], policies: [policy('default', 'test-network-policy', { podSelector: { matchLabels: { role: 'db' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '192.0.2.0/24' } }] }] })] })
  // db2 goes; db changes its address (same uid); free comes back; a policy isolates everything for ingress.
  const s3 = compile({
    ...docs,
    pods: [pod('default', 'db', { labels: { role: 'db' }, ips: ['10.0.0.7', 'fd00::7'] }), pod('default', 'free', { ips: ['10.0.0.6'] }), ...docs.pods.slice(1)],
    policies: [...docs.policies, policy('default', 'deny-all', { podSelector: {} })],
  })
  // Everything gone.
  const s4 = compile({ ...docs, pods: [], policies: [] })
  // A new pod reusing a removed pod's address.
  const s5 = compile({ ...docs, pods: [pod('default', 'db', { labels: { role: 'db' }, ips: ['10.0.0.7'] })] })
  const s6 = compile({ ...docs, pods: [pod('default', 'db-new', { labels: { role: 'db' }, ips: ['10.0.0.7'] })] })
  const { txs } = await syncAll(t, [s0, s1, s2, s3, s4, s5, s6, s0])

  const t2 = lines(txs[2]!)
  const firstRule = t2.findIndex((l) => l.startsWith('add rule'))
  const lastSetAdd = t2.findLastIndex((l) => l.startsWith('add set'))
  const firstSetDelete = t2.findIndex((l) => l.startsWith('delete set'))
  const lastChainOp = t2.findLastIndex((l) => l.includes(' chain '))
  t.ok(lastSetAdd >= 0 && lastSetAdd < firstRule, 'new sets before the rules that use them')
  t.ok(firstSetDelete > lastChainOp, 'old sets after the chains that used them are gone or refilled')
  t.ok(t2.findIndex((l) => l.startsWith('delete element inet weft-netpol ingress-')) < t2.findIndex((l) => l.startsWith('delete chain')), 'verdicts go before their chains')

  const t6 = lines(txs[6]!)
  const del = t6.findIndex((l) => l.startsWith('delete element inet weft-netpol ingress-v4 { 10.0.0.7 '))
  const add = t6.findIndex((l) => l.startsWith('add element inet weft-netpol ingress-v4 { 10.0.0.7 '))
  t.ok(del >= 0 && add > del, 'an address passed from a pod that goes to one that comes: deleted first')
})

t.test('random sequences of states: incremental syncs end where a full sync does', async (t) => {
  let seed = 7
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const labels = ['a', 'b', 'c']
  const randomInput = (): CompileInput => {
    const pods = Array.from({ length: 2 + rand(6) }, (_, i) => {
      const ips = [`10.0.${rand(2)}.${i + 1}`, ...(rand(2) ? [`fd00::${rand(2)}:${i + 1}`] : [])]
      return pod(['x', 'y'][rand(2)]!, `p${i}`, { labels: { l: labels[rand(3)]! }, ips, node: rand(3) ? 'node-1' : 'node-2', ports: [{ name: 'http', containerPort: 8000 + rand(3) }] })
    })
    const peers = [{ podSelector: { matchLabels: { l: labels[rand(3)]! } } }, { namespaceSelector: {} }, { ipBlock: { cidr: `10.0.${rand(2)}.0/24`, except: [`10.0.${rand(2)}.${rand(4) * 64}/26`] } }]
    const policies = Array.from({ length: rand(4) }, (_, i) =>
      policy(['x', 'y'][rand(2)]!, `np${i}`, {
        podSelector: rand(2) ? {} : { matchLabels: { l: labels[rand(3)]! } },
        policyTypes: [['Ingress'], ['Egress'], ['Ingress', 'Egress']][rand(3)],
        ingress: [{ from: [peers[rand(3)]], ports: rand(2) ? [{ port: 80 + rand(2) }] : undefined }],
        egress: [{ to: [peers[rand(3)]], ports: rand(2) ? [{ port: 'http' }] : [{ protocol: 'UDP', port: 53, endPort: 53 + rand(3) }] }],
      }),
    )
    return { node: 'node-1', nodeIPs: rand(2) ? ['192.168.0.1'] : ['192.168.0.2', 'fd00:100::1'], namespaces: [namespace('x'), namespace('y')], pods, policies }
  }
  for (let run = 0; run < 8; run++) {
    const states = Array.from({ length: 6 }, () => compile(randomInput()))
    await syncAll(t, states, run % 2 ? { deny: 'reject', logRate: 5 } : {})
  }
})

t.test('a failed apply makes the next sync full; resync is always full; cleanup deletes the table', async (t) => {
  const fake = new FakeNft()
  let fail = false
  const nft = { apply: async (tx: Transaction) => (fail ? Promise.reject(new NftError('EINVAL', 'boom')) : fake.apply(tx)), listTable: fake.listTable.bind(fake) }
  const a = new NetpolApplier({ nft })
  const s0 = compile(docs)
  const s1 = compile({ ...docs, pods: docs.pods.slice(0, 2) })
  t.equal((await a.sync(s0)).full, true)
  fail = true
  await t.rejects(a.sync(s1), NftError)
  fail = false
  t.equal((await a.sync(s1)).full, true, 'after a failure: the whole table')
  t.equal((await a.sync(s0)).full, false)
  t.equal((await a.resync(s0)).full, true)
  t.same([...(await a.dropCounters())], [['default/db', { packets: 0, bytes: 0 }]], 'the fake has no counters: zeros for each isolated pod')
  await a.cleanup()
  t.notOk(fake.hasTable('inet', TABLE))
  t.same(await a.dropCounters(), new Map())
  t.equal((await a.sync(s0)).full, true)
})

t.test('dropCounters sums the counters of each pod chain, read from the table', async (t) => {
  const state = compile(docs)
  const db = podOf(state, 'default/db')
  const json = [
    { table: { name: TABLE } },
    { rule: { table: TABLE, chain: podChain('ingress', db.uid), expr: [{ match: {} }, { counter: { packets: 3, bytes: 180 } }, { drop: null }] } },
    { rule: { table: TABLE, chain: podChain('egress', db.uid), expr: [{ counter: { packets: 1, bytes: 60 } }, { reject: null }] } },
    { rule: { table: TABLE, chain: 'forward', expr: [{ counter: { packets: 100, bytes: 1 } }] } },
  ]
  const a = new NetpolApplier({ nft: new FakeNft(), readTable: async () => json })
  t.same(await a.dropCounters(), new Map(), 'nothing synced: no pods')
  await a.sync(state)
  t.same([...(await a.dropCounters())], [['default/db', { packets: 4, bytes: 240 }]])
})
