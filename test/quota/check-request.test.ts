import t from 'tap'
import type { V1Pod, V1ResourceQuota } from '@kubernetes/client-node'
import { storedResources } from '../../src/api/registry.ts'
import { checkRequest, type QuotaDecision } from '../../src/quota/check-request.ts'
import { QuotaRegistry } from '../../src/quota/registry.ts'
import { writeResourceList } from '../../src/quota/resource-list.ts'

const registry = new QuotaRegistry(storedResources)
const pods = registry.get({ group: '', plural: 'pods' })!
const services = registry.get({ group: '', plural: 'services' })!
const configMaps = registry.get({ group: '', plural: 'configmaps' })!
const now = Date.parse('2026-12-07T03:00:00Z')

const quota = (name: string, hard: Record<string, string>, used: Record<string, string> | undefined, spec: V1ResourceQuota['spec'] = {}): V1ResourceQuota => ({
  metadata: { name, namespace: 'n', resourceVersion: '7' },
  spec: { hard, ...spec },
  status: { hard, ...(used ? { used } : {}) },
})
const pod = (resources: Record<string, Record<string, string>> = { requests: { cpu: '100m' }, limits: { cpu: '200m' } }, spec: Partial<V1Pod['spec']> = {}): V1Pod => ({
  metadata: { name: 'p', namespace: 'n' },
  spec: { containers: [{ name: 'c', resources }], ...spec },
})
const create = (obj: object) => ({ operation: 'create' as const, subresource: undefined, obj, old: undefined, now })
const charged = (d: QuotaDecision) => ('charge' in d ? Object.fromEntries([...d.charge].map(([k, v]) => [k, writeResourceList(v)])) : d)

t.test('a pod that fits is charged to every quota that counts it', async (t) => {
  const d = checkRequest([quota('a', { pods: '2', 'requests.cpu': '1' }, { pods: '1', 'requests.cpu': '500m' }), quota('b', { 'count/configmaps': '3' }, { 'count/configmaps': '0' })], pods, create(pod()))
  t.same(charged(d), { a: { pods: '2', 'requests.cpu': '600m' } }, 'b limits nothing a pod uses')
})

t.test("the third pod over pods=2 is refused with upstream's message", async (t) => {
  const d = checkRequest([quota('q', { pods: '2' }, { pods: '2' })], pods, create(pod()))
  t.same(d, { refusal: 'exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2' })
})

t.test('only the exceeded resources are named, sorted', async (t) => {
  const d = checkRequest([quota('q', { pods: '10', 'requests.cpu': '1', 'limits.cpu': '1' }, { pods: '1', 'requests.cpu': '950m', 'limits.cpu': '900m' })], pods, create(pod()))
  t.same(d, { refusal: 'exceeded quota: q, requested: limits.cpu=200m,requests.cpu=100m, used: limits.cpu=900m,requests.cpu=950m, limited: limits.cpu=1,requests.cpu=1' })
})

t.test('a quota on cpu needs every container to state it', async (t) => {
  const d = checkRequest([quota('q', { 'limits.cpu': '2' }, { 'limits.cpu': '0' })], pods, create(pod({ requests: { cpu: '1' } })))
  t.same(d, { refusal: 'failed quota: q: must specify limits.cpu for: c' })
})

t.test('a quota whose usage is not counted yet refuses until the controller has counted', async (t) => {
  const d = checkRequest([quota('q', { pods: '2', 'requests.cpu': '1' }, { pods: '0' })], pods, create(pod()))
  t.same(d, { refusal: 'status unknown for quota: q, resources: pods,requests.cpu' })
  t.same(charged(checkRequest([{ metadata: { name: 'new' }, spec: { hard: { pods: '1' } } }], pods, create(pod()))), {}, 'a quota without status.hard limits nothing yet')
})

