// The pure parts of the bridge's anti-spoofing (cni/bridge/antispoof.ts): what a pod's guard
// allows, the transactions ADD, DEL and GC apply (rendered, and run against FakeNft), and
// reading the table back for CHECK and GC from what nft 1.0.6 lists
// (test/fixtures/cni/antispoof-table.json, captured from the real nft with two guards:
// network "pods", veth0123abcd dual stack with two IPv6 addresses, veth89abcdef IPv4 only).
import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  addGuardTransaction,
  ANTISPOOF_TABLE,
  AntiSpoofError,
  gcGuards,
  gcTransaction,
  guardChain,
  guardProblem,
  guardRules,
  HOOK_CHAIN,
  installGuard,
  parseListedTable,
  portGuard,
  PORTS_MAP,
  removeGuard,
  removeGuardPlan,
  removeGuardTransaction,
} from '../../cni/bridge/antispoof.ts'
import { parseBridgeConf } from '../../cni/bridge/config.ts'
import { parseNetConf } from '../../cni/protocol/config.ts'
import { FakeNft } from '../../src/netfilter/fake.ts'
import { NftError } from '../../src/netfilter/nft.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'

const fixture = (JSON.parse(readFileSync(new URL('../fixtures/cni/antispoof-table.json', import.meta.url), 'utf8')) as { nftables: Record<string, unknown>[] }).nftables
const dual = portGuard('pods', 'veth0123abcd', '02:11:22:33:44:55', ['10.244.0.2/24', 'fd00:10:244::2/64', 'fd00:10:244::7/64'])
const v4only = portGuard('pods', 'veth89abcdef', '02:11:22:33:44:66', ['10.244.0.3/24'])

t.test('a guard holds the port, the MAC and the addresses, canonical', async (t) => {
  const g = portGuard('pods', 'veth0123abcd', '02:AB:cd:00:00:01', ['10.244.0.2/24', 'FD00:10:244:0::2/64', '10.244.0.2/16', 'fd00:10:244::2/128'])
  t.same(g.ipv4, ['10.244.0.2'], 'prefixes go, duplicates too')
  t.same(
    g.ipv6.map((a) => a.text),
    ['fd00:10:244::2'],
  )
  t.equal(g.ipv6[0]!.value, 0xfd000010024400000000000000000002n)
  t.equal(g.mac, '02:ab:cd:00:00:01')
  t.equal(guardChain('pods', 'veth0123abcd'), 'port-049c287e-veth0123abcd', 'a hash of the network, then the port')
  const none = portGuard('pods', 'veth0123abcd', '02:00:00:00:00:01', [])
  t.same([none.ipv4, none.ipv6], [[], []], 'a pod without addresses may send only link traffic')
})

t.test('hostile ports, MACs and addresses never reach a rule', async (t) => {
  const mac = '02:00:00:00:00:01'
  const ports = ['', 'veth"x', 'veth x', 'v;drop', 'v#x', 'v\nx', 'a'.repeat(16), '.', '..', 'v{x}', 'v\\x', 'v$x', '-v', '1veth', 'v/x', 'vethé']
  for (const port of ports) t.throws(() => portGuard('pods', port, mac, []), AntiSpoofError, `port ${JSON.stringify(port)}`)
  const macs = ['', '02:00:00:00:00', '02:00:00:00:00:01:02', '02-00-00-00-00-01', '01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '02:00:00:00:00:0g', '02:00:00:00:00:01 }', ' 02:00:00:00:00:01']
  for (const m of macs) t.throws(() => portGuard('pods', 'veth1', m, []), AntiSpoofError, `MAC ${JSON.stringify(m)}`)
  const addresses = [
    '10.0.0.1',
    '10.0.0.1/33',
    '10.0.0.1/24 }',
    '10.0.0.1/24; drop',
    '10.0.0.01/24',
    ' 10.0.0.1/24',
    'fe80::1%eth0/64',
    '::ffff:10.0.0.1/120',
    '0.0.0.0/0',
    '::/0',
    '::1/128',
    '127.0.0.1/8',
    '224.0.0.1/4',
    '255.255.255.255/32',
    'ff02::1/128',
    'x',
    '',
  ]
  for (const a of addresses) t.throws(() => portGuard('pods', 'veth1', mac, [a]), AntiSpoofError, `address ${JSON.stringify(a)}`)
  t.throws(() => portGuard('pods', 'veth1', 42 as unknown as string, []), AntiSpoofError)
  t.throws(() => portGuard('pods', 'veth1', mac, [null as unknown as string]), AntiSpoofError)
  t.throws(() => removeGuardTransaction('pods', 'v;x'), AntiSpoofError, 'DEL checks the port too')
})

