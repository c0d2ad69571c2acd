import t from 'tap'
import type { V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node'
import { normalizeLegacy, normalizeWithBehavior, type History } from '../../src/controllers/hpa/normalize.ts'
import { reconcileHpa, type PodMetricsItem } from '../../src/controllers/hpa/reconcile.ts'
import { resourceReplicas, type PodMetric } from '../../src/controllers/hpa/replicas.ts'

const T0 = Date.parse('2026-12-07T10:00:00Z')
const at = (s: number) => T0 + s * 1000
const iso = (ms: number) => new Date(ms).toISOString()
const fresh = (): History => ({ recommendations: [], scaleUps: [], scaleDowns: [] })

function pod(name: string, o: { cpu?: string; phase?: string; ready?: boolean; startedAgo?: number; readySince?: number } = {}): V1Pod {
  const started = at(-(o.startedAgo ?? 3600))
  return {
    metadata: { name, namespace: 'ns', labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', image: 'i', resources: o.cpu === undefined ? {} : { requests: { cpu: o.cpu } } }] },
    status: {
      phase: o.phase ?? 'Running',
      startTime: iso(started) as never,
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: iso(o.readySince ?? started + 5000) as never }],
    },
  }
}

const sample = (value: number, ago = 10): PodMetric => ({ value, timestamp: new Date(at(-ago)), windowMs: 10_000 })
const metrics = (entries: [string, number][]) => new Map(entries.map(([n, v]) => [n, sample(v)]))

t.test('utilization: usage over requests against the target, within a 10% tolerance', async (t) => {
  const pods = ['a', 'b'].map((n) => pod(n, { cpu: '200m' }))
  const cpu = { resource: 'cpu', utilization: 50 }
  t.match(resourceReplicas(2, cpu, pods, metrics([['a', 200], ['b', 200]]), at(0)), { ok: true, replicas: 4, utilization: 100, averageValueMilli: 200 })
  t.match(resourceReplicas(2, cpu, pods, metrics([['a', 105], ['b', 105]]), at(0)), { ok: true, replicas: 2, utilization: 52 }, '52% of a 50% target is within tolerance')
  t.match(resourceReplicas(2, cpu, pods, metrics([['a', 20], ['b', 20]]), at(0)), { ok: true, replicas: 1, utilization: 10 })
  t.match(resourceReplicas(2, cpu, [pod('a'), pod('b', { cpu: '1' })], metrics([['a', 1], ['b', 1]]), at(0)), { ok: false, message: 'missing request for cpu in container c' })
  t.match(resourceReplicas(2, cpu, [], new Map(), at(0)), { ok: false, message: /no pods returned by selector/ })
})

t.test('missing and unready pods never make the decision hastier', async (t) => {
  const cpu = { resource: 'cpu', utilization: 50 }
  const three = ['a', 'b', 'c'].map((n) => pod(n, { cpu: '100m' }))
  // Two pods near idle and one without a sample: on a scale-down the missing pod counts at
  // 100% of its request, which here keeps the size.
  t.match(resourceReplicas(3, cpu, three, metrics([['a', 40], ['b', 40]]), at(0)), { ok: true, replicas: 3 })
  // A scale-up: the missing pod counts as idle, which lowers the ask.
  t.match(resourceReplicas(3, cpu, three, metrics([['a', 100], ['b', 100]]), at(0)), { ok: true, replicas: 4 })
  const starting = [pod('a', { cpu: '100m' }), pod('b', { cpu: '100m' }), pod('c', { cpu: '100m', ready: false, startedAgo: 20, readySince: at(-20) })]
  t.match(resourceReplicas(3, cpu, starting, metrics([['a', 100], ['b', 100], ['c', 300]]), at(0)), { ok: true, replicas: 4 }, 'a starting pod\'s CPU burst is taken as 0 on a scale-up')
  const pending = [pod('a', { cpu: '100m' }), pod('b', { cpu: '100m', phase: 'Pending' })]
  t.match(resourceReplicas(2, cpu, pending, metrics([['a', 100]]), at(0)), { ok: true, replicas: 2 }, 'a pending pod counts as idle on a scale-up, which here halves the ask back to the current size')
})

