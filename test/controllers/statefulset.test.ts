import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import type { Action } from '../../src/controllers/actions.ts'
import { hashControllerRevision } from '../../src/controllers/history/revision-hash.ts'
import { reconcileStatefulSet } from '../../src/controllers/statefulset/reconcile.ts'
import { statefulSetPatch } from '../../src/controllers/statefulset/set-revisions.ts'
import { at, Cluster, statefulSet, t0, verbs } from './statefulset-cluster.ts'

const created = (actions: Action[]): string[] => actions.flatMap((a) => (a.verb === 'create' && a.info.kind === 'Pod' ? [a.object.metadata!.name!] : []))
const deleted = (actions: Action[]): string[] => actions.flatMap((a) => (a.verb === 'delete' && a.info.kind === 'Pod' ? [a.name] : []))

t.test('OrderedReady comes up one pod at a time, in order, each Running and Ready first', async (t) => {
  const c = new Cluster(statefulSet())
  const first = c.reconcile()
  const revision = `db-${hashControllerRevision(statefulSetPatch(c.set), 0)}`
  t.same(verbs(first), [`create ControllerRevision ${revision}`, 'create Pod db-0', `updateStatus StatefulSet db`])
  const pod = c.pods.get('db-0')!
  t.same(pod.metadata?.labels, { app: 'db', 'statefulset.kubernetes.io/pod-name': 'db-0', 'apps.kubernetes.io/pod-index': '0', 'controller-revision-hash': revision })
  t.equal(pod.spec?.hostname, 'db-0')
  t.equal(pod.spec?.subdomain, 'db-headless', 'the headless Service names the DNS subdomain')
  t.same(pod.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'sts-uid', controller: true, blockOwnerDeletion: true }])
  t.match(first.find((a) => a.verb === 'create' && a.info.kind === 'Pod'), { event: { reason: 'SuccessfulCreate', message: 'create Pod db-0 in StatefulSet db successful' } })
  t.same(c.set.status, { observedGeneration: 1, replicas: 0, readyReplicas: 0, availableReplicas: 0, currentReplicas: 0, updatedReplicas: 0, currentRevision: revision, updateRevision: revision, collisionCount: 0 })

  t.same(verbs(c.reconcile()), ['updateStatus StatefulSet db'], 'the pod exists (Pending): counted, nothing else')
  t.same(c.reconcile(), [], 'waits for db-0 to be Running and Ready')
  c.pods.get('db-0')!.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }
  t.same(created(c.reconcile()), [], 'Running but not Ready: still waiting')
  c.ready('db-0')
  c.pods.get('db-0')!.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at(1) }] }
  t.same(created(c.reconcile()), ['db-1'])
  t.same(created(c.reconcile()), [], 'db-1 is Pending')
  c.ready('db-1')
  t.same(created(c.reconcile()), ['db-2'])
  c.ready('db-2')
  c.reconcile()
  t.same(c.names(), ['db-0', 'db-1', 'db-2'])
  t.match(c.set.status, { replicas: 3, readyReplicas: 3, availableReplicas: 3, currentReplicas: 3, updatedReplicas: 3 })
  t.same(c.reconcile(), [], 'settled')
})

t.test('minReadySeconds holds the next pod until the last is available, and asks to be woken then', async (t) => {
  const c = new Cluster(statefulSet({ minReadySeconds: 10 }))
  c.reconcile()
  c.ready('db-0')
  t.same(created(c.reconcile()), [])
  t.same(c.last.recheck, new Date(at(1).getTime() + 10_001))
  c.clock = 12
  t.same(created(c.reconcile()), ['db-1'])
})

