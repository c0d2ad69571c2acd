import t from 'tap'
import type { V1Pod, V1Service } from '@kubernetes/client-node'
import { resources, storedResources } from '../../src/api/registry.ts'
import { QuotaRegistry } from '../../src/quota/registry.ts'
import { objectCountEvaluator, objectCountName } from '../../src/quota/evaluator.ts'
import { claimEvaluator } from '../../src/quota/claim-evaluator.ts'
import { writeResourceList } from '../../src/quota/resource-list.ts'

const registry = new QuotaRegistry(storedResources)
const kind = (k: string) => resources.find((r) => r.kind === k)!
const pods = registry.get({ group: '', plural: 'pods' })!
const services = registry.get({ group: '', plural: 'services' })!
const now = Date.parse('2026-12-07T03:00:00Z')

const pod = (spec: Partial<V1Pod['spec']> = {}, extra: Partial<V1Pod> = {}): V1Pod => ({
  metadata: { name: 'p', namespace: 'n' },
  spec: { containers: [{ name: 'c', resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } } }], ...spec },
  ...extra,
})

t.test('every served namespaced kind has an evaluator; events do not', async (t) => {
  t.equal(registry.get({ group: '', plural: 'events' }), undefined)
  t.ok(registry.get({ group: 'apps', plural: 'deployments' }))
  t.equal(objectCountName(kind('Deployment')), 'count/deployments.apps')
  t.equal(objectCountName(kind('ConfigMap')), 'count/configmaps')
  t.same(writeResourceList(registry.get(kind('ConfigMap'))!.usage({}, now)), { configmaps: '1', 'count/configmaps': '1' }, 'the legacy name counts too')
  t.same(writeResourceList(registry.get(kind('Deployment'))!.usage({}, now)), { 'count/deployments.apps': '1' })
  t.same(registry.matching(['count/deployments.apps', 'pods']).map((e) => e.info.plural).sort(), ['deployments', 'pods'])
})

t.test('a pod uses its requests and limits under every name upstream charges', async (t) => {
  t.same(writeResourceList(pods.usage(pod(), now)), {
    'count/pods': '1',
    cpu: '250m',
    'limits.cpu': '500m',
    'limits.memory': '128Mi',
    memory: '64Mi',
    pods: '1',
    'requests.cpu': '250m',
    'requests.memory': '64Mi',
  })
})

t.test('init containers count at their peak, sidecars all the time, overhead on top', async (t) => {
  const p = pod({
    containers: [{ name: 'a', resources: { requests: { cpu: '100m' } } }, { name: 'b', resources: { requests: { cpu: '100m' } } }],
    initContainers: [
      { name: 'side', restartPolicy: 'Always', resources: { requests: { cpu: '50m' } } },
      { name: 'big', resources: { requests: { cpu: '400m', 'ephemeral-storage': '1Gi' } } },
    ],
    overhead: { cpu: '10m' },
  })
  const used = writeResourceList(pods.usage(p, now))
  t.equal(used['requests.cpu'], '460m', 'max(100m+100m+50m, 400m+50m) + 10m overhead')
  t.equal(used['requests.ephemeral-storage'], '1Gi')
  t.equal(used['ephemeral-storage'], '1Gi')
})

t.test('hugepages and extended resources', async (t) => {
  const p = pod({ containers: [{ name: 'c', resources: { requests: { 'hugepages-2Mi': '4Mi', 'example.com/gpu': '2', cpu: '1' }, limits: { 'hugepages-2Mi': '4Mi', 'example.com/gpu': '2' } } }] })
  const used = writeResourceList(pods.usage(p, now))
  t.equal(used['hugepages-2Mi'], '4Mi')
  t.equal(used['requests.hugepages-2Mi'], '4Mi')
  t.equal(used['requests.example.com/gpu'], '2')
  t.notOk('limits.example.com/gpu' in used)
  t.same(pods.matchingResources(['requests.example.com/gpu', 'hugepages-2Mi', 'requests.hugepages-1Gi', 'services', 'requests.cpu', 'example.com/gpu']), ['requests.cpu', 'requests.example.com/gpu', 'hugepages-2Mi', 'requests.hugepages-1Gi'])
})

t.test('terminal pods, and pods past their deletion grace, count only as objects', async (t) => {
  for (const phase of ['Succeeded', 'Failed']) t.same(writeResourceList(pods.usage(pod({}, { status: { phase } }), now)), { 'count/pods': '1' }, phase)
  const deleting = (at: string) => pod({}, { metadata: { name: 'p', namespace: 'n', deletionTimestamp: at as unknown as Date, deletionGracePeriodSeconds: 30 } })
  t.equal(writeResourceList(pods.usage(deleting('2026-12-07T02:59:50Z'), now)).pods, '1', 'within deletionTimestamp + grace it still counts')
  t.same(writeResourceList(pods.usage(deleting('2026-12-07T02:59:00Z'), now)), { 'count/pods': '1' }, 'past it, not')
  t.equal(pods.stopsCountingAt(deleting('2026-12-07T02:59:50Z')), Date.parse('2026-12-07T03:00:20Z'))
  t.ok(pods.replenishes(pod(), pod({}, { status: { phase: 'Succeeded' } }), now), 'turning terminal frees quota')
  t.notOk(pods.replenishes(pod(), pod({}, { status: { phase: 'Running' } }), now))
})

