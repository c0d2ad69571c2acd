import t from 'tap'
import type { Test } from 'tap'
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node'
import type { Action } from '../../src/controllers/actions.ts'
import { reconcileDeployment } from '../../src/controllers/deployment/reconcile.ts'
import { reconcileReplicaSet } from '../../src/controllers/replicaset/reconcile.ts'
import { isPodActive, isPodAvailable } from '../../src/controllers/replicaset/pod-state.ts'

type Obj = Record<string, any>
const t0 = Date.parse('2025-01-01T00:00:00Z')

function deployment(spec: Obj = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'ns', uid: 'd-uid', generation: 1, resourceVersion: '1', annotations: {} },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'img:a' }] } },
      ...spec,
    },
    status: {},
  }
}

/** An in-memory API plus a kubelet that makes pods ready one step after they are created. */
class Cluster {
  d: V1Deployment
  rss: V1ReplicaSet[] = []
  pods: V1Pod[] = []
  events: string[] = []
  now = t0
  seq = 0
  log: Action[] = []
  constructor(d: V1Deployment) {
    this.d = d
  }
  date(): Date {
    return new Date(this.now)
  }
  setSpec(spec: Obj): void {
    this.d = structuredClone(this.d)
    Object.assign(this.d.spec!, spec)
    this.d.metadata!.generation! += 1
  }
  apply(actions: Action[]): void {
    const stamp = new Date(this.now).toISOString()
    for (const a of actions) {
      this.log.push(a)
      const rv = String(++this.seq)
      if (a.verb === 'event') this.events.push(`${a.event.reason}: ${a.event.message}`)
      else if (a.verb === 'create' && a.info.kind === 'ReplicaSet') {
        const rs = structuredClone(a.object) as Obj
        if (this.rss.some((x) => x.metadata!.name === rs.metadata.name)) throw new Error(`AlreadyExists ${rs.metadata.name}`)
        Object.assign(rs.metadata, { uid: `rs-${this.seq}`, creationTimestamp: stamp, resourceVersion: rv, generation: 1 })
        rs.status = { replicas: 0 }
        this.rss.push(rs as V1ReplicaSet)
      } else if (a.verb === 'create' && a.info.kind === 'Pod') {
        const p = structuredClone(a.object) as Obj
        Object.assign(p.metadata, { name: `${p.metadata.generateName}${this.seq}`, uid: `pod-${this.seq}`, creationTimestamp: stamp, resourceVersion: rv })
        p.status = { phase: 'Pending' }
        this.pods.push(p as V1Pod)
      } else if (a.verb === 'update' && a.info.kind === 'ReplicaSet') {
        const i = this.rss.findIndex((x) => x.metadata!.name === a.object.metadata!.name)
        const old = this.rss[i]
        if (old.metadata!.resourceVersion !== a.object.metadata!.resourceVersion) throw new Error('Conflict')
        const next = structuredClone(a.object) as V1ReplicaSet
        next.status = old.status
        next.metadata!.resourceVersion = rv
        if (JSON.stringify(next.spec) !== JSON.stringify(old.spec)) next.metadata!.generation = (old.metadata!.generation ?? 0) + 1
        this.rss[i] = next
      } else if (a.verb === 'updateStatus' && a.info.kind === 'ReplicaSet') {
        const i = this.rss.findIndex((x) => x.metadata!.name === a.object.metadata!.name)
        this.rss[i] = { ...this.rss[i], status: structuredClone(a.object.status) }
      } else if (a.verb === 'updateStatus' && a.info.kind === 'Deployment') {
        this.d = { ...this.d, status: structuredClone(a.object.status) }
      } else if (a.verb === 'patch' && a.info.kind === 'Deployment') {
        const ann = (a.patch as Obj).metadata.annotations
        this.d = { ...this.d, metadata: { ...this.d.metadata, annotations: { ...this.d.metadata!.annotations, ...ann } } }
      } else if (a.verb === 'delete' && a.info.kind === 'ReplicaSet') {
        this.rss = this.rss.filter((x) => x.metadata!.name !== a.name)
      } else if (a.verb === 'delete' && a.info.kind === 'Pod') {
        const p = this.pods.find((x) => x.metadata!.name === a.name)!
        p.metadata!.deletionTimestamp = stamp as unknown as Date
      } else throw new Error(`unexpected action ${a.verb} ${JSON.stringify(a)}`)
    }
  }
  syncReplicaSets(): void {
    for (let i = 0; i < 5; i++) {
      let any = false
      for (const rs of [...this.rss]) {
        const actions = reconcileReplicaSet(rs, this.pods, this.date())
        if (actions.length > 0) any = true
        this.apply(actions)
      }
      if (!any) return
    }
  }
  syncDeployment(): Action[] {
    const actions = reconcileDeployment(this.d, this.rss, this.pods, this.date())
    this.apply(actions)
    return actions
  }
  kubelet(ready: (p: V1Pod) => boolean = () => true): void {
    this.pods = this.pods.filter((p) => !p.metadata!.deletionTimestamp)
    for (const p of this.pods) {
      if (p.status!.phase === 'Pending' && ready(p)) {
        p.spec!.nodeName = 'n1'
        p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(this.now).toISOString() as unknown as Date }] }
      }
    }
    this.now += 1000
  }
  /** One controller round: deployment, replica sets, kubelet, replica-set status. Calls check after each phase. */
  step(check: () => void = () => {}, ready?: (p: V1Pod) => boolean): void {
    this.syncDeployment()
    check()
    this.syncReplicaSets()
    check()
    this.kubelet(ready)
    check()
    this.syncReplicaSets()
    check()
  }
  run(steps: number, check?: () => void, ready?: (p: V1Pod) => boolean): void {
    for (let i = 0; i < steps; i++) this.step(check, ready)
  }
  availablePods(): number {
    return this.pods.filter((p) => isPodActive(p) && isPodAvailable(p, this.d.spec!.minReadySeconds ?? 0, this.date())).length
  }
  activePods(): number {
    return this.pods.filter(isPodActive).length
  }
  rsByImage(image: string): V1ReplicaSet | undefined {
    return this.rss.find((rs) => rs.spec!.template!.spec!.containers[0].image === image)
  }
  /** What `kubectl rollout status` waits for. */
  rolledOut(): boolean {
    const s = this.d.status!
    return (
      (s.observedGeneration ?? 0) >= this.d.metadata!.generation! &&
      (s.updatedReplicas ?? 0) >= this.d.spec!.replicas! &&
      (s.replicas ?? 0) <= (s.updatedReplicas ?? 0) &&
      (s.availableReplicas ?? 0) >= (s.updatedReplicas ?? 0) &&
      getCond(this.d, 'Progressing')?.reason !== 'ProgressDeadlineExceeded'
    )
  }
}

