import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.ts'
import { findByKind } from '../../src/api/registry.ts'
import { validateObject } from '../../src/api/validation/index.ts'

type Obj = Record<string, any>

const quotaInfo = findByKind('v1', 'ResourceQuota')!
const limitsInfo = findByKind('v1', 'LimitRange')!
const quota = (spec: Obj, status: Obj = {}): Obj => ({ metadata: { name: 'q', namespace: 'n' }, spec, status })
const limitRange = (...limits: Obj[]): Obj => ({ metadata: { name: 'lr', namespace: 'n' }, spec: { limits } })
const messages = (causes: { field: string; message: string }[]) => causes.map((c) => `${c.field}: ${c.message}`)

t.test('a quota on standard and qualified resources is valid', async (t) => {
  t.same(validateObject(quotaInfo, quota({ hard: { pods: '10', 'requests.cpu': '2', 'limits.memory': '4Gi', 'count/deployments.apps': '5', 'requests.example.com/gpu': '2', 'hugepages-2Mi': '1Gi' } })), [])
})

t.test('quota resource names and values', async (t) => {
  t.same(messages(validateObject(quotaInfo, quota({ hard: { foo: '1', pods: '1.5', cpu: '-1', 'example.com/gpu': '500m', storage: '1Gi' } }))), [
    'spec.hard[foo]: Invalid value: "foo": must be a standard resource type or fully qualified',
    'spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota',
    'spec.hard[pods]: Invalid value: "1500m": must be an integer',
    'spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0',
    'spec.hard[example.com/gpu]: Invalid value: "500m": must be an integer',
    'spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota',
  ])
  t.same(messages(validateObject(quotaInfo, quota({ hard: { pods: '1' } }, { used: { pods: 'x' } }))), [
    `status.used[pods]: Invalid value: "x": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "x"`,
  ])
})

t.test('scopes: known, fitting the resources, not in conflict, and fixed once made', async (t) => {
  t.same(validateObject(quotaInfo, quota({ hard: { pods: '1', 'requests.cpu': '1' }, scopes: ['NotBestEffort', 'Terminating'] })), [])
  t.same(messages(validateObject(quotaInfo, quota({ hard: { pods: '1' }, scopes: ['Sometimes'] }))), ['spec.scopes: Invalid value: []string{"Sometimes"}: unsupported scope'])
  t.same(messages(validateObject(quotaInfo, quota({ hard: { 'requests.cpu': '1' }, scopes: ['BestEffort'] }))), ['spec.scopes: Invalid value: []string{"BestEffort"}: unsupported scope applied to resource'])
  t.same(messages(validateObject(quotaInfo, quota({ hard: { services: '1' }, scopes: ['Terminating'] }))), ['spec.scopes: Invalid value: []string{"Terminating"}: unsupported scope applied to resource'])
  t.same(messages(validateObject(quotaInfo, quota({ hard: { pods: '1' }, scopes: ['Terminating', 'NotTerminating'] }))), ['spec.scopes: Invalid value: []string{"Terminating", "NotTerminating"}: conflicting scopes'])
  const old = quota({ hard: { pods: '1' }, scopes: ['Terminating'] })
  t.same(messages(validateObject(quotaInfo, quota({ hard: { pods: '1' }, scopes: ['NotTerminating'] }), old)), ['spec.scopes: Invalid value: []string{"NotTerminating"}: field is immutable'])
})

t.test('scope selectors', async (t) => {
  const sel = (...matchExpressions: Obj[]) => quota({ hard: { pods: '1' }, scopeSelector: { matchExpressions } })
  t.same(validateObject(quotaInfo, sel({ scopeName: 'PriorityClass', operator: 'In', values: ['high'] })), [])
  t.same(messages(validateObject(quotaInfo, sel({ scopeName: 'PriorityClass', operator: 'In' }))), ["spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"])
  t.same(messages(validateObject(quotaInfo, sel({ scopeName: 'PriorityClass', operator: 'Exists', values: ['x'] }))), ['spec.scopeSelector.matchExpressions.values: Invalid value: []string{"x"}: must be no value when `operator` is \'Exist\' or \'DoesNotExist\' for scope selector'])
  t.same(messages(validateObject(quotaInfo, sel({ scopeName: 'BestEffort', operator: 'DoesNotExist' }))), [
    "spec.scopeSelector.matchExpressions.operator: Invalid value: \"DoesNotExist\": must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
  ])
  t.same(messages(validateObject(quotaInfo, sel({ scopeName: 'PriorityClass', operator: 'Gt', values: ['1'] }))), ['spec.scopeSelector.matchExpressions.operator: Invalid value: "Gt": not a valid selector operator'])
  t.same(messages(validateObject(quotaInfo, sel({ scopeName: 'Nope', operator: 'Exists' }))), ['spec.scopeSelector.matchExpressions.scopeName: Invalid value: "Nope": unsupported scope'])
})