t.test('scopes decide which quotas count the pod', async (t) => {
  const quotas = [
    quota('best', { pods: '5' }, { pods: '0' }, { scopes: ['BestEffort'] }),
    quota('not-best', { pods: '5' }, { pods: '0' }, { scopes: ['NotBestEffort'] }),
    quota('high', { pods: '1' }, { pods: '1' }, { scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }] } }),
  ]
  t.same(charged(checkRequest(quotas, pods, create(pod({})))), { best: { pods: '1' } })
  t.same(charged(checkRequest(quotas, pods, create(pod()))), { 'not-best': { pods: '1' } })
  t.same(checkRequest(quotas, pods, create(pod(undefined, { priorityClassName: 'high' }))), { refusal: 'exceeded quota: high, requested: pods=1, used: pods=1, limited: pods=1' })
})

t.test('a terminal pod is charged as an object only', async (t) => {
  const done = { ...pod(), status: { phase: 'Succeeded' } }
  t.same(charged(checkRequest([quota('q', { pods: '1', 'count/pods': '5' }, { pods: '1', 'count/pods': '1' })], pods, create(done))), { q: { 'count/pods': '2', pods: '1' } })
})

t.test('a Service update is charged what grew, and only when it grew', async (t) => {
  const svc = (type: string) => ({ metadata: { name: 's', namespace: 'n', resourceVersion: '3' }, spec: { type, ports: [{ port: 80 }] } })
  const q = [quota('q', { services: '5', 'services.loadbalancers': '1', 'services.nodeports': '5' }, { services: '2', 'services.loadbalancers': '0', 'services.nodeports': '1' })]
  const update = (from: string, to: string) => ({ operation: 'update' as const, subresource: undefined, obj: svc(to), old: svc(from), now })
  t.same(charged(checkRequest(q, services, update('ClusterIP', 'LoadBalancer'))), { q: { services: '2', 'services.loadbalancers': '1', 'services.nodeports': '2' } })
  t.same(charged(checkRequest(q, services, update('LoadBalancer', 'ClusterIP'))), {}, 'a shrink is the controller’s to give back')
  const full = [quota('q', { 'services.loadbalancers': '1' }, { 'services.loadbalancers': '1' })]
  t.same(checkRequest(full, services, update('NodePort', 'LoadBalancer')), { refusal: 'exceeded quota: q, requested: services.loadbalancers=1, used: services.loadbalancers=1, limited: services.loadbalancers=1' })
})

t.test('object counts, legacy names included', async (t) => {
  const q = [quota('q', { configmaps: '2', 'count/configmaps': '10' }, { configmaps: '2', 'count/configmaps': '2' })]
  t.same(checkRequest(q, configMaps, create({ metadata: { name: 'c', namespace: 'n' } })), { refusal: 'exceeded quota: q, requested: configmaps=1, used: configmaps=2, limited: configmaps=2' })
})

t.test('negative usage is refused', async (t) => {
  const d = checkRequest([quota('q', { 'count/configmaps': '2' }, { 'count/configmaps': '0' })], pods, create(pod({ requests: { cpu: '-1' } })))
  t.same(d, { refusal: 'quota usage is negative for resource(s): cpu,requests.cpu' })
})

t.test('a quota stored malformed (from before the API checked) counts nothing and throws nothing', async (t) => {
  const bad = (spec: object) => quota('bad', { pods: '0' }, { pods: '0' }, spec as V1ResourceQuota['spec'])
  for (const spec of [{ scopes: 5 }, { scopes: [7] }, { scopeSelector: { matchExpressions: 'x' } }, { scopeSelector: { matchExpressions: [null] } }, { scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: 3 }] } }]) {
    t.same(charged(checkRequest([bad(spec), quota('good', { pods: '2' }, { pods: '1' })], pods, create(pod()))), { good: { pods: '2' } }, JSON.stringify(spec))
  }
  const arrays = { metadata: { name: 'arrays', namespace: 'n' }, spec: { hard: ['1'] }, status: { hard: ['1'], used: ['0'] } } as unknown as V1ResourceQuota
  t.same(charged(checkRequest([arrays], configMaps, create({ metadata: { name: 'cm', namespace: 'n' } }))), {}, 'a list where a map belongs limits nothing')
})
