import t from 'tap'
import type { Budget, BudgetPod } from '../../src/api/disruption-budget.ts'
import { budgetCounts, countHealthyPods, disruptedPods, expectedPodCount, scaledValue } from '../../src/controllers/disruption/budget-status.ts'
import { findControllerScale, WORKLOAD_KINDS, type Workload, type WorkloadLookup } from '../../src/controllers/disruption/controller-scale.ts'
import { reconcileDisruptionBudget, SYNC_FAILED_RETRY_MS } from '../../src/controllers/disruption/reconcile.ts'
import { reconcileStaleDisruption, staleDisruptionWaitMs } from '../../src/controllers/disruption/stale-disruption.ts'
import type { Action } from '../../src/controllers/actions.ts'

const now = new Date('2026-12-07T02:00:00Z')
const at = (ms: number) => new Date(now.getTime() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

const ref = (kind: string, name: string, apiVersion = 'apps/v1') => ({ apiVersion, kind, name, uid: `uid-${name}`, controller: true })

function pod(name: string, opts: { ready?: boolean; owner?: ReturnType<typeof ref>; deleting?: boolean; phase?: string } = {}): BudgetPod {
  return {
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      labels: { app: 'web' },
      ...(opts.owner ? { ownerReferences: [opts.owner] } : {}),
      ...(opts.deleting ? { deletionTimestamp: at(-1000) } : {}),
    },
    status: { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  }
}

function budget(spec: Budget['spec'], status?: Budget['status'], generation = 1): Budget {
  return { metadata: { name: 'pdb', namespace: 'ns', generation, resourceVersion: '7' }, spec: { selector: { matchLabels: { app: 'web' } }, ...spec }, ...(status ? { status } : {}) }
}

/** A namespace of workloads: rs-d under deployment d (5 replicas), rs-alone (3), sts (2). */
const workloads: Record<string, Workload> = {
  'Deployment/d': { metadata: { uid: 'uid-d' }, spec: { replicas: 5 } },
  'ReplicaSet/rs-d': { metadata: { uid: 'uid-rs-d', ownerReferences: [ref('Deployment', 'd')] }, spec: { replicas: 5 } },
  'ReplicaSet/rs-alone': { metadata: { uid: 'uid-rs-alone' }, spec: { replicas: 3 } },
  'StatefulSet/sts': { metadata: { uid: 'uid-sts' }, spec: { replicas: 2 } },
}
const lookup: WorkloadLookup = (kind, ns, name) => (ns === 'ns' ? workloads[`${kind}/${name}`] : undefined)

const statusOf = (actions: Action[]) => {
  const write = actions.find((a) => a.verb === 'updateStatus')
  return write?.verb === 'updateStatus' ? write.object.status : undefined
}
const events = (actions: Action[]) => actions.flatMap((a) => (a.verb === 'event' ? [`${a.event.type}/${a.event.reason}`] : []))

t.test('percentages round up, as upstream (GetScaledValueFromIntOrPercent with roundUp)', async (t) => {
  t.equal(scaledValue('50%', 3, true), 2)
  t.equal(scaledValue('34%', 3, true), 2, '1.02 rounds up to 2')
  t.equal(scaledValue('33%', 3, true), 1, '0.99 rounds up to 1')
  t.equal(scaledValue('0%', 7, true), 0)
  t.equal(scaledValue('100%', 7, true), 7)
  t.equal(scaledValue(4, 100, true), 4, 'an int is taken as it is')
  t.throws(() => scaledValue('50', 3, true), /string is not a percentage/)
  t.throws(() => scaledValue('x%', 3, true), /invalid value "x%"/)
})

t.test("each pod's controller is found up the chain and counted once", async (t) => {
  t.same(findControllerScale(ref('ReplicaSet', 'rs-d'), 'ns', lookup), { uid: 'uid-d', replicas: 5 }, 'a Deployment-owned ReplicaSet counts the Deployment')
  t.same(findControllerScale(ref('ReplicaSet', 'rs-alone'), 'ns', lookup), { uid: 'uid-rs-alone', replicas: 3 })
  t.same(findControllerScale(ref('StatefulSet', 'sts'), 'ns', lookup), { uid: 'uid-sts', replicas: 2 })
  t.same(findControllerScale(ref('ReplicaSet', 'rs-alone', 'extensions/v1beta1'), 'ns', lookup), { uid: 'uid-rs-alone', replicas: 3 }, 'extensions is a ReplicaSet group too')
  t.equal(findControllerScale({ ...ref('ReplicaSet', 'rs-alone'), uid: 'other' }, 'ns', lookup), undefined, 'a uid that does not match is not that controller')
  t.equal(findControllerScale(ref('ReplicaSet', 'rs-alone', 'v1'), 'ns', lookup), undefined, 'wrong group')
  t.equal(findControllerScale(ref('DaemonSet', 'ds'), 'ns', lookup), undefined, 'a DaemonSet has no scale')
  t.ok(WORKLOAD_KINDS.includes('StatefulSet') && WORKLOAD_KINDS.includes('Deployment') && WORKLOAD_KINDS.includes('ReplicaSet'))
  const pods = [pod('a', { owner: ref('ReplicaSet', 'rs-d') }), pod('b', { owner: ref('ReplicaSet', 'rs-d') }), pod('c', { owner: ref('StatefulSet', 'sts') })]
  t.same(expectedPodCount(budget({ minAvailable: '50%' }), pods, lookup), { expectedPods: 7, desiredHealthy: 4, unmanagedPods: [] }, '5 + 2 expected, half of 7 rounds up to 4')
})

t.test('the expected count and desired health for each kind of budget', async (t) => {
  const pods = [pod('a', { owner: ref('ReplicaSet', 'rs-alone') }), pod('b', { owner: ref('ReplicaSet', 'rs-alone') }), pod('loose')]
  t.same(expectedPodCount(budget({ minAvailable: 2 }), pods, lookup), { expectedPods: 3, desiredHealthy: 2, unmanagedPods: [] }, 'an int minAvailable counts the selected pods, managed or not')
  t.same(expectedPodCount(budget({ minAvailable: '100%' }), pods, lookup), { expectedPods: 3, desiredHealthy: 3, unmanagedPods: ['loose'] }, 'a percentage counts the scale; the unmanaged pod is reported')
  t.same(expectedPodCount(budget({ maxUnavailable: 1 }), pods, lookup), { expectedPods: 3, desiredHealthy: 2, unmanagedPods: ['loose'] })
  t.same(expectedPodCount(budget({ maxUnavailable: '50%' }), pods, lookup), { expectedPods: 3, desiredHealthy: 1, unmanagedPods: ['loose'] }, '50% of 3 rounds up to 2 unavailable')
  t.same(expectedPodCount(budget({ maxUnavailable: 9 }), pods, lookup), { expectedPods: 3, desiredHealthy: 0, unmanagedPods: ['loose'] }, 'never below zero')
  t.same(expectedPodCount(budget({}), pods, lookup), { expectedPods: 0, desiredHealthy: 0, unmanagedPods: [] }, 'neither set: nothing expected')
  t.throws(() => expectedPodCount(budget({ maxUnavailable: 1 }), [pod('x', { owner: ref('DaemonSet', 'ds') })], lookup), /found no controllers for pod "x"/)
})

t.test('approved evictions hold their pod out of the count for two minutes', async (t) => {
  const pods = [pod('a'), pod('b'), pod('c'), pod('gone', { deleting: true })]
  const recorded = { a: at(-30_000), b: at(-121_000), gone: at(-10_000), absent: at(-1000) }
  const d = disruptedPods(pods, recorded, now)
  t.same(d.pending, { a: recorded.a }, 'b expired, gone is being deleted, absent is no longer selected')
  t.same(d.notDeleted, ['b'])
  t.equal(d.recheckAt?.toISOString(), new Date(now.getTime() + 90_000).toISOString(), 'looks again when a runs out')
  t.equal(countHealthyPods(pods, d.pending, now), 2, 'b and c: a is pending, gone is terminating')
  t.same(disruptedPods(pods, undefined, now), { pending: {}, notDeleted: [] })
})

t.test('disruptionsAllowed: healthy minus desired, never while nothing is expected', async (t) => {
  t.same(budgetCounts({ expectedPods: 3, desiredHealthy: 2, unmanagedPods: [] }, 3, {}, 4), { observedGeneration: 4, disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2, expectedPods: 3 })
  t.equal(budgetCounts({ expectedPods: 3, desiredHealthy: 2, unmanagedPods: [] }, 1, {}, 1).disruptionsAllowed, 0)
  t.equal(budgetCounts({ expectedPods: 0, desiredHealthy: 0, unmanagedPods: [] }, 2, {}, 1).disruptionsAllowed, 0, 'expectedPods 0 allows nothing')
})

t.test('reconcile writes the status with the DisruptionAllowed condition, then nothing while it holds', async (t) => {
  const pods = [pod('a', { owner: ref('ReplicaSet', 'rs-d') }), pod('b', { owner: ref('ReplicaSet', 'rs-d') }), pod('c', { owner: ref('ReplicaSet', 'rs-d'), ready: false })]
  const first = reconcileDisruptionBudget(budget({ minAvailable: 1 }), pods, lookup, now)
  const status = statusOf(first.actions)
  t.same(status, {
    observedGeneration: 1,
    disruptionsAllowed: 1,
    currentHealthy: 2,
    desiredHealthy: 1,
    expectedPods: 3,
    conditions: [{ type: 'DisruptionAllowed', status: 'True', observedGeneration: 1, lastTransitionTime: at(0), reason: 'SufficientPods', message: '' }],
  })
  t.same(events(first.actions), [])
  t.same(reconcileDisruptionBudget(budget({ minAvailable: 1 }, status), pods, lookup, now).actions, [], 'an up-to-date status is not written again')
  const later = new Date(now.getTime() + 60_000)
  const tighter = reconcileDisruptionBudget(budget({ minAvailable: 2 }, status, 2), pods, lookup, later)
  t.match(statusOf(tighter.actions), { observedGeneration: 2, disruptionsAllowed: 0, conditions: [{ status: 'False', reason: 'InsufficientPods', observedGeneration: 2, lastTransitionTime: at(60_000) }] }, 'a new generation is observed; the condition flips')
})

t.test('no pods, unmanaged pods and pods never deleted are told in events with the write', async (t) => {
  t.same(events(reconcileDisruptionBudget(budget({ minAvailable: 1 }), [], lookup, now).actions), ['Normal/NoPods'])
  t.same(events(reconcileDisruptionBudget(budget({ maxUnavailable: 1 }), [pod('loose')], lookup, now).actions), ['Warning/UnmanagedPods'])
  const stuck = reconcileDisruptionBudget(budget({ minAvailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 1, expectedPods: 1, disruptedPods: { a: at(-200_000) } }), [pod('a')], lookup, now)
  t.same(events(stuck.actions), ['Warning/NotDeleted'])
  t.equal(statusOf(stuck.actions).disruptedPods, undefined, 'the expired entry is dropped')
  t.equal(statusOf(stuck.actions).currentHealthy, 1, 'and the pod counts again')
})

t.test('a pending approval is kept and rechecked when it runs out', async (t) => {
  const pods = [pod('a', { owner: ref('ReplicaSet', 'rs-d') }), pod('b', { owner: ref('ReplicaSet', 'rs-d') })]
  const result = reconcileDisruptionBudget(budget({ minAvailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2, disruptedPods: { a: at(-20_000) } }), pods, lookup, now)
  t.match(statusOf(result.actions), { disruptedPods: { a: at(-20_000) }, currentHealthy: 1, disruptionsAllowed: 0 })
  t.equal(result.recheckAt?.getTime(), now.getTime() + 100_000)
})

t.test('a budget whose count cannot be worked out fails safe', async (t) => {
  const old = { observedGeneration: 1, disruptionsAllowed: 2, currentHealthy: 3, desiredHealthy: 1, expectedPods: 3 }
  const result = reconcileDisruptionBudget(budget({ maxUnavailable: 1 }, old), [pod('x', { owner: ref('DaemonSet', 'ds') })], lookup, now)
  t.same(statusOf(result.actions), {
    ...old,
    disruptionsAllowed: 0,
    conditions: [{ type: 'DisruptionAllowed', status: 'False', observedGeneration: 1, lastTransitionTime: at(0), reason: 'SyncFailed', message: 'found no controllers for pod "x"' }],
  })
  t.same(events(result.actions), ['Warning/CalculateExpectedPodCountFailed'])
  t.equal(result.recheckAt?.getTime(), now.getTime() + SYNC_FAILED_RETRY_MS)
  const again = reconcileDisruptionBudget(budget({ maxUnavailable: 1 }, statusOf(result.actions)), [pod('x', { owner: ref('DaemonSet', 'ds') })], lookup, now)
  t.same(again.actions, [], 'the same failure is not written twice')
  t.same(reconcileDisruptionBudget(undefined, [], lookup, now), { actions: [] }, 'a deleted budget needs nothing')
})

t.test('a stale DisruptionTarget mark is turned False after two minutes', async (t) => {
  const marked = (reason: string, since: number, extra: Partial<BudgetPod['metadata']> = {}, phase = 'Running') => ({
    metadata: { name: 'p', namespace: 'ns', ...extra },
    status: { phase, conditions: [{ type: 'Ready', status: 'True' }, { type: 'DisruptionTarget', status: 'True', reason, message: 'x', lastTransitionTime: at(since) }] },
  })
  t.equal(staleDisruptionWaitMs(marked('EvictionByEvictionAPI', -30_000), now), 90_000)
  t.equal(staleDisruptionWaitMs(marked('TerminationByKubelet', -300_000), now), undefined, "the kubelet's mark stays")
  t.equal(staleDisruptionWaitMs(marked('EvictionByEvictionAPI', -300_000, { deletionTimestamp: at(0) }), now), undefined, 'a terminating pod keeps it')
  t.equal(staleDisruptionWaitMs(marked('EvictionByEvictionAPI', -300_000, {}, 'Failed'), now), undefined, 'so does a terminal one')
  t.same(reconcileStaleDisruption(marked('PreemptionByScheduler', -30_000), now), { actions: [], recheckAt: new Date(now.getTime() + 90_000) })
  const { actions } = reconcileStaleDisruption(marked('EvictionByEvictionAPI', -121_000), now)
  t.same(statusOf(actions).conditions, [{ type: 'Ready', status: 'True' }, { type: 'DisruptionTarget', status: 'False', lastTransitionTime: at(0) }])
})
