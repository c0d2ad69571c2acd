import t from 'tap'
import type { V1Node } from '@kubernetes/client-node'
import { nodeNetworks } from '../../src/kubelet/node-networks.ts'
import { MasqueradeSync, masqueradeRuleset as transactions, rulesetText, type MasqueradeOptions } from '../../src/kubelet/pod-masquerade.ts'
import { FakeNft } from '../../src/netfilter/fake.ts'
import { isSpawnFailure, NftExec } from '../../src/netfilter/index.ts'
import { run } from '../../src/netlink/index.ts'
import { testNetns } from '../helpers/netns.ts'

/** The ruleset as the nft input it renders to. */
const networksOf = (nodes: readonly V1Node[], self: string) => nodeNetworks(nodes, self).networks
const masqueradeRuleset = (nodes: readonly V1Node[], self: string, opts?: MasqueradeOptions) => rulesetText(transactions(networksOf(nodes, self), opts))
/** A sync as a freshly started agent runs it (nothing applied before). */
const syncMasquerade = (nodes: readonly V1Node[], self: string, opts: MasqueradeOptions, nft: NftExec) => new MasqueradeSync(nft).sync(networksOf(nodes, self), opts)

const nodes: V1Node[] = [
  { metadata: { name: 'a' }, spec: { podCIDRs: ['10.244.0.0/24', 'fd00:10:244::/64'] } },
  { metadata: { name: 'b' }, spec: { podCIDR: '10.244.1.0/24' } },
  { metadata: { name: 'c' }, spec: {} },
]

t.test('the ruleset masquerades only traffic leaving the pod network', async (t) => {
  const text = masqueradeRuleset(nodes, 'a')
  t.match(text, 'elements = { 10.244.0.0/24, 10.244.1.0/24 }')
  t.match(text, 'ip saddr { 10.244.0.0/24 } ip daddr != @pod-cidrs masquerade')
  t.match(text, 'ip6 saddr { fd00:10:244::/64 } ip6 daddr != @pod-cidrs masquerade')
  const none = masqueradeRuleset(nodes, 'c')
  t.notMatch(none, 'masquerade', 'a node without a pod CIDR gets no rule')
  t.match(none, 'delete table ip weft-agent')
})

t.test('nft accepts it, and applying twice replaces rather than adds', async (t) => {
  const ns = await testNetns(t, 'masq')
  const nft = new NftExec(ns)
  await syncMasquerade(nodes, 'a', {}, nft)
  await syncMasquerade(nodes, 'a', {}, nft)
  const listed = await run('nsenter', [`--net=/run/netns/${ns}`, '--', 'nft', 'list', 'table', 'ip', 'weft-agent'])
  t.equal(listed.match(/masquerade/g)?.length, 1)
  t.match(listed, /10\.244\.1\.0\/24/)
  await syncMasquerade(nodes, 'c', {}, nft)
  const rest = await run('nsenter', [`--net=/run/netns/${ns}`, '--', 'nft', 'list', 'ruleset'])
  t.notMatch(rest, 'weft-agent', 'the tables go when the node has no CIDR')
})

t.test('hairpin fallback: same-node DNATed pod traffic is masqueraded, per family', async (t) => {
  const v4only = masqueradeRuleset(nodes, 'a', { hairpin: { ipv4: true, ipv6: false } })
  t.match(v4only, 'ip saddr { 10.244.0.0/24 } ip daddr { 10.244.0.0/24 } ct status dnat masquerade')
  t.notMatch(v4only, /ip6 .*ct status dnat/, 'not for IPv6, whose bridge calls netfilter')
  t.match(v4only, 'ip6 saddr { fd00:10:244::/64 } ip6 daddr != @pod-cidrs masquerade', 'outbound masquerade stays')
  const hairpinOnly = masqueradeRuleset(nodes, 'a', { outbound: false, hairpin: { ipv4: true, ipv6: true } })
  t.notMatch(hairpinOnly, 'pod-cidrs', '--ip-masq=false: no outbound rule')
  t.match(hairpinOnly, 'ip6 saddr { fd00:10:244::/64 } ip6 daddr { fd00:10:244::/64 } ct status dnat masquerade')
  const none = masqueradeRuleset(nodes, 'a', { outbound: false })
  t.notMatch(none, 'masquerade', 'nothing asked: the tables are only deleted')

  const ns = await testNetns(t, 'masqh')
  const nft = new NftExec(ns)
  await syncMasquerade(nodes, 'a', { outbound: false, hairpin: { ipv4: true, ipv6: true } }, nft)
  await syncMasquerade(nodes, 'a', { hairpin: { ipv4: true, ipv6: false } }, nft)
  const listed = await run('nsenter', [`--net=/run/netns/${ns}`, '--', 'nft', 'list', 'table', 'ip', 'weft-agent'])
  t.match(listed, /ip saddr 10\.244\.0\.0\/24 ip daddr 10\.244\.0\.0\/24 ct status dnat masquerade/, 'nft accepts the rule')
  t.equal(listed.match(/masquerade/g)?.length, 2)
})

t.test('every name and rule goes through the nft grammar; a host without nft gets the shared spawn-failure error', async (t) => {
  for (const tx of transactions(networksOf(nodes, 'a'), { hairpin: { ipv4: true, ipv6: true } })) t.match(tx, { family: /^ip6?$/, table: 'weft-agent' })
  const err = await syncMasquerade(nodes, 'a', {}, new NftExec(undefined, { binary: '/nonexistent/nft' })).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(isSpawnFailure(err), `recognised as nft missing: ${(err as Error | undefined)?.message}`)
})

t.test('nft runs only when the ruleset changed since the last successful sync', async (t) => {
  const fake = new FakeNft()
  let fail = false
  const nft = { apply: async (tx: Parameters<FakeNft['apply']>[0]) => (fail ? Promise.reject(new Error('nft failed')) : fake.apply(tx)), listTable: fake.listTable.bind(fake) }
  const masq = new MasqueradeSync(nft)
  t.equal(await masq.sync(networksOf(nodes, 'a')), true, 'the first sync applies')
  t.equal(fake.applied.length, 2, 'one transaction per family')
  t.equal(await masq.sync(networksOf(nodes, 'a')), false, 'nothing changed: no nft')
  t.equal(await masq.sync(networksOf([...nodes, { metadata: { name: 'd' }, status: { addresses: [] } }], 'a')), false, 'a Node change that leaves the pod networks alone: no nft')
  t.equal(fake.applied.length, 2)
  const more = [...nodes, { metadata: { name: 'd' }, spec: { podCIDR: '10.244.3.0/24' } }]
  fail = true
  await t.rejects(masq.sync(networksOf(more, 'a')), /nft failed/)
  fail = false
  t.equal(await masq.sync(networksOf(more, 'a')), true, 'after a failure the same ruleset is applied again')
  t.match(fake.dump('ip', 'weft-agent'), '10.244.3.0/24')
  t.equal(await masq.sync(networksOf(more, 'a'), { outbound: false }), true, 'other options: applied')
})