t.test('average value targets', async (t) => {
  const pods = ['a', 'b'].map((n) => pod(n))
  t.match(resourceReplicas(2, { resource: 'memory', averageValueMilli: 100_000 }, pods, metrics([['a', 300_000], ['b', 300_000]]), at(0)), { ok: true, replicas: 6, averageValueMilli: 300_000 })
})

t.test('without a behavior: 5 minutes of downscale stabilization, scale-up at most to max(2×, 4)', async (t) => {
  const h = fresh()
  t.match(normalizeLegacy(20, 2, 1, 50, h, at(0)), { replicas: 4, conditions: [{ reason: 'ReadyForNewScale' }, { type: 'ScalingLimited', status: 'True', reason: 'ScaleUpLimit' }] })
  t.match(normalizeLegacy(1, 4, 1, 50, h, at(60)), { replicas: 8, conditions: [{ reason: 'ScaleDownStabilized' }, { status: 'True', reason: 'ScaleUpLimit' }] }, 'the recent recommendation of 20 still stands, limited to 2 × 4')
  const quiet = fresh()
  normalizeLegacy(6, 6, 1, 50, quiet, at(0))
  t.match(normalizeLegacy(2, 6, 1, 50, quiet, at(60)), { replicas: 6, conditions: [{ reason: 'ScaleDownStabilized' }] })
  t.match(normalizeLegacy(2, 6, 1, 50, quiet, at(400)), { replicas: 2, conditions: [{ reason: 'ReadyForNewScale' }, { status: 'False', reason: 'DesiredWithinRange' }] }, 'after the window')
  t.match(normalizeLegacy(0, 3, 2, 10, fresh(), at(0)), { replicas: 2, conditions: [{}, { status: 'True', reason: 'TooFewReplicas' }] })
  t.match(normalizeLegacy(12, 10, 1, 11, fresh(), at(0)), { replicas: 11, conditions: [{}, { status: 'True', reason: 'TooManyReplicas' }] })
})

t.test('with a behavior: both windows and the policies\' rates', async (t) => {
  const h = fresh()
  t.match(normalizeWithBehavior(10, 1, 1, 20, {}, h, at(0)), { replicas: 5, conditions: [{ reason: 'ReadyForNewScale' }, { status: 'True', reason: 'ScaleUpLimit' }] }, 'default scale-up: 4 pods or 100% per 15 s, the larger')
  h.scaleUps.push({ at: at(0), change: 4 })
  t.match(normalizeWithBehavior(10, 5, 1, 20, {}, h, at(5)), { replicas: 5 }, 'the 4 added in this period leave no room')
  t.match(normalizeWithBehavior(10, 5, 1, 20, {}, h, at(20)), { replicas: 10 }, 'a new period')
  const down = fresh()
  normalizeWithBehavior(8, 8, 1, 20, {}, down, at(0))
  t.match(normalizeWithBehavior(2, 8, 1, 20, {}, down, at(100)), { replicas: 8, conditions: [{ reason: 'ScaleDownStabilized' }] }, 'default scale-down window: 300 s')
  t.match(normalizeWithBehavior(2, 8, 1, 20, {}, down, at(400)), { replicas: 2 })
  const slow = { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } }
  t.match(normalizeWithBehavior(2, 8, 1, 20, slow, fresh(), at(0)), { replicas: 7, conditions: [{}, { status: 'True', reason: 'ScaleDownLimit' }] })
  t.match(normalizeWithBehavior(2, 8, 1, 20, { scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Disabled' } }, fresh(), at(0)), { replicas: 8 }, 'scale-down disabled')
})

function hpa(spec: Partial<NonNullable<V2HorizontalPodAutoscaler['spec']>> = {}, status?: V2HorizontalPodAutoscaler['status']): V2HorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'ns', generation: 3 },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 10, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }], ...spec },
    ...(status ? { status } : {}),
  }
}

const podMetrics = (entries: [string, string][]): PodMetricsItem[] =>
  entries.map(([name, cpu]) => ({ metadata: { name }, timestamp: iso(at(-5)), window: '10s', containers: [{ name: 'c', usage: { cpu, memory: '10Mi' } }] }))

