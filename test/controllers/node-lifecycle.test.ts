import t from 'tap'
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node'
import { reconcileNode, type NodeLifecycleOptions } from '../../src/controllers/node-lifecycle/reconcile-node.ts'
import { NodeHealth, zoneState } from '../../src/controllers/node-lifecycle/node-health.ts'
import type { Action } from '../../src/controllers/actions.ts'

const T0 = Date.parse('2025-01-01T00:00:00Z')
const at = (s: number): Date => new Date(T0 + s * 1000)
const iso = (s: number): string => at(s).toISOString().replace(/\.\d{3}Z$/, 'Z')
const opts = { gracePeriodSeconds: 40 }
/** As if the controller saw each heartbeat the moment it was written (no clock skew, no lag). */
function heard(n: V1Node | undefined, l?: V1Lease, extra: Partial<NodeLifecycleOptions> = {}): NodeLifecycleOptions {
  const beats = [l?.spec?.renewTime, n?.status?.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime].map((x) => Date.parse(String(x))).filter(Number.isFinite)
  return { ...opts, lastHeardMs: beats.length ? Math.max(...beats) : Date.parse(String(n?.metadata?.creationTimestamp)), ...extra }
}

function node(extra: { ready?: string; beat?: number; taints?: unknown[]; unschedulable?: boolean; memoryPressure?: string } = {}): V1Node {
  const conditions: unknown[] = []
  for (const type of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) {
    conditions.push({ type, status: type === 'MemoryPressure' ? extra.memoryPressure ?? 'False' : 'False', reason: 'KubeletHasNoPressure', lastHeartbeatTime: iso(extra.beat ?? 0), lastTransitionTime: iso(-1000) })
  }
  if (extra.ready) conditions.push({ type: 'Ready', status: extra.ready, reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: iso(extra.beat ?? 0), lastTransitionTime: iso(-1000) })
  return {
    metadata: { name: 'n1', uid: 'u-n1', resourceVersion: '7', creationTimestamp: iso(-2000) as unknown as Date },
    spec: { taints: extra.taints as V1Node['spec'] extends infer S ? S extends { taints?: infer X } ? X : never : never, unschedulable: extra.unschedulable },
    status: { conditions: conditions as never },
  }
}
const lease = (renew: number): V1Lease => ({ metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { renewTime: iso(renew) as unknown as Date } })
function pod(name: string, extra: { tolerations?: unknown[]; ready?: string; deleting?: boolean } = {}): V1Pod {
  return {
    metadata: { name, namespace: 'default', uid: `u-${name}`, ...(extra.deleting ? { deletionTimestamp: iso(0) as unknown as Date } : {}) },
    spec: { nodeName: 'n1', containers: [{ name: 'c' }], tolerations: extra.tolerations as never },
    status: { conditions: [{ type: 'Ready', status: extra.ready ?? 'True' }] as never },
  }
}

const taintPatch = (actions: Action[]) => actions.find((a) => a.verb === 'patch' && a.info.kind === 'Node' && !a.subresource)
const statusPatch = (actions: Action[]) => actions.find((a) => a.verb === 'patch' && a.info.kind === 'Node' && a.subresource === 'status')
const taintsOf = (actions: Action[]): string[] => {
  const p = taintPatch(actions)
  if (!p || p.verb !== 'patch') return []
  const taints = (p.patch as { spec: { taints: { key: string; effect: string }[] | null } }).spec.taints ?? []
  return taints.map((x) => `${x.key}:${x.effect}`)
}
const deleted = (actions: Action[]): string[] => actions.flatMap((a) => (a.verb === 'delete' ? [a.name] : []))

t.test('heartbeat staleness', async (t) => {
  const cases: { name: string; lease?: V1Lease; beat: number; now: number; stale: boolean }[] = [
    { name: 'fresh lease', lease: lease(100), beat: 0, now: 130, stale: false },
    { name: 'lease stale by 41s', lease: lease(100), beat: 0, now: 141, stale: true },
    { name: 'no lease, fresh heartbeat', beat: 100, now: 139, stale: false },
    { name: 'no lease, stale heartbeat', beat: 100, now: 200, stale: true },
    { name: 'old lease but fresh status heartbeat', lease: lease(0), beat: 100, now: 120, stale: false },
  ]
  for (const c of cases) {
    const { actions, requeueAfterMs } = reconcileNode(node({ ready: 'True', beat: c.beat }), c.lease, [], at(c.now), heard(node({ ready: 'True', beat: c.beat }), c.lease))
    t.equal(Boolean(statusPatch(actions)), c.stale, c.name)
    if (!c.stale) t.ok(requeueAfterMs !== undefined && requeueAfterMs > 0, `${c.name}: requeued for when it would go stale`)
  }
})

