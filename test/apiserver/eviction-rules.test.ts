import t from 'tap'
import type { Budget, BudgetPod } from '../../src/api/disruption-budget.ts'
import {
  budgetsFor,
  canIgnoreBudget,
  checkAndDecrement,
  EVICTION_REFUSED,
  evictionDeleteOptions,
  MAX_DISRUPTED_POD_SIZE,
  shouldEnforceResourceVersion,
  unhealthyPodMayGo,
  withResourceVersion,
} from '../../src/apiserver/eviction-rules.ts'
import { ApiError } from '../../src/util/errors.ts'
import { encodeProtobufObject, protobufMediaType } from '../../src/api/protobuf/index.ts'
import { findByKind } from '../../src/api/registry.ts'
import { bodyKind, parseBody } from '../../src/apiserver/http-io.ts'
import type { ResourceRequest } from '../../src/apiserver/request-info.ts'

const now = new Date('2026-12-07T02:00:00Z')

function pod(opts: { phase?: string; ready?: boolean; deleting?: boolean; labels?: Record<string, string>; namespace?: string } = {}): BudgetPod {
  return {
    metadata: { name: 'p', namespace: opts.namespace ?? 'ns', labels: opts.labels ?? { app: 'web' }, ...(opts.deleting ? { deletionTimestamp: '2026-12-07T01:00:00Z' } : {}) },
    status: { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  }
}

function budget(status: Partial<NonNullable<Budget['status']>> = {}, spec: Partial<Budget['spec']> = {}, name = 'pdb'): Budget {
  return {
    metadata: { name, namespace: 'ns', generation: 1 },
    spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } }, ...spec },
    status: { observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, ...status },
  }
}

function refusal(fn: () => unknown): ApiError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected a refusal')
}

t.test('the Eviction body: its DeleteOptions, dry run carried in, the pod of the URL', async (t) => {
  const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'p', namespace: 'ns' }, deleteOptions: { gracePeriodSeconds: 0 } }
  t.same(evictionDeleteOptions(body, 'p', 'ns', []), { gracePeriodSeconds: 0 })
  t.same(evictionDeleteOptions(body, 'p', 'ns', ['All']), { gracePeriodSeconds: 0, dryRun: ['All'] }, '?dryRun=All reaches the delete')
  t.same(evictionDeleteOptions({ ...body, deleteOptions: undefined }, 'p', 'ns', []), {})
  t.same(evictionDeleteOptions({ ...body, apiVersion: 'policy/v1beta1' }, 'p', 'ns', []), { gracePeriodSeconds: 0 }, 'v1beta1 is still taken')
  t.same(evictionDeleteOptions({ ...body, deleteOptions: { dryRun: ['All'] } }, 'p', 'ns', ['All']), { dryRun: ['All'] })
  t.match(refusal(() => evictionDeleteOptions({ ...body, metadata: { name: 'q' } }, 'p', 'ns', [])), { code: 400, message: 'name in URL does not match name in Eviction object' })
  t.match(refusal(() => evictionDeleteOptions({ ...body, metadata: { name: 'p', namespace: 'other' } }, 'p', 'ns', [])), { code: 400, message: /namespace of the provided object does not match/ })
  t.match(refusal(() => evictionDeleteOptions({ ...body, kind: 'Pod' }, 'p', 'ns', [])), { code: 400, message: /must be an Eviction, not "Pod"/ })
  t.match(refusal(() => evictionDeleteOptions({ ...body, apiVersion: 'v1' }, 'p', 'ns', [])), { code: 400 })
  t.match(refusal(() => evictionDeleteOptions({ ...body, deleteOptions: 'now' }, 'p', 'ns', [])), { code: 400, message: /must be an object/ })
  t.match(refusal(() => evictionDeleteOptions([], 'p', 'ns', [])), { code: 400 })
  t.match(refusal(() => evictionDeleteOptions({ ...body, deleteOptions: { dryRun: ['Some'] } }, 'p', 'ns', [])), { code: 400, message: /Invalid dryRun value/ })
  t.same(withResourceVersion({ preconditions: { uid: 'u' } }, '9'), { preconditions: { uid: 'u', resourceVersion: '9' } })
})

t.test("kubectl's protobuf Eviction decodes to the same body (policy/v1 or v1beta1, never another kind)", async (t) => {
  const r: ResourceRequest = { kind: 'resource', info: findByKind('v1', 'Pod')!, namespace: 'ns', name: 'p', subresource: 'eviction', verb: 'create' }
  t.same(bodyKind(r), [{ apiVersion: 'policy/v1', kind: 'Eviction' }, { apiVersion: 'policy/v1beta1', kind: 'Eviction' }])
  const raw = encodeProtobufObject({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'p', namespace: 'ns' }, deleteOptions: { gracePeriodSeconds: 0, dryRun: ['All'] } })
  const body = parseBody(raw, protobufMediaType, bodyKind(r))
  t.same(evictionDeleteOptions(body, 'p', 'ns', []), { gracePeriodSeconds: 0, dryRun: ['All'] }, 'a zero grace period survives the trip')
  const pod = encodeProtobufObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } })
  t.throws(() => parseBody(pod, protobufMediaType, bodyKind(r)), /this request takes a Eviction/)
})

