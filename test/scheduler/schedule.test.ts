import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { checkNode, numFeasibleNodesToFind, schedule, scheduleOnSnapshot, type ScheduleResult } from '../../src/scheduler/schedule.ts'
import { fitErrorMessage } from '../../src/scheduler/fit-error.ts'
import { ClusterSnapshot } from '../../src/scheduler/snapshot.ts'
import { node, pod } from './fixtures.ts'

const cp = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }

function chosen(r: ScheduleResult): string {
  if ('unschedulable' in r) throw new Error(`unexpectedly unschedulable: ${r.message}`)
  return r.node
}

function message(r: ScheduleResult): string {
  if (!('unschedulable' in r)) throw new Error(`unexpectedly scheduled on ${r.node}`)
  return r.message
}

t.test('unschedulable messages', async (t) => {
  const cases: Array<[string, V1Pod, Parameters<typeof schedule>[1], V1Pod[], string]> = [
    ['no nodes', pod('p'), [], [], 'no nodes available to schedule pods'],
    [
      'cpu and control-plane taints',
      pod('p', { cpu: '3' }),
      [node('a', { cpu: '2' }), node('b', { taints: [cp] }), node('c', { taints: [cp] })],
      [],
      '0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.',
    ],
    [
      'several reasons on one node count separately',
      pod('p', { cpu: '8', memory: '16Gi' }),
      [node('a'), node('b', { unschedulable: true })],
      [],
      '0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) were unschedulable.',
    ],
    [
      'selector, ports, too many pods, not ready',
      pod('p', { nodeSelector: { disk: 'ssd' }, ports: [{ containerPort: 80, hostPort: 80 }] }),
      [
        node('a'),
        node('b', { labels: { disk: 'ssd' } }),
        node('c', { labels: { disk: 'ssd' }, pods: '1' }),
        node('d', { labels: { disk: 'ssd' }, ready: 'False' }),
      ],
      [pod('x', { nodeName: 'b', ports: [{ containerPort: 80, hostPort: 80 }] }), pod('y', { nodeName: 'c' })],
      "0/4 nodes are available: 1 Too many pods, 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
    ],
  ]
  for (const [name, p, nodes, bound, want] of cases) t.equal(message(schedule(p, nodes, bound)), want, name)
})

t.test('reasons are sorted as strings, like Go sort.Strings', async (t) => {
  const reasons = new Map<string, string[]>()
  for (let i = 0; i < 10; i++) reasons.set(`n${i}`, ['Insufficient memory'])
  reasons.set('x', ['Insufficient cpu'])
  reasons.set('y', ['Insufficient cpu'])
  t.equal(fitErrorMessage(12, reasons), '0/12 nodes are available: 10 Insufficient memory, 2 Insufficient cpu.')
})

t.test('the result carries per-node reasons', async (t) => {
  const r = schedule(pod('p', { cpu: '3' }), [node('a', { cpu: '2' }), node('b', { taints: [cp] })], [])
  t.ok('unschedulable' in r)
  if ('unschedulable' in r) {
    t.same([...r.reasons], [['a', ['Insufficient cpu']], ['b', ['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }']]])
  }
})

t.test('scores', async (t) => {
  t.equal(chosen(schedule(pod('p', { cpu: '1' }), [node('a'), node('b')], [pod('x', { cpu: '2', nodeName: 'a' })])), 'b', 'least allocated')
  t.equal(
    chosen(schedule(pod('p'), [node('a'), node('b')], [pod('x', { nodeName: 'a', owner: 'rs1' }), pod('y', { nodeName: 'b', owner: 'rs2' }), pod('z', { nodeName: 'b', owner: 'rs2' })], {})),
    'a',
    'best-effort pods count the scoring default requests: b holds two, a one',
  )
  const spreadBound = [pod('x', { nodeName: 'a', owner: 'rs', cpu: '100m', memory: '200Mi' })]
  const other = [pod('y', { nodeName: 'b', owner: 'other', cpu: '100m', memory: '200Mi' })]
  t.equal(chosen(schedule(pod('p', { owner: 'rs', cpu: '100m', memory: '200Mi' }), [node('a'), node('b')], [...spreadBound, ...other])), 'b', 'spreads same-owner pods')
  const r = schedule(pod('p', { owner: 'rs', cpu: '100m', memory: '200Mi' }), [node('a'), node('b')], [...spreadBound, ...other], { withScores: true })
  t.ok(!('unschedulable' in r) && r.scores)
  if (!('unschedulable' in r) && r.scores) {
    const byName = Object.fromEntries(r.scores.map((s) => [s.name, s]))
    t.ok(byName.b.plugins.PodTopologySpread > byName.a.plugins.PodTopologySpread)
    t.equal(byName.a.plugins.NodeResourcesFit, byName.b.plugins.NodeResourcesFit)
    t.equal(byName.b.total, byName.b.plugins.NodeResourcesFit + byName.b.plugins.NodeResourcesBalancedAllocation + 2 * byName.b.plugins.PodTopologySpread + 3 * 100 + 2 * 0)
  }
  const affinity = pod('p', {
    affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z2'] }] } }] } },
  })
  t.equal(chosen(schedule(affinity, [node('a', { labels: { zone: 'z1' } }), node('b', { labels: { zone: 'z2' } })], [])), 'b', 'preferred affinity')
  t.equal(
    chosen(schedule(pod('p'), [node('a', { taints: [{ key: 'k', effect: 'PreferNoSchedule' }] }), node('b')], [])),
    'b',
    'avoids PreferNoSchedule taints',
  )
  t.equal(
    chosen(schedule(pod('p', { cpu: '1', memory: '1Gi' }), [node('a', { cpu: '4', memory: '8Gi' }), node('b', { cpu: '4', memory: '8Gi' })], [
      pod('x', { nodeName: 'a', cpu: '2' }),
      pod('y', { nodeName: 'b', cpu: '1', memory: '3Gi' }),
    ])),
    'b',
    'balanced allocation breaks an otherwise equal least-allocated score',
  )
})

