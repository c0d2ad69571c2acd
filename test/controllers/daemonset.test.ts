import t from 'tap'
import type { V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node'
import type { Action } from '../../src/controllers/actions.ts'
import { reconcileDaemonSet } from '../../src/controllers/daemonset/reconcile.ts'
import { revisionHashLabel, targetNodeName } from '../../src/controllers/daemonset/daemon-pod.ts'
import { computeHash } from '../../src/controllers/deployment/template-hash.ts'
import { requiredNodeMatcher } from '../../src/scheduler/node-affinity.ts'
import { at, Cluster, daemonSet, node, noHistory, t0, type DsOpts } from './daemonset-cluster.ts'

function dsPod(name: string, nodeName: string, o: { hash?: string; created?: number; phase?: string; readySince?: number; deleting?: boolean; bound?: boolean; owner?: string } = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'kube-system',
      uid: `uid-${name}`,
      labels: { app: 'agent', [revisionHashLabel]: o.hash ?? 'old' },
      creationTimestamp: at(o.created ?? 0),
      ownerReferences: o.owner === '' ? undefined : [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: o.owner ?? 'ds-uid', controller: true }],
      ...(o.deleting ? { deletionTimestamp: at(0) } : {}),
    },
    spec: {
      containers: [],
      nodeName: o.bound === false ? undefined : nodeName,
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }] } } },
    },
    status: {
      phase: o.phase ?? 'Running',
      conditions: o.readySince === undefined ? [] : [{ type: 'Ready', status: 'True', lastTransitionTime: at(o.readySince) }],
    },
  }
}

const hashOf = (ds: V1DaemonSet): string => computeHash(ds.spec?.template, ds.status?.collisionCount)
const created = (actions: Action[]): V1Pod[] => actions.flatMap((a) => (a.verb === 'create' && a.info.kind === 'Pod' ? [a.object as V1Pod] : []))
const createdOn = (actions: Action[]): string[] => created(actions).map((p) => targetNodeName(p) ?? '?').sort()
const deleted = (actions: Action[]): string[] => actions.flatMap((a) => (a.verb === 'delete' && a.info.kind === 'Pod' ? [a.name] : [])).sort()
const statusOf = (actions: Action[]): Record<string, unknown> | undefined => {
  const a = actions.find((x) => x.verb === 'updateStatus')
  return a && a.verb === 'updateStatus' ? (a.object.status as Record<string, unknown>) : undefined
}

t.test('pods are created for eligible nodes only', async (t) => {
  const cases: Array<{ name: string; ds: DsOpts; nodes: V1Node[]; want: string[] }> = [
    { name: 'no constraints: every node', ds: {}, nodes: [node('a'), node('b')], want: ['a', 'b'] },
    { name: 'nodeSelector', ds: { nodeSelector: { role: 'edge' } }, nodes: [node('a', { labels: { role: 'edge' } }), node('b', { labels: { role: 'core' } }), node('c')], want: ['a'] },
    { name: 'required node affinity', ds: { affinityZone: 'z1' }, nodes: [node('a', { labels: { zone: 'z1' } }), node('b', { labels: { zone: 'z2' } })], want: ['a'] },
    {
      name: 'untolerated NoSchedule and NoExecute taints exclude; PreferNoSchedule does not',
      ds: {},
      nodes: [
        node('a', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }),
        node('b', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] }),
        node('c', { taints: [{ key: 'dedicated', value: 'db', effect: 'PreferNoSchedule' }] }),
      ],
      want: ['c'],
    },
    {
      name: 'template tolerations',
      ds: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] },
      nodes: [node('a', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }), node('b', { taints: [{ key: 'dedicated', value: 'web', effect: 'NoSchedule' }] })],
      want: ['a'],
    },
    {
      name: 'automatic tolerations',
      ds: {},
      nodes: [
        node('nr', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }] }),
        node('ur', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }),
        node('dp', { taints: [{ key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }] }),
        node('mp', { taints: [{ key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }] }),
        node('pp', { taints: [{ key: 'node.kubernetes.io/pid-pressure', effect: 'NoSchedule' }] }),
        node('us', { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }),
        node('nu', { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] }),
        node('nrs', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] }),
      ],
      want: ['dp', 'mp', 'nr', 'pp', 'ur', 'us'],
    },
    {
      name: 'network-unavailable tolerated for hostNetwork pods',
      ds: { hostNetwork: true },
      nodes: [node('nu', { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] })],
      want: ['nu'],
    },
    { name: 'nodes being deleted are skipped', ds: {}, nodes: [node('a'), node('b', { deleting: true })], want: ['a'] },
  ]
  for (const c of cases) {
    const actions = reconcileDaemonSet(daemonSet(c.ds), c.nodes, [], t0, noHistory)
    t.same(createdOn(actions), c.want, c.name)
    t.equal(statusOf(actions)?.desiredNumberScheduled, c.want.length, `${c.name}: desiredNumberScheduled`)
  }
})

