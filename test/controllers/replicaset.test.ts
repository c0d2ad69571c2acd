import t from 'tap'
import type { V1Pod, V1ReplicaSet } from '@kubernetes/client-node'
import type { Action } from '../../src/controllers/actions.ts'
import { availabilityRecheckAt, reconcileReplicaSet, replicationControllerKind } from '../../src/controllers/replicaset/reconcile.ts'

const t0 = new Date('2025-01-01T00:00:00Z')
const at = (s: number): Date => new Date(t0.getTime() + s * 1000)

function rs(replicas: number, extra: { minReadySeconds?: number; deleting?: boolean } = {}): V1ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web', namespace: 'ns', uid: 'rs-uid', generation: 2, resourceVersion: '7', ...(extra.deleting ? { deletionTimestamp: t0 } : {}) },
    spec: {
      replicas,
      minReadySeconds: extra.minReadySeconds,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web', tier: 'fe' }, annotations: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'img' }] } },
    },
    status: { replicas: 0 },
  }
}

interface PodOpts {
  owner?: string
  labels?: Record<string, string>
  node?: string
  phase?: string
  readySince?: number
  restarts?: number
  created?: number
  deleting?: boolean
}

function pod(name: string, o: PodOpts = {}): V1Pod {
  const p = {
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      labels: o.labels ?? { app: 'web', tier: 'fe' },
      creationTimestamp: at(o.created ?? 0).toISOString(),
      ownerReferences: o.owner ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: o.owner, controller: true }] : undefined,
      deletionTimestamp: o.deleting ? at(0).toISOString() : undefined,
    },
    spec: { nodeName: o.node, containers: [] },
    status: {
      phase: o.phase ?? 'Running',
      containerStatuses: [{ name: 'c', restartCount: o.restarts ?? 0 }],
      conditions: o.readySince === undefined ? [{ type: 'Ready', status: 'False' }] : [{ type: 'Ready', status: 'True', lastTransitionTime: at(o.readySince).toISOString() }],
    },
  }
  return p as unknown as V1Pod
}

const verbs = (actions: Action[], verb: Action['verb']): Action[] => actions.filter((a) => a.verb === verb)
const deleted = (actions: Action[]): string[] => actions.flatMap((a) => (a.verb === 'delete' ? [a.name] : []))
const statusOf = (actions: Action[]): Record<string, unknown> | undefined => {
  const a = actions.find((x) => x.verb === 'updateStatus')
  return a && a.verb === 'updateStatus' ? a.object.status : undefined
}

t.test('creates pods from the template up to spec.replicas', async (t) => {
  const actions = reconcileReplicaSet(rs(3), [pod('own', { owner: 'rs-uid', node: 'n1', readySince: 0 })], at(10))
  const creates = verbs(actions, 'create')
  t.equal(creates.length, 2)
  const c = creates[0]
  if (c.verb !== 'create') throw new Error('unreachable')
  t.equal(c.info.kind, 'Pod')
  t.same(c.object.metadata, {
    generateName: 'web-',
    namespace: 'ns',
    labels: { app: 'web', tier: 'fe' },
    annotations: { a: 'b' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }],
  })
  t.same(c.object.spec, { containers: [{ name: 'c', image: 'img' }] })
  t.match(c, { event: { reason: 'SuccessfulCreate', message: 'Created pod: {name}', type: 'Normal' } }, 'the event names the pod once the server has named it')
  t.ok(creates.every((a) => a.verb === 'create' && a.event), 'every create carries its event')
  t.match(statusOf(actions), { replicas: 1, readyReplicas: 1, availableReplicas: 1, fullyLabeledReplicas: 1, observedGeneration: 2 })
})