function getCond(d: V1Deployment, type: string): Obj | undefined {
  return d.status?.conditions?.find((c) => c.type === type)
}

function converge(t: Test, c: Cluster, maxSteps: number, check?: () => void): void {
  for (let i = 0; i < maxSteps && !c.rolledOut(); i++) c.step(check)
  c.step(check)
  t.ok(c.rolledOut(), 'rollout status is satisfied')
}

t.test('initial rollout creates web-<hash> and reports a finished rollout', async (t) => {
  const c = new Cluster(deployment())
  const first = c.syncDeployment()
  const create = first.find((a) => a.verb === 'create')
  t.ok(create && create.verb === 'create')
  if (!create || create.verb !== 'create') return
  const rs = create.object as V1ReplicaSet
  const hash = rs.metadata!.labels!['pod-template-hash']
  t.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]+$/)
  t.equal(rs.metadata!.name, `web-${hash}`)
  t.same(rs.spec!.selector, { matchLabels: { app: 'web', 'pod-template-hash': hash } })
  t.same(rs.spec!.template!.metadata!.labels, { app: 'web', 'pod-template-hash': hash })
  t.equal(rs.spec!.replicas, 3)
  t.match(rs.metadata!.annotations, { 'deployment.kubernetes.io/revision': '1', 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4' })
  t.same(rs.metadata!.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd-uid', controller: true, blockOwnerDeletion: true }])
  t.same(c.events, [`ScalingReplicaSet: Scaled up replica set web-${hash} from 0 to 3`])
  t.equal(c.d.metadata!.annotations!['deployment.kubernetes.io/revision'], '1')
  t.match(getCond(c.d, 'Progressing'), { status: 'True', reason: 'NewReplicaSetCreated' })
  t.notOk(c.rolledOut())
  c.syncReplicaSets()
  converge(t, c, 10)
  t.match(c.d.status, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0 })
  t.match(getCond(c.d, 'Available'), { status: 'True', reason: 'MinimumReplicasAvailable' })
  t.match(getCond(c.d, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' })
  t.equal(computeHashStable(), hash, 'the hash is stable across runs')
  const settled = reconcileDeployment(c.d, c.rss, c.pods, c.date())
  t.same(settled, [], 'a settled deployment needs nothing')
})

function computeHashStable(): string {
  const actions = reconcileDeployment(deployment(), [], [], new Date(t0))
  const a = actions.find((x) => x.verb === 'create')
  return a && a.verb === 'create' ? a.object.metadata!.labels['pod-template-hash'] : ''
}

t.test('rolling update keeps availability and surge within bounds', async (t) => {
  const cases = [
    { replicas: 10, maxSurge: 3, maxUnavailable: 2, minReadySeconds: 0 },
    { replicas: 4, maxSurge: '25%', maxUnavailable: '25%', minReadySeconds: 0 },
    { replicas: 5, maxSurge: 1, maxUnavailable: 0, minReadySeconds: 2 },
    { replicas: 3, maxSurge: 0, maxUnavailable: 1, minReadySeconds: 0 },
    { replicas: 10, maxSurge: '30%', maxUnavailable: '15%', minReadySeconds: 1 },
  ]
  for (const k of cases) {
    const name = JSON.stringify(k)
    const c = new Cluster(deployment({ replicas: k.replicas, minReadySeconds: k.minReadySeconds, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: k.maxSurge, maxUnavailable: k.maxUnavailable } } }))
    converge(t, c, 20)
    const surge = typeof k.maxSurge === 'number' ? k.maxSurge : Math.ceil((parseInt(k.maxSurge) * k.replicas) / 100)
    const unavailable = typeof k.maxUnavailable === 'number' ? k.maxUnavailable : Math.floor((parseInt(k.maxUnavailable) * k.replicas) / 100)
    c.setSpec({ template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'img:b' }] } } })
    let minSeen = Infinity
    let maxSeen = 0
    const check = (): void => {
      minSeen = Math.min(minSeen, c.availablePods())
      maxSeen = Math.max(maxSeen, c.activePods(), c.rss.reduce((n, rs) => n + (rs.spec!.replicas ?? 0), 0))
    }
    converge(t, c, 60, check)
    t.ok(minSeen >= k.replicas - unavailable, `${name}: available never below ${k.replicas - unavailable} (min ${minSeen})`)
    t.ok(maxSeen <= k.replicas + surge, `${name}: pods never above ${k.replicas + surge} (max ${maxSeen})`)
    const a = c.rsByImage('img:a')!
    const b = c.rsByImage('img:b')!
    t.equal(a.spec!.replicas, 0, `${name}: old RS scaled to 0`)
    t.equal(b.spec!.replicas, k.replicas)
    t.equal(b.metadata!.annotations!['deployment.kubernetes.io/revision'], '2')
    t.equal(c.d.metadata!.annotations!['deployment.kubernetes.io/revision'], '2')
    t.equal(c.pods.length, k.replicas)
    t.ok(c.pods.every((p) => p.spec!.containers[0].image === 'img:b'))
    t.match(c.d.status, { observedGeneration: 2, replicas: k.replicas, updatedReplicas: k.replicas, availableReplicas: k.replicas })
    t.ok(c.events.some((e) => e.startsWith(`ScalingReplicaSet: Scaled down replica set ${a.metadata!.name} from`)), `${name}: scale-down event`)
  }
})

