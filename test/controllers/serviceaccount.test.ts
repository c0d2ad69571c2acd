import t from 'tap'
import type { V1ConfigMap, V1Namespace } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import { reconcileDefaultServiceAccount, reconcileRootCA } from '../../src/controllers/serviceaccount/reconcile.ts'

const cm = resources.find((r) => r.kind === 'ConfigMap')!
const sa = { ...cm, kind: 'ServiceAccount', plural: 'serviceaccounts' }
const ns = (name: string, extra: Partial<V1Namespace> = {}): V1Namespace => ({ metadata: { name }, status: { phase: 'Active' }, ...extra })

t.test('every active namespace gets a default service account, once', async (t) => {
  const [create] = reconcileDefaultServiceAccount(ns('team'), undefined, sa)
  t.match(create, { verb: 'create', object: { kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'team' } } })
  t.same(reconcileDefaultServiceAccount(ns('team'), { metadata: { name: 'default', namespace: 'team' } }, sa), [])
  t.same(reconcileDefaultServiceAccount(ns('team', { status: { phase: 'Terminating' } }), undefined, sa), [])
  t.same(reconcileDefaultServiceAccount(undefined, undefined, sa), [])
})

t.test('kube-root-ca.crt holds exactly the CA, and is put back when changed', async (t) => {
  const [create] = reconcileRootCA(ns('team'), undefined, 'PEM', cm)
  t.match(create, { verb: 'create', object: { metadata: { name: 'kube-root-ca.crt', namespace: 'team' }, data: { 'ca.crt': 'PEM' } } })
  const current = (create as { object: V1ConfigMap }).object
  t.same(reconcileRootCA(ns('team'), current, 'PEM', cm), [], 'up to date: nothing to do')
  const [fix] = reconcileRootCA(ns('team'), { ...current, data: { 'ca.crt': 'EVIL', extra: 'x' } }, 'PEM', cm)
  t.match(fix, { verb: 'update', object: { data: { 'ca.crt': 'PEM' } } })
  t.notOk((fix as { object: V1ConfigMap }).object.data?.extra, 'foreign keys are dropped')
  t.same(reconcileRootCA(ns('team', { metadata: { name: 'team', deletionTimestamp: new Date() } }), undefined, 'PEM', cm), [])
})