t.test('deletes surplus pods in upstream ActivePods order', async (t) => {
  const cases: { name: string; pods: V1Pod[]; keep: number; want: string[] }[] = [
    { name: 'unassigned before assigned', pods: [pod('a', { node: 'n1', readySince: 0 }), pod('b', { readySince: 0 })], keep: 1, want: ['b'] },
    { name: 'pending before running', pods: [pod('a', { node: 'n1', phase: 'Running' }), pod('b', { node: 'n2', phase: 'Pending' })], keep: 1, want: ['b'] },
    { name: 'unknown before running', pods: [pod('a', { node: 'n1', phase: 'Running' }), pod('b', { node: 'n2', phase: 'Unknown' })], keep: 1, want: ['b'] },
    { name: 'not ready before ready', pods: [pod('a', { node: 'n1', readySince: 0 }), pod('b', { node: 'n2' })], keep: 1, want: ['b'] },
    { name: 'ready for less time first', pods: [pod('a', { node: 'n1', readySince: 0 }), pod('b', { node: 'n2', readySince: 5 })], keep: 1, want: ['b'] },
    { name: 'more restarts first', pods: [pod('a', { node: 'n1', restarts: 1 }), pod('b', { node: 'n2', restarts: 4 })], keep: 1, want: ['b'] },
    { name: 'newer first', pods: [pod('a', { node: 'n1', created: 1 }), pod('b', { node: 'n2', created: 2 }), pod('c', { node: 'n3', created: 0 })], keep: 1, want: ['b', 'a'] },
    { name: 'doubled-up node first', pods: [pod('a', { node: 'n1' }), pod('b', { node: 'n2' }), pod('c', { node: 'n2' })], keep: 2, want: ['c'] },
  ]
  for (const c of cases) {
    const owned = c.pods.map((p) => ({ ...p, metadata: { ...p.metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true }] } }))
    const actions = reconcileReplicaSet(rs(c.keep), owned, at(100))
    const got = deleted(actions)
    if (c.name === 'doubled-up node first') t.ok(got.length === 1 && (got[0] === 'b' || got[0] === 'c'), c.name)
    else t.same(got, c.want, c.name)
    t.match(verbs(actions, 'event')[0], { event: { reason: 'SuccessfulDelete', message: `Deleted pod: ${got[0]}` } }, c.name)
  }
})

t.test('adopts matching orphans and releases owned pods that stopped matching', async (t) => {
  const pods = [
    pod('orphan'),
    pod('orphan-other-labels', { labels: { app: 'api' } }),
    pod('orphan-deleting', { deleting: true }),
    pod('other-owner', { owner: 'someone' }),
    pod('mine-relabelled', { owner: 'rs-uid', labels: { app: 'old' } }),
    pod('mine', { owner: 'rs-uid' }),
    pod('done', { owner: 'rs-uid', phase: 'Succeeded' }),
  ]
  const actions = reconcileReplicaSet(rs(2), pods, at(1))
  const patches = verbs(actions, 'patch')
  t.same(
    patches.map((p) => (p.verb === 'patch' ? [p.name, p.type, p.patch] : [])),
    [
      ['orphan', 'strategic', { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }], uid: 'uid-orphan' } }],
      ['mine-relabelled', 'strategic', { metadata: { ownerReferences: [{ $patch: 'delete', uid: 'rs-uid' }], uid: 'uid-mine-relabelled' } }],
    ],
  )
  t.equal(verbs(actions, 'create').length, 0, 'the adopted orphan counts')
  t.equal(verbs(actions, 'delete').length, 0)
  t.match(statusOf(actions), { replicas: 2 })

  const deleting = reconcileReplicaSet(rs(2, { deleting: true }), pods, at(1))
  t.same(verbs(deleting, 'patch'), [], 'a ReplicaSet being deleted neither adopts nor releases')
  t.same(verbs(deleting, 'create'), [], 'nor creates pods')
})

t.test('status counts with minReadySeconds and no-op when unchanged', async (t) => {
  const r = rs(3, { minReadySeconds: 10 })
  const pods = [
    pod('a', { owner: 'rs-uid', readySince: 0 }),
    pod('b', { owner: 'rs-uid', readySince: 5 }),
    pod('c', { owner: 'rs-uid', labels: { app: 'web' } }),
    pod('gone', { owner: 'rs-uid', readySince: 0, deleting: true }),
  ]
  const s1 = statusOf(reconcileReplicaSet(r, pods, at(12)))
  t.same(s1, { replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1, observedGeneration: 2 })
  t.same(availabilityRecheckAt(r, pods, at(12)), new Date(at(15).getTime() + 1))
  const s2 = statusOf(reconcileReplicaSet(r, pods, at(16)))
  t.match(s2, { availableReplicas: 2 })
  t.equal(availabilityRecheckAt(r, pods, at(16)), undefined)
  const settled = { ...r, status: s2 } as V1ReplicaSet
  t.same(reconcileReplicaSet(settled, pods, at(17)), [], 'nothing to do once status is current')
})

