// The nft grammar weft holds every Transaction to: what it sends passes, and nothing that
// could end a command, start another or hide part of a line gets through.
import t from 'tap'
import { nftApply, nftList } from '../../src/netfilter/nft.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'
import { HOSTILE_STRINGS } from '../helpers/fuzz.ts'
import { testNetns } from '../helpers/netns.ts'

const refused = /nft|not a valid|holds|brace|empty|quoted/
/** JSON with non-ASCII escaped: a raw U+2028 in a test name breaks the TAP stream. */
const q = (s: string) => JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

t.test('the text weft sends passes', async (t) => {
  const tx = new Transaction('ip', 'weft-proxy')
  t.doesNotThrow(() =>
    tx
      .addTable()
      .addChain('nat-output', 'type nat hook output priority -100; policy accept;')
      .addChain('service-ULMVA6XW-ns1/svc1/tcp/p80')
      .addChain('endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80')
      .addMap('service-ips', 'type ipv4_addr . inet_proto . inet_service : verdict;')
      .addSet('affinity-X-ns/a/tcp/__fd00..1/80', 'type ipv6_addr; flags dynamic,timeout; timeout 10800s;')
      .addRule('services', 'ip daddr . meta l4proto . th dport vmap @service-ips')
      .addRule('masquerading', 'meta mark & 0x4000 == 0 return')
      .addRule('masquerading', 'meta mark set meta mark ^ 0x4000')
      .addRule('mark-for-masquerade', 'meta mark set meta mark | 0x4000')
      .addRule('x', 'ip daddr 172.30.0.41 tcp dport 80 ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade')
      .addRule('x', 'numgen random mod 12 vmap { 0 : goto a, 1 : goto b }')
      .addRule('x', 'update @affinity-X { ip6 saddr }')
      .addRule('x', 'meta l4proto tcp dnat to [fd00:10::a]:80')
      .addRule('x', 'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports')
      .addRule('x', 'tcp dport 9 drop comment "jump to @nowhere; # fine inside quotes"')
      .addElements('service-ips', ['10.96.0.1 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80', '10.96.0.2 . udp . 53 : jump c'])
      .addElements('no-endpoint-nodeports', ['tcp . 30080 : drop'])
      .deleteElements('cluster-ips', ['fd00::1']),
  )
  t.equal(tx.render().split('\n').length, tx.size + 1, 'one line per operation')
})

t.test('names outside the grammar are refused before anything is rendered', async (t) => {
  for (const bad of ['', 'a b', 'a;b', 'a\nb', '1abc', '.hidden', '@set', '$var', 'a'.repeat(256), 'chain#1', 'é', 'a{']) {
    t.throws(() => new Transaction('ip', 'weft-proxy').addChain(bad), refused, `chain ${q(bad)}`)
    t.throws(() => new Transaction('ip', 'weft-proxy').addRule(bad, 'accept'), refused, `rule chain ${q(bad)}`)
    t.throws(() => new Transaction('ip', 'weft-proxy').addElements(bad, ['1.2.3.4']), refused, `set ${q(bad)}`)
  }
  t.throws(() => new Transaction('ip', 'weft proxy'), refused, 'the table name too')
  t.throws(() => new Transaction('ip; flush ruleset' as 'ip', 'weft-proxy'), /family/, 'and the family')
})

t.test('rule text, specs and elements that could break out are refused', async (t) => {
  const rules = [
    'accept; flush ruleset',
    'accept\nflush ruleset',
    'accept\rflush ruleset',
    'accept # } ',
    'ip saddr $evil accept',
    'ip saddr { 1.2.3.4 accept',
    'ip saddr 1.2.3.4 } accept',
    'ip saddr } { accept',
    'drop comment "unterminated',
    'drop comment "a\\"b"',
    "ip saddr '1.2.3.4' accept",
    'accept \u0000',
    'accept \u2028',
    'accept `id`',
    '',
    '   ',
  ]
  for (const rule of rules) t.throws(() => new Transaction('ip', 'weft-proxy').addRule('c', rule), refused, `rule ${q(rule)}`)
  t.throws(() => new Transaction('ip', 'weft-proxy').addChain('c', 'type nat hook output priority 0; } ; flush ruleset ; add chain ip weft-proxy d {'), refused, 'a spec that closes its braces')
  t.throws(() => new Transaction('ip', 'weft-proxy').addSet('s', 'type ipv4_addr;\nflush ruleset'), refused, 'a spec with a newline')
  t.throws(() => new Transaction('ip', 'weft-proxy').addElements('m', ['1.2.3.4 . tcp . 80 : accept, 0.0.0.0/0 . tcp . 22 : accept']), refused, 'an element that is two')
  t.throws(() => new Transaction('ip', 'weft-proxy').addElements('m', ['1.2.3.4 } ; flush ruleset ; add element ip weft-proxy m { 5.6.7.8']), refused)
  t.throws(() => new Transaction('ip', 'weft-proxy').deleteElements('m', ['1.2.3.4;']), refused)
  t.throws(() => new Transaction('ip', 'weft-proxy').push({ verb: 'add', kind: 'rule', chain: 'c', rule: 'accept;' }), refused, 'push is checked as well')
  for (const s of HOSTILE_STRINGS) {
    // Those that could break out of an element; the rest are nonsense nft itself refuses.
    if (!/[^\x20-\x7e]|[;#$\\'`",]/.test(s)) continue
    t.throws(() => new Transaction('ip', 'weft-proxy').addElements('m', [`${s} . tcp . 80 : drop`]), refused, `element with ${q(s)}`)
  }
})

t.test('nftApply refuses a raw line outside the grammar before nft runs', async (t) => {
  // In a namespace of the test's own, so that even a check that let it through could not touch the host.
  const ns = await testNetns(t, 'nfttok')
  await nftApply(['add table inet wtok', 'add chain inet wtok c { type filter hook input priority 0; policy accept; }'], ns)
  await t.rejects(nftApply(['add rule inet wtok c accept; delete table inet wtok'], ns), /outside braces/)
  await t.rejects(nftApply(['add rule inet wtok c accept\ndelete table inet wtok'], ns), /newline/)
  await t.rejects(nftApply(['add rule inet wtok c accept # } ; delete table inet wtok'], ns), /"#"/)
  const tables = await nftList(['list', 'tables'], ns)
  t.ok(tables.some((i) => (i.table as { name?: string } | undefined)?.name === 'wtok'), 'the table is still there: nothing ran')
})

t.test('an operation pushed as checked is taken as it is: the caller vouches for it', async (t) => {
  // What proxy/nftables/diff.ts does with rules checkServiceRules passed; anything else is checked.
  const tx = new Transaction('ip', 'weft-proxy').push({ verb: 'add', kind: 'rule', chain: 'c', rule: 'accept' }, { checked: true })
  t.equal(tx.render(), 'add rule ip weft-proxy c accept\n')
  t.throws(() => tx.push({ verb: 'add', kind: 'rule', chain: 'c', rule: 'accept;' }, { checked: false }), refused)
})
