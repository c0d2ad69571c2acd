import t from 'tap'
import { validateObject } from '../../src/api/validation/index.ts'
import { findByKind } from '../../src/api/registry.ts'
import { applyDefaults } from '../../src/api/defaults.ts'

type Obj = Record<string, any>

const info = findByKind('policy/v1', 'PodDisruptionBudget')!

function pdb(spec: Obj, status?: Obj): Obj {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'web', namespace: 'default' },
    spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
    ...(status ? { status } : {}),
  }
}

const fields = (o: Obj, old?: Obj, sub?: string) => validateObject(info, o, old, sub).map((c) => `${c.field}: ${c.message}`)

t.test('served as policy/v1 poddisruptionbudgets (pdb), with a status subresource', async (t) => {
  t.match(info, { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', namespaced: true, shortNames: ['pdb'], subresources: ['status'], model: 'V1PodDisruptionBudget' })
  t.ok(findByKind('v1', 'Pod')!.subresources.includes('eviction'), 'pods/eviction is a pod subresource')
})

t.test('minAvailable or maxUnavailable, an int or a percentage, not both', async (t) => {
  for (const spec of [{ minAvailable: 1 }, { minAvailable: '50%' }, { maxUnavailable: 0 }, { maxUnavailable: '100%' }, {}, { minAvailable: 200 }]) t.same(fields(pdb(spec)), [], JSON.stringify(spec))
  t.same(fields(pdb({ minAvailable: 1, maxUnavailable: 1 })), ['spec: Invalid value: {"minAvailable":1,"maxUnavailable":1}: minAvailable and maxUnavailable cannot be both set'])
  t.same(fields(pdb({ minAvailable: -1 })), ['spec.minAvailable: Invalid value: -1: must be greater than or equal to 0'])
  t.same(fields(pdb({ maxUnavailable: '101%' })), ['spec.maxUnavailable: Invalid value: "101%": must not be greater than 100%'])
  t.match(fields(pdb({ minAvailable: '50' })), [/^spec\.minAvailable: Invalid value: "50": a valid percent string must be a numeric string followed by an ending '%'/])
})

t.test('the selector and unhealthyPodEvictionPolicy', async (t) => {
  t.same(fields(pdb({ minAvailable: 1, selector: {} })), [], 'an empty selector is allowed: it selects every pod in the namespace')
  t.same(fields(pdb({ minAvailable: 1, selector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] } })), ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"])
  for (const p of ['IfHealthyBudget', 'AlwaysAllow']) t.same(fields(pdb({ minAvailable: 1, unhealthyPodEvictionPolicy: p })), [], p)
  t.same(fields(pdb({ minAvailable: 1, unhealthyPodEvictionPolicy: 'Never' })), ['spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"'])
})

t.test('the spec may change after create', async (t) => {
  t.same(fields(pdb({ minAvailable: 2, selector: { matchLabels: { app: 'other' } } }), pdb({ minAvailable: 1 })), [])
})

t.test('status writes: non-negative counts and well-formed conditions', async (t) => {
  const good = { observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, conditions: [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', lastTransitionTime: '2026-12-07T00:00:00Z', observedGeneration: 1 }] }
  const old = pdb({ minAvailable: 1 })
  t.same(fields(pdb({ minAvailable: 1 }, good), old, 'status'), [])
  t.same(fields(pdb({ minAvailable: 1 }, { ...good, disruptionsAllowed: -1, expectedPods: -2 }), old, 'status'), [
    'status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0',
    'status.expectedPods: Invalid value: -2: must be greater than or equal to 0',
  ])
  const bad = [
    { type: 'DisruptionAllowed', status: 'Maybe', reason: 'x y', message: '', lastTransitionTime: '' },
    { type: 'DisruptionAllowed', status: 'True', reason: '', message: '', lastTransitionTime: '2026-12-07T00:00:00Z', observedGeneration: -1 },
  ]
  t.match(fields(pdb({ minAvailable: 1 }, { ...good, conditions: bad }), old, 'status'), [
    'status.conditions[0].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown"',
    'status.conditions[0].lastTransitionTime: Required value: must be set',
    /^status\.conditions\[0\]\.reason: Invalid value: "x y": a condition reason must start with alphabetic character/,
    'status.conditions[1].type: Duplicate value: "DisruptionAllowed"',
    'status.conditions[1].observedGeneration: Invalid value: -1: must be greater than or equal to zero',
    'status.conditions[1].reason: Required value: must be set',
  ])
})

t.test('defaulting leaves the spec alone and writes the status counts', async (t) => {
  const o = pdb({ minAvailable: 1 })
  applyDefaults(info, o)
  t.same(o.spec, { selector: { matchLabels: { app: 'web' } }, minAvailable: 1 }, 'policy/v1 has no spec defaults')
  t.same(o.status, { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 })
})