t.test('a stale node gets Unknown conditions, unreachable taints and its pods marked not ready', async (t) => {
  const { actions } = reconcileNode(node({ ready: 'True', beat: 0 }), lease(0), [pod('a'), pod('b', { ready: 'False' })], at(100), heard(node({ ready: 'True', beat: 0 }), lease(0)))
  const sp = statusPatch(actions)
  t.ok(sp)
  const conds = (sp as { patch: { status: { conditions: Record<string, string>[] } } }).patch.status.conditions
  t.same(conds.map((c) => c.type).sort(), ['DiskPressure', 'MemoryPressure', 'PIDPressure', 'Ready'])
  for (const c of conds) {
    t.equal(c.status, 'Unknown')
    t.equal(c.reason, 'NodeStatusUnknown')
    t.equal(c.message, 'Kubelet stopped posting node status.')
    t.equal(c.lastTransitionTime, iso(100))
    t.equal(c.lastHeartbeatTime, iso(0), 'heartbeat time kept')
  }
  t.same(taintsOf(actions), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule'])
  t.equal(actions.indexOf(taintPatch(actions)!), 0, 'taints patched first (resourceVersion guarded)')
  const podPatches = actions.filter((a) => a.verb === 'patch' && a.info.kind === 'Pod' && JSON.stringify(a.patch).includes('"Ready"'))
  t.same(podPatches.map((a) => (a.verb === 'patch' ? a.name : '')), ['a'], 'only the still-ready pod is patched')
  t.ok(actions.some((a) => a.verb === 'event' && a.event.reason === 'NodeNotReady' && a.event.message === 'Node n1 status is now: NodeNotReady'))
  t.same(deleted(actions), ['a', 'b'], 'pods without tolerations are evicted')
  t.ok(actions.some((a) => a.verb === 'patch' && a.name === 'b' && JSON.stringify(a.patch).includes('DeletionByTaintManager')), 'DisruptionTarget before deletion')
  t.ok(actions.some((a) => a.verb === 'event' && a.event.reason === 'TaintManagerEviction' && a.event.message === 'Marking for deletion Pod default/a'))
})

t.test('a node that never posted status gets NodeStatusNeverUpdated conditions', async (t) => {
  const { actions } = reconcileNode(node({ beat: 0 }), undefined, [], at(100), heard(node({ beat: 0 }), undefined))
  const conds = (statusPatch(actions) as { patch: { status: { conditions: Record<string, string>[] } } }).patch.status.conditions
  const ready = conds.find((c) => c.type === 'Ready')!
  t.equal(ready.reason, 'NodeStatusNeverUpdated')
  t.equal(ready.message, 'Kubelet never posted node status.')
})

t.test('taints follow the Ready condition', async (t) => {
  const unreachable = [
    { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: iso(50) },
    { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: iso(50) },
    { key: 'example.com/user', effect: 'NoSchedule' },
  ]
  const cases: { name: string; n: V1Node; want: string[] | null }[] = [
    { name: 'not ready', n: node({ ready: 'False', beat: 90 }), want: ['node.kubernetes.io/not-ready:NoExecute', 'node.kubernetes.io/not-ready:NoSchedule'] },
    { name: 'healthy again: managed taints removed, user taint kept', n: node({ ready: 'True', beat: 90, taints: unreachable }), want: ['example.com/user:NoSchedule'] },
    { name: 'healthy, no taints: no patch', n: node({ ready: 'True', beat: 90 }), want: null },
    { name: 'memory pressure', n: node({ ready: 'True', beat: 90, memoryPressure: 'True' }), want: ['node.kubernetes.io/memory-pressure:NoSchedule'] },
    { name: 'cordoned', n: node({ ready: 'True', beat: 90, unschedulable: true }), want: ['node.kubernetes.io/unschedulable:NoSchedule'] },
  ]
  for (const c of cases) {
    const { actions } = reconcileNode(c.n, undefined, [], at(100), heard(c.n, undefined))
    if (c.want === null) t.notOk(taintPatch(actions), c.name)
    else t.same(taintsOf(actions), c.want, c.name)
  }
  const { actions } = reconcileNode(node({ ready: 'Unknown', beat: 0, taints: unreachable.slice(0, 2) }), undefined, [], at(100), heard(node({ ready: 'Unknown', beat: 0, taints: unreachable.slice(0, 2) }), undefined))
  t.notOk(taintPatch(actions), 'existing taints keep their timeAdded: no patch')
  const sp = statusPatch(actions)
  t.notOk(sp && sp.verb === 'patch' && JSON.stringify(sp.patch).includes('"Ready"'), 'Ready already Unknown: not patched again')
  t.notOk(actions.some((a) => a.verb === 'event' && a.event.reason === 'NodeNotReady'), 'no NodeNotReady event without a transition')
})

t.test('taint eviction honours tolerations and tolerationSeconds', async (t) => {
  const taints = [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: iso(50) }, { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: iso(50) }]
  const n = node({ ready: 'Unknown', beat: 0, taints })
  const tol = (seconds?: number, extra: Record<string, unknown> = {}) => [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', ...(seconds === undefined ? {} : { tolerationSeconds: seconds }), ...extra }]
  const cases: { name: string; p: V1Pod; now: number; evicted: boolean; requeue?: number }[] = [
    { name: 'no toleration', p: pod('x'), now: 60, evicted: true },
    { name: 'tolerates forever', p: pod('x', { tolerations: tol() }), now: 10000, evicted: false },
    { name: 'within tolerationSeconds', p: pod('x', { tolerations: tol(300) }), now: 100, evicted: false, requeue: 250_000 },
    { name: 'tolerationSeconds elapsed', p: pod('x', { tolerations: tol(300) }), now: 350, evicted: true },
    { name: 'negative seconds evict at once', p: pod('x', { tolerations: tol(-5) }), now: 51, evicted: true },
    { name: 'wildcard Exists toleration', p: pod('x', { tolerations: [{ operator: 'Exists' }] }), now: 10000, evicted: false },
    { name: 'toleration for another key', p: pod('x', { tolerations: [{ key: 'other', operator: 'Exists' }] }), now: 60, evicted: true },
    { name: 'Equal with wrong value', p: pod('x', { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Equal', value: 'x' }] }), now: 60, evicted: true },
    { name: 'NoSchedule-only toleration', p: pod('x', { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoSchedule' }] }), now: 60, evicted: true },
    { name: 'already deleting', p: pod('x', { deleting: true }), now: 60, evicted: false },
  ]
  for (const c of cases) {
    const { actions, requeueAfterMs } = reconcileNode(n, undefined, [c.p], at(c.now), heard(n, undefined))
    t.same(deleted(actions), c.evicted ? ['x'] : [], c.name)
    if (c.requeue !== undefined) t.equal(requeueAfterMs, c.requeue, `${c.name}: requeue when the toleration runs out`)
    if (c.evicted) {
      const del = actions.find((a) => a.verb === 'delete')
      t.equal(del && del.verb === 'delete' ? del.uid : undefined, 'u-x', 'uid precondition')
    }
  }
  const { actions } = reconcileNode(node({ ready: 'True', beat: 95, taints: [{ key: 'example.com/drain', effect: 'NoExecute', timeAdded: iso(0) }] }), undefined, [pod('y')], at(100), heard(node({ ready: 'True', beat: 95, taints: [{ key: 'example.com/drain', effect: 'NoExecute', timeAdded: iso(0) }] }), undefined))
  t.same(deleted(actions), ['y'], 'user NoExecute taints evict too')
  t.same(reconcileNode(undefined, undefined, [pod('x')], at(0), heard(undefined, undefined)), { actions: [] }, 'no node: nothing')
})

t.test("liveness is judged by when this controller saw a heartbeat change, not by the node's clock", async (t) => {
  const health = new NodeHealth()
  // The node's clock runs a day behind: its timestamps alone would say it died long ago.
  const skewed = (beat: number) => node({ ready: 'True', beat: beat - 86_400 })
  const now0 = T0 + 100_000
  t.equal(health.lastHeard(skewed(0), lease(-86_400), now0), now0, 'first seen: heard from now (a new leader gives every node its grace period)')
  t.equal(health.lastHeard(skewed(0), lease(-86_400), now0 + 30_000), now0, 'unchanged: still the first sighting')
  t.equal(health.lastHeard(skewed(10), lease(-86_390), now0 + 35_000), now0 + 35_000, 'a renewal seen: heard now')
  const n = skewed(10)
  const fresh = reconcileNode(n, lease(-86_390), [], new Date(now0 + 60_000), { ...opts, lastHeardMs: health.lastHeard(n, lease(-86_390), now0 + 60_000) })
  t.notOk(statusPatch(fresh.actions), 'heard 25 s ago: not stale, whatever its timestamps say')
  const silent = reconcileNode(n, lease(-86_390), [], new Date(now0 + 80_000), { ...opts, lastHeardMs: health.lastHeard(n, lease(-86_390), now0 + 80_000) })
  t.ok(statusPatch(silent.actions), 'silent for 45 s by our clock: Unknown')
})

t.test('zone states and eviction rates, as upstream handleDisruption', async (t) => {
  t.equal(zoneState(3, 0, 0.55), 'Normal')
  t.equal(zoneState(1, 2, 0.55), 'Normal', 'two down is never a disruption')
  t.equal(zoneState(4, 6, 0.55), 'PartialDisruption')
  t.equal(zoneState(0, 1, 0.55), 'FullDisruption')
  const health = new NodeHealth()
  const many = (zone: string, ready: number, down: number) => [...Array(ready).fill({ zone, ready: true }), ...Array(down).fill({ zone, ready: false })]
  let v = health.zoneRates([...many('a', 10, 0), ...many('b', 0, 3)])
  t.same([v.rates.get('a'), v.rates.get('b'), v.allDisrupted], [0.1, 0.1, false], 'a healthy zone and a dead one both evict at the normal rate')
  v = health.zoneRates([...many('a', 4, 6), ...many('b', 40, 60)])
  t.same([v.rates.get('a'), v.rates.get('b')], [0, 0.01], 'partly down: small zones stop, large ones slow down')
  v = health.zoneRates([...many('a', 0, 5), ...many('b', 0, 1)])
  t.same([v.rates.get('a'), v.rates.get('b'), v.allDisrupted], [0, 0, true], 'everything down: no evictions anywhere')
  t.same(health.takeEvictionToken('a', 0.1, 0), { ok: true, retryMs: 0 }, 'a burst of one')
  t.same(health.takeEvictionToken('a', 0.1, 1000), { ok: false, retryMs: 9000 }, 'then one per 10 s')
  t.same(health.takeEvictionToken('a', 0.1, 10_000), { ok: true, retryMs: 0 })
  t.equal(health.takeEvictionToken('b', 0, 0).ok, false, 'rate 0: never')
  t.equal(new NodeHealth({ evictionRate: undefined }).options.evictionRate, 0.1, 'an option left out keeps its default')
})

t.test('NoExecute taints wait for the rate limiter and are lifted when everything is down', async (t) => {
  const silent = node({ ready: 'True', beat: 0 })
  const limited = reconcileNode(silent, undefined, [pod('a')], at(100), heard(silent, undefined, { mayTaintNoExecute: () => ({ ok: false, retryMs: 7000 }) }))
  t.same(taintsOf(limited.actions), ['node.kubernetes.io/unreachable:NoSchedule'], 'no evicting taint yet')
  t.same(deleted(limited.actions), [])
  t.ok(limited.requeueAfterMs !== undefined && limited.requeueAfterMs <= 7000, 'tried again when the limiter allows')
  const allowed = reconcileNode(silent, undefined, [pod('a')], at(100), heard(silent, undefined, { mayTaintNoExecute: () => ({ ok: true, retryMs: 0 }) }))
  t.same(taintsOf(allowed.actions), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule'])
  const tainted = node({ ready: 'Unknown', beat: 0, taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: iso(50) }, { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: iso(50) }] })
  const outage = reconcileNode(tainted, undefined, [pod('a')], at(100), heard(tainted, undefined, { allDisrupted: true, mayTaintNoExecute: () => ({ ok: true, retryMs: 0 }) }))
  t.same(taintsOf(outage.actions), ['node.kubernetes.io/unreachable:NoSchedule'], 'every zone down: the evicting taint is lifted')
  t.same(deleted(outage.actions), [], 'and nothing is evicted')
})