t.test('the rules of a port', async (t) => {
  t.same(guardRules(dual), [
    'ether saddr != 02:11:22:33:44:55 drop',
    'ether type ip ip saddr { 10.244.0.2 } accept',
    'ether type arp arp hlen 6 arp plen 4 arp saddr ip { 10.244.0.2 } accept',
    'ether type ip6 icmpv6 type { nd-router-advert, nd-redirect } drop',
    'ether type ip6 icmpv6 type nd-neighbor-advert @th,64,16 & 0xffc0 != 0xfe80 @th,64,128 != { 0xfd000010024400000000000000000002, 0xfd000010024400000000000000000007 } drop',
    'ether type ip6 ip6 saddr { fd00:10:244::2, fd00:10:244::7 } accept',
    'ether type ip6 ip6 saddr fe80::/10 meta l4proto ipv6-icmp accept',
    'ether type ip6 ip6 saddr :: icmpv6 type { nd-neighbor-solicit, nd-router-solicit, mld-listener-report, mld2-listener-report } accept',
    'drop',
  ])
  t.same(guardRules(v4only), [
    'ether saddr != 02:11:22:33:44:66 drop',
    'ether type ip ip saddr { 10.244.0.3 } accept',
    'ether type arp arp hlen 6 arp plen 4 arp saddr ip { 10.244.0.3 } accept',
    'ether type ip6 icmpv6 type { nd-router-advert, nd-redirect } drop',
    'ether type ip6 icmpv6 type nd-neighbor-advert @th,64,16 & 0xffc0 != 0xfe80 drop',
    'ether type ip6 ip6 saddr fe80::/10 meta l4proto ipv6-icmp accept',
    'ether type ip6 ip6 saddr :: icmpv6 type { nd-neighbor-solicit, nd-router-solicit, mld-listener-report, mld2-listener-report } accept',
    'drop',
  ])
})

t.test('ADD: one transaction, shared objects only added, the port chain rewritten whole', async (t) => {
  const chain = 'port-049c287e-veth89abcdef'
  const tx = addGuardTransaction(v4only)
  t.equal(tx.family, 'bridge')
  t.equal(tx.table, ANTISPOOF_TABLE)
  t.equal(
    tx.render(),
    [
      'add table bridge weft-antispoof',
      'add map bridge weft-antispoof ports { type ifname : verdict; }',
      'add chain bridge weft-antispoof prerouting { type filter hook prerouting priority filter; policy accept; }',
      'flush chain bridge weft-antispoof prerouting',
      'add rule bridge weft-antispoof prerouting iifname vmap @ports',
      `add chain bridge weft-antispoof ${chain}`,
      `flush chain bridge weft-antispoof ${chain}`,
      ...guardRules(v4only).map((r) => `add rule bridge weft-antispoof ${chain} ${r}`),
      `add element bridge weft-antispoof ports { "veth89abcdef" : jump ${chain} }`,
      '',
    ].join('\n'),
  )
  t.match(addGuardTransaction(v4only, { replaceElement: true }).render(), /flush chain bridge weft-antispoof prerouting\n.*\ndelete element bridge weft-antispoof ports \{ "veth89abcdef" \}\nadd chain bridge weft-antispoof port-/, 'the retry deletes the element first')
})

t.test('DEL: the element and the chain in one transaction; from the listing when part is missing', async (t) => {
  const chain = 'port-049c287e-veth89abcdef'
  t.equal(
    removeGuardTransaction('pods', 'veth89abcdef').render(),
    [`delete element bridge weft-antispoof ports { "veth89abcdef" }`, `flush chain bridge weft-antispoof ${chain}`, `delete chain bridge weft-antispoof ${chain}`, ''].join('\n'),
  )
  const table = parseListedTable(fixture)
  t.equal(removeGuardPlan(table, 'pods', 'veth89abcdef')?.render(), removeGuardTransaction('pods', 'veth89abcdef').render(), 'both there: the same')
  t.equal(removeGuardPlan(table, 'pods', 'veth12345678'), undefined, 'nothing there: nothing to do')
  t.equal(removeGuardPlan(parseListedTable([]), 'pods', 'veth89abcdef'), undefined, 'no table: nothing to do, and nothing created')
  t.equal(removeGuardPlan(table, 'other', 'veth89abcdef')?.render(), 'delete element bridge weft-antispoof ports { "veth89abcdef" }\n', "an element pointing at another network's chain goes; that chain stays")
})

