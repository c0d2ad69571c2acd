import t from 'tap'
import { Transaction } from '../../../src/netfilter/transaction.ts'
import { ElementIndex, fullSync, partialSync, SharedChains, type ServiceChange } from '../../../proxy/nftables/diff.ts'
import { baseRules, checkServiceRules, serviceRules, type CheckedServiceRules } from '../../../proxy/nftables/rules.ts'
import type { ServiceEntry } from '../../../proxy/model.ts'
import { entry, ep, port, state } from './fixtures.ts'

const T = 'ip weft-proxy'
const SVC = 'service-ULMVA6XW-ns1/svc1/tcp/p80'
const PICK = (n: number) => `meta l4proto tcp dnat ip addr . port to ip daddr . th dport . numgen random mod ${n} map @service-endpoints-tcp`

function rules(e: ServiceEntry): CheckedServiceRules {
  return checkServiceRules(serviceRules(e, state([e])))
}

/** Applies changes in order against one index; returns the last transaction's text. */
function diff(index: ElementIndex, shared: SharedChains, ...changes: ServiceChange[]): string {
  const tx = new Transaction('ip', 'weft-proxy')
  partialSync(tx, changes, index, shared)
  return tx.render()
}

const id = port().id
const one = rules(entry(port(), [ep('10.180.0.1')]))
const two = rules(entry(port(), [ep('10.180.0.1'), ep('10.180.0.2')]))

t.test('add a service', async (t) => {
  t.equal(
    diff(new ElementIndex(), new SharedChains(), { id, after: one }),
    [
      `add chain ${T} pick-service-tcp-1`,
      `add rule ${T} pick-service-tcp-1 ${PICK(1)}`,
      `add element ${T} cluster-ips { 172.30.0.41 }`,
      `add element ${T} service-endpoints-tcp { 172.30.0.41 . 80 . 0 : 10.180.0.1 . 80 }`,
      `add element ${T} service-ips { 172.30.0.41 . tcp . 80 : goto pick-service-tcp-1 }`,
      '',
    ].join('\n'),
    'the pick chain comes with its first user',
  )
})

t.test('replace an endpoint: elements only', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  diff(index, shared, { id, after: two })
  const moved = rules(entry(port(), [ep('10.180.0.1'), ep('10.180.0.3')]))
  const text = diff(index, shared, { id, before: two, after: moved })
  t.equal(
    text,
    [
      `delete element ${T} service-endpoints-tcp { 172.30.0.41 . 80 . 1 }`,
      `add element ${T} service-endpoints-tcp { 172.30.0.41 . 80 . 1 : 10.180.0.3 . 80 }`,
      '',
    ].join('\n'),
  )
  t.notMatch(text, / chain | rule /, 'no chain is added, flushed or deleted, no rule written')
})

t.test('add and remove endpoints: the dispatch element moves to the pick chain of the new count', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  // Another Service keeps pick-service-tcp-1 and pick-service-tcp-2 in use.
  const other = port({ name: 'other', clusterIP: '172.30.0.50' })
  const o1 = rules(entry(other, [ep('10.180.1.1')]))
  const o2 = rules(entry({ ...other, name: 'other2', id: 'ns1/other2:p80/TCP', clusterIP: '172.30.0.51' }, [ep('10.180.1.1'), ep('10.180.1.2')]))
  diff(index, shared, { id: other.id, after: o1 }, { id: 'ns1/other2:p80/TCP', after: o2 }, { id, after: one })
  const grow = diff(index, shared, { id, before: one, after: two })
  t.equal(
    grow,
    [
      `delete element ${T} service-ips { 172.30.0.41 . tcp . 80 }`,
      `add element ${T} service-ips { 172.30.0.41 . tcp . 80 : goto pick-service-tcp-2 }`,
      `add element ${T} service-endpoints-tcp { 172.30.0.41 . 80 . 1 : 10.180.0.2 . 80 }`,
      '',
    ].join('\n'),
  )
  const shrink = diff(index, shared, { id, before: two, after: one })
  t.notMatch(shrink, / chain /, 'shrinking: no chain operation either')
  t.match(shrink, /delete element ip weft-proxy service-endpoints-tcp \{ 172\.30\.0\.41 \. 80 \. 1 \}/)
  // The last user of a count gone: its chain goes, after the elements that point at it.
  const last = diff(index, shared, { id: 'ns1/other2:p80/TCP', before: o2 })
  const lines = last.trimEnd().split('\n')
  t.same(lines.slice(-1), [`delete chain ${T} pick-service-tcp-2`])
  t.ok(lines.indexOf(`flush chain ${T} pick-service-tcp-2`) < lines.indexOf(`delete element ${T} service-ips { 172.30.0.51 . tcp . 80 }`))
  t.notOk(shared.has('pick-service-tcp-2'))
  t.ok(shared.has('pick-service-tcp-1'))
})

