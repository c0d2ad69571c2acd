import t from 'tap'
import type { V1Namespace } from '@kubernetes/client-node'
import { reconcileNamespace } from '../../src/controllers/namespace/reconcile-namespace.ts'
import type { Action as NamespaceAction } from '../../src/controllers/actions.ts'
import { resources } from '../../src/api/registry.ts'
import type { KubeObject } from '../../src/controllers/actions.ts'

const now = new Date('2025-01-01T00:00:00Z')
const pods = resources.find((r) => r.kind === 'Pod')!
const deploys = resources.find((r) => r.kind === 'Deployment')!
const ns = (extra: { deleting?: boolean; finalizers?: string[]; conditions?: unknown[] } = {}): V1Namespace => ({
  metadata: { name: 'demo', uid: 'u-ns', resourceVersion: '5', ...(extra.deleting === false ? {} : { deletionTimestamp: now }) },
  spec: { finalizers: extra.finalizers ?? ['kubernetes'] },
  status: { phase: 'Terminating', conditions: extra.conditions as never },
})
const obj = (name: string, extra: { deleting?: boolean; finalizers?: string[]; namespace?: string } = {}): KubeObject => ({
  metadata: { name, namespace: extra.namespace ?? 'demo', uid: `u-${name}`, finalizers: extra.finalizers, ...(extra.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}) },
})
const deletes = (a: NamespaceAction[]): string[] => a.flatMap((x) => (x.verb === 'delete' ? [`${x.info.plural}/${x.name}:${x.propagationPolicy}:${x.uid}`] : []))
const finalize = (a: NamespaceAction[]) => a.find((x) => x.verb === 'update' && 'subresource' in x && x.subresource === 'finalize')
const conditions = (a: NamespaceAction[]): Record<string, { status: string; reason: string; message: string }> => {
  const p = a.find((x) => x.verb === 'patch' && x.subresource === 'status')
  if (!p || p.verb !== 'patch') return {}
  return Object.fromEntries((p.patch as { status: { conditions: { type: string; status: string; reason: string; message: string }[] } }).status.conditions.map((c) => [c.type, c]))
}

t.test('nothing to do for live or finalized namespaces', async (t) => {
  t.same(reconcileNamespace(ns({ deleting: false }), [{ info: pods, items: [obj('p')] }], now), [])
  t.same(reconcileNamespace(ns({ finalizers: [] }), [{ info: pods, items: [obj('p')] }], now), [])
  t.same(reconcileNamespace(undefined, [], now), [])
})

t.test('deletes content, reports what remains, and waits', async (t) => {
  const a = reconcileNamespace(ns(), [
    { info: pods, items: [obj('p1'), obj('p2', { deleting: true, finalizers: ['example.com/hold'] }), obj('elsewhere', { namespace: 'other' })] },
    { info: deploys, items: [obj('d1', { finalizers: ['foregroundDeletion'] })] },
  ], now)
  t.same(deletes(a), ['pods/p1:Background:u-p1', 'deployments/d1:Background:u-d1'], 'only objects not yet deleting, only in this namespace')
  t.notOk(finalize(a), 'not finalized while content remains')
  const c = conditions(a)
  t.equal(c.NamespaceContentRemaining.status, 'True')
  t.equal(c.NamespaceContentRemaining.message, 'Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances')
  t.equal(c.NamespaceFinalizersRemaining.message, 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances, foregroundDeletion in 1 resource instances')
  t.equal(c.NamespaceDeletionContentFailure.reason, 'ContentDeleted')
})

t.test('finalizes once empty', async (t) => {
  const a = reconcileNamespace(ns({ finalizers: ['kubernetes', 'example.com/x'] }), [{ info: pods, items: [] }], now)
  const f = finalize(a)
  t.ok(f)
  t.same(f && f.verb === 'update' ? f.object.spec.finalizers : undefined, ['example.com/x'], 'only the kubernetes finalizer is dropped')
  t.equal(f && f.verb === 'update' ? f.object.metadata?.resourceVersion : undefined, '5', 'resourceVersion precondition kept')
  t.equal(conditions(a).NamespaceContentRemaining.reason, 'ContentRemoved')
  t.equal(a.indexOf(f!), a.length - 1, 'finalize comes last')
})

t.test('conditions already reported are not patched again', async (t) => {
  const first = reconcileNamespace(ns(), [], now)
  const reported = Object.values(conditions(first))
  const again = reconcileNamespace(ns({ conditions: reported }), [], now)
  t.notOk(again.some((x) => x.verb === 'patch'))
})
