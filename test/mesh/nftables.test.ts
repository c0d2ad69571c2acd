import t from 'tap'
import { FakeNft } from '../../src/netfilter/index.ts'
import { MESH_TABLE, MeshRules, meshTransaction } from '../../mesh/nftables.ts'

t.test('the capture table: meshed pods redirected before the DNAT, STRICT pods reset in forward', async (t) => {
  const nft = new FakeNft()
  const rules = new MeshRules(nft)
  t.equal(await rules.apply({ meshed: [], strict: [], outboundPort: 15001 }), false, 'a node that never had a meshed pod gets no table')
  t.notOk(nft.hasTable('inet', MESH_TABLE))
  t.equal(await rules.apply({ meshed: ['10.244.0.5', 'FD00::0005', '10.244.0.5', 'not-an-ip', '1.2.3.4; flush ruleset'], strict: ['10.244.0.5'], outboundPort: 15001 }), true)
  t.same(nft.elements('inet', MESH_TABLE, 'meshed4'), ['10.244.0.5'], 'canonical, once; what does not parse is left out')
  t.same(nft.elements('inet', MESH_TABLE, 'meshed6'), ['fd00::5'])
  t.same(nft.elements('inet', MESH_TABLE, 'strict4'), ['10.244.0.5'])
  t.match(nft.rules('inet', MESH_TABLE, 'capture'), [/ip saddr @meshed4 meta l4proto tcp fib daddr type != local redirect to :15001/, /ip6 saddr @meshed6/])
  t.match(nft.rules('inet', MESH_TABLE, 'strict'), [/ip daddr @strict4 meta l4proto tcp reject with tcp reset/, /ip6 daddr @strict6/])
  const writes = nft.applied.length
  t.equal(await rules.apply({ meshed: ['10.244.0.5', 'fd00::5'], strict: ['10.244.0.5'], outboundPort: 15001 }), false, 'the same table is not written again')
  t.equal(nft.applied.length, writes)
  t.equal(await rules.apply({ meshed: [], strict: [], outboundPort: 15001 }), true, 'once written, an empty one replaces it')
  t.same(nft.elements('inet', MESH_TABLE, 'meshed4'), [])
  await rules.remove()
  t.notOk(nft.hasTable('inet', MESH_TABLE), '--mesh=false removes it')
  t.throws(() => meshTransaction({ meshed: [], strict: [], outboundPort: 0 }), /outbound port 0 is not 1-65535/)
})
