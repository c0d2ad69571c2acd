import t from 'tap'
import { collectGarbage, GcGraph, reconcileDependent, reconcileOwner, toGcObject, type GcObject } from '../../src/controllers/garbage-collector/reconcile-owner.ts'
import { resources } from '../../src/api/registry.ts'
import type { Action } from '../../src/controllers/actions.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!
const ref = (uid: string, block = false) => ({ apiVersion: 'v1', kind: 'X', name: uid, uid, ...(block ? { blockOwnerDeletion: true } : {}) })
function o(k: string, name: string, extra: { ns?: string; owners?: ReturnType<typeof ref>[]; finalizers?: string[]; deleting?: boolean } = {}): GcObject {
  const info = kind(k)
  return { info, namespace: info.namespaced ? extra.ns ?? 'default' : undefined, name, uid: name, ownerReferences: extra.owners, finalizers: extra.finalizers, deletionTimestamp: extra.deleting ? '2025-01-01T00:00:00Z' : undefined }
}
const describe = (actions: Action[]): string[] => actions.map((a) => {
  if (a.verb === 'delete') return `delete ${a.name} ${a.propagationPolicy}`
  if (a.verb === 'patch') {
    const meta = (a.patch as { metadata: Record<string, unknown> }).metadata
    if (meta['$deleteFromPrimitiveList/finalizers']) return `unfinalize ${a.name} ${(meta['$deleteFromPrimitiveList/finalizers'] as string[]).join()}`
    return `unown ${a.name} ${(meta.ownerReferences as { uid: string }[]).map((r) => r.uid).join()}`
  }
  return a.verb
})

t.test('dependents of gone owners', async (t) => {
  const cases: { name: string; all: GcObject[]; want: string[] }[] = [
    { name: 'owner gone → background delete', all: [o('Pod', 'p', { owners: [ref('rs')] })], want: ['delete p Background'] },
    { name: 'owner present → kept', all: [o('ReplicaSet', 'rs'), o('Pod', 'p', { owners: [ref('rs')] })], want: [] },
    { name: 'one of two owners gone → its reference dropped', all: [o('ReplicaSet', 'rs'), o('Pod', 'p', { owners: [ref('rs'), ref('gone')] })], want: ['unown p gone'] },
    { name: 'owner in another namespace does not count', all: [o('ReplicaSet', 'rs', { ns: 'a' }), o('Pod', 'p', { ns: 'b', owners: [ref('rs')] })], want: ['delete p Background'] },
    { name: 'cluster-scoped owner of a namespaced dependent', all: [o('Node', 'n1'), o('Pod', 'p', { owners: [ref('n1')] })], want: [] },
    { name: 'namespaced owner of a cluster-scoped dependent is invalid', all: [o('Pod', 'p'), o('Namespace', 'x', { owners: [ref('p')] })], want: ['delete x Background'] },
    { name: 'dependent already deleting', all: [o('Pod', 'p', { owners: [ref('rs')], deleting: true })], want: [] },
    { name: 'orphan finalizer on the dependent → Orphan policy', all: [o('ReplicaSet', 'rs2', { owners: [ref('d')], finalizers: ['orphan'] })], want: ['delete rs2 Orphan'] },
  ]
  for (const c of cases) t.same(describe(collectGarbage(c.all)), c.want, c.name)
})

t.test('foreground deletion', async (t) => {
  const owner = o('Deployment', 'd', { finalizers: ['foregroundDeletion'], deleting: true })
  const rs = o('ReplicaSet', 'rs', { owners: [ref('d', true)] })
  const pod = o('Pod', 'p', { owners: [ref('rs', true)] })
  const loose = o('ConfigMap', 'cm', { owners: [ref('d')] })
  t.same(describe(reconcileOwner(owner, GcGraph.of([owner, rs, pod, loose]))), ['delete rs Foreground', 'delete cm Background'], 'dependents deleted (foreground when they have dependents of their own); finalizer stays')
  const rsGoing = { ...rs, deletionTimestamp: 'x', finalizers: ['foregroundDeletion'] }
  t.same(describe(reconcileOwner(owner, GcGraph.of([owner, rsGoing]))), [], 'waits while a blocking dependent exists')
  t.same(describe(reconcileOwner(owner, GcGraph.of([owner, loose]))), ['delete cm Background', 'unfinalize d foregroundDeletion'], 'non-blocking dependents do not hold the finalizer')
  t.same(describe(reconcileOwner(owner, GcGraph.of([owner]))), ['unfinalize d foregroundDeletion'], 'no dependents left → finalizer removed')
  t.same(describe(reconcileOwner({ ...owner, deletionTimestamp: undefined }, GcGraph.of([owner, rs]))), [], 'not deleting → nothing')
  const both = o('Pod', 'p2', { owners: [ref('d', true), ref('other')] })
  const other = o('ReplicaSet', 'other')
  t.same(describe(reconcileDependent(both, GcGraph.of([owner, other, both]))), ['unown p2 d'], 'a dependent with another solid owner only drops the waiting reference')
})

t.test('orphan deletion', async (t) => {
  const owner = o('ReplicaSet', 'rs', { finalizers: ['orphan'], deleting: true })
  const p1 = o('Pod', 'p1', { owners: [ref('rs')] })
  const p2 = o('Pod', 'p2', { owners: [ref('rs'), ref('other')] })
  t.same(describe(reconcileOwner(owner, GcGraph.of([owner, p1, p2]))), ['unown p1 rs', 'unown p2 rs', 'unfinalize rs orphan'])
  const all = [owner, p1]
  t.same(describe(collectGarbage(all)), ['unown p1 rs', 'unfinalize rs orphan'], 'an orphaning owner is solid: its dependents are not deleted')
})

t.test('the dependents index and toGcObject', async (t) => {
  const owner = o('ReplicaSet', 'rs', { ns: 'a' })
  const graph = GcGraph.of([owner, o('Pod', 'p1', { ns: 'a', owners: [ref('rs')] }), o('Pod', 'p2', { ns: 'b', owners: [ref('rs')] }), o('Pod', 'p3', { ns: 'a' })])
  t.same(graph.dependentsOf(owner).map((d) => d.name), ['p1'], 'a namespaced owner owns only in its namespace')
  t.same(graph.dependentUids('rs').sort(), ['p1', 'p2'], 'every object naming it is indexed')
  graph.set(o('Pod', 'p1', { ns: 'a' }))
  t.same(graph.dependentsOf(owner), [], 'an object that drops the reference leaves the index')
  graph.remove('p2')
  t.notOk(graph.hasDependents('rs'))
  const g = toGcObject(kind('Pod'), { metadata: { name: 'x', namespace: 'a', uid: 'u', ownerReferences: [ref('rs')], finalizers: ['f'] } })
  t.same({ ...g, info: g.info.kind }, { info: 'Pod', namespace: 'a', name: 'x', uid: 'u', ownerReferences: [ref('rs')], finalizers: ['f'], deletionTimestamp: undefined })
  const del = collectGarbage([o('Pod', 'p', { owners: [ref('gone')] })])[0]
  t.equal(del.verb === 'delete' ? del.uid : '', 'p', 'delete carries a uid precondition')
})