t.test('OrderedReady scales down from the highest ordinal, one at a time, after each is gone', async (t) => {
  const c = new Cluster(statefulSet({ replicas: 4 }))
  c.settle()
  c.set = { ...c.set, spec: { ...c.set.spec!, replicas: 1 } }
  const step = c.reconcile()
  t.same(deleted(step), ['db-3'])
  t.ok(step.some((a) => a.verb === 'event' && a.event.reason === 'SuccessfulDelete' && a.event.message === 'delete Pod db-3 in StatefulSet db successful'))
  t.same(deleted(c.reconcile()), [], 'waits while db-3 terminates')
  c.finishDeletes()
  t.same(deleted(c.reconcile()), ['db-2'])
  c.finishDeletes()
  c.pods.get('db-0')!.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }
  t.same(deleted(c.reconcile()), [], 'an unhealthy pod below blocks the scale-down')
  c.pods.get('db-0')!.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: t0 }] }
  t.same(deleted(c.reconcile()), ['db-1'])
  c.finishDeletes()
  t.same(c.names(), ['db-0'])
})

t.test('Parallel creates and removes every pod at once', async (t) => {
  const c = new Cluster(statefulSet({ policy: 'Parallel' }))
  t.same(created(c.reconcile()), ['db-0', 'db-1', 'db-2'])
  c.set = { ...c.set, spec: { ...c.set.spec!, replicas: 5 } }
  t.same(created(c.reconcile()), ['db-3', 'db-4'], 'without waiting for readiness')
  c.set = { ...c.set, spec: { ...c.set.spec!, replicas: 1 } }
  t.same(deleted(c.reconcile()), ['db-4', 'db-3', 'db-2', 'db-1'])
})

t.test('ordinals.start shifts the names; pods outside the range are condemned', async (t) => {
  const c = new Cluster(statefulSet({ start: 5, replicas: 2, policy: 'Parallel' }))
  t.same(created(c.reconcile()), ['db-5', 'db-6'])
  t.equal(c.pods.get('db-5')!.metadata?.labels?.['apps.kubernetes.io/pod-index'], '5')
  c.set = { ...c.set, spec: { ...c.set.spec!, ordinals: { start: 6 } } }
  const step = c.reconcile()
  t.same(created(step), ['db-7'])
  t.same(deleted(step), ['db-5'])
})

t.test('a failed pod is deleted and made again under its name', async (t) => {
  const c = new Cluster(statefulSet({ replicas: 2 }))
  c.settle()
  c.pods.get('db-1')!.status = { phase: 'Failed' }
  t.same(deleted(c.reconcile()), ['db-1'])
  c.finishDeletes()
  t.same(created(c.reconcile()), ['db-1'])
})

t.test('orphans with member names are adopted; others are not', async (t) => {
  const c = new Cluster(statefulSet({ replicas: 1 }))
  const orphan = (name: string): V1Pod => ({ metadata: { name, namespace: 'data', uid: `u-${name}`, labels: { app: 'db' } }, spec: { containers: [] }, status: { phase: 'Running' } })
  c.pods.set('db-0', orphan('db-0'))
  c.pods.set('web-0', orphan('web-0'))
  const actions = c.reconcile()
  t.same(verbs(actions).filter((v) => v.startsWith('patch')), ['patch Pod db-0'])
  t.same(created(actions), [], 'the adopted pod holds ordinal 0')
})

