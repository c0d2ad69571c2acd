// What the compiler reuses to keep a sync cheap at scale (1,000 policies and pods: bench/netpol)
// must not change what it compiles: the parse cache across syncs, the namespace indexes of
// policies and peer pods, the entries shared by the pods a rule protects, and the diff's
// shortcut for sets whose elements did not change, and the compile cache across syncs.
import t from 'tap'
import { clusterView, compile, compileNode, newCompileCache, newParseCache, type CompileInput } from '../../netpol/compile.ts'
import { diffCompiled, isEmptyDiff } from '../../netpol/diff.ts'
import type { CompiledNode } from '../../netpol/model.ts'
import { namespace, pod, policy } from './fixtures.ts'

const input: CompileInput = {
  node: 'node-1',
  nodeIPs: ['192.168.0.1'],
  namespaces: [namespace('x', { team: 'blue' }), namespace('y', { team: 'blue' }), namespace('z')],
  pods: [
    pod('x', 'a', { ips: ['10.0.0.1'], ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('x', 'b', { ips: ['10.0.0.2'], ports: [{ name: 'http', containerPort: 9090 }] }),
    // Uids out of namespace order: a peer set spanning namespaces must not depend on it.
    { ...pod('y', 'c', { ips: ['10.0.1.3'], labels: { role: 'client' }, node: 'node-2' }), metadata: { namespace: 'y', name: 'c', uid: 'a-first', labels: { role: 'client' } } },
    pod('z', 'd', { ips: ['10.0.2.4'], labels: { role: 'client' }, node: 'node-2' }),
    pod('x', 'e', { ips: ['10.0.0.5'], labels: { role: 'client' } }),
  ],
  policies: [
    policy('x', 'deny', { podSelector: {} }),
    policy('x', 'clients-http', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } }, podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 'http' }] }] }),
    policy('x', 'clients-80', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 80 }] }] }),
    policy('z', 'other-namespace', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }),
  ],
}

function plain(c: CompiledNode): unknown {
  return { ...c, pods: [...c.pods], sets: [...c.sets] }
}

t.test('a parse cache changes nothing, and a replaced object is parsed again', async (t) => {
  const cache = newParseCache()
  const node = (i: CompileInput) => compileNode(clusterView(i, cache), i.node, i.nodeIPs)
  t.same(plain(node(input)), plain(compile(input)), 'first compile, cache empty')
  t.same(plain(node(input)), plain(compile(input)), 'second compile, every object from the cache')
  // The informer replaces an object on change: the new one is parsed, the old one's result not used.
  const relabelled = input.pods.map((p, i) => (i === 3 ? pod('z', 'd', { ips: ['10.0.2.4'], labels: { role: 'server' }, node: 'node-2' }) : p))
  const policies = [...input.policies.slice(0, 2), policy('x', 'clients-80', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 81 }] }] }), input.policies[3]]
  const changed = { ...input, pods: relabelled, policies }
  t.same(plain(node(changed)), plain(compile(changed)), 'after a pod and a policy were replaced')
  t.notSame(plain(node(changed)), plain(compile(input)))
  const bad = { ...input, policies: [...input.policies, policy('x', 'bad', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: 'nope' } }] }] })] }
  t.equal(clusterView(bad, cache).problems.length, 1)
  t.equal(clusterView(bad, cache).problems.length, 1, 'a cached policy reports its problems again')
})

t.test('a namespace-selector peer holds its pods whatever the namespace order of their uids', async (t) => {
  const c = compile(input)
  const a = c.pods.get('uid-x-a')!
  if (!a.ingress.isolated) throw new Error('x/a should be isolated')
  const sets = a.ingress.allow.map((e) => c.sets.get(e.peers)!)
  // Entries in policy-key order: clients-80 (any namespace), then clients-http (team=blue).
  t.same(sets.map((s) => s.v4), [['10.0.0.5', '10.0.1.3', '10.0.2.4'], ['10.0.0.5', '10.0.1.3']])
})

t.test('entries of a rule without named ports are shared; a named port still resolves per protected pod', async (t) => {
  const c = compile(input)
  const entries = (uid: string) => {
    const p = c.pods.get(uid)!
    return p.ingress.isolated ? p.ingress.allow : []
  }
  const [a, b] = [entries('uid-x-a'), entries('uid-x-b')]
  t.same(a.map((e) => e.ports), [[{ protocol: 'TCP', from: 80, to: 80 }], [{ protocol: 'TCP', from: 8080, to: 8080 }]])
  t.same(b.map((e) => e.ports), [[{ protocol: 'TCP', from: 80, to: 80 }], [{ protocol: 'TCP', from: 9090, to: 9090 }]])
  t.same(entries('uid-x-e').map((e) => e.ports), [[{ protocol: 'TCP', from: 80, to: 80 }]], 'x/e has no port named http: that rule allows it nothing')
  t.not(a[1], b[1], 'the named-port entry is the pod’s own')
  t.equal(a[0], b[0], 'the numeric-port entry is one object')
})

