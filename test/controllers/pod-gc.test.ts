import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { reconcileOrphanedPods } from '../../src/controllers/pod-gc/reconcile.ts'

const pod = (name: string, node?: string): V1Pod => ({ metadata: { name, namespace: 'ns', uid: `uid-${name}` }, spec: { nodeName: node, containers: [] } })
const now = new Date(100_000)

t.test('pods on nodes gone past the quarantine are force-deleted', async (t) => {
  const gone: Record<string, number> = { old: 10_000, recent: 90_000 }
  const result = reconcileOrphanedPods([pod('a', 'old'), pod('b', 'recent'), pod('c', 'here'), pod('d')], (n) => gone[n], now, 40_000)
  const deletes = result.actions.filter((a) => a.verb === 'delete')
  t.same(deletes.map((a) => (a.verb === 'delete' ? [a.name, a.uid, a.gracePeriodSeconds] : [])), [['a', 'uid-a', 0]], 'only the pod whose node left long enough ago')
  t.ok(result.actions.some((a) => a.verb === 'event' && a.event.reason === 'PodGCOrphaned'))
  t.equal(result.requeueAfterMs, 30_000, 'looks again when the recent one is due')
})

t.test('nothing to do when every node exists', async (t) => {
  t.same(reconcileOrphanedPods([pod('a', 'x')], () => undefined, now), { actions: [], requeueAfterMs: undefined })
})