t.test('a template change rolls from the highest ordinal down to the partition', async (t) => {
  const c = new Cluster(statefulSet({ partition: 1 }))
  c.settle()
  const oldRev = c.set.status!.currentRevision!
  c.withTemplateImage('db:2')
  const step = c.reconcile()
  const newRev = c.set.status!.updateRevision!
  t.not(newRev, oldRev)
  t.same(verbs(step), [`create ControllerRevision ${newRev}`, 'delete Pod db-2', 'updateStatus StatefulSet db'])
  t.match(c.set.status, { observedGeneration: 2, currentRevision: oldRev, currentReplicas: 2, updatedReplicas: 0 })
  t.same(deleted(c.reconcile()), [], 'one at a time')
  c.finishDeletes()
  t.same(created(c.reconcile()), ['db-2'])
  t.equal(c.revisionOf('db-2'), newRev, 'made anew at the update revision')
  t.equal(c.pods.get('db-2')!.spec!.containers[0].image, 'db:2')
  c.ready('db-2')
  t.same(deleted(c.reconcile()), ['db-1'])
  c.finishDeletes()
  t.same(created(c.reconcile()), ['db-1'])
  c.ready('db-1')
  t.same(deleted(c.reconcile()), [], 'db-0 is below the partition')
  t.equal(c.revisionOf('db-0'), oldRev)
  t.match(c.set.status, { currentRevision: oldRev, updateRevision: newRev, currentReplicas: 1, updatedReplicas: 2 })

  c.pods.get('db-0')!.status = { phase: 'Failed' }
  c.reconcile()
  c.finishDeletes()
  c.reconcile()
  t.equal(c.revisionOf('db-0'), oldRev, 'a pod made again below the partition keeps the current revision')
  c.ready('db-0')

  c.set = { ...c.set, spec: { ...c.set.spec!, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 1 } } } }
  c.settle()
  t.equal(c.revisionOf('db-0'), newRev)
  t.match(c.set.status, { currentRevision: newRev, updateRevision: newRev, currentReplicas: 3, updatedReplicas: 3 }, 'the update revision became current')
})

t.test('a second change mid-rollout: pods of the abandoned revision are replaced too, and counted right', async (t) => {
  const c = new Cluster(statefulSet({ replicas: 3, policy: 'Parallel', maxUnavailable: 3 }))
  c.settle()
  const a = c.set.status!.currentRevision
  c.withTemplateImage('db:2')
  c.reconcile()
  c.finishDeletes()
  c.reconcile()
  c.ready()
  const b = c.set.status!.updateRevision
  t.same(['db-0', 'db-1', 'db-2'].map((n) => c.revisionOf(n)), [b, b, b])
  // Every pod at B while status still names A current: a change to C meets pods at neither.
  c.set = { ...c.set, status: { ...c.set.status!, currentRevision: a, currentReplicas: 0 } }
  c.withTemplateImage('db:3')
  t.same(deleted(c.reconcile()), ['db-2', 'db-1', 'db-0'])
  t.match(c.set.status, { currentRevision: a, currentReplicas: 0, updatedReplicas: 0 }, 'pods at neither revision do not count below zero')
})

t.test('maxUnavailable replaces that many at once', async (t) => {
  for (const policy of ['OrderedReady', 'Parallel'] as const) {
    const c = new Cluster(statefulSet({ replicas: 5, maxUnavailable: 2, policy }))
    c.settle()
    c.withTemplateImage('db:2')
    t.same(deleted(c.reconcile()), ['db-4', 'db-3'], `${policy}: two from the top`)
    t.same(deleted(c.reconcile()), [], `${policy}: the budget is spent`)
    c.finishDeletes()
    if (policy === 'OrderedReady') {
      t.same(created(c.reconcile()), ['db-3'], 'OrderedReady: made again one at a time')
      c.ready()
      t.same(created(c.reconcile()), ['db-4'])
    } else {
      t.same(created(c.reconcile()), ['db-3', 'db-4'], 'Parallel: made again together')
    }
    c.ready()
    t.same(deleted(c.reconcile()), ['db-2', 'db-1'], `${policy}: the next two`)
    c.settle()
    t.equal(c.set.status?.updatedReplicas, 5)
  }
  const percent = new Cluster(statefulSet({ replicas: 4, maxUnavailable: '60%' }))
  percent.settle()
  percent.withTemplateImage('db:2')
  t.same(deleted(percent.reconcile()), ['db-3', 'db-2'], '60% of 4 rounds down to 2')
})

t.test('Parallel replaces old pods that are already unavailable beyond the budget', async (t) => {
  const c = new Cluster(statefulSet({ replicas: 4, policy: 'Parallel' }))
  c.settle()
  c.withTemplateImage('db:2')
  c.pods.get('db-0')!.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }
  c.pods.get('db-1')!.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }
  t.same(deleted(c.reconcile()), ['db-1', 'db-0'], 'the broken old pods go; no healthy one while two are down')
})

