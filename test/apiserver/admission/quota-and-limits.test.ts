// ResourceQuota and LimitRanger admission against a real API server with the controllers
// running: refusals with upstream's messages, the compare-and-swap charge under racing
// creates (one server, and two servers on one store), replenishment after a delete, a
// LimitRange's defaults and limits on new pods, and malformed stored objects failing alone.
import t from 'tap'
import { resources } from '../../../src/api/registry.ts'
import { ObjectStore } from '../../../src/apiserver/objects.ts'
import { call, startTestServer } from '../../helpers/apiserver.ts'
import { startCluster, until } from '../../helpers/control-plane.ts'

const c = await startCluster(t)

async function namespace(name: string): Promise<void> {
  const res = await call(c.url, 'POST', '/api/v1/namespaces', { metadata: { name } })
  if (res.status !== 201) throw new Error(`namespace ${name}: ${res.status} ${JSON.stringify(res.body)}`)
}

const pod = (name: string, resources?: Record<string, Record<string, string>>) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'weft/echo', ...(resources ? { resources } : {}) }] } })
const createPod = (url: string, ns: string, body: object) => call(url, 'POST', `/api/v1/namespaces/${ns}/pods`, body)
const quotaStatus = async (ns: string, name = 'q') => (await call(c.url, 'GET', `/api/v1/namespaces/${ns}/resourcequotas/${name}`)).body.status

/** Creates a quota and waits for the controller's first count: until then it limits nothing. */
async function quota(ns: string, hard: Record<string, string>): Promise<void> {
  const res = await call(c.url, 'POST', `/api/v1/namespaces/${ns}/resourcequotas`, { metadata: { name: 'q' }, spec: { hard }, status: { used: { pods: '100' } } })
  if (res.status !== 201) throw new Error(`quota: ${res.status} ${JSON.stringify(res.body)}`)
  if (JSON.stringify(res.body.status) !== '{}') throw new Error(`a new quota came back with a status: ${JSON.stringify(res.body.status)}`)
  await until(`the quota in ${ns} to be counted`, async () => (await quotaStatus(ns))?.used !== undefined)
}

t.test('the third pod over pods=2 is refused; a deleted pod frees its share', async (t) => {
  await namespace('q-pods')
  await quota('q-pods', { pods: '2', 'count/deployments.apps': '5' })
  t.same(await quotaStatus('q-pods'), { hard: { 'count/deployments.apps': '5', pods: '2' }, used: { 'count/deployments.apps': '0', pods: '0' } }, 'the status a client sent with the quota was dropped')
  t.equal((await createPod(c.url, 'q-pods', pod('a'))).status, 201)
  t.equal((await createPod(c.url, 'q-pods', pod('b'))).status, 201)
  t.equal((await quotaStatus('q-pods')).used.pods, '2', 'each create was charged before it was stored')
  const third = await createPod(c.url, 'q-pods', pod('c'))
  t.equal(third.status, 403)
  t.equal(third.body.reason, 'Forbidden')
  t.equal(third.body.message, 'pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2')
  const dry = await call(c.url, 'POST', '/api/v1/namespaces/q-pods/pods?dryRun=All', pod('dry'))
  t.equal(dry.status, 403, 'a dry run is judged the same')
  t.equal((await call(c.url, 'DELETE', '/api/v1/namespaces/q-pods/pods/a')).status, 200)
  await until('the controller to give the pod back', async () => (await quotaStatus('q-pods')).used.pods === '1')
  t.equal((await call(c.url, 'POST', '/api/v1/namespaces/q-pods/pods?dryRun=All', pod('dry'))).status, 201)
  t.equal((await quotaStatus('q-pods')).used.pods, '1', 'a dry run charges nothing')
  t.equal((await createPod(c.url, 'q-pods', pod('c'))).status, 201)
  const table = await call(c.url, 'GET', '/api/v1/namespaces/q-pods/resourcequotas', undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
  t.equal(table.body.rows[0].cells[2], 'count/deployments.apps: 0/5, pods: 2/2')
})

t.test('racing creates against pods=1: exactly one wins', async (t) => {
  await namespace('q-race')
  await quota('q-race', { pods: '1' })
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => createPod(c.url, 'q-race', pod(`p${i}`))))
  t.same(results.map((r) => r.status).sort(), [201, 403, 403, 403, 403, 403, 403, 403])
  t.equal((await quotaStatus('q-race')).used.pods, '1')
  t.equal((await call(c.url, 'GET', '/api/v1/namespaces/q-race/pods')).body.items.length, 1)
})