t.test('determinism and tie-breaking', async (t) => {
  const nodes = ['c', 'a', 'b'].map((n) => node(n))
  t.equal(chosen(schedule(pod('p'), nodes, [])), 'a', 'smallest name wins ties')
  t.equal(chosen(schedule(pod('p'), [...nodes].reverse(), [])), 'a', 'regardless of order')
  const seeded = (seed: number) => () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  const picks = (seed: number): string[] => {
    const rand = seeded(seed)
    return Array.from({ length: 20 }, (_, i) => chosen(schedule(pod(`p${i}`), nodes, [], { random: rand })))
  }
  t.same(picks(7), picks(7), 'same seed, same choices')
  t.ok(new Set(picks(7)).size > 1, 'random tie-breaking spreads over tied nodes')
})

t.test('numFeasibleNodesToFind follows upstream', async (t) => {
  const cases: Array<[number, number | undefined, number]> = [
    [0, undefined, 0],
    [50, undefined, 50],
    [100, undefined, 100],
    [200, undefined, 100],
    [1000, undefined, 420],
    [5000, undefined, 500],
    [6000, undefined, 300],
    [100000, undefined, 5000],
    [1000, 100, 1000],
    [1000, 30, 300],
    [1000, 1, 100],
  ]
  for (const [n, pct, want] of cases) t.equal(numFeasibleNodesToFind(n, pct), want, `${n} nodes, ${pct ?? 'adaptive'}%`)
})

t.test('sampling scans round-robin from where the last decision stopped', async (t) => {
  const nodes = Array.from({ length: 1000 }, (_, i) => node(`n${String(i).padStart(4, '0')}`))
  const snap = new ClusterSnapshot(nodes)
  const r = scheduleOnSnapshot(pod('p'), snap)
  t.ok(!('unschedulable' in r))
  if (!('unschedulable' in r)) t.same([r.feasibleNodes, r.evaluatedNodes], [420, 420])
  t.equal(snap.nextStartNodeIndex, 420)
  scheduleOnSnapshot(pod('q'), snap)
  t.equal(snap.nextStartNodeIndex, 840)
  scheduleOnSnapshot(pod('r'), snap)
  t.equal(snap.nextStartNodeIndex, 260)
  const none = scheduleOnSnapshot(pod('big', { cpu: '100' }), snap)
  t.equal(message(none), '0/1000 nodes are available: 1000 Insufficient cpu.', 'infeasible pods see every node')
})

t.test('checkNode for pods pinned with spec.nodeName', async (t) => {
  const snap = new ClusterSnapshot([node('a', { cpu: '1' })])
  t.same(checkNode(pod('p', { cpu: '2', nodeName: 'a' }), snap, 'a'), ['Insufficient cpu'])
  t.equal(checkNode(pod('p', { cpu: '1', nodeName: 'a' }), snap, 'a'), undefined)
  t.same(checkNode(pod('p', { nodeName: 'zz' }), snap, 'zz'), ['node "zz" not found'])
})

t.test('1,000 pods onto 5,000 nodes with a snapshot', async (t) => {
  const nodes = Array.from({ length: 5000 }, (_, i) => node(`node-${i}`, { cpu: '8', memory: '32Gi', labels: { zone: `z${i % 3}` } }))
  const snap = new ClusterSnapshot(nodes)
  const started = performance.now()
  const perNode = new Map<string, number>()
  for (let i = 0; i < 1000; i++) {
    const p = pod(`p${i}`, { cpu: '250m', memory: '256Mi', owner: `rs${i % 10}` })
    const r = scheduleOnSnapshot(p, snap)
    if ('unschedulable' in r) {
      t.fail(r.message)
      return
    }
    p.spec!.nodeName = r.node
    snap.upsertPod(p)
    perNode.set(r.node, (perNode.get(r.node) ?? 0) + 1)
  }
  const ms = performance.now() - started
  t.comment(`scheduled 1000 pods on 5000 nodes in ${ms.toFixed(0)} ms (${Math.round(1000 / (ms / 1000))} pods/s)`)
  t.equal([...perNode.values()].reduce((a, b) => a + b, 0), 1000)
  t.equal(Math.max(...perNode.values()), 1, 'with this much room, no node gets two pods')
})