/** What `nft -j list table` would say of the fake's table: chains and the ports map (enough for DEL and GC). */
function fakeReader(nft: FakeNft): () => Promise<Record<string, unknown>[]> {
  return async () => {
    const objects = await nft.listTable('bridge', ANTISPOOF_TABLE)
    if (!objects) return []
    const elem = (nft.elements('bridge', ANTISPOOF_TABLE, PORTS_MAP) ?? []).map((e) => {
      const [, port, target] = /^"(.*)" : jump (.*)$/.exec(e)!
      return [port, { jump: { target } }]
    })
    return [...objects.chains.map((name) => ({ chain: { table: ANTISPOOF_TABLE, name } })), { map: { table: ANTISPOOF_TABLE, name: PORTS_MAP, elem } }]
  }
}

t.test('ADD, DEL and GC on the fake nft: idempotent, other pods untouched, in any order', async (t) => {
  const nft = new FakeNft()
  const read = fakeReader(nft)
  await installGuard(nft, dual)
  t.ok(nft.applied.at(-1)!.operations.some((op) => op.kind === 'table'), "a client's first ADD writes the table, map and hook chain")
  await installGuard(nft, dual)
  await installGuard(nft, v4only)
  t.notOk(nft.applied.at(-1)!.operations.some((op) => op.kind === 'table' || ('name' in op && op.name === HOOK_CHAIN)), 'later ADDs only the port\'s chain and element')
  t.same(nft.elements('bridge', ANTISPOOF_TABLE, PORTS_MAP), ['"veth0123abcd" : jump port-049c287e-veth0123abcd', '"veth89abcdef" : jump port-049c287e-veth89abcdef'])
  t.same(nft.rules('bridge', ANTISPOOF_TABLE, HOOK_CHAIN), ['iifname vmap @ports'], 'the hook rule once, whatever the number of ADDs')
  t.same(nft.rules('bridge', ANTISPOOF_TABLE, guardChain('pods', 'veth0123abcd')), guardRules(dual), 'ADD twice: the rules once')

  // ADD again with other addresses replaces the guard.
  const moved = portGuard('pods', 'veth0123abcd', '02:11:22:33:44:55', ['10.244.0.9/24'])
  await installGuard(nft, moved)
  t.same(nft.rules('bridge', ANTISPOOF_TABLE, guardChain('pods', 'veth0123abcd')), guardRules(moved))

  await removeGuard(nft, read, 'pods', 'veth0123abcd')
  await removeGuard(nft, read, 'pods', 'veth0123abcd')
  await removeGuard(nft, read, 'pods', 'vethnever')
  const empty = new FakeNft()
  await removeGuard(empty, fakeReader(empty), 'pods', 'veth0123abcd')
  t.notOk(empty.hasTable('bridge', ANTISPOOF_TABLE), 'DEL on a node without the table creates none')
  t.same(nft.elements('bridge', ANTISPOOF_TABLE, PORTS_MAP), ['"veth89abcdef" : jump port-049c287e-veth89abcdef'], 'DEL removed its own guard only, and DEL of unknown ones succeeded')
  t.same((await nft.listTable('bridge', ANTISPOOF_TABLE))?.chains, ['port-049c287e-veth89abcdef', 'prerouting'])

  // The table deleted behind the plugin's back: the next ADD finds the map missing and writes it all again.
  nft.applySync(new Transaction('bridge', ANTISPOOF_TABLE).push({ verb: 'delete', kind: 'table' }))
  await installGuard(nft, dual)
  t.same(nft.rules('bridge', ANTISPOOF_TABLE, HOOK_CHAIN), ['iifname vmap @ports'], 'the hook is back')
  t.same(nft.elements('bridge', ANTISPOOF_TABLE, PORTS_MAP), ['"veth0123abcd" : jump port-049c287e-veth0123abcd'])

  // Concurrent ADDs and DELs of different pods: the kernel applies whole transactions one
  // after another, so every order must end in the same table.
  const pods = [0, 1, 2, 3].map((i) => portGuard('pods', `veth0000000${i}`, `02:00:00:00:00:0${i}`, [`10.244.0.${i + 10}/24`]))
  const ops = [...pods.map((p) => () => addGuardTransaction(p)), ...pods.slice(0, 2).map((p) => () => removeGuardTransaction('pods', p.port))]
  const dumps = new Set<string>()
  for (let seed = 0; seed < 40; seed++) {
    const fake = new FakeNft()
    // Each pod's DEL comes after its ADD; the rest interleave.
    const order = [0, 1, 2, 3]
    for (let i = order.length - 1; i > 0; i--) {
      const j = (seed * 7 + i * 3) % (i + 1)
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    const steps = [...order.map((i) => ops[i]!), ...[0, 1].map((i) => ops[4 + i]!)]
    for (const step of steps) fake.applySync(step())
    dumps.add(fake.dump('bridge', ANTISPOOF_TABLE))
  }
  t.equal(dumps.size, 1, 'every order ends in the same table')
  t.match([...dumps][0], /veth00000002[\s\S]*veth00000003/)
  t.notMatch([...dumps][0], /veth00000000|veth00000001/)
})

t.test('an element left pointing at another network\'s chain is replaced on ADD and removed on DEL', async (t) => {
  const nft = new FakeNft()
  const other = portGuard('other', 'veth0123abcd', '02:11:22:33:44:55', ['10.1.0.2/24'])
  await installGuard(nft, other)
  const plain = new FakeNft()
  plain.applySync(addGuardTransaction(other))
  await t.rejects(plain.apply(addGuardTransaction(dual)), NftError, 'the plain transaction fails: the key is bound to another chain')
  await installGuard(nft, dual)
  t.same(nft.elements('bridge', ANTISPOOF_TABLE, PORTS_MAP), [`"veth0123abcd" : jump ${guardChain('pods', 'veth0123abcd')}`])
  await installGuard(nft, other)
  await removeGuard(nft, fakeReader(nft), 'pods', 'veth0123abcd')
  t.same(nft.elements('bridge', ANTISPOOF_TABLE, PORTS_MAP), [], 'DEL took the element whatever chain it pointed at')
  nft.applySync(new Transaction('bridge', ANTISPOOF_TABLE).deleteChain(guardChain('other', 'veth0123abcd')))
  await installGuard(nft, other)
  await removeGuard(nft, fakeReader(nft), 'pods', 'veth0123abcd')
  t.same(nft.elements('bridge', ANTISPOOF_TABLE, PORTS_MAP), [], 'and when its own chain is missing too')
  // Other errors are not retried.
  const failing = {
    applied: 0,
    async apply(): Promise<void> {
      this.applied++
      throw new NftError('EPERM', 'Operation not permitted')
    },
    async listTable() {
      return undefined
    },
  }
  await t.rejects(installGuard(failing, dual), { code: 'EPERM' })
  t.equal(failing.applied, 1)
})

t.test('reading the table nft lists: CHECK finds the guard as ADD wrote it, or says what differs', async (t) => {
  const table = parseListedTable(fixture)
  t.same([...table.ports], [
    ['veth0123abcd', guardChain('pods', 'veth0123abcd')],
    ['veth89abcdef', guardChain('pods', 'veth89abcdef')],
  ])
  t.same([...table.chains.keys()].sort(), [guardChain('pods', 'veth0123abcd'), guardChain('pods', 'veth89abcdef'), HOOK_CHAIN].sort())
  t.equal(guardProblem(table, dual), undefined, 'the dual-stack guard is in place')
  t.equal(guardProblem(table, v4only), undefined, 'the IPv4 guard is in place')

  const problem = (addresses: string[], mac = '02:11:22:33:44:55', port = 'veth0123abcd', network = 'pods') => guardProblem(table, portGuard(network, port, mac, addresses))
  t.match(problem(['10.244.0.2/24', 'fd00:10:244::2/64']), /accepts IPv6 from \[fd00:10:244::2, fd00:10:244::7\], expected \[fd00:10:244::2\]/)
  t.match(problem(['10.244.0.5/24', 'fd00:10:244::2/64', 'fd00:10:244::7/64']), /accepts IPv4 from \[10\.244\.0\.2\], expected \[10\.244\.0\.5\]/)
  t.match(problem(['10.244.0.2/24', 'fd00:10:244::2/64', 'fd00:10:244::7/64'], '02:11:22:33:44:56'), /does not drop frames from other MACs than 02:11:22:33:44:56 \(it names 02:11:22:33:44:55\)/)
  t.match(problem(['10.244.0.2/24'], '02:11:22:33:44:55', 'veth12345678'), /port veth12345678 is not guarded/)
  t.match(problem(['10.244.0.2/24'], '02:11:22:33:44:55', 'veth0123abcd', 'other'), /jumps to port-049c287e-veth0123abcd, not port-/)

  // Tampering: the hook rule gone, the chain's trailing drop gone, the chain gone.
  const without = (pred: (item: Record<string, unknown>) => boolean) => parseListedTable(fixture.filter((item) => !pred(item)))
  const rule = (item: Record<string, unknown>) => item.rule as { chain?: string; expr?: unknown[] } | undefined
  t.match(guardProblem(without((i) => rule(i)?.chain === HOOK_CHAIN), dual), /does not look up @ports/)
  const lastDrop = (i: Record<string, unknown>) => rule(i)?.chain === guardChain('pods', 'veth0123abcd') && JSON.stringify(rule(i)?.expr) === '[{"drop":null}]'
  t.match(guardProblem(without(lastDrop), dual), /does not end in a drop/)
  t.match(guardProblem(without((i) => (i.chain as { name?: string } | undefined)?.name === guardChain('pods', 'veth0123abcd') || rule(i)?.chain === guardChain('pods', 'veth0123abcd')), dual), /chain port-049c287e-veth0123abcd is missing/)
  t.same(parseListedTable([]).ports.size, 0, 'no table: nothing')
})

t.test('GC: the network\'s guards that no valid attachment names, elements first', async (t) => {
  const table = parseListedTable(fixture)
  t.equal(gcTransaction(table, 'pods', ['veth0123abcd', 'veth89abcdef']), undefined, 'nothing to do')
  t.equal(gcTransaction(table, 'other', []), undefined, "another network's guards are not this one's to collect")
  const plan = gcTransaction(table, 'pods', ['veth0123abcd'])!
  t.same(plan.stale, [guardChain('pods', 'veth89abcdef')])
  t.equal(
    plan.tx.render(),
    [
      'delete element bridge weft-antispoof ports { "veth89abcdef" }',
      `flush chain bridge weft-antispoof ${guardChain('pods', 'veth89abcdef')}`,
      `delete chain bridge weft-antispoof ${guardChain('pods', 'veth89abcdef')}`,
      '',
    ].join('\n'),
  )
  const nft = new FakeNft()
  await installGuard(nft, dual)
  await installGuard(nft, v4only)
  const reader = async () => fixture
  t.same(await gcGuards(nft, reader, 'pods', []), [guardChain('pods', 'veth0123abcd'), guardChain('pods', 'veth89abcdef')].sort())
  t.same(nft.elements('bridge', ANTISPOOF_TABLE, PORTS_MAP), [])
  t.same((await nft.listTable('bridge', ANTISPOOF_TABLE))?.chains, [HOOK_CHAIN])
  t.same(await gcGuards(nft, async () => [], 'pods', []), [], 'no table: nothing to collect')
})

t.test('"antiSpoof" in the network config: on by default, a boolean', async (t) => {
  const conf = (extra: Record<string, unknown>) => parseBridgeConf(parseNetConf(JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 'weft-cni', ...extra })))
  t.equal(conf({}).antiSpoof, true)
  t.equal(conf({ antiSpoof: null }).antiSpoof, true)
  t.equal(conf({ antiSpoof: true }).antiSpoof, true)
  t.equal(conf({ antiSpoof: false }).antiSpoof, false)
  for (const bad of ['false', 0, 1, {}, []]) t.throws(() => conf({ antiSpoof: bad }), { code: 7, msg: '"antiSpoof" must be a boolean' }, JSON.stringify(bad))
})

t.test('a bridge-family Transaction is checked like any other', async (t) => {
  t.doesNotThrow(() => new Transaction('bridge', ANTISPOOF_TABLE))
  t.throws(() => new Transaction('netdev' as 'bridge', 'x'), /is not ip, ip6, inet or bridge/)
})