t.test('OnDelete keeps old pods until they are deleted, then makes them at the update revision', async (t) => {
  const c = new Cluster(statefulSet({ onDelete: true, replicas: 2 }))
  c.settle()
  const oldRev = c.set.status!.currentRevision
  c.withTemplateImage('db:2')
  t.same(deleted(c.reconcile()), [])
  t.same(c.reconcile(), [])
  c.pods.delete('db-1')
  c.reconcile()
  t.not(c.revisionOf('db-1'), oldRev)
  t.equal(c.revisionOf('db-0'), oldRev)
  t.match(c.set.status, { currentReplicas: 1 })
})

t.test('revisions: numbers, rollback by renumbering, truncation, collisions', async (t) => {
  const c = new Cluster(statefulSet({ replicas: 1 }))
  c.settle()
  const [r1] = c.revisions.values()
  t.equal(r1.revision, 1)
  t.same(r1.metadata?.labels, { app: 'db', 'controller.kubernetes.io/hash': r1.metadata!.name!.slice('db-'.length) })
  t.same(r1.data, statefulSetPatch(c.set))
  t.equal((r1.data as any).spec.template.$patch, 'replace')

  c.withTemplateImage('db:2')
  c.settle()
  const r2 = c.revisions.get(c.set.status!.currentRevision!)!
  t.equal(r2.revision, 2)

  c.withTemplateImage('db:1')
  const back = c.reconcile()
  t.same(verbs(back).slice(0, 1), [`update ControllerRevision ${r1.metadata!.name}`], 'the equal old revision is renumbered, not copied')
  t.equal(c.revisions.get(r1.metadata!.name!)!.revision, 3)
  c.settle()
  t.equal(c.revisions.size, 2)

  c.set = { ...c.set, spec: { ...c.set.spec!, revisionHistoryLimit: 0 } }
  const truncated = c.reconcile()
  t.same(verbs(truncated), [`delete ControllerRevision ${r2.metadata!.name}`], 'history beyond the limit goes, live revisions stay')

  const taken = new Cluster(statefulSet({ replicas: 1 }))
  const name = `db-${hashControllerRevision(statefulSetPatch(taken.set), 0)}`
  taken.revisions.set(name, { metadata: { name, namespace: 'data', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'other', uid: 'other', controller: true }] }, data: { other: true }, revision: 1 })
  taken.reconcile()
  t.equal(taken.set.status?.collisionCount, 1)
  t.equal(taken.set.status?.updateRevision, `db-${hashControllerRevision(statefulSetPatch(taken.set), 1)}`)
})

t.test('a revision without a template is reported, not applied', async (t) => {
  const c = new Cluster(statefulSet({ replicas: 1 }))
  c.settle()
  const current = c.revisions.get(c.set.status!.currentRevision!)!
  current.data = { spec: {} }
  const actions = c.reconcile()
  t.match(actions.at(-1), { verb: 'event', event: { type: 'Warning', reason: 'FailedApplyRevision' } })
  t.same(created(actions), [])
})

t.test('a set being deleted, or with an invalid selector, does nothing', async (t) => {
  const set = statefulSet()
  t.same(reconcileStatefulSet({ set: { ...set, metadata: { ...set.metadata, deletionTimestamp: t0 } }, pods: [], revisions: [], revisionNamed: () => undefined, now: t0 }).actions, [])
  const bad = reconcileStatefulSet({ set: { ...set, spec: { ...set.spec!, selector: {} } }, pods: [], revisions: [], revisionNamed: () => undefined, now: t0 }).actions
  t.same(bad.map((a) => (a.verb === 'event' ? a.event.reason : a.verb)), ['SelectorParsingFailed'])
  t.same(reconcileStatefulSet({ set: undefined, pods: [], revisions: [], revisionNamed: () => undefined, now: t0 }).actions, [])
})