t.test('stalled rollout holds old pods while new ones are not ready', async (t) => {
  const c = new Cluster(deployment({ replicas: 4, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } }))
  converge(t, c, 10)
  c.setSpec({ template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'img:b' }] } } })
  const never = (p: V1Pod): boolean => p.spec!.containers[0].image !== 'img:b'
  let minSeen = Infinity
  c.run(10, () => (minSeen = Math.min(minSeen, c.availablePods())), never)
  t.equal(minSeen, 3)
  t.equal(c.rsByImage('img:a')!.spec!.replicas, 3, 'one old pod given up, no more')
  t.equal(c.rsByImage('img:b')!.spec!.replicas, 2)
  t.notOk(c.rolledOut())
  c.now += 601_000
  c.syncDeployment()
  t.match(getCond(c.d, 'Progressing'), { status: 'False', reason: 'ProgressDeadlineExceeded' })
})

t.test('recreate scales old to zero, waits for pods to go, then creates the new one', async (t) => {
  const c = new Cluster(deployment({ strategy: { type: 'Recreate' } }))
  converge(t, c, 10)
  c.setSpec({ template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'img:b' }] } } })
  c.syncDeployment()
  t.equal(c.rsByImage('img:a')!.spec!.replicas, 0)
  t.equal(c.rsByImage('img:b'), undefined, 'no new RS while old is scaling down')
  c.syncReplicaSets()
  t.equal(c.activePods(), 0)
  c.syncDeployment()
  t.equal(c.rsByImage('img:b'), undefined, 'terminating pods still block the new RS')
  let mixed = false
  const check = (): void => {
    const images = new Set(c.pods.map((p) => p.spec!.containers[0].image))
    if (images.size > 1) mixed = true
  }
  converge(t, c, 10, check)
  t.notOk(mixed, 'old and new pods never coexist')
  t.equal(c.rsByImage('img:b')!.spec!.replicas, 3)
  t.equal(c.pods.length, 3)
})

