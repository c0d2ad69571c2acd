// DefaultPreemption: which node, which victims, and when not at all.
import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { findPreemption } from '../../src/scheduler/preemption.ts'
import { podInfo } from '../../src/scheduler/pod-info.ts'
import { scheduleOnSnapshot } from '../../src/scheduler/schedule.ts'
import { ClusterSnapshot } from '../../src/scheduler/snapshot.ts'
import { node, pod } from './fixtures.ts'

const prio = (p: V1Pod, priority: number, extra: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod => ({ ...p, spec: { ...p.spec!, priority, ...extra } })

function attempt(snap: ClusterSnapshot, p: V1Pod) {
  const r = scheduleOnSnapshot(p, snap)
  if (!('unschedulable' in r)) throw new Error(`${p.metadata!.name} fits on ${r.node}`)
  return findPreemption(podInfo(p), snap, r.reasons)
}

t.test('the fewest, least important victims on the best node', async (t) => {
  const nodes = [node('n1', { cpu: '4' }), node('n2', { cpu: '4' })]
  const bound = [
    prio(pod('n1-low-a', { cpu: '2', nodeName: 'n1' }), 10),
    prio(pod('n1-low-b', { cpu: '2', nodeName: 'n1' }), 10),
    prio(pod('n2-mid', { cpu: '2', nodeName: 'n2' }), 100),
    prio(pod('n2-low', { cpu: '2', nodeName: 'n2' }), 10),
  ]
  const snap = new ClusterSnapshot(nodes, bound)
  const p = attempt(snap, prio(pod('big', { cpu: '2' }), 1000))
  t.equal(p?.node, 'n1', 'both nodes need one priority-10 victim (n2 keeps its priority-100 pod): the first candidate wins the tie')
  t.equal(p?.victims.length, 1, 'one pod of 2 cpu is enough')
  t.equal(p?.victims[0]!.priority, 10)
  t.equal(snap.get('n1')!.podCount, 2, 'the simulation left the node as it was')
  t.equal(snap.get('n1')!.requested.milliCPU, 4000)

  const higher = attempt(snap, prio(pod('huge', { cpu: '4' }), 50))
  t.equal(higher?.node, 'n1', 'only n1 can be emptied by a priority-50 pod (n2 holds a priority-100 one)')
  t.same(higher?.victims.map((v) => v.name).sort(), ['n1-low-a', 'n1-low-b'])
})

t.test('no preemption: policy Never, equal priority, or a refusal pods cannot lift', async (t) => {
  const snap = new ClusterSnapshot([node('n1', { cpu: '2' }), node('tainted', { cpu: '8', taints: [{ key: 'k', effect: 'NoSchedule' }] })], [prio(pod('low', { cpu: '2', nodeName: 'n1' }), 10)])
  t.equal(attempt(snap, prio(pod('never', { cpu: '2' }), 1000, { preemptionPolicy: 'Never' })), undefined, 'preemptionPolicy Never')
  t.equal(attempt(snap, prio(pod('peer', { cpu: '2' }), 10)), undefined, 'not over an equal priority')
  const p = attempt(snap, prio(pod('vip', { cpu: '2' }), 1000))
  t.equal(p?.node, 'n1', 'the tainted node is never a candidate, whatever runs there')
  const nominated = prio(pod('vip2', { cpu: '2' }), 1000)
  nominated.status = { nominatedNodeName: 'n1' }
  const going = new ClusterSnapshot([node('n1', { cpu: '2' })], [{ ...prio(pod('low', { cpu: '2', nodeName: 'n1' }), 10), metadata: { ...pod('low').metadata!, deletionTimestamp: new Date() } }])
  t.equal(attempt(going, nominated), undefined, 'victims still terminating on its nominated node: no second round')
})

t.test("a preemptor's nominated node keeps its room for it", async (t) => {
  const snap = new ClusterSnapshot([node('n1', { cpu: '2' }), node('n2', { cpu: '1' })], [])
  const vip = prio(pod('vip', { cpu: '2' }), 1000)
  vip.status = { nominatedNodeName: 'n1' }
  snap.upsertPod(vip)
  const low = scheduleOnSnapshot(prio(pod('low', { cpu: '1' }), 10), snap)
  t.equal('node' in low && low.node, 'n2', 'a lower-priority pod leaves the nominated room alone')
  const peer = scheduleOnSnapshot(prio(pod('peer', { cpu: '2' }), 1000), snap)
  t.ok('unschedulable' in peer, 'so does one of equal priority')
  const boss = scheduleOnSnapshot(prio(pod('boss', { cpu: '2' }), 2000), snap)
  t.equal('node' in boss && boss.node, 'n1', 'a higher-priority pod may take it')

  const back = scheduleOnSnapshot(vip, snap)
  t.same('node' in back && [back.node, back.evaluatedNodes], ['n1', 1], 'the preemptor itself goes straight back to its node')
  t.equal(snap.get('n1')!.podCount, 0, 'reserving is not binding')

  snap.upsertPod({ ...vip, spec: { ...vip.spec!, nodeName: 'n1' } })
  t.same(snap.nominatedAhead({ key: 'default/peer', priority: 0 }, 'n1'), [], 'bound: the nomination is over')
  t.equal(snap.get('n1')!.podCount, 1)
  snap.upsertPod(vip)
  snap.removePod(vip)
  t.same(snap.nominatedAhead({ key: 'default/peer', priority: 0 }, 'n1'), [], 'deleted: likewise')
})

t.test('preemption does not count on room already nominated to a more important pod', async (t) => {
  const snap = new ClusterSnapshot([node('n1', { cpu: '4' })], [prio(pod('low', { cpu: '2', nodeName: 'n1' }), 10)])
  const first = prio(pod('first', { cpu: '2' }), 2000)
  first.status = { nominatedNodeName: 'n1' }
  snap.upsertPod(first)
  const second = prio(pod('second', { cpu: '4' }), 1000)
  t.equal(attempt(snap, second), undefined, 'evicting the low pod would not make room: the nominated pod has the rest')
})