t.test('the created pod is pinned to its node and labelled', async (t) => {
  const ds = daemonSet({ affinityZone: 'z1', tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] })
  const actions = reconcileDaemonSet(ds, [node('a', { labels: { zone: 'z1' } }), node('b', { labels: { zone: 'z1' } })], [], t0, noHistory)
  const [pod] = created(actions).filter((p) => targetNodeName(p) === 'a')
  t.equal(pod.metadata?.generateName, 'agent-')
  t.equal(pod.metadata?.namespace, 'kube-system')
  t.same(pod.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true, blockOwnerDeletion: true }])
  t.same(pod.metadata?.labels, { app: 'agent', 'pod-template-generation': '1', [revisionHashLabel]: hashOf(ds) })
  t.equal(pod.spec?.nodeName, undefined, 'left to the scheduler')
  const na = pod.spec?.affinity?.nodeAffinity
  t.same(na?.requiredDuringSchedulingIgnoredDuringExecution, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }] }] })
  t.equal(na?.preferredDuringSchedulingIgnoredDuringExecution?.length, 1, 'preferred terms kept')
  const matcher = requiredNodeMatcher(pod)!
  t.ok(matcher({ zone: 'z1' }, 'a'))
  t.notOk(matcher({ zone: 'z1' }, 'b'), 'the scheduler can only place it on its node')
  const keys = (pod.spec?.tolerations ?? []).map((x) => `${x.key}:${x.effect}`)
  t.equal(keys.filter((k) => k === 'node.kubernetes.io/unschedulable:NoSchedule').length, 1, 'no duplicate toleration')
  t.ok(keys.includes('node.kubernetes.io/not-ready:NoExecute'))
  t.notOk(keys.includes('node.kubernetes.io/network-unavailable:NoSchedule'))
  t.same(
    actions.flatMap((a) => (a.verb === 'create' && a.event ? [[a.event.type, a.event.reason, a.event.message]] : [])),
    [
      ['Normal', 'SuccessfulCreate', 'Created pod: {name}'],
      ['Normal', 'SuccessfulCreate', 'Created pod: {name}'],
    ],
    'each create carries its event, named once the server names the pod',
  )
})

t.test('pods on nodes that become ineligible', async (t) => {
  const ds = daemonSet({ nodeSelector: { role: 'edge' } })
  const h = hashOf(ds)
  const pods = [dsPod('p-a', 'a', { hash: h, readySince: 0 })]
  const cases: Array<{ name: string; n: V1Node; deleted: string[]; misscheduled: number }> = [
    { name: 'still eligible', n: node('a', { labels: { role: 'edge' } }), deleted: [], misscheduled: 0 },
    { name: 'label removed', n: node('a'), deleted: ['p-a'], misscheduled: 1 },
    { name: 'untolerated NoSchedule taint: keeps running', n: node('a', { labels: { role: 'edge' }, taints: [{ key: 'x', effect: 'NoSchedule' }] }), deleted: [], misscheduled: 1 },
    { name: 'untolerated NoExecute taint: evicted', n: node('a', { labels: { role: 'edge' }, taints: [{ key: 'x', effect: 'NoExecute' }] }), deleted: ['p-a'], misscheduled: 1 },
  ]
  for (const c of cases) {
    const actions = reconcileDaemonSet(ds, [c.n], pods, t0, noHistory)
    t.same(deleted(actions), c.deleted, c.name)
    t.same(created(actions), [], `${c.name}: nothing created`)
    t.equal(statusOf(actions)?.numberMisscheduled, c.misscheduled, `${c.name}: misscheduled`)
  }
  const evicted = reconcileDaemonSet(ds, [node('a')], pods, t0, noHistory)
  t.ok(evicted.some((a) => a.verb === 'event' && a.event.reason === 'SuccessfulDelete' && a.event.message === 'Deleted pod: p-a'))
})

