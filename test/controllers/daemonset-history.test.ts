import t from 'tap'
import type { V1ControllerRevision, V1DaemonSet, V1Pod } from '@kubernetes/client-node'
import type { Action } from '../../src/controllers/actions.ts'
import { revisionHashLabel, targetNodeName } from '../../src/controllers/daemonset/daemon-pod.ts'
import { reconcileDaemonSet } from '../../src/controllers/daemonset/reconcile.ts'
import { computeHash } from '../../src/controllers/deployment/template-hash.ts'
import { templatePatch } from '../../src/controllers/history/revisions.ts'
import { at, Cluster, daemonSet, node, t0 } from './daemonset-cluster.ts'

const podsOn = (c: Cluster, n: string): V1Pod[] => c.pods.filter((p) => targetNodeName(p) === n)
const hashesOn = (c: Cluster, n: string): string[] => podsOn(c, n).map((p) => p.metadata!.labels![revisionHashLabel])
const createdOn = (actions: Action[]): string[] => actions.flatMap((a) => (a.verb === 'create' && a.info.kind === 'Pod' ? [targetNodeName(a.object as V1Pod) ?? '?'] : [])).sort()
const deleted = (actions: Action[]): string[] => actions.flatMap((a) => (a.verb === 'delete' && a.info.kind === 'Pod' ? [a.name] : [])).sort()
const revisionVerbs = (actions: Action[]): string[] =>
  actions.flatMap((a) => (a.verb !== 'event' && 'info' in a && a.info.kind === 'ControllerRevision' ? [`${a.verb} ${a.verb === 'delete' || a.verb === 'patch' ? a.name : a.object.metadata?.name}`] : []))
const withImage = (ds: V1DaemonSet, image: string): V1DaemonSet => ({
  ...ds,
  metadata: { ...ds.metadata, generation: (ds.metadata!.generation ?? 1) + 1 },
  spec: { ...ds.spec!, template: { ...ds.spec!.template, spec: { containers: [{ name: 'c', image }] } } },
})
const byRevision = (c: Cluster): Array<[number, string]> => [...c.revisions.values()].sort((a, b) => a.revision - b.revision).map((r) => [r.revision, r.metadata!.name!])

t.test('the current template is a ControllerRevision <ds>-<hash>, and its hash labels the pods', async (t) => {
  const c = new Cluster(daemonSet(), [node('a'), node('b')])
  const first = c.reconcile()
  const hash = computeHash(c.ds.spec?.template, undefined)
  t.same(revisionVerbs(first), [`create agent-${hash}`])
  const rev = c.revisions.get(`agent-${hash}`)!
  t.same(rev.metadata?.labels, { app: 'agent', [revisionHashLabel]: hash })
  t.same(rev.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true, blockOwnerDeletion: true }])
  t.equal(rev.revision, 1)
  t.same(rev.data, templatePatch(c.ds.spec?.template), 'the patch kubectl rollout undo applies')
  t.same(hashesOn(c, 'a'), [hash])
  c.makeReady()
  c.settle()
  t.same(revisionVerbs(c.reconcile()), [], 'nothing to write once the revision exists')
})

t.test('rollout undo: the old revision is current again, renumbered, and its pods are up to date', async (t) => {
  const c = new Cluster(daemonSet(), [node('a'), node('b')])
  c.settle()
  const v1 = c.ds
  const h1 = computeHash(v1.spec?.template, undefined)
  c.ds = withImage(c.ds, 'img:2')
  const h2 = computeHash(c.ds.spec?.template, undefined)
  // Roll one node to v2, then undo (kubectl patches the v1 revision's template back).
  const step = c.reconcile()
  t.same(revisionVerbs(step), [`create agent-${h2}`])
  t.same(byRevision(c), [[1, `agent-${h1}`], [2, `agent-${h2}`]])
  c.reconcile()
  c.makeReady()
  t.same(hashesOn(c, 'a').concat(hashesOn(c, 'b')).sort(), [h1, h2].sort(), 'one node rolled')
  c.ds = { ...c.ds, metadata: { ...c.ds.metadata, generation: 3 }, spec: { ...c.ds.spec!, template: structuredClone(v1.spec!.template) } }
  const rolledBack = c.pods.find((p) => p.metadata?.labels?.[revisionHashLabel] === h2)!
  const undo = c.reconcile()
  t.same(revisionVerbs(undo), [`update agent-${h1}`], 'no new revision: the old one is renumbered')
  t.same(byRevision(c), [[2, `agent-${h2}`], [3, `agent-${h1}`]])
  t.same(deleted(undo), [rolledBack.metadata!.name!], 'only the pod at the undone revision is replaced')
  c.settle()
  t.same([...hashesOn(c, 'a'), ...hashesOn(c, 'b')], [h1, h1])
  t.equal(c.ds.status?.updatedNumberScheduled, 2)
})

