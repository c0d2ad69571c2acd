// Kubernetes behaviours that clients rely on, each found missing once.
import t from 'tap'
import { call, startTestServer, adminFetch } from '../helpers/apiserver.ts'

const svcPath = '/api/v1/namespaces/default/services'
const cmPath = '/api/v1/namespaces/default/configmaps'
const mergePatch = { 'content-type': 'application/merge-patch+json' }

t.test('a refused or dry-run create never frees what the existing Service holds', async (t) => {
  const { url } = await startTestServer(t)
  const spec = { type: 'NodePort', clusterIP: '10.96.0.50', ports: [{ port: 80, nodePort: 30080 }] }
  t.equal((await call(url, 'POST', svcPath, { metadata: { name: 'a' }, spec })).status, 201)
  t.equal((await call(url, 'POST', svcPath, { metadata: { name: 'a' }, spec })).status, 409)
  t.equal((await call(url, 'POST', `${svcPath}?dryRun=All`, { metadata: { name: 'a' }, spec })).status, 409, 'a dry run says AlreadyExists too')
  const other = await call(url, 'POST', svcPath, { metadata: { name: 'b' }, spec })
  t.equal(other.status, 422, 'the address and port are still taken')
  const kubernetes = await call(url, 'POST', svcPath, { metadata: { name: 'c' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 1 }] } })
  t.equal(kubernetes.status, 422, 'the kubernetes Service keeps 10.96.0.1')
})

t.test('a Service whose last finalizer goes is deleted and its allocations released', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', svcPath, { metadata: { name: 'fin', finalizers: ['example.com/x'] }, spec: { clusterIP: '10.96.0.60', ports: [{ port: 80 }] } })
  const pending = await call(url, 'DELETE', `${svcPath}/fin`)
  t.equal(pending.status, 200)
  t.ok(pending.body.metadata.deletionTimestamp)
  t.equal((await call(url, 'PATCH', `${svcPath}/fin`, { metadata: { finalizers: null } }, mergePatch)).status, 200)
  t.equal((await call(url, 'GET', `${svcPath}/fin`)).status, 404)
  t.equal((await call(url, 'POST', svcPath, { metadata: { name: 'again' }, spec: { clusterIP: '10.96.0.60', ports: [{ port: 80 }] } })).status, 201)
})

t.test('an update that changes nothing keeps the resourceVersion and sends no event', async (t) => {
  const { url } = await startTestServer(t)
  const created = await call(url, 'POST', cmPath, { metadata: { name: 'same' }, data: { a: '1' } })
  const first = await call(url, 'PATCH', `${cmPath}/same`, { data: { a: '2' } }, mergePatch)
  const second = await call(url, 'PATCH', `${cmPath}/same`, { data: { a: '2' } }, mergePatch)
  t.not(first.body.metadata.resourceVersion, created.body.metadata.resourceVersion)
  t.equal(second.body.metadata.resourceVersion, first.body.metadata.resourceVersion)
  const put = await call(url, 'PUT', `${cmPath}/same`, second.body)
  t.equal(put.status, 200)
  t.equal(put.body.metadata.resourceVersion, first.body.metadata.resourceVersion, 'PUT of what was read is a no-op')
  const again = await call(url, 'PUT', `${cmPath}/same`, second.body)
  t.equal(again.status, 200, 'and can be repeated without a conflict')
})

t.test('Leases and Events with microsecond times, as client-go writes them', async (t) => {
  const { url } = await startTestServer(t)
  const lease = await call(url, 'POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
    metadata: { name: 'node-1' },
    spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40, acquireTime: '2026-11-26T05:20:00.123456Z', renewTime: '2026-11-26T05:20:10.654321Z' },
  })
  t.equal(lease.status, 201, JSON.stringify(lease.body))
  const event = await call(url, 'POST', '/api/v1/namespaces/default/events', {
    metadata: { name: 'e1' },
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'p' },
    reason: 'Started',
    message: 'started',
    type: 'Normal',
    eventTime: '2026-11-26T05:20:00.123456Z',
    reportingComponent: 'kubelet',
    reportingInstance: 'node-1',
    action: 'Start',
  })
  t.equal(event.status, 201, JSON.stringify(event.body))
})

