import t from 'tap'
import { Transaction } from '../../../src/netfilter/transaction.ts'
import { ElementIndex, fullSync, partialSync, type ServiceChange } from '../../../proxy/nftables/diff.ts'
import { baseRules, checkServiceRules, serviceRules, type CheckedServiceRules } from '../../../proxy/nftables/rules.ts'
import type { ServiceEntry } from '../../../proxy/model.ts'
import { entry, ep, port, state } from './fixtures.ts'

const T = 'ip weft-proxy'
const SVC = 'service-ULMVA6XW-ns1/svc1/tcp/p80'
const EP1 = 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
const EP2 = 'endpoint-2ZNDXFAB-ns1/svc1/tcp/p80__10.180.0.2/80'

function rules(e: ServiceEntry): CheckedServiceRules {
  return checkServiceRules(serviceRules(e, state([e])))
}

/** Applies changes in order against one index; returns the last transaction's text. */
function diff(index: ElementIndex, ...changes: ServiceChange[]): string {
  const tx = new Transaction('ip', 'weft-proxy')
  partialSync(tx, changes, index)
  return tx.render()
}

const id = port().id
const one = rules(entry(port(), [ep('10.180.0.1')]))
const two = rules(entry(port(), [ep('10.180.0.1'), ep('10.180.0.2')]))

t.test('add a service', async (t) => {
  t.equal(
    diff(new ElementIndex(), { id, after: one }),
    [
      `add chain ${T} ${EP1}`,
      `add chain ${T} ${SVC}`,
      `add rule ${T} ${EP1} ip saddr 10.180.0.1 jump mark-for-masquerade`,
      `add rule ${T} ${EP1} meta l4proto tcp dnat to 10.180.0.1:80`,
      `add rule ${T} ${SVC} ip daddr 172.30.0.41 tcp dport 80 ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade`,
      `add rule ${T} ${SVC} goto ${EP1}`,
      `add element ${T} cluster-ips { 172.30.0.41 }`,
      `add element ${T} service-ips { 172.30.0.41 . tcp . 80 : goto ${SVC} }`,
      '',
    ].join('\n'),
  )
})

t.test('add an endpoint', async (t) => {
  const index = new ElementIndex()
  diff(index, { id, after: one })
  t.equal(
    diff(index, { id, before: one, after: two }),
    [
      `add chain ${T} ${EP2}`,
      `flush chain ${T} ${SVC}`,
      `add rule ${T} ${EP2} ip saddr 10.180.0.2 jump mark-for-masquerade`,
      `add rule ${T} ${EP2} meta l4proto tcp dnat to 10.180.0.2:80`,
      `add rule ${T} ${SVC} ip daddr 172.30.0.41 tcp dport 80 ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade`,
      `add rule ${T} ${SVC} numgen random mod 2 0 goto ${EP1}`,
      `add rule ${T} ${SVC} goto ${EP2}`,
      '',
    ].join('\n'),
    'the unchanged endpoint chain and the elements are left alone',
  )
})

t.test('remove an endpoint', async (t) => {
  const index = new ElementIndex()
  diff(index, { id, after: two })
  t.equal(
    diff(index, { id, before: two, after: one }),
    [
      `flush chain ${T} ${SVC}`,
      `flush chain ${T} ${EP2}`,
      `add rule ${T} ${SVC} ip daddr 172.30.0.41 tcp dport 80 ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade`,
      `add rule ${T} ${SVC} goto ${EP1}`,
      `delete chain ${T} ${EP2}`,
      '',
    ].join('\n'),
  )
})

t.test('remove the last endpoint: reject instead', async (t) => {
  const index = new ElementIndex()
  diff(index, { id, after: one })
  t.equal(
    diff(index, { id, before: one, after: rules(entry(port(), [])) }),
    [
      `flush chain ${T} ${EP1}`,
      `flush chain ${T} ${SVC}`,
      `delete element ${T} service-ips { 172.30.0.41 . tcp . 80 }`,
      `add element ${T} no-endpoint-services { 172.30.0.41 . tcp . 80 : goto reject-chain }`,
      `delete chain ${T} ${EP1}`,
      `delete chain ${T} ${SVC}`,
      '',
    ].join('\n'),
  )
})

t.test('update the port number', async (t) => {
  const index = new ElementIndex()
  diff(index, { id, after: one })
  const moved = rules(entry(port({ port: 8080 }), [ep('10.180.0.1')]))
  t.equal(
    diff(index, { id, before: one, after: moved }),
    [
      `flush chain ${T} ${SVC}`,
      `add rule ${T} ${SVC} ip daddr 172.30.0.41 tcp dport 8080 ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade`,
      `add rule ${T} ${SVC} goto ${EP1}`,
      `delete element ${T} service-ips { 172.30.0.41 . tcp . 80 }`,
      `add element ${T} service-ips { 172.30.0.41 . tcp . 8080 : goto ${SVC} }`,
      '',
    ].join('\n'),
    'the ClusterIP stays in cluster-ips',
  )
})

t.test('delete a service', async (t) => {
  const index = new ElementIndex()
  diff(index, { id, after: one })
  t.equal(
    diff(index, { id, before: one }),
    [
      `flush chain ${T} ${EP1}`,
      `flush chain ${T} ${SVC}`,
      `delete element ${T} cluster-ips { 172.30.0.41 }`,
      `delete element ${T} service-ips { 172.30.0.41 . tcp . 80 }`,
      `delete chain ${T} ${EP1}`,
      `delete chain ${T} ${SVC}`,
      '',
    ].join('\n'),
  )
  t.equal(index.size, 0)
})