t.test('a status write is checked for its names and quantities only', async (t) => {
  t.same(messages(validateObject(quotaInfo, quota({ hard: { pods: '1' } }, { hard: { pods: '1' }, used: { pods: '-1' } }), quota({ hard: { pods: '1' } }), 'status')), ['status.used[pods]: Invalid value: "-1": must be greater than or equal to 0'])
})

t.test('a LimitRange: min ≤ defaultRequest ≤ default ≤ max', async (t) => {
  t.same(validateObject(limitsInfo, limitRange({ type: 'Container', min: { cpu: '100m' }, defaultRequest: { cpu: '200m' }, default: { cpu: '500m' }, max: { cpu: '1' }, maxLimitRequestRatio: { cpu: '4' } })), [])
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }))), ['spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1'])
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'Container', min: { cpu: '300m' }, defaultRequest: { cpu: '200m' }, default: { cpu: '100m' }, max: { cpu: '150m' } }))), [
    'spec.limits[0].min[cpu]: Invalid value: "300m": min value 300m is greater than max value 150m',
    'spec.limits[0].defaultRequest[cpu]: Invalid value: "200m": min value 300m is greater than default request value 200m',
    'spec.limits[0].defaultRequest[cpu]: Invalid value: "200m": default request value 200m is greater than max value 150m',
    'spec.limits[0].defaultRequest[cpu]: Invalid value: "200m": default request value 200m is greater than default limit value 100m',
    'spec.limits[0].default[cpu]: Invalid value: "300m": min value 300m is greater than default value 100m',
  ])
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'Container', maxLimitRequestRatio: { cpu: '500m' } }))), ['spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "500m": ratio 500m is less than 1'])
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'Container', min: { cpu: '100m' }, max: { cpu: '200m' }, maxLimitRequestRatio: { cpu: '3' } }))), ['spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "3": ratio 3 is greater than max/min = 2.000000'])
})

t.test('LimitRange types and resource names', async (t) => {
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'Pod', default: { cpu: '1' }, max: { cpu: '2' } }, { type: 'Pod', max: { cpu: '2' } }))), [
    "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
    'spec.limits[1].type: Duplicate value: "Pod"',
  ])
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'Node', max: { cpu: '1' } }))), ['spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified'])
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'Container', max: { pods: '1' } }))), ['spec.limits[0].max[pods]: Invalid value: "pods": must be a standard resource for containers'])
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'PersistentVolumeClaim', max: { cpu: '1' } }))), ['spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was provided'])
  t.same(messages(validateObject(limitsInfo, limitRange({ type: 'Container', default: { 'example.com/gpu': '2' }, defaultRequest: { 'example.com/gpu': '1' } }))), [
    'spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: "1": default value 2 must equal to defaultRequest value 1 in example.com/gpu',
  ])
})

t.test('LimitRange defaulting: default from max, defaultRequest from default, else min', async (t) => {
  const lr = limitRange({ type: 'Container', max: { cpu: '1', memory: '1Gi' }, min: { 'ephemeral-storage': '1Gi' }, default: { memory: '512Mi' } }, { type: 'Pod', max: { cpu: '2' } })
  applyDefaults(limitsInfo, lr)
  t.same(lr.spec.limits[0].default, { memory: '512Mi', cpu: '1' })
  t.same(lr.spec.limits[0].defaultRequest, { memory: '512Mi', cpu: '1', 'ephemeral-storage': '1Gi' })
  t.same(lr.spec.limits[1], { type: 'Pod', max: { cpu: '2' } }, 'Pod items get no defaults')
})

t.test('a pod container with some requests gets the rest from its limits', async (t) => {
  const pod: Obj = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', resources: { requests: { memory: '64Mi' }, limits: { cpu: '1', memory: '128Mi' } } }] } }
  applyDefaults(findByKind('v1', 'Pod')!, pod)
  t.same(pod.spec.containers[0].resources.requests, { memory: '64Mi', cpu: '1' })
})