function rollBackTo(c: Cluster, rs: V1ReplicaSet): void {
  // kubectl rollout undo: copy the RS template without its hash label, and its revision annotation.
  const template = structuredClone(rs.spec!.template!)
  delete template.metadata!.labels!['pod-template-hash']
  c.setSpec({ template })
  c.d.metadata!.annotations = { ...c.d.metadata!.annotations, 'deployment.kubernetes.io/revision': rs.metadata!.annotations!['deployment.kubernetes.io/revision'] }
}

t.test('rollback reuses the old ReplicaSet with a new revision', async (t) => {
  const c = new Cluster(deployment())
  converge(t, c, 10)
  const a = c.rsByImage('img:a')!
  c.setSpec({ template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'img:b' }] } } })
  converge(t, c, 20)
  t.equal(c.rss.length, 2)
  rollBackTo(c, c.rsByImage('img:a')!)
  const creates = c.syncDeployment().filter((x) => x.verb === 'create')
  t.same(creates, [], 'no new ReplicaSet')
  converge(t, c, 20)
  t.equal(c.rss.length, 2)
  const back = c.rsByImage('img:a')!
  t.equal(back.metadata!.uid, a.metadata!.uid, 'the same ReplicaSet')
  t.equal(back.spec!.replicas, 3)
  t.equal(back.metadata!.annotations!['deployment.kubernetes.io/revision'], '3')
  t.equal(back.metadata!.annotations!['deployment.kubernetes.io/revision-history'], '1')
  t.equal(c.d.metadata!.annotations!['deployment.kubernetes.io/revision'], '3')
  t.equal(c.rsByImage('img:b')!.spec!.replicas, 0)
})

t.test('revisionHistoryLimit deletes the oldest scaled-down ReplicaSets', async (t) => {
  const c = new Cluster(deployment({ revisionHistoryLimit: 1 }))
  converge(t, c, 10)
  for (const image of ['img:b', 'img:c']) {
    c.setSpec({ template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } } })
    converge(t, c, 20)
  }
  c.step()
  t.same(c.rss.map((rs) => rs.spec!.template!.spec!.containers[0].image).sort(), ['img:b', 'img:c'])
  t.ok(c.log.some((a) => a.verb === 'delete' && a.info.kind === 'ReplicaSet'))
})