t.test('two API servers on one store: the compare-and-swap lets exactly one of their racing creates in', async (t) => {
  const second = await startTestServer(t, { store: c.store })
  await namespace('q-two')
  await quota('q-two', { pods: '1', 'count/configmaps': '0' })
  // The second server refuses a ConfigMap once its own copy of the quota is counted.
  await until('the second server to see the counted quota', async () => {
    const probe = await call(second.url, 'POST', '/api/v1/namespaces/q-two/configmaps?dryRun=All', { metadata: { name: 'x' } })
    return probe.status === 403
  })
  // Each server judges its own creates one at a time; only the swap stands between the two.
  for (let round = 0; round < 3; round++) {
    const results = await Promise.all([0, 1, 2, 3].map((i) => createPod(i % 2 ? second.url : c.url, 'q-two', pod(`r${round}-${i}`))))
    const won = results.filter((r) => r.status === 201).length
    t.equal(won, round === 0 ? 1 : 0, `round ${round}: ${results.map((r) => r.status).join(' ')}`)
    for (const r of results.filter((r) => r.status !== 201)) t.match(r.body.message, /exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1/)
  }
  t.equal((await quotaStatus('q-two')).used.pods, '1')
})

t.test('a quota on cpu wants every container to state it', async (t) => {
  await namespace('q-cpu')
  await quota('q-cpu', { 'limits.cpu': '1', 'requests.cpu': '500m' })
  const bare = await createPod(c.url, 'q-cpu', pod('bare'))
  t.equal(bare.status, 403)
  t.equal(bare.body.message, 'pods "bare" is forbidden: failed quota: q: must specify limits.cpu for: c; requests.cpu for: c')
  t.equal((await createPod(c.url, 'q-cpu', pod('small', { requests: { cpu: '200m' }, limits: { cpu: '400m' } }))).status, 201)
  const big = await createPod(c.url, 'q-cpu', pod('big', { requests: { cpu: '400m' }, limits: { cpu: '400m' } }))
  t.equal(big.body.message, 'pods "big" is forbidden: exceeded quota: q, requested: requests.cpu=400m, used: requests.cpu=200m, limited: requests.cpu=500m')
  t.same((await quotaStatus('q-cpu')).used, { 'limits.cpu': '400m', 'requests.cpu': '200m' })
})