t.test('remove the last endpoint: reject instead', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  diff(index, shared, { id, after: one })
  t.equal(
    diff(index, shared, { id, before: one, after: rules(entry(port(), [])) }),
    [
      `flush chain ${T} pick-service-tcp-1`,
      `delete element ${T} service-endpoints-tcp { 172.30.0.41 . 80 . 0 }`,
      `delete element ${T} service-ips { 172.30.0.41 . tcp . 80 }`,
      `add element ${T} no-endpoint-services { 172.30.0.41 . tcp . 80 : goto reject-chain }`,
      `delete chain ${T} pick-service-tcp-1`,
      '',
    ].join('\n'),
  )
})

t.test('update the port number', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  diff(index, shared, { id, after: one })
  const moved = rules(entry(port({ port: 8080 }), [ep('10.180.0.1')]))
  t.equal(
    diff(index, shared, { id, before: one, after: moved }),
    [
      `delete element ${T} service-endpoints-tcp { 172.30.0.41 . 80 . 0 }`,
      `delete element ${T} service-ips { 172.30.0.41 . tcp . 80 }`,
      `add element ${T} service-endpoints-tcp { 172.30.0.41 . 8080 . 0 : 10.180.0.1 . 80 }`,
      `add element ${T} service-ips { 172.30.0.41 . tcp . 8080 : goto pick-service-tcp-1 }`,
      '',
    ].join('\n'),
    'the ClusterIP stays in cluster-ips',
  )
})

t.test('delete a service', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  diff(index, shared, { id, after: one })
  t.equal(
    diff(index, shared, { id, before: one }),
    [
      `flush chain ${T} pick-service-tcp-1`,
      `delete element ${T} cluster-ips { 172.30.0.41 }`,
      `delete element ${T} service-endpoints-tcp { 172.30.0.41 . 80 . 0 }`,
      `delete element ${T} service-ips { 172.30.0.41 . tcp . 80 }`,
      `delete chain ${T} pick-service-tcp-1`,
      '',
    ].join('\n'),
  )
  t.equal(index.size, 0)
  t.equal(shared.size, 0)
})

t.test('a ClusterIP shared by two ports stays until both are gone', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  const p443 = port({ portName: 'https', port: 443 })
  const other = rules(entry(p443, [ep('10.180.0.1', { port: 443 })]))
  diff(index, shared, { id, after: one }, { id: p443.id, after: other })
  const text = diff(index, shared, { id, before: one })
  t.notMatch(text, /cluster-ips|hairpin| chain /, 'the ClusterIP and the pick chain are still in use')
  t.match(diff(index, shared, { id: p443.id, before: other }), /delete element ip weft-proxy cluster-ips \{ 172\.30\.0\.41 \}/)
})

t.test('a map value that changes is deleted then added', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  const sticky = rules(entry(port({ affinitySeconds: 60 }), [ep('10.180.0.1')]))
  diff(index, shared, { id, after: one })
  const text = diff(index, shared, { id, before: one, after: sticky })
  t.match(text, /delete element ip weft-proxy service-ips \{ 172\.30\.0\.41 \. tcp \. 80 \}\n(.*\n)*add element ip weft-proxy service-ips \{ 172\.30\.0\.41 \. tcp \. 80 : goto service-ULMVA6XW-ns1\/svc1\/tcp\/p80 \}/)
})