t.test('a pass: scales the target, reports metrics and conditions, and says why', async (t) => {
  const pods = ['a', 'b'].map((n) => pod(n, { cpu: '100m' }))
  const d = reconcileHpa({ hpa: hpa(), scale: { replicas: 2, selector: 'app=web' }, pods, podMetrics: podMetrics([['a', '150m'], ['b', '150m']]), history: fresh(), now: at(0) })
  t.equal(d.scaleTo, 4, '300% of request at a 50% target → 6, limited to max(2×2, 4)')
  t.match(d.status, {
    observedGeneration: 3,
    lastScaleTime: '2026-12-07T10:00:00Z',
    currentReplicas: 2,
    desiredReplicas: 4,
    currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 150, averageValue: '150m' } } }],
  })
  t.match(d.status.conditions, [
    { type: 'AbleToScale', status: 'True', reason: 'SucceededRescale', message: 'the HPA controller was able to update the target scale to 4' },
    { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)' },
    { type: 'ScalingLimited', status: 'True', reason: 'ScaleUpLimit' },
  ])
  t.same(d.events, [{ type: 'Normal', reason: 'SuccessfulRescale', message: 'New size: 4; reason: cpu resource utilization (percentage of request) above target' }])

  const steady = reconcileHpa({ hpa: hpa({}, d.status), scale: { replicas: 4, selector: 'app=web' }, pods, podMetrics: podMetrics([['a', '50m'], ['b', '50m']]), history: fresh(), now: at(30) })
  t.equal(steady.scaleTo, undefined)
  t.equal(steady.status.lastScaleTime, '2026-12-07T10:00:00Z', 'kept from the last rescale')
  t.equal(steady.status.conditions!.find((c) => c.type === 'ScalingActive')!.lastTransitionTime, '2026-12-07T10:00:00Z' as never, 'an unchanged condition keeps its transition time')
})

t.test('the guards: a target at 0, outside min/max, metrics that cannot be read', async (t) => {
  const pods = [pod('a', { cpu: '100m' })]
  const off = reconcileHpa({ hpa: hpa(), scale: { replicas: 0, selector: '' }, pods, podMetrics: [], history: fresh(), now: at(0) })
  t.match(off, { scaleTo: undefined, status: { conditions: [{ type: 'ScalingActive', status: 'False', reason: 'ScalingDisabled' }] } })
  t.match(reconcileHpa({ hpa: hpa({ maxReplicas: 3 }), scale: { replicas: 5, selector: '' }, pods, podMetrics: [], history: fresh(), now: at(0) }), { scaleTo: 3, events: [{ message: 'New size: 3; reason: Current number of replicas above Spec.MaxReplicas' }] })
  t.match(reconcileHpa({ hpa: hpa({ minReplicas: 2 }), scale: { replicas: 1, selector: '' }, pods, podMetrics: [], history: fresh(), now: at(0) }), { scaleTo: 2 })
  const noApi = reconcileHpa({ hpa: hpa(), scale: { replicas: 1, selector: '' }, pods, podMetrics: { error: 'the server could not find the requested resource' }, history: fresh(), now: at(0) })
  t.match(noApi, { scaleTo: undefined, status: { conditions: [{ type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric' }] }, events: [{ type: 'Warning' }, { reason: 'FailedComputeMetricsReplicas', message: /^invalid metrics \(1 invalid out of 1\), first error is: unable to get metrics for resource cpu/ }] })
  const mixed = hpa({ metrics: [hpa().spec!.metrics![0], { type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '10' } } }] })
  const idle = reconcileHpa({ hpa: mixed, scale: { replicas: 4, selector: '' }, pods: ['a', 'b', 'c', 'd'].map((n) => pod(n, { cpu: '100m' })), podMetrics: podMetrics([['a', '1m'], ['b', '1m'], ['c', '1m'], ['d', '1m']]), history: fresh(), now: at(0) })
  t.equal(idle.scaleTo, undefined, 'a metric that cannot be read stops a scale-down')
  t.match(idle.status.conditions, [{ type: 'ScalingActive', status: 'False', reason: 'FailedGetPodsMetric', message: /no custom\.metrics\.k8s\.io API is served/ }])
  t.match(reconcileHpa({ hpa: hpa(), scale: { error: 'deployments.apps "web" not found' }, pods, podMetrics: [], history: fresh(), now: at(0) }), { status: { conditions: [{ type: 'AbleToScale', status: 'False', reason: 'FailedGetScale' }] }, events: [{ reason: 'FailedGetScale' }] })
})