t.test('pods are charged on create only, never through a subresource', async (t) => {
  t.ok(pods.handles('create', undefined, pod(), undefined))
  t.notOk(pods.handles('update', undefined, pod(), pod()))
  t.notOk(pods.handles('create', 'binding', pod(), undefined))
  t.ok(services.handles('update', undefined, {}, {}), 'a Service can change type')
  t.notOk(objectCountEvaluator(kind('ConfigMap')).handles('update', undefined, {}, {}))
})

t.test('pod scopes', async (t) => {
  const best = pod({ containers: [{ name: 'c' }] })
  const terminating = pod({ activeDeadlineSeconds: 30 })
  const exists = (scopeName: string) => ({ scopeName, operator: 'Exists' })
  t.ok(pods.matchesScope(exists('BestEffort'), best))
  t.notOk(pods.matchesScope(exists('NotBestEffort'), best))
  t.ok(pods.matchesScope(exists('NotBestEffort'), pod()))
  t.ok(pods.matchesScope(exists('Terminating'), terminating))
  t.ok(pods.matchesScope(exists('NotTerminating'), pod()))
  const high = pod({ priorityClassName: 'high' })
  t.ok(pods.matchesScope({ scopeName: 'PriorityClass', operator: 'In', values: ['high', 'mid'] }, high))
  t.notOk(pods.matchesScope({ scopeName: 'PriorityClass', operator: 'In', values: ['low'] }, high))
  t.ok(pods.matchesScope({ scopeName: 'PriorityClass', operator: 'NotIn', values: ['high'] }, pod()), 'NotIn matches a pod without a class')
  t.ok(pods.matchesScope(exists('PriorityClass'), high))
  t.ok(pods.matchesScope({ scopeName: 'PriorityClass', operator: 'DoesNotExist' }, pod()))
  const cross = pod({ affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'zone', namespaces: ['other'] }] } } })
  t.ok(pods.matchesScope(exists('CrossNamespacePodAffinity'), cross))
  t.notOk(pods.matchesScope(exists('CrossNamespacePodAffinity'), pod()))
  t.notOk(services.matchesScope(exists('BestEffort'), {}), 'other kinds match no scope')
})

t.test('a quota on cpu or memory makes every container state it', async (t) => {
  const p = pod({ containers: [{ name: 'b', resources: { requests: { cpu: '1' } } }, { name: 'a' }], initContainers: [{ name: 'init', resources: { limits: { cpu: '1' } } }] })
  t.equal(pods.constraints(['limits.cpu', 'requests.cpu', 'pods', 'count/pods'], p), 'must specify limits.cpu for: a,b; requests.cpu for: a,init')
  t.equal(pods.constraints(['pods', 'requests.storage'], p), undefined, 'other resources need nothing stated')
})

t.test('services: node ports and load balancers by type', async (t) => {
  const svc = (spec: V1Service['spec']): V1Service => ({ metadata: { name: 's' }, spec })
  const ports = [{ port: 80 }, { port: 443, nodePort: 30443 }]
  t.same(writeResourceList(services.usage(svc({ type: 'ClusterIP', ports }), now)), { 'count/services': '1', services: '1', 'services.loadbalancers': '0', 'services.nodeports': '0' })
  t.equal(writeResourceList(services.usage(svc({ type: 'NodePort', ports }), now))['services.nodeports'], '2')
  const lb = writeResourceList(services.usage(svc({ type: 'LoadBalancer', ports }), now))
  t.equal(lb['services.loadbalancers'], '1')
  t.equal(lb['services.nodeports'], '2')
  t.equal(writeResourceList(services.usage(svc({ type: 'LoadBalancer', ports, allocateLoadBalancerNodePorts: false }), now))['services.nodeports'], '1', 'only explicit node ports without allocation')
  t.ok(services.replenishes(svc({ type: 'LoadBalancer' }), svc({ type: 'ClusterIP' }), now))
  t.notOk(services.replenishes(svc({ type: 'ClusterIP' }), svc({ type: 'ExternalName' }), now), 'neither counts node ports or balancers')
})

t.test('claims: storage by request or resized allocation, per storage class', async (t) => {
  const claims = claimEvaluator({ ...kind('Pod'), kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims' })
  const pvc = { metadata: { name: 'c', annotations: {} }, spec: { storageClassName: 'gold', resources: { requests: { storage: '1500m' } } }, status: {} }
  t.same(writeResourceList(claims.usage(pvc, now)), {
    'count/persistentvolumeclaims': '1',
    'gold.storageclass.storage.k8s.io/persistentvolumeclaims': '1',
    'gold.storageclass.storage.k8s.io/requests.storage': '2',
    persistentvolumeclaims: '1',
    'requests.storage': '2',
  }, 'storage in whole bytes')
  const resized = { ...pvc, spec: { resources: { requests: { storage: '1Gi' } } }, status: { allocatedResources: { storage: '2Gi' } } }
  t.equal(writeResourceList(claims.usage(resized, now))['requests.storage'], '2Gi')
  t.same(claims.matchingResources(['bronze.storageclass.storage.k8s.io/requests.storage', 'requests.storage', 'pods']), ['requests.storage', 'bronze.storageclass.storage.k8s.io/requests.storage'])
  t.ok(claims.handles('update', 'status', resized, pvc), 'a status write that resizes is charged')
  t.notOk(claims.handles('update', 'status', pvc, pvc))
})