t.test('paused deployments scale but do not roll out', async (t) => {
  const c = new Cluster(deployment())
  converge(t, c, 10)
  c.setSpec({ paused: true, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'img:b' }] } } })
  c.run(3)
  t.equal(c.rsByImage('img:b'), undefined)
  t.match(getCond(c.d, 'Progressing'), { status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' })
  t.equal(c.d.status!.observedGeneration, 2)
  c.setSpec({ replicas: 5 })
  c.run(3)
  t.equal(c.rsByImage('img:a')!.spec!.replicas, 5, 'scaling still works')
  t.equal(c.pods.length, 5)
  t.ok(c.events.includes(`ScalingReplicaSet: Scaled up replica set ${c.rsByImage('img:a')!.metadata!.name} from 3 to 5`))
  c.setSpec({ paused: false })
  c.syncDeployment()
  t.ok(c.rsByImage('img:b'), 'resuming starts the rollout')
  converge(t, c, 30)
  t.equal(c.rsByImage('img:b')!.spec!.replicas, 5)
  t.match(getCond(c.d, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' })
})

t.test('scaling mid-rollout is proportional', async (t) => {
  const c = new Cluster(deployment({ replicas: 10, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } }))
  converge(t, c, 10)
  c.setSpec({ template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'img:b' }] } } })
  c.step(undefined, () => false)
  const before = c.rss.reduce((n, rs) => n + rs.spec!.replicas!, 0)
  t.equal(before, 11, 'surged to 13, then 2 unavailable old pods given up')
  t.equal(c.rsByImage('img:b')!.spec!.replicas, 3)
  c.setSpec({ replicas: 20 })
  c.syncDeployment()
  t.equal(c.rss.reduce((n, rs) => n + rs.spec!.replicas!, 0), 23, 'total becomes replicas + maxSurge')
  t.same([c.rsByImage('img:a')!.spec!.replicas, c.rsByImage('img:b')!.spec!.replicas], [18, 5], 'each grew by round(size*23/13), the leftover to the largest (upstream GetProportion)')
  converge(t, c, 40)
  t.equal(c.rsByImage('img:b')!.spec!.replicas, 20)
})

t.test('adopts orphaned ReplicaSets matching the selector', async (t) => {
  const orphan: V1ReplicaSet = {
    metadata: { name: 'web-old', namespace: 'ns', uid: 'o-uid', labels: { app: 'web' } },
    spec: { replicas: 0, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } } } },
  }
  const other: V1ReplicaSet = { metadata: { name: 'x', namespace: 'ns', uid: 'x-uid', labels: { app: 'x' } }, spec: { selector: { matchLabels: { app: 'x' } }, template: {} } }
  const actions = reconcileDeployment(deployment(), [orphan, other], [], new Date(t0))
  const patches = actions.filter((a) => a.verb === 'patch' && a.info.kind === 'ReplicaSet')
  t.same(patches.map((p) => (p.verb === 'patch' ? [p.name, p.patch] : [])), [
    ['web-old', { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd-uid', controller: true, blockOwnerDeletion: true }], uid: 'o-uid' } }],
  ])
  const selectAll = reconcileDeployment(deployment({ selector: {} }), [orphan], [], new Date(t0))
  t.match(selectAll, [{ verb: 'event', event: { reason: 'SelectingAll', type: 'Warning' } }])
})

t.test('a scale-down counts no more available pods in a set than it is meant to keep', async (t) => {
  const c = new Cluster(deployment({ replicas: 4, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } }))
  c.run(6)
  c.setSpec({ template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'img:b' }] } } })
  c.run(2, undefined, (p) => !p.spec!.containers[0]!.image!.endsWith(':b'))
  // The old set was just scaled down to 2 but its status still counts 3 available pods;
  // the new set is at its surge limit (3) with 2 pods available.
  const old = c.rsByImage('img:a')!
  const fresh = c.rsByImage('img:b')!
  old.spec!.replicas = 2
  old.status = { ...old.status!, replicas: 3, readyReplicas: 3, availableReplicas: 3 }
  fresh.spec!.replicas = 3
  fresh.status = { ...fresh.status!, replicas: 3, readyReplicas: 2, availableReplicas: 2 }
  c.syncDeployment()
  t.equal(c.rsByImage('img:a')!.spec!.replicas, 1, 'one more old pod may go (1 old + 2 new stay available), not both')
})