t.test('the diff sees a set whose elements changed at the same count', async (t) => {
  const moved = { ...input, pods: input.pods.map((p, i) => (i === 4 ? pod('x', 'e', { ips: ['10.0.0.6'], labels: { role: 'client' } }) : p)) }
  const before = compile(input)
  const after = compile(moved)
  const d = diffCompiled(before, after)
  t.ok(d.setsChanged.length > 0)
  for (const ch of d.setsChanged) {
    t.same(ch.add.v4, ['10.0.0.6'])
    t.same(ch.remove.v4, ['10.0.0.5'])
  }
  t.ok(isEmptyDiff(diffCompiled(after, compile(moved))), 'and nothing once it is applied')
  t.ok(isEmptyDiff(diffCompiled(after, after)), 'nor against itself')
})

t.test('a compile cache changes nothing over a run of changes, and what did not change keeps its identity', async (t) => {
  const parse = newParseCache()
  const cache = newCompileCache()
  const cached = (i: CompileInput) => compileNode(clusterView(i, parse), i.node, i.nodeIPs, cache)
  const ports = [{ name: 'http', containerPort: 8080 }]
  const states: [string, CompileInput][] = []
  let cur: CompileInput = input
  const step = (what: string, next: Partial<CompileInput>) => {
    cur = { ...cur, ...next }
    states.push([what, cur])
  }
  step('start', {})
  step('the same objects again', {})
  step('a policy added', { policies: [...cur.policies, policy('x', 'egress-http', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 'http' }] }] })] })
  step('a peer pod relabelled', { pods: cur.pods.map((p, i) => (i === 3 ? pod('z', 'd', { ips: ['10.0.2.4'], labels: { role: 'server' }, node: 'node-2' }) : p)) })
  step('a peer pod with a named port appears', { pods: [...cur.pods, pod('y', 'f', { ips: ['10.0.1.6'], labels: { role: 'client' }, node: 'node-2', ports })] })
  step('a local pod readdressed', { pods: cur.pods.map((p, i) => (i === 1 ? pod('x', 'b', { ips: ['10.0.0.12'], ports: [{ name: 'http', containerPort: 9090 }] }) : p)) })
  step('a namespace loses its label', { namespaces: [namespace('x', { team: 'blue' }), namespace('y'), namespace('z')] })
  step('a policy changed', { policies: cur.policies.map((p) => ((p as { metadata?: { name?: string } }).metadata?.name === 'clients-80' ? policy('x', 'clients-80', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.2.0/24'] } }] }] }) : p)) })
  step('a policy removed', { policies: cur.policies.filter((p) => (p as { metadata?: { name?: string } }).metadata?.name !== 'deny') })
  step('a local pod moves to another node', { pods: cur.pods.map((p, i) => (i === 0 ? pod('x', 'a', { ips: ['10.0.0.1'], node: 'node-2', ports }) : p)) })
  step('everything back', { ...input })
  let before: CompiledNode | undefined
  for (const [what, state] of states) {
    const got = cached(state)
    t.same(plain(got), plain(compile(state)), what)
    if (before) {
      const d = diffCompiled(before, got)
      const fresh = diffCompiled(before, compile(state))
      t.same(
        { ...d, podsChanged: d.podsChanged.map((p) => p.uid).sort(), setsChanged: d.setsChanged.map((c) => c.name).sort() },
        { ...fresh, podsChanged: fresh.podsChanged.map((p) => p.uid).sort(), setsChanged: fresh.setsChanged.map((c) => c.name).sort() },
        `${what}: the same diff`,
      )
    }
    before = got
  }
  const again = cached(cur)
  for (const [uid, p] of again.pods) t.equal(p, before!.pods.get(uid), `pod ${uid} reused`)
  for (const [name, set] of again.sets) t.equal(set, before!.sets.get(name), `set ${name} reused`)
  // Another node with the same cache starts over (a cache serves one node).
  t.same(plain(compileNode(clusterView(cur, parse), 'node-2', [], cache)), plain(compileNode(clusterView(cur), 'node-2')), 'another node')
})