t.test('history is cut to revisionHistoryLimit, keeping revisions pods still run', async (t) => {
  const c = new Cluster(daemonSet({ historyLimit: 1, strategy: 'OnDelete' }), [node('a')])
  c.settle()
  const h1 = computeHash(c.ds.spec?.template, undefined)
  for (const image of ['img:2', 'img:3', 'img:4']) {
    c.ds = withImage(c.ds, image)
    c.settle()
  }
  const h4 = computeHash(c.ds.spec?.template, undefined)
  t.same([...c.revisions.keys()].sort(), [`agent-${h1}`, `agent-${h4}`].sort(), 'one old revision is kept: v1, which the pod still runs (OnDelete), though v2 and v3 are newer')
  c.pods = []
  c.ds = withImage(c.ds, 'img:5')
  c.settle()
  t.same([...c.revisions.keys()].sort(), [`agent-${h4}`, `agent-${computeHash(c.ds.spec?.template, undefined)}`].sort(), 'once no pod runs v1 it is the oldest to go')
})

t.test('a name taken by other data raises the collision count and does nothing else', async (t) => {
  const ds = daemonSet()
  const hash = computeHash(ds.spec?.template, undefined)
  const other: V1ControllerRevision = { metadata: { name: `agent-${hash}`, namespace: 'kube-system' }, data: { spec: { template: { other: true } } }, revision: 1 }
  const actions = reconcileDaemonSet(ds, [node('a')], [], t0, { revisions: [], named: (n) => (n === other.metadata!.name ? other : undefined) })
  t.same(actions.map((a) => a.verb), ['updateStatus'])
  const status = actions[0].verb === 'updateStatus' ? actions[0].object.status : undefined
  t.equal(status?.collisionCount, 1)
  const next = reconcileDaemonSet({ ...ds, status }, [node('a')], [], t0, { revisions: [], named: (n) => (n === other.metadata!.name ? other : undefined) })
  const fresh = computeHash(ds.spec?.template, 1)
  t.not(fresh, hash)
  t.same(revisionVerbs(next), [`create agent-${fresh}`])
})

t.test('old revisions get the hash label; duplicates of the current one merge', async (t) => {
  const ds = daemonSet()
  const data = templatePatch(ds.spec?.template)
  const owner = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }]
  const legacy: V1ControllerRevision = { metadata: { name: 'agent-legacy', namespace: 'kube-system', labels: { app: 'agent' }, ownerReferences: owner }, data: { spec: { template: { old: true } } }, revision: 1 }
  const dupA: V1ControllerRevision = { metadata: { name: 'agent-a', namespace: 'kube-system', labels: { app: 'agent', [revisionHashLabel]: 'a' }, ownerReferences: owner }, data, revision: 2 }
  const dupB: V1ControllerRevision = { metadata: { name: 'agent-b', namespace: 'kube-system', labels: { app: 'agent', [revisionHashLabel]: 'b' }, ownerReferences: owner }, data, revision: 3 }
  const pod: V1Pod = { metadata: { name: 'p', namespace: 'kube-system', labels: { app: 'agent', [revisionHashLabel]: 'a' }, ownerReferences: owner }, spec: { containers: [], nodeName: 'a' }, status: { phase: 'Running' } }
  const actions = reconcileDaemonSet(ds, [node('a')], [pod], t0, { revisions: [legacy, dupA, dupB], named: () => undefined })
  const verbs = actions.filter((a) => a.verb !== 'event' && a.verb !== 'updateStatus').map((a) => (a.verb === 'update' ? `update ${a.object.metadata?.name} ${JSON.stringify(a.object.metadata?.labels)}` : a.verb === 'delete' || a.verb === 'patch' ? `${a.verb} ${a.info.kind} ${a.name}` : a.verb))
  t.same(verbs, [`update agent-legacy {"app":"agent","${revisionHashLabel}":"agent-legacy"}`, 'patch Pod p', 'delete ControllerRevision agent-a'], 'the duplicate at the lower revision goes after its pods take the kept hash')
  t.match(actions.find((a) => a.verb === 'patch'), { name: 'p', patch: { metadata: { labels: { [revisionHashLabel]: 'b' } } }, type: 'merge' }, 'to the kept revision, the higher one')
  t.notOk(actions.some((a) => a.verb === 'delete' && a.info.kind === 'Pod'), 'no pod is judged by its old label in the same pass')
})

