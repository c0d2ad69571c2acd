import t from 'tap'
import { compile, type CompileInput } from '../../netpol/compile.ts'
import { diffCompiled, isEmptyDiff } from '../../netpol/diff.ts'
import { namespace, pod, policy } from './fixtures.ts'

const base: CompileInput = {
  node: 'node-1',
  namespaces: [namespace('x'), namespace('y', { team: 'blue' })],
  pods: [pod('x', 'server', { ips: ['10.0.0.1'] }), pod('y', 'client', { labels: { role: 'client' }, ips: ['10.0.1.1'], node: 'node-2', ports: [{ name: 'http', containerPort: 8080 }] })],
  policies: [
    policy('x', 'from-clients', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } }, podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 80 }] }] }),
    policy('x', 'to-http', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 'http' }] }] }),
  ],
}

t.test('the same input: an empty diff', async (t) => {
  const d = diffCompiled(compile(base), compile(base))
  t.ok(isEmptyDiff(d))
})

t.test('a new pod matching a selector, on another node, changes set elements only', async (t) => {
  const before = compile(base)
  const after = compile({ ...base, pods: [...base.pods, pod('y', 'client2', { labels: { role: 'client' }, ips: ['10.0.1.2', 'fd00::1:2'], node: 'node-3', ports: [{ name: 'http', containerPort: 9090 }] })] })
  const d = diffCompiled(before, after)
  t.same(d.podsAdded, [])
  t.same(d.podsChanged, [])
  t.same(d.podsRemoved, [])
  t.same(d.setsAdded, [])
  t.same(d.setsRemoved, [])
  t.same(
    d.setsChanged.map((c) => ({ kind: c.kind, add: c.add, remove: c.remove })).sort((a, b) => (a.kind < b.kind ? 1 : -1)),
    [
      { kind: 'addresses', add: { v4: ['10.0.1.2'], v6: ['fd00::1:2'] }, remove: { v4: [], v6: [] } },
      { kind: 'addressPorts', add: { v4: [{ ip: '10.0.1.2', protocol: 'TCP', port: 9090 }], v6: [{ ip: 'fd00::1:2', protocol: 'TCP', port: 9090 }] }, remove: { v4: [], v6: [] } },
    ],
  )
})

t.test('a namespace losing its label takes its pods out of the set, and nothing else', async (t) => {
  const d = diffCompiled(compile(base), compile({ ...base, namespaces: [namespace('x'), namespace('y')] }))
  t.same(d.podsChanged, [])
  t.equal(d.setsChanged.length, 1)
  t.same(d.setsChanged[0]!.remove, { v4: ['10.0.1.1'], v6: [] })
  t.same(d.setsChanged[0]!.add, { v4: [], v6: [] })
})

t.test('a pod changing its IP changes only sets it is in', async (t) => {
  const moved = compile({ ...base, pods: [base.pods[0], pod('y', 'client', { labels: { role: 'client' }, ips: ['10.0.1.9'], node: 'node-2', ports: [{ name: 'http', containerPort: 8080 }] })] })
  const d = diffCompiled(compile(base), moved)
  t.same(d.podsChanged, [])
  t.equal(d.setsChanged.length, 2)
  for (const c of d.setsChanged) t.same(c.remove.v4.length, 1)
})

t.test('a policy change rewrites the pods it selects; a new peer adds a set', async (t) => {
  const changed = compile({
    ...base,
    policies: [policy('x', 'from-clients', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '192.0.2.0/24' } }], ports: [{ port: 80 }] }] }), base.policies[1]],
  })
  const d = diffCompiled(compile(base), changed)
  t.same(d.podsChanged.map((p) => p.uid), ['uid-x-server'])
  t.same(d.setsAdded.map((s) => s.v4), [['192.0.2.0/24']])
  t.equal(d.setsRemoved.length, 1, 'the selector set no entry uses any more')
})

t.test('local pods coming and going', async (t) => {
  const more = compile({ ...base, pods: [...base.pods, pod('x', 'second', { ips: ['10.0.0.2'] })] })
  const d = diffCompiled(compile(base), more)
  t.same(d.podsAdded.map((p) => p.uid), ['uid-x-second'])
  t.same(d.setsChanged, [], 'the new pod uses the sets that exist')
  const back = diffCompiled(more, compile(base))
  t.same(back.podsRemoved, ['uid-x-second'])
  const none = diffCompiled(compile(base), compile({ ...base, policies: [] }))
  t.same(none.podsChanged.map((p) => [p.ingress, p.egress]), [[{ isolated: false }, { isolated: false }]])
  t.equal(none.setsRemoved.length, 2)
})

t.test('the node’s addresses changing', async (t) => {
  const d = diffCompiled(compile({ ...base, nodeIPs: ['192.168.0.1'] }), compile({ ...base, nodeIPs: ['192.168.0.2'] }))
  t.ok(d.nodeIPsChanged)
  t.notOk(isEmptyDiff(d))
  t.same([d.podsChanged, d.setsChanged], [[], []])
})
