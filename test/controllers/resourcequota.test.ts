import t from 'tap'
import type { V1Pod, V1ResourceQuota } from '@kubernetes/client-node'
import { resources, storedResources } from '../../src/api/registry.ts'
import { QUOTA_RESYNC_MS, reconcileResourceQuota } from '../../src/controllers/resourcequota/reconcile.ts'
import type { Evaluator } from '../../src/quota/evaluator.ts'
import { QuotaRegistry } from '../../src/quota/registry.ts'

const info = resources.find((r) => r.kind === 'ResourceQuota')!
const registry = new QuotaRegistry(storedResources)
const now = Date.parse('2026-12-07T03:00:00Z')

const pod = (name: string, cpu: string, extra: Partial<V1Pod> = {}): V1Pod => ({
  metadata: { name, namespace: 'n' },
  spec: { containers: [{ name: 'c', resources: { requests: { cpu }, limits: { cpu } } }] },
  ...extra,
})
const quota = (spec: V1ResourceQuota['spec'], status?: V1ResourceQuota['status']): V1ResourceQuota => ({ metadata: { name: 'q', namespace: 'n', resourceVersion: '9' }, spec, status })

function sync(q: V1ResourceQuota | undefined, objects: Record<string, object[]>) {
  return reconcileResourceQuota(q, { info, registry, objectsOf: (ev: Evaluator) => objects[ev.info.plural] ?? [], now })
}
const statusOf = (r: ReturnType<typeof sync>) => (r.actions[0] as { object: V1ResourceQuota } | undefined)?.object.status

t.test('the first sync records hard and counts what the namespace holds', async (t) => {
  const objects = { pods: [pod('a', '250m'), pod('b', '1'), pod('done', '4', { status: { phase: 'Succeeded' } })], configmaps: [{ metadata: { name: 'c' } }] }
  const r = sync(quota({ hard: { pods: '10', 'requests.cpu': '2000m', 'count/pods': '20', configmaps: '5', 'count/deployments.apps': '3' } }), objects)
  t.equal(r.actions.length, 1)
  t.match(r.actions[0], { verb: 'updateStatus', info, object: { metadata: { name: 'q', resourceVersion: '9' } } })
  t.same(statusOf(r), {
    hard: { configmaps: '5', 'count/deployments.apps': '3', 'count/pods': '20', pods: '10', 'requests.cpu': '2' },
    used: { configmaps: '1', 'count/deployments.apps': '0', 'count/pods': '3', pods: '2', 'requests.cpu': '1250m' },
  })
  t.equal(r.requeueAfterMs, QUOTA_RESYNC_MS, 'counted again every 5 minutes')
})

t.test('nothing is written when the status is current', async (t) => {
  const q = quota({ hard: { pods: '10' } }, { hard: { pods: '10' }, used: { pods: '1' } })
  t.same(sync(q, { pods: [pod('a', '1')] }).actions, [])
  t.same(statusOf(sync(q, { pods: [] })), { hard: { pods: '10' }, used: { pods: '0' } }, 'a pod gone frees its share')
  t.same(statusOf(sync({ ...q, spec: { hard: { pods: '5' } } }, { pods: [pod('a', '1')] })), { hard: { pods: '5' }, used: { pods: '1' } }, 'a new hard limit is recorded')
})

t.test('scoped quotas count the pods their scopes match', async (t) => {
  const best: V1Pod = { metadata: { name: 'best' }, spec: { containers: [{ name: 'c' }] } }
  const r = sync(quota({ hard: { pods: '10' }, scopes: ['BestEffort'] }), { pods: [best, pod('a', '1')] })
  t.same(statusOf(r)?.used, { pods: '1' })
})

t.test('usage of limits no kind accounts for is kept; limits removed drop their usage', async (t) => {
  const q = quota({ hard: { 'requests.storage': '10Gi', pods: '2' } }, { hard: { 'requests.storage': '10Gi', pods: '2', secrets: '3' }, used: { 'requests.storage': '1Gi', pods: '2', secrets: '1' } })
  const served = new QuotaRegistry(storedResources.filter((r) => r.kind !== 'PersistentVolumeClaim'))
  const r = reconcileResourceQuota(q, { info, registry: served, objectsOf: (ev) => (ev.info.plural === 'pods' ? [pod('a', '1')] : []), now })
  t.same((r.actions[0] as { object: V1ResourceQuota }).object.status, { hard: { pods: '2', 'requests.storage': '10Gi' }, used: { pods: '1', 'requests.storage': '1Gi' } })
})

t.test('a deleted pod is counted until its grace ends, and the quota is looked at again then', async (t) => {
  const deleting = pod('d', '1', { metadata: { name: 'd', deletionTimestamp: '2026-12-07T02:59:50Z' as unknown as Date, deletionGracePeriodSeconds: 30 } })
  const r = sync(quota({ hard: { pods: '5' } }), { pods: [deleting] })
  t.same(statusOf(r)?.used, { pods: '1' })
  t.equal(r.requeueAfterMs, 21_000, 'a second after deletionTimestamp + grace')
})

t.test('a quota that is gone needs nothing', async (t) => {
  t.same(sync(undefined, {}), { actions: [] })
})