t.test('duplicates, failed pods and pods for vanished nodes', async (t) => {
  const ds = daemonSet()
  const h = hashOf(ds)
  const nodes = [node('a'), node('b'), node('c')]
  const pods = [
    dsPod('a-new', 'a', { hash: h, created: 10 }),
    dsPod('a-old', 'a', { hash: h, created: 5 }),
    dsPod('a-unbound', 'a', { hash: h, created: 1, bound: false }),
    dsPod('a-going', 'a', { hash: h, created: 0, deleting: true }),
    dsPod('b-failed', 'b', { hash: h, phase: 'Failed' }),
    dsPod('c-ok', 'c', { hash: h }),
    dsPod('gone-unbound', 'gone', { hash: h, bound: false }),
    dsPod('gone-bound', 'gone', { hash: h }),
    dsPod('other-owner', 'c', { hash: h, owner: 'someone-else' }),
  ]
  const actions = reconcileDaemonSet(ds, nodes, pods, t0, noHistory)
  t.same(deleted(actions), ['a-new', 'a-unbound', 'b-failed', 'gone-unbound'], 'keeps the oldest bound pod; failed and orphaned unbound pods go')
  t.same(created(actions), [], 'the failed pod is replaced next reconcile')
  const failedEvent = actions.find((a) => a.verb === 'event' && a.event.reason === 'FailedDaemonPod')
  t.ok(failedEvent && failedEvent.verb === 'event' && failedEvent.event.type === 'Warning' && failedEvent.event.message === 'Found failed daemon pod kube-system/b-failed on node b, will try to kill it')

  const next = reconcileDaemonSet(ds, nodes, pods.filter((p) => !['a-new', 'a-unbound', 'b-failed', 'gone-unbound'].includes(p.metadata!.name!)), t0, noHistory)
  t.same(createdOn(next), ['b'])
})

t.test('orphans matching the selector are adopted; an empty selector is refused', async (t) => {
  const ds = daemonSet()
  const actions = reconcileDaemonSet(ds, [node('a')], [dsPod('orphan', 'a', { hash: hashOf(ds), owner: '' })], t0, noHistory)
  const patch = actions.find((a) => a.verb === 'patch')
  t.ok(patch && patch.verb === 'patch' && patch.name === 'orphan' && patch.type === 'strategic')
  t.same(created(actions), [], 'the adopted pod counts for its node')

  const all = daemonSet()
  all.spec!.selector = {}
  const refused = reconcileDaemonSet(all, [node('a')], [], t0, noHistory)
  t.same(refused.map((a) => (a.verb === 'event' ? a.event.reason : a.verb)), ['SelectingAll'])
  t.same(reconcileDaemonSet(undefined, [node('a')], [], t0, noHistory), [])
})

t.test('status counts', async (t) => {
  const ds = daemonSet({ nodeSelector: { role: 'edge' } })
  ds.spec!.minReadySeconds = 10
  ds.metadata!.generation = 3
  const h = hashOf(ds)
  const edge = { labels: { role: 'edge' } }
  const nodes = [node('a', edge), node('b', edge), node('c', edge), node('d', edge), node('e')]
  const pods = [
    dsPod('pa', 'a', { hash: h, readySince: 0 }), // ready, available, updated
    dsPod('pb', 'b', { hash: 'old', readySince: 95 }), // ready, not yet available, old
    dsPod('pc', 'c', { hash: h }), // not ready
    dsPod('pe', 'e', { hash: h, readySince: 0 }), // misscheduled
  ]
  const actions = reconcileDaemonSet(ds, nodes, pods, at(100), noHistory)
  t.same(statusOf(actions), {
    desiredNumberScheduled: 4,
    currentNumberScheduled: 3,
    numberMisscheduled: 1,
    numberReady: 2,
    numberAvailable: 1,
    numberUnavailable: 3,
    updatedNumberScheduled: 2,
    observedGeneration: 3,
  })
})