t.test('terminal, Pending and terminating pods go without a budget', async (t) => {
  for (const phase of ['Succeeded', 'Failed', 'Pending']) t.ok(canIgnoreBudget(pod({ phase })), phase)
  t.ok(canIgnoreBudget(pod({ deleting: true })), 'terminating')
  t.notOk(canIgnoreBudget(pod()), 'a Running pod asks its budget')
  t.notOk(canIgnoreBudget(pod({ phase: 'Unknown' })))
  t.ok(shouldEnforceResourceVersion(pod({ phase: 'Pending' })), 'a Pending pod may still become Ready: its delete is pinned')
  t.notOk(shouldEnforceResourceVersion(pod({ phase: 'Failed' })))
  t.notOk(shouldEnforceResourceVersion(pod({ deleting: true })))
})

t.test("a budget guards the pods its selector matches in the pod's namespace", async (t) => {
  const all = [budget({}, {}, 'match'), budget({}, { selector: { matchLabels: { app: 'db' } } }, 'other'), budget({}, { selector: null }, 'null'), budget({}, { selector: {} }, 'empty')]
  t.same(budgetsFor(all, pod()).map((b) => b.metadata.name), ['match', 'empty'], 'an empty selector covers every pod, a null one none')
  t.same(budgetsFor(all, pod({ namespace: 'elsewhere' })), [])
  const broken = budget({}, { selector: { matchExpressions: [{ key: 'app', operator: 'Near', values: ['x'] }] } }, 'broken')
  t.same(budgetsFor([broken], pod()), [], 'a selector that does not parse matches nothing')
})

t.test('unready pods: AlwaysAllow lets them go, IfHealthyBudget only while the application is healthy', async (t) => {
  t.notOk(unhealthyPodMayGo(budget({ currentHealthy: 5, desiredHealthy: 1 }), pod()), 'a Ready pod always spends the budget')
  t.ok(unhealthyPodMayGo(budget({ currentHealthy: 0, desiredHealthy: 3 }, { unhealthyPodEvictionPolicy: 'AlwaysAllow' }), pod({ ready: false })))
  t.ok(unhealthyPodMayGo(budget({ currentHealthy: 3, desiredHealthy: 3 }), pod({ ready: false })), 'default policy, healthy application')
  t.notOk(unhealthyPodMayGo(budget({ currentHealthy: 2, desiredHealthy: 3 }, { unhealthyPodEvictionPolicy: 'IfHealthyBudget' }), pod({ ready: false })), 'disrupted application')
  t.notOk(unhealthyPodMayGo(budget({ currentHealthy: 0, desiredHealthy: 0 }), pod({ ready: false })), 'desiredHealthy 0 never counts as healthy')
})

t.test('checkAndDecrement spends one disruption and records the pod', async (t) => {
  const after = checkAndDecrement(budget({ disruptionsAllowed: 2, disruptedPods: { old: '2026-12-07T01:59:00Z' } }), 'p', now, false)
  t.same(after.status, { observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, disruptedPods: { old: '2026-12-07T01:59:00Z', p: '2026-12-07T02:00:00Z' } })
  const last = checkAndDecrement(budget({ conditions: [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', lastTransitionTime: '2026-12-07T01:00:00Z', observedGeneration: 1 }] }), 'p', now, false)
  t.match(last.status, { disruptionsAllowed: 0, conditions: [{ status: 'False', reason: 'InsufficientPods', lastTransitionTime: '2026-12-07T02:00:00Z' }] }, 'the last one turns the condition False')
  const dry = checkAndDecrement(budget(), 'p', now, true)
  t.equal(dry.status?.disruptionsAllowed, 0)
  t.equal(dry.status?.disruptedPods, undefined, 'a dry run records nothing')
})

t.test('checkAndDecrement refuses as upstream does', async (t) => {
  const none = refusal(() => checkAndDecrement(budget({ disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1 }), 'p', now, false))
  t.same(none.toStatus(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: EVICTION_REFUSED,
    reason: 'TooManyRequests',
    code: 429,
    details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget pdb needs 1 healthy pods and has 1 currently' }] },
  })
  const stale = refusal(() => checkAndDecrement({ ...budget({ observedGeneration: 1 }), metadata: { name: 'pdb', namespace: 'ns', generation: 2 } }, 'p', now, false))
  t.match(stale, { code: 429, details: { retryAfterSeconds: 10, causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget pdb is still being processed by the server.' }] } }, 'a spec change the controller has not seen yet')
  t.match(refusal(() => checkAndDecrement(budget({ disruptionsAllowed: -1 }), 'p', now, false)), { code: 403, message: 'poddisruptionbudget.policy "pdb" is forbidden: pdb disruptions allowed is negative' })
  const crowded = Object.fromEntries(Array.from({ length: MAX_DISRUPTED_POD_SIZE + 1 }, (_, i) => [`p${i}`, '2026-12-07T01:59:00Z']))
  t.match(refusal(() => checkAndDecrement(budget({ disruptedPods: crowded }), 'p', now, false)), { code: 403, message: /DisruptedPods map too big/ })
})