t.test('an affinity timeout change replaces the sets and rewrites their users', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  const a = rules(entry(port({ affinitySeconds: 100 }), [ep('10.180.0.1')]))
  const b = rules(entry(port({ affinitySeconds: 200 }), [ep('10.180.0.1')]))
  diff(index, shared, { id, after: a })
  const text = diff(index, shared, { id, before: a, after: b })
  const set = 'affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
  t.equal(
    text,
    [
      `flush chain ${T} ${SVC}`,
      `delete set ${T} ${set}`,
      `add set ${T} ${set} { type ipv4_addr; flags dynamic,timeout; timeout 200s; }`,
      ...b.chains.get(SVC)!.map((r) => `add rule ${T} ${SVC} ${r}`),
      '',
    ].join('\n'),
  )
})

t.test('nothing changed: an empty transaction', async (t) => {
  const index = new ElementIndex()
  const shared = new SharedChains()
  diff(index, shared, { id, after: two })
  t.equal(diff(index, shared, { id, before: two, after: two }), '')
})

function indexes(...rs: CheckedServiceRules[]): { index: ElementIndex; shared: SharedChains } {
  const index = new ElementIndex()
  const shared = new SharedChains()
  for (const r of rs) {
    for (const el of r.elements) index.add(id, el)
    for (const [name, chainRules] of r.shared) shared.add(id, name, chainRules)
  }
  return { index, shared }
}

t.test('full sync of a fresh table', async (t) => {
  const st = state([entry(port(), [ep('10.180.0.1')])])
  const text = fullSync({ family: 'ip', table: 'weft-proxy', base: baseRules(st), services: [one], existing: undefined, ...indexes(one), recreateBaseChains: true }).render()
  const lines = text.trimEnd().split('\n')
  t.equal(lines[0], `add table ${T}`)
  t.notOk(lines.some((l) => l.startsWith('flush') || l.startsWith('delete')), 'nothing to flush or delete in a new table')
  t.ok(lines.includes(`add chain ${T} nat-prerouting { type nat hook prerouting priority -100; policy accept; }`))
  t.ok(lines.includes(`add map ${T} service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }`))
  t.ok(lines.includes(`add map ${T} service-endpoints-tcp { typeof ip daddr . th dport . numgen random mod 64 : ip daddr . tcp dport; }`))
  t.ok(lines.indexOf(`add chain ${T} pick-service-tcp-1`) < lines.indexOf(`add rule ${T} pick-service-tcp-1 ${PICK(1)}`))
  t.ok(lines.indexOf(`add rule ${T} pick-service-tcp-1 ${PICK(1)}`) < lines.indexOf(`add element ${T} service-ips { 172.30.0.41 . tcp . 80 : goto pick-service-tcp-1 }`))
  t.equal(lines.filter((l) => l.startsWith('add chain')).length, 8 + 12 + 1, 'base chains, the fixed chains and one pick chain')
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
    shared: new SharedChains(),
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
  const input = { family: 'ip' as const, table: 'weft-proxy', base: baseRules(st), services: [], index: new ElementIndex(), shared: new SharedChains() }
  t.throws(() => fullSync({ ...input, existing: { chains: ['old chain; flush ruleset'], sets: [], maps: [], setTimeouts: {} } }), /not a valid nft name/, 'a chain name listed from the kernel')
  t.throws(() => fullSync({ ...input, base: baseRules(state([], { serviceCIDRs: ['10.0.0.0/8 } ; flush ruleset'] })), existing: undefined }), /would end the command/, 'the base rules')
  // A key that passed only as part of `key : value` (never in practice: keys are addresses and ports).
  const odd = { ...one, elements: [{ set: 'service-ips', key: '{ 172.30.0.41', value: 'goto x }' }] } as typeof one
  const index = new ElementIndex()
  for (const el of odd.elements) index.add(id, el)
  t.throws(() => partialSync(new Transaction('ip', 'weft-proxy'), [{ id, before: odd, after: undefined }], index, new SharedChains()), /brace/, 'a bare key to delete')
})