t.test('a ClusterIP shared by two ports stays until both are gone', async (t) => {
  const index = new ElementIndex()
  const p443 = port({ portName: 'https', port: 443 })
  const other = rules(entry(p443, [ep('10.180.0.1', { port: 443 })]))
  diff(index, { id, after: one }, { id: p443.id, after: other })
  const text = diff(index, { id, before: one })
  t.notMatch(text, /cluster-ips/)
  t.match(diff(index, { id: p443.id, before: other }), /delete element ip weft-proxy cluster-ips \{ 172\.30\.0\.41 \}/)
})

t.test('a map value that changes is deleted then added', async (t) => {
  const index = new ElementIndex()
  const local = rules(entry(port({ internalLocal: true }), [ep('10.180.0.1', { local: true })]))
  diff(index, { id, after: one })
  const text = diff(index, { id, before: one, after: local })
  t.match(text, /delete element ip weft-proxy service-ips \{ 172\.30\.0\.41 \. tcp \. 80 \}\nadd element ip weft-proxy service-ips \{ 172\.30\.0\.41 \. tcp \. 80 : goto local-ULMVA6XW-ns1\/svc1\/tcp\/p80 \}/)
})

t.test('an affinity timeout change replaces the sets and rewrites their users', async (t) => {
  const index = new ElementIndex()
  const a = rules(entry(port({ affinitySeconds: 100 }), [ep('10.180.0.1')]))
  const b = rules(entry(port({ affinitySeconds: 200 }), [ep('10.180.0.1')]))
  diff(index, { id, after: a })
  const text = diff(index, { id, before: a, after: b })
  const set = 'affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
  t.equal(
    text,
    [
      `flush chain ${T} ${EP1}`,
      `flush chain ${T} ${SVC}`,
      `delete set ${T} ${set}`,
      `add set ${T} ${set} { type ipv4_addr; flags dynamic,timeout; timeout 200s; }`,
      ...b.chains.get(EP1)!.map((r) => `add rule ${T} ${EP1} ${r}`),
      ...b.chains.get(SVC)!.map((r) => `add rule ${T} ${SVC} ${r}`),
      '',
    ].join('\n'),
  )
})

t.test('nothing changed: an empty transaction', async (t) => {
  const index = new ElementIndex()
  diff(index, { id, after: two })
  t.equal(diff(index, { id, before: two, after: two }), '')
})

t.test('full sync of a fresh table', async (t) => {
  const e = entry(port(), [ep('10.180.0.1')])
  const st = state([e])
  const index = new ElementIndex()
  for (const el of one.elements) index.add(id, el)
  const text = fullSync({ family: 'ip', table: 'weft-proxy', base: baseRules(st), services: [one], existing: undefined, index, recreateBaseChains: true }).render()
  const lines = text.trimEnd().split('\n')
  t.equal(lines[0], `add table ${T}`)
  t.notOk(lines.some((l) => l.startsWith('flush') || l.startsWith('delete')), 'nothing to flush or delete in a new table')
  t.ok(lines.includes(`add chain ${T} nat-prerouting { type nat hook prerouting priority -100; policy accept; }`))
  t.ok(lines.includes(`add map ${T} service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }`))
  t.ok(lines.indexOf(`add chain ${T} ${SVC}`) < lines.indexOf(`add rule ${T} ${SVC} goto ${EP1}`))
  t.equal(lines.at(-1), `add element ${T} service-ips { 172.30.0.41 . tcp . 80 : goto ${SVC} }`)
})

t.test('full sync over an existing table', async (t) => {
  const st = state([])
  const text = fullSync({
    family: 'ip',
    table: 'weft-proxy',
    base: baseRules(st),
    services: [],
    existing: { chains: ['nat-output', 'services', 'service-OLD-ns/x/tcp/p'], sets: ['cluster-ips', 'affinity-OLD'], maps: ['service-ips', 'old-map'], setTimeouts: {} },
    index: new ElementIndex(),
    recreateBaseChains: true,
  }).render()
  const lines = text.trimEnd().split('\n')
  t.same(lines.slice(0, 4), [`add table ${T}`, `flush table ${T}`, `add chain ${T} filter-prerouting`, `delete chain ${T} filter-prerouting`])
  t.ok(lines.includes(`flush map ${T} service-ips`))
  t.ok(lines.includes(`flush set ${T} cluster-ips`))
  for (const gone of ['chain ip weft-proxy service-OLD-ns/x/tcp/p', 'set ip weft-proxy affinity-OLD', 'set ip weft-proxy old-map']) {
    t.ok(lines.includes(`delete ${gone}`), `deletes ${gone}`)
  }
  t.notOk(lines.includes(`delete chain ${T} services`))
})

t.test('only the checked rules of the ports skip the Transaction check: kernel names, base rules and bare keys are checked', async (t) => {
  const st = state([])
  const input = { family: 'ip' as const, table: 'weft-proxy', base: baseRules(st), services: [], index: new ElementIndex() }
  t.throws(() => fullSync({ ...input, existing: { chains: ['old chain; flush ruleset'], sets: [], maps: [], setTimeouts: {} } }), /not a valid nft name/, 'a chain name listed from the kernel')
  t.throws(() => fullSync({ ...input, base: baseRules(state([], { serviceCIDRs: ['10.0.0.0/8 } ; flush ruleset'] })), existing: undefined }), /would end the command/, 'the base rules')
  // A key that passed only as part of `key : value` (never in practice: keys are addresses and ports).
  const odd = { ...one, elements: [{ set: 'service-ips', key: '{ 172.30.0.41', value: 'goto x }' }] } as typeof one
  const index = new ElementIndex()
  for (const el of odd.elements) index.add(id, el)
  t.throws(() => partialSync(new Transaction('ip', 'weft-proxy'), [{ id, before: odd, after: undefined }], index), /brace/, 'a bare key to delete')
})
