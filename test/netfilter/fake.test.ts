import t from 'tap'
import { FakeNft } from '../../src/netfilter/fake.ts'
import { NftError } from '../../src/netfilter/nft.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'

const VMAP = 'type ipv4_addr . inet_proto . inet_service : verdict;'

function build(): Transaction {
  return new Transaction('ip', 'weft')
    .addTable()
    .addChain('services', 'type nat hook prerouting priority -100;')
    .addChain('svc-b')
    .addChain('svc-a')
    .addMap('service-ips', VMAP)
    .addSet('cluster-ips', 'type ipv4_addr;')
    .addRule('services', 'ip daddr . meta l4proto . th dport vmap @service-ips')
    .addRule('svc-a', 'meta l4proto tcp dnat to 10.1.0.5:80')
    .addRule('svc-a', 'meta l4proto tcp dnat to 10.1.0.6:80')
    .addElements('service-ips', ['10.96.0.2 . tcp . 80 : goto svc-b', '10.96.0.1 . tcp . 80 : goto svc-a'])
    .addElements('cluster-ips', ['10.96.0.2', '10.96.0.1'])
}

t.test('dump is canonical nft input', async (t) => {
  const fake = new FakeNft()
  await fake.apply(build())
  t.equal(
    fake.dump('ip', 'weft'),
    [
      'add table ip weft',
      'add chain ip weft services { type nat hook prerouting priority -100; }',
      'add chain ip weft svc-a',
      'add chain ip weft svc-b',
      'add set ip weft cluster-ips { type ipv4_addr; }',
      `add map ip weft service-ips { ${VMAP} }`,
      'add rule ip weft services ip daddr . meta l4proto . th dport vmap @service-ips',
      'add rule ip weft svc-a meta l4proto tcp dnat to 10.1.0.5:80',
      'add rule ip weft svc-a meta l4proto tcp dnat to 10.1.0.6:80',
      'add element ip weft cluster-ips { 10.96.0.1 }',
      'add element ip weft cluster-ips { 10.96.0.2 }',
      'add element ip weft service-ips { 10.96.0.1 . tcp . 80 : goto svc-a }',
      'add element ip weft service-ips { 10.96.0.2 . tcp . 80 : goto svc-b }',
      '',
    ].join('\n'),
  )
  t.equal(fake.dump('ip', 'other'), '', 'a missing table dumps empty')

  const replay = new FakeNft()
  const tx = new Transaction('ip', 'weft')
  for (const line of fake.dump('ip', 'weft').trim().split('\n')) tx.push(parse(line))
  await replay.apply(tx)
  t.equal(replay.dump('ip', 'weft'), fake.dump('ip', 'weft'), 'the dump replays to the same table')
})

t.test('accessors and applied', async (t) => {
  const fake = new FakeNft()
  const tx = build()
  await fake.apply(tx)
  await fake.apply(new Transaction('ip', 'weft'))
  t.same(fake.rules('ip', 'weft', 'svc-a'), ['meta l4proto tcp dnat to 10.1.0.5:80', 'meta l4proto tcp dnat to 10.1.0.6:80'])
  t.same(fake.rules('ip', 'weft', 'svc-b'), [])
  t.equal(fake.rules('ip', 'weft', 'nope'), undefined)
  t.same(fake.elements('ip', 'weft', 'cluster-ips'), ['10.96.0.1', '10.96.0.2'])
  t.equal(fake.elements('ip', 'nope', 'cluster-ips'), undefined)
  t.same(await fake.listTable('ip', 'weft'), { chains: ['services', 'svc-a', 'svc-b'], sets: ['cluster-ips'], maps: ['service-ips'], setTimeouts: {} })
  t.equal(await fake.listTable('inet', 'weft'), undefined, 'tables are per family')
  t.equal(fake.applied.length, 1, 'empty transactions are not recorded')
  t.equal(fake.applied[0], tx)
})

t.test('a failure changes nothing and names the operation', async (t) => {
  const fake = new FakeNft()
  await fake.apply(build())
  const before = fake.dump('ip', 'weft')
  const tx = new Transaction('ip', 'weft')
    .flushChain('svc-a')
    .deleteElements('service-ips', ['10.96.0.1 . tcp . 80'])
    .deleteChain('svc-a')
    .addElements('cluster-ips', ['10.96.0.3'])
    .deleteChain('svc-b')
  const err = await fake.apply(tx).catch((e: unknown) => e)
  t.ok(err instanceof NftError)
  t.match(err, { code: 'EBUSY', message: /^delete chain ip weft svc-b: Device or resource busy/ })
  t.equal(fake.dump('ip', 'weft'), before, 'all or nothing')
  t.equal(fake.applied.length, 1)
  await fake.apply(new Transaction('ip', 'weft').deleteElements('service-ips', ['10.96.0.2 . tcp . 80 : goto svc-b']).deleteChain('svc-b'))
  t.equal(fake.rules('ip', 'weft', 'svc-b'), undefined, 'once nothing points at it, it goes')
})

t.test('flush table keeps sets, maps and elements', async (t) => {
  const fake = new FakeNft()
  await fake.apply(build())
  await fake.apply(new Transaction('ip', 'weft').push({ verb: 'flush', kind: 'table' }))
  t.same(fake.rules('ip', 'weft', 'svc-a'), [])
  t.same(fake.rules('ip', 'weft', 'services'), [])
  t.equal(fake.elements('ip', 'weft', 'service-ips')?.length, 2)
  await t.rejects(fake.apply(new Transaction('ip', 'weft').deleteChain('svc-a')), { code: 'EBUSY' }, 'map elements still point at it')
  await fake.apply(new Transaction('ip', 'weft').deleteSet('cluster-ips'))
  t.same((await fake.listTable('ip', 'weft'))?.sets, [], 'no rule uses the set any more')
})

t.test('raw payload expressions are not set references; a set named like one still is', async (t) => {
  const fake = new FakeNft()
  const tx = new Transaction('bridge', 'weft')
    .addTable()
    .addChain('c')
    .addRule('c', 'icmpv6 type nd-neighbor-advert @th,64,16 & 0xffc0 != 0xfe80 @th,64,128 != { 0xfd000000000000000000000000000001 } drop')
    .addRule('c', '@nh,96,32 0x0a000001 accept')
  await fake.apply(tx)
  t.equal(fake.rules('bridge', 'weft', 'c')?.length, 2)
  await t.rejects(fake.apply(new Transaction('bridge', 'weft').addRule('c', 'ip saddr @th accept')), { code: 'ENOENT' }, 'a set named th is a reference')
})

/** Parses a line of `dump` back into an operation (enough for the dump's own forms). */
function parse(line: string): Parameters<Transaction['push']>[0] {
  const words = line.split(' ')
  const [, kind, , , name] = words
  const braces = /\{ (.*) \}$/.exec(line)?.[1]
  switch (kind) {
    case 'table':
      return { verb: 'add', kind: 'table' }
    case 'chain':
      return { verb: 'add', kind: 'chain', name: name!, spec: braces }
    case 'set':
    case 'map':
      return { verb: 'add', kind, name: name!, spec: braces! }
    case 'rule':
      return { verb: 'add', kind: 'rule', chain: name!, rule: words.slice(5).join(' ') }
    default:
      return { verb: 'add', kind: 'element', set: name!, elements: [braces!] }
  }
}
