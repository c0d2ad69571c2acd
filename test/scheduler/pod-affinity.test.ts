// Inter-pod affinity and anti-affinity, and topology spread constraints, as kube-scheduler's
// InterPodAffinity and PodTopologySpread plugins decide them.
import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { schedule } from '../../src/scheduler/schedule.ts'
import { ClusterSnapshot } from '../../src/scheduler/snapshot.ts'
import { node, pod } from './fixtures.ts'

const zone = 'topology.kubernetes.io/zone'
const host = 'kubernetes.io/hostname'
const labelled = (p: V1Pod, labels: Record<string, string>): V1Pod => ({ ...p, metadata: { ...p.metadata!, labels } })
const withSpec = (p: V1Pod, spec: Partial<NonNullable<V1Pod['spec']>>): V1Pod => ({ ...p, spec: { ...p.spec!, ...spec } })
const nodes = [node('a1', { labels: { [zone]: 'a' } }), node('a2', { labels: { [zone]: 'a' } }), node('b1', { labels: { [zone]: 'b' } })]
const placed = (name: string, on: string, labels: Record<string, string>, extra: Partial<NonNullable<V1Pod['spec']>> = {}) => withSpec(labelled(pod(name, { nodeName: on }), labels), extra)
const term = (labels: Record<string, string>, topologyKey: string) => ({ labelSelector: { matchLabels: labels }, topologyKey })
const feasible = (r: ReturnType<typeof schedule>) => ('node' in r ? r.node : undefined)
const reasons = (r: ReturnType<typeof schedule>) => ('unschedulable' in r ? [...r.reasons.values()].flat() : [])

t.test('required pod affinity: only where a matching pod runs in the same domain; the first of a group goes anywhere', async (t) => {
  const web = withSpec(labelled(pod('web'), { app: 'web' }), { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'db' }, zone)] } } })
  const r = schedule(web, nodes, [placed('db', 'b1', { app: 'db' })], { withScores: true })
  t.equal(feasible(r), 'b1', 'zone b has the db')
  const none = schedule(web, nodes, [])
  t.ok('unschedulable' in none, 'no db anywhere, and web is not a db: nowhere')
  t.match(reasons(none), ["node(s) didn't match pod affinity rules"])
  const group = withSpec(labelled(pod('g'), { app: 'g' }), { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'g' }, zone)] } } })
  t.ok(feasible(schedule(group, nodes, [])), 'the first pod of a group that wants itself is placed')
  t.equal(feasible(schedule(group, nodes, [placed('g0', 'a2', { app: 'g' })])) === 'b1', false, 'the next ones follow it into zone a')
})

t.test('required anti-affinity, both ways', async (t) => {
  const spread = (name: string) => withSpec(labelled(pod(name), { app: 'x' }), { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'x' }, host)] } } })
  const r = schedule(spread('x3'), nodes, [placed('x1', 'a1', { app: 'x' }), placed('x2', 'b1', { app: 'x' })])
  t.equal(feasible(r), 'a2', 'one per host')
  const full = schedule(spread('x4'), nodes, [placed('x1', 'a1', { app: 'x' }), placed('x2', 'b1', { app: 'x' }), placed('x3', 'a2', { app: 'x' })])
  t.match(reasons(full), ["node(s) didn't match pod anti-affinity rules"])
  // An existing pod that repels the newcomer keeps it out of its zone, though the newcomer says nothing.
  const loner = placed('loner', 'a1', { app: 'loner' }, { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'noisy' }, zone)] } } })
  const noisy = labelled(pod('noisy'), { app: 'noisy' })
  t.equal(feasible(schedule(noisy, nodes, [loner])), 'b1')
  const crowded = schedule(noisy, [nodes[0]!, nodes[1]!], [loner])
  t.match(reasons(crowded), ["node(s) didn't satisfy existing pods anti-affinity rules"])
})

t.test('namespaces: a term looks in its own namespace unless told otherwise', async (t) => {
  const wants = (ns: object) => withSpec(labelled(pod('w'), {}), { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ ...term({ app: 'db' }, zone), ...ns }] } } })
  const elsewhere = labelled(pod('db', { nodeName: 'b1', namespace: 'other' }), { app: 'db' })
  t.ok('unschedulable' in schedule(wants({}), nodes, [elsewhere]), 'not in its namespace')
  t.equal(feasible(schedule(wants({ namespaces: ['other'] }), nodes, [elsewhere])), 'b1', 'namespaces names it')
  t.equal(feasible(schedule(wants({ namespaceSelector: {} }), nodes, [elsewhere])), 'b1', 'an empty namespaceSelector is every namespace')
  const snap = new ClusterSnapshot(nodes, [elsewhere])
  snap.namespaceLabels = (ns): Record<string, string> => (ns === 'other' ? { team: 'data' } : {})
  const { scheduleOnSnapshot } = await import('../../src/scheduler/schedule.ts')
  const r = scheduleOnSnapshot(wants({ namespaceSelector: { matchLabels: { team: 'data' } } }), snap)
  t.equal('node' in r ? r.node : undefined, 'b1', 'a namespaceSelector matches namespace labels')
})

t.test('preferred terms steer the score', async (t) => {
  const near = withSpec(pod('near'), { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term({ app: 'cache' }, zone) }] } } })
  t.equal(feasible(schedule(near, nodes, [placed('cache', 'b1', { app: 'cache' })])), 'b1')
  const far = withSpec(pod('far'), { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term({ app: 'cache' }, zone) }] } } })
  t.not(feasible(schedule(far, nodes, [placed('cache', 'b1', { app: 'cache' })])), 'b1')
})

t.test('topology spread: DoNotSchedule keeps the skew, ScheduleAnyway prefers it, a node without the key is out', async (t) => {
  const c = (when: string, maxSkew = 1) => ({ maxSkew, topologyKey: zone, whenUnsatisfiable: when, labelSelector: { matchLabels: { app: 's' } } })
  const s = (name: string, when: string) => withSpec(labelled(pod(name), { app: 's' }), { topologySpreadConstraints: [c(when)] as never })
  const existing = [placed('s1', 'a1', { app: 's' }), placed('s2', 'a2', { app: 's' })]
  t.equal(feasible(schedule(s('s3', 'DoNotSchedule'), nodes, existing)), 'b1', 'zone a has 2, b has 0: only b keeps the skew at 1')
  t.equal(feasible(schedule(s('s3', 'ScheduleAnyway'), nodes, existing)), 'b1', 'ScheduleAnyway prefers b')
  // Zone b's only node is cordoned: it still counts as a domain (with 0), so zone a is too far ahead.
  const onlyA = schedule(s('s3', 'DoNotSchedule'), [nodes[0]!, nodes[1]!, node('b1', { labels: { [zone]: 'b' }, unschedulable: true }), node('bare')], existing)
  t.ok('unschedulable' in onlyA)
  t.same(reasons(onlyA).sort(), [
    "node(s) didn't match pod topology spread constraints",
    "node(s) didn't match pod topology spread constraints",
    "node(s) didn't match pod topology spread constraints (missing required label)",
    'node(s) were unschedulable',
  ])
  t.match('unschedulable' in onlyA ? onlyA.message : '', /^0\/4 nodes are available: /)
  const soft = schedule(s('s4', 'ScheduleAnyway'), [nodes[0]!, nodes[1]!], existing)
  t.ok(feasible(soft), 'ScheduleAnyway never blocks')
})