t.test('a Service that turns into a LoadBalancer is charged for it', async (t) => {
  await namespace('q-svc')
  await quota('q-svc', { services: '5', 'services.loadbalancers': '0' })
  const svc = await call(c.url, 'POST', '/api/v1/namespaces/q-svc/services', { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } })
  t.equal(svc.status, 201)
  const patched = await call(c.url, 'PATCH', '/api/v1/namespaces/q-svc/services/s', { spec: { type: 'LoadBalancer' } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(patched.status, 403)
  t.equal(patched.body.message, 'services "s" is forbidden: exceeded quota: q, requested: services.loadbalancers=1, used: services.loadbalancers=0, limited: services.loadbalancers=0')
})

t.test('a LimitRange fills in defaults, says so, and refuses a pod over its max', async (t) => {
  await namespace('lr')
  const lr = await call(c.url, 'POST', '/api/v1/namespaces/lr/limitranges', {
    metadata: { name: 'defaults' },
    spec: { limits: [{ type: 'Container', max: { cpu: '1' }, default: { cpu: '500m', memory: '128Mi' }, defaultRequest: { cpu: '100m' } }] },
  })
  t.equal(lr.status, 201, JSON.stringify(lr.body))
  t.same(lr.body.spec.limits[0].defaultRequest, { cpu: '100m', memory: '128Mi' }, 'defaultRequest defaults to default')
  const created = await createPod(c.url, 'lr', pod('plain'))
  t.equal(created.status, 201)
  t.same(created.body.spec.containers[0].resources, { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '128Mi' } })
  t.equal(created.body.metadata.annotations['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c')
  t.equal(created.body.status.qosClass, 'Burstable', 'the QoS class is that of the defaulted pod')
  const over = await createPod(c.url, 'lr', pod('over', { limits: { cpu: '2' } }))
  t.equal(over.status, 403)
  t.equal(over.body.message, 'pods "over" is forbidden: maximum cpu usage per Container is 1, but limit is 2')
  const invalid = await call(c.url, 'POST', '/api/v1/namespaces/lr/limitranges', { metadata: { name: 'bad' }, spec: { limits: [{ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }] } })
  t.equal(invalid.status, 422)
  t.match(invalid.body.message, /spec.limits\[0\].min\[cpu\]: Invalid value: "2": min value 2 is greater than max value 1/)
})

t.test('a quota or LimitRange stored malformed (from before the API checked) fails alone', async (t) => {
  await namespace('q-bad')
  const objects = new ObjectStore(c.store)
  const stored = (kind: string, name: string, body: object) => objects.create(resources.find((r) => r.kind === kind)!, { apiVersion: 'v1', kind, metadata: { name, namespace: 'q-bad', uid: `uid-${name}` }, ...body })
  await stored('ResourceQuota', 'bad', { spec: { hard: { pods: '0' }, scopes: 5 }, status: { hard: { pods: 'none' }, used: { pods: '0' } } })
  await stored('LimitRange', 'bad', { spec: { limits: [{ type: 'Container', default: { 'not a name': '1' } }] } })
  t.equal((await createPod(c.url, 'q-bad', pod('a'))).status, 201, 'a pod is let in')
  await quota('q-bad', { pods: '2' })
  t.equal((await createPod(c.url, 'q-bad', pod('b'))).status, 201)
  const third = await createPod(c.url, 'q-bad', pod('c'))
  t.equal(third.body.message, 'pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2', 'the good quota holds')
  t.equal((await call(c.url, 'GET', '/api/v1/namespaces/q-bad/resourcequotas')).status, 200, 'the list still answers')
})

t.test('claims: a LimitRange holds their storage request, a quota counts them and their storage per class', async (t) => {
  await namespace('q-claims')
  const claim = (name: string, storage: string) => ({ metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } } })
  const createClaim = (body: object) => call(c.url, 'POST', '/api/v1/namespaces/q-claims/persistentvolumeclaims', body)
  const lr = await call(c.url, 'POST', '/api/v1/namespaces/q-claims/limitranges', { metadata: { name: 'storage' }, spec: { limits: [{ type: 'PersistentVolumeClaim', min: { storage: '1Mi' }, max: { storage: '1Gi' } }] } })
  t.equal(lr.status, 201, JSON.stringify(lr.body))
  const big = await createClaim(claim('big', '2Gi'))
  t.equal(big.status, 403)
  t.equal(big.body.message, 'persistentvolumeclaims "big" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi')
  await quota('q-claims', { persistentvolumeclaims: '5', 'local-path.storageclass.storage.k8s.io/requests.storage': '1500Mi' })
  const first = await createClaim(claim('first', '1Gi'))
  t.equal(first.status, 201, JSON.stringify(first.body))
  t.equal(first.body.spec.storageClassName, 'local-path', 'the default class was set before the quota judged the claim')
  const second = await createClaim(claim('second', '1Gi'))
  t.equal(second.status, 403)
  t.equal(second.body.message, 'persistentvolumeclaims "second" is forbidden: exceeded quota: q, requested: local-path.storageclass.storage.k8s.io/requests.storage=1Gi, used: local-path.storageclass.storage.k8s.io/requests.storage=1Gi, limited: local-path.storageclass.storage.k8s.io/requests.storage=1500Mi')
  t.same((await quotaStatus('q-claims')).used, { 'local-path.storageclass.storage.k8s.io/requests.storage': '1Gi', persistentvolumeclaims: '1' })
})

t.test("the quota judges a pod with the LimitRange's defaults in (LimitRanger first, ResourceQuota last)", async (t) => {
  await namespace('q-order')
  const lr = await call(c.url, 'POST', '/api/v1/namespaces/q-order/limitranges', { metadata: { name: 'defaults' }, spec: { limits: [{ type: 'Container', default: { cpu: '200m' }, defaultRequest: { cpu: '100m' } }] } })
  t.equal(lr.status, 201)
  await quota('q-order', { 'requests.cpu': '150m', 'limits.cpu': '1' })
  const first = await createPod(c.url, 'q-order', pod('first'))
  t.equal(first.status, 201, 'the defaults satisfy "must specify"')
  t.same((await quotaStatus('q-order')).used, { 'limits.cpu': '200m', 'requests.cpu': '100m' }, 'and are what is charged')
  const second = await createPod(c.url, 'q-order', pod('second'))
  t.equal(second.body.message, 'pods "second" is forbidden: exceeded quota: q, requested: requests.cpu=100m, used: requests.cpu=100m, limited: requests.cpu=150m')
})