t.test('rolling update replaces at most maxUnavailable pods at a time', async (t) => {
  const cases: Array<{ maxUnavailable: number | string; nodes: number; step: number }> = [
    { maxUnavailable: 1, nodes: 4, step: 1 },
    { maxUnavailable: 2, nodes: 5, step: 2 },
    { maxUnavailable: '50%', nodes: 3, step: 2 },
    { maxUnavailable: 0, nodes: 3, step: 1 },
  ]
  for (const c of cases) {
    const name = `maxUnavailable ${c.maxUnavailable}`
    const cluster = new Cluster(daemonSet({ maxUnavailable: c.maxUnavailable }), Array.from({ length: c.nodes }, (_, i) => node(`n${i}`)))
    cluster.settle()
    t.equal(cluster.pods.length, c.nodes, `${name}: one pod per node`)
    t.same(cluster.reconcile(), [], `${name}: no actions when settled`)

    cluster.ds = { ...cluster.ds, metadata: { ...cluster.ds.metadata, generation: 2 }, spec: { ...cluster.ds.spec!, template: { ...cluster.ds.spec!.template, spec: { containers: [{ name: 'c', image: 'img:2' }] } } } }
    const newHash = hashOf(cluster.ds)
    const deletesPerRound: number[] = []
    for (let round = 0; round < 20; round++) {
      const actions = cluster.reconcile()
      if (actions.length === 0) break
      const d = deleted(actions).length
      if (d > 0) deletesPerRound.push(d)
      t.ok(cluster.unavailable() <= c.step, `${name}: round ${round} keeps unavailability within ${c.step}`)
      // Not ready yet: reconciling again deletes nothing more.
      t.same(deleted(cluster.reconcile()), [], `${name}: round ${round} waits for readiness`)
      cluster.makeReady()
    }
    t.ok(deletesPerRound.every((d) => d <= c.step), `${name}: deletes per round ${deletesPerRound.join(',')}`)
    t.equal(deletesPerRound[0], c.step, `${name}: uses the full budget`)
    t.same(cluster.pods.map((p) => p.metadata?.labels?.[revisionHashLabel]), Array(c.nodes).fill(newHash), `${name}: all pods updated`)
    t.equal(cluster.ds.status?.updatedNumberScheduled, c.nodes)
    t.equal(cluster.ds.status?.numberAvailable, c.nodes)
    t.equal(cluster.ds.status?.observedGeneration, 2)
    t.same(cluster.reconcile(), [], `${name}: settled after the update`)
  }
})

t.test('an unavailable old pod is replaced regardless of the budget', async (t) => {
  const ds = daemonSet({ maxUnavailable: 1 })
  const pods = [dsPod('pa', 'a', { readySince: 0 }), dsPod('pb', 'b'), dsPod('pc', 'c')]
  const actions = reconcileDaemonSet(ds, [node('a'), node('b'), node('c')], pods, t0, noHistory)
  t.same(deleted(actions), ['pb', 'pc'], 'not-ready old pods go; the available one waits')
})

t.test('OnDelete never deletes old pods for an update', async (t) => {
  const cluster = new Cluster(daemonSet({ strategy: 'OnDelete' }), [node('a'), node('b')])
  cluster.settle()
  const oldHash = hashOf(cluster.ds)
  cluster.ds = { ...cluster.ds, metadata: { ...cluster.ds.metadata, generation: 2 }, spec: { ...cluster.ds.spec!, template: { ...cluster.ds.spec!.template, spec: { containers: [{ name: 'c', image: 'img:2' }] } } } }
  const actions = cluster.reconcile()
  t.same(deleted(actions), [])
  t.same(created(actions), [])
  t.equal(statusOf(actions)?.updatedNumberScheduled, 0)
  t.same(cluster.reconcile(), [], 'settled with old pods')
  cluster.pods = cluster.pods.filter((p) => targetNodeName(p) !== 'a')
  const recreated = created(cluster.reconcile())
  t.equal(recreated.length, 1)
  t.not(recreated[0].metadata?.labels?.[revisionHashLabel], oldHash, 'the replacement has the new template')
})