t.test('maxSurge starts the new pod beside the old one and removes the old once the new is available', async (t) => {
  const c = new Cluster(daemonSet({ maxSurge: 1, maxUnavailable: 0 }), [node('a'), node('b'), node('c')])
  c.settle()
  c.ds = withImage(c.ds, 'img:2')
  const h2 = computeHash(c.ds.spec?.template, undefined)
  const first = c.reconcile()
  t.same(createdOn(first), ['a'], 'one surge pod (maxSurge 1)')
  t.same(deleted(first), [], 'no old pod goes before its replacement is available')
  t.same(podsOn(c, 'a').length, 2)
  t.same(c.reconcile().filter((a) => a.verb === 'create' || a.verb === 'delete'), [], 'waits for the new pod')
  c.makeReady()
  const oldOnA = podsOn(c, 'a').find((p) => p.metadata!.labels![revisionHashLabel] !== h2)!.metadata!.name!
  t.same(deleted(c.reconcile()), [oldOnA], 'the new pod on a is available: the old one goes')
  for (let i = 0; i < 20 && c.reconcile().some((a) => a.verb !== 'event'); i++) {
    t.ok(c.nodes.every((n) => podsOn(c, n.metadata!.name!).some((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'))), `round ${i}: every node keeps a ready pod`)
    t.ok(c.pods.filter((p) => p.metadata!.labels![revisionHashLabel] === h2 && !p.status?.conditions?.length).length <= 1, `round ${i}: at most one new pod not yet ready`)
    c.makeReady()
  }
  t.same(c.nodes.map((n) => hashesOn(c, n.metadata!.name!)), [[h2], [h2], [h2]])
  t.equal(c.ds.status?.updatedNumberScheduled, 3)
})

t.test('surging, a node whose old pod is unavailable gets its new pod at once, beyond the budget', async (t) => {
  const c = new Cluster(daemonSet({ maxSurge: 1, maxUnavailable: 0 }), [node('a'), node('b'), node('c')])
  c.settle()
  c.ds = withImage(c.ds, 'img:2')
  for (const n of ['b', 'c']) podsOn(c, n)[0].status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }
  t.same(createdOn(c.reconcile()), ['a', 'b', 'c'], 'b and c are broken anyway; a is the one surge')
})

t.test('surging, manage keeps an old pod only while it is ready and its replacement is not yet available', async (t) => {
  const ds = daemonSet({ maxSurge: 1, maxUnavailable: 0 })
  ds.spec!.minReadySeconds = 30
  const hash = computeHash(ds.spec?.template, undefined)
  const owner = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }]
  const pod = (name: string, h: string, created: number, ready?: number): V1Pod => ({
    metadata: { name, namespace: 'kube-system', uid: name, labels: { app: 'agent', [revisionHashLabel]: h }, ownerReferences: owner, creationTimestamp: at(created) },
    spec: { containers: [], nodeName: 'a' },
    status: { phase: 'Running', conditions: ready === undefined ? [] : [{ type: 'Ready', status: 'True', lastTransitionTime: at(ready) }] },
  })
  const run = (pods: V1Pod[], now: number) => deleted(reconcileDaemonSet(ds, [node('a')], pods, at(now), { revisions: [], named: () => undefined }))
  t.same(run([pod('old', 'x', 0, 0), pod('new', hash, 10, 20)], 25), [], 'new pod ready but not yet available: both stay')
  t.same(run([pod('old', 'x', 0, 0), pod('new', hash, 10, 20)], 60), ['old'], 'new pod available: the old one goes')
  t.same(run([pod('old', 'x', 0), pod('new', hash, 10)], 25), ['old'], 'old pod not ready: it goes')
  t.same(run([pod('old', 'x', 0, 0), pod('old2', 'y', 1, 0), pod('new', hash, 10), pod('new2', hash, 11)], 25), ['new2', 'old2'], 'beyond one old and one new, the younger go')
})