t.test('converges step by step from scratch and back down', async (t) => {
  let pods: V1Pod[] = []
  let current = rs(4)
  let n = 0
  const apply = (actions: Action[], now: Date): void => {
    for (const a of actions) {
      if (a.verb === 'create') {
        const p = structuredClone(a.object) as unknown as V1Pod
        p.metadata!.name = `${p.metadata!.generateName}${n++}`
        p.metadata!.uid = `u${n}`
        p.metadata!.creationTimestamp = now
        p.status = { phase: 'Pending' }
        pods.push(p)
      } else if (a.verb === 'delete') pods = pods.filter((p) => p.metadata?.name !== a.name)
      else if (a.verb === 'updateStatus') current = a.object as V1ReplicaSet
    }
  }
  apply(reconcileReplicaSet(current, pods, at(0)), at(0))
  t.equal(pods.length, 4)
  pods = pods.map((p, i) => (i < 2 ? pod(p.metadata!.name!, { owner: 'rs-uid', node: 'n1', readySince: 1 }) : p))
  apply(reconcileReplicaSet(current, pods, at(2)), at(2))
  t.match(current.status, { replicas: 4, readyReplicas: 2, availableReplicas: 2 })
  current = { ...current, spec: { ...current.spec!, replicas: 2 } }
  apply(reconcileReplicaSet(current, pods, at(3)), at(3))
  t.equal(pods.length, 2)
  t.ok(pods.every((p) => p.status?.phase === 'Running'), 'the pending (not ready) pods went first')
  apply(reconcileReplicaSet(current, pods, at(4)), at(4))
  t.match(current.status, { replicas: 2, readyReplicas: 2, availableReplicas: 2 })
  t.same(reconcileReplicaSet(current, pods, at(5)), [])
})

t.test('a ReplicationController: the same controller, its own kind and a label-map selector', async (t) => {
  const rc = {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name: 'legacy', namespace: 'ns', uid: 'rc-uid', generation: 1, resourceVersion: '3' },
    spec: { replicas: 2, selector: { app: 'web' }, template: { metadata: { labels: { app: 'web', tier: 'fe' } }, spec: { containers: [{ name: 'c', image: 'img' }] } } },
    status: { replicas: 0 },
  }
  const orphan = pod('orphan')
  const other = pod('other', { labels: { app: 'api' } })
  const actions = reconcileReplicaSet(rc, [orphan, other], at(1), replicationControllerKind)
  const adopt = actions.find((a) => a.verb === 'patch')
  t.ok(adopt && adopt.verb === 'patch' && adopt.name === 'orphan', 'an orphan matching the label map is adopted; the other is not')
  t.match(JSON.stringify(adopt && adopt.verb === 'patch' ? adopt.patch : {}), /"kind":"ReplicationController".*"uid":"rc-uid"/)
  const created = verbs(actions, 'create')
  t.equal(created.length, 1, 'one more pod for two replicas')
  const made = created[0].verb === 'create' ? created[0].object : undefined
  t.match(made?.metadata, { generateName: 'legacy-', ownerReferences: [{ apiVersion: 'v1', kind: 'ReplicationController', name: 'legacy', uid: 'rc-uid', controller: true }] })
  const update = actions.find((a) => a.verb === 'updateStatus')
  t.ok(update && update.verb === 'updateStatus' && update.info.kind === 'ReplicationController', 'the status goes to the ReplicationController')
  t.same(update && update.verb === 'updateStatus' ? update.object.spec : undefined, rc.spec, 'with its own selector shape untouched')
  t.equal(statusOf(actions)?.replicas, 1)
  const broken = reconcileReplicaSet({ ...rc, spec: { ...rc.spec, selector: { 'bad key!': 'x' } } }, [orphan], at(1), replicationControllerKind)
  t.match(broken, [{ verb: 'event', event: { reason: 'SelectorParsingFailed' } }])
})