t.test('namespace status and finalize subresources', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', '/api/v1/namespaces', { metadata: { name: 'team' } })
  const status = await call(url, 'GET', '/api/v1/namespaces/team/status')
  t.equal(status.status, 200)
  t.equal(status.body.status.phase, 'Active')
  const cleared = await call(url, 'PATCH', '/api/v1/namespaces/team', { spec: { finalizers: [] } }, mergePatch)
  t.same(cleared.body.spec.finalizers, ['kubernetes'], 'a plain update keeps spec.finalizers')
  const deleting = await call(url, 'DELETE', '/api/v1/namespaces/team')
  t.equal(deleting.body.status.phase, 'Terminating')
  const current = (await call(url, 'GET', '/api/v1/namespaces/team')).body
  current.spec.finalizers = []
  const finalized = await call(url, 'PUT', '/api/v1/namespaces/team/finalize', current)
  t.equal(finalized.status, 200)
  t.equal((await call(url, 'GET', '/api/v1/namespaces/team')).status, 404, 'gone once its finalizers are')
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/finalize')).status, 405)
})

t.test('DELETE answers like Kubernetes: Status when gone, the object for Pods and Services and while pending', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', cmPath, { metadata: { name: 'x' } })
  const gone = await call(url, 'DELETE', `${cmPath}/x`)
  t.match(gone.body, { kind: 'Status', status: 'Success', details: { name: 'x', kind: 'configmaps' } })
  await call(url, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }] } })
  t.equal((await call(url, 'DELETE', '/api/v1/namespaces/default/pods/p')).body.kind, 'Pod')
  await call(url, 'POST', cmPath, { metadata: { name: 'l1', labels: { g: 'x' } } })
  await call(url, 'POST', cmPath, { metadata: { name: 'l2', labels: { g: 'x' } } })
  const res = await adminFetch(`${url}${cmPath}?labelSelector=g%3Dx`, { method: 'DELETE' })
  t.equal(res.status, 200, 'deletecollection without a body')
  t.same((await call(url, 'GET', `${cmPath}?labelSelector=g%3Dx`)).body.items, [])
})

t.test('status is the server\'s on create; scale reports the whole selector', async (t) => {
  const { url } = await startTestServer(t)
  const pod = await call(url, 'POST', '/api/v1/namespaces/default/pods', {
    metadata: { name: 'stale' },
    spec: { containers: [{ name: 'c', image: 'x' }] },
    status: { phase: 'Running', podIP: '1.2.3.4' },
  })
  t.same(pod.body.status, { phase: 'Pending', qosClass: 'BestEffort' })
  await call(url, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
    metadata: { name: 'd' },
    spec: {
      selector: { matchLabels: { a: 'b' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] },
      template: { metadata: { labels: { a: 'b', tier: 'web' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    },
  })
  const scale = await call(url, 'GET', '/apis/apps/v1/namespaces/default/deployments/d/scale')
  t.equal(scale.body.status.selector, 'a=b,tier in (web)')
})

t.test('resource versions from the future and bad match values', async (t) => {
  const { url } = await startTestServer(t)
  const future = await call(url, 'GET', `${cmPath}?resourceVersion=999999&resourceVersionMatch=Exact`)
  t.equal(future.status, 504)
  t.equal(future.body.details.causes[0].reason, 'ResourceVersionTooLarge')
  const watch = await call(url, 'GET', `${cmPath}?watch=true&resourceVersion=999999`)
  t.equal(watch.status, 504)
  const bogus = await call(url, 'GET', `${cmPath}?resourceVersion=1&resourceVersionMatch=Bogus`)
  t.equal(bogus.status, 422)
  const noRV = await call(url, 'GET', `${cmPath}?resourceVersionMatch=NotOlderThan`)
  t.equal(noRV.status, 422)
})

t.test('a watch with timeoutSeconds=0 gets the default timeout', async (t) => {
  const { url } = await startTestServer(t)
  const ac = new AbortController()
  const res = await adminFetch(`${url}${cmPath}?watch=true&resourceVersion=1&timeoutSeconds=0`, { signal: ac.signal })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const outcome = await Promise.race([reader.read().then(() => 'ended'), new Promise((r) => setTimeout(() => r('open'), 1500))])
  t.equal(outcome, 'open', 'still open after 1.5 s')
  ac.abort()
})

t.test('creating on the all-namespaces path is refused; /openapi/v2 answers', async (t) => {
  const { url } = await startTestServer(t)
  const res = await call(url, 'POST', '/api/v1/configmaps', { metadata: { name: 'x', namespace: 'default' } })
  t.equal(res.status, 405)
  const v2 = await adminFetch(`${url}/openapi/v2`)
  t.equal(v2.status, 200)
  t.equal(v2.headers.get('content-type'), 'application/json')
  t.equal(((await v2.json()) as { swagger: string }).swagger, '2.0')
  const proto = await adminFetch(`${url}/openapi/v2`, { headers: { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' } })
  t.equal(proto.headers.get('content-type'), 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', 'the content type Go can parse, as kube-apiserver answers')
  t.equal(proto.headers.get('etag'), v2.headers.get('etag'))
  t.ok((await proto.arrayBuffer()).byteLength > 100_000)
})
