// metrics.k8s.io through a real API server, with real kubelet API servers (HTTPS on the
// nodes' sockets, apiserver-kubelet-client's certificate checked, nodes/stats authorized)
// serving summaries the test sets.
import t from 'tap'
import { aggregatedRules } from '../../src/auth/rbac/aggregation.ts'
import { defaultClusterRoles } from '../../src/auth/policy/bootstrap-policy.ts'
import { call, startTestServer, userCredentials } from '../helpers/apiserver.ts'
import { makeSummary, startStatsKubelet } from '../helpers/stats-kubelet.ts'

const MiB = 1024 * 1024
const api = await startTestServer(t, { kubeletSocketsInDir: true, metrics: { timeoutMs: 300, maxAgeMs: 10_000 } })
const a = await startStatsKubelet(t, api.dir, 'node-a', makeSummary('node-a', { nanoCores: 1_234_567_890, bytes: 2048 * MiB }, [
  { namespace: 'default', name: 'web', containers: [['app', 15_000_000, 40 * MiB], ['proxy', 2_500_000, 12 * MiB + 4096]] },
  { namespace: 'kube-system', name: 'dns', containers: [['coredns', 3_000_000, 18 * MiB]] },
]))
const b = await startStatsKubelet(t, api.dir, 'node-b', makeSummary('node-b', { nanoCores: 250_000_000, bytes: 512 * MiB }, [{ namespace: 'default', name: 'db', containers: [['postgres', 120_000_000, 300 * MiB]] }]))
// node-c has no kubelet at all; node-d's accepts and never answers.
const d = await startStatsKubelet(t, api.dir, 'node-d')
d.summary = () => new Promise(() => {})

/** Setup that must succeed (a top-level assertion would let tap end the root test early). */
async function created(path: string, body: unknown): Promise<void> {
  const res = await call(api.url, 'POST', path, body)
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`)
}
for (const [name, zone] of [['node-a', 'east'], ['node-b', 'west'], ['node-c', 'east'], ['node-d', 'west']]) {
  await created('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { zone } } })
}
for (const [namespace, name, node] of [['default', 'web', 'node-a'], ['kube-system', 'dns', 'node-a'], ['default', 'db', 'node-b'], ['default', 'lost', 'node-d']]) {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: name } }, spec: { nodeName: node, containers: [{ name: 'x', image: 'weft/echo' }] } }
  await created(`/api/v1/namespaces/${namespace}/pods`, pod)
}

t.test('discovery lists metrics.k8s.io/v1beta1 as metrics-server does', async (t) => {
  const groups = await call(api.url, 'GET', '/apis')
  // After the built-in groups, as an aggregated API is listed (custom resources' groups, the mesh's, come after it).
  const builtIn = groups.body.groups.filter((g: { name: string }) => g.name !== 'mesh.weft.dev')
  t.same(builtIn.at(-1), { name: 'metrics.k8s.io', versions: [{ groupVersion: 'metrics.k8s.io/v1beta1', version: 'v1beta1' }], preferredVersion: { groupVersion: 'metrics.k8s.io/v1beta1', version: 'v1beta1' } })
  t.match((await call(api.url, 'GET', '/apis/metrics.k8s.io')).body, { kind: 'APIGroup', name: 'metrics.k8s.io' })
  t.same((await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1')).body, {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'metrics.k8s.io/v1beta1',
    resources: [
      { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ],
  })
  const aggregated = await call(api.url, 'GET', '/apis', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' })
  const entry = aggregated.body.items.find((g: { metadata: { name: string } }) => g.metadata.name === 'metrics.k8s.io')
  t.match(entry, { versions: [{ version: 'v1beta1', resources: [{ resource: 'nodes', scope: 'Cluster', responseKind: { kind: 'NodeMetrics' } }, { resource: 'pods', scope: 'Namespaced', responseKind: { kind: 'PodMetrics' } }] }] })
  const legacy = await call(api.url, 'GET', '/api', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' })
  t.notOk(legacy.body.items.some((g: { metadata: { name: string } }) => g.metadata.name === 'metrics.k8s.io'))
})

t.test('NodeMetrics from each kubelet; silent and missing kubelets are left out', async (t) => {
  const started = Date.now()
  const res = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes')
  t.equal(res.status, 200)
  t.ok(Date.now() - started < 5000, 'the silent kubelet costs the timeout, no more')
  t.equal(res.body.kind, 'NodeMetricsList')
  t.same(res.body.items.map((i: { metadata: { name: string }; usage: unknown }) => [i.metadata.name, i.usage]), [
    ['node-a', { cpu: '1234567890n', memory: '2Gi' }],
    ['node-b', { cpu: '250m', memory: '512Mi' }],
  ])
  t.match(res.body.items[0], { metadata: { labels: { zone: 'east' } }, window: '10s', timestamp: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/ })
  const east = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=zone%3Dwest')
  t.same(east.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['node-b'])
  const one = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes/node-b')
  t.match(one.body, { kind: 'NodeMetrics', apiVersion: 'metrics.k8s.io/v1beta1', metadata: { name: 'node-b' }, usage: { cpu: '250m' } })
  const none = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes/node-c')
  t.equal(none.status, 404)
  t.match(none.body, { kind: 'Status', reason: 'NotFound', message: 'nodemetrics.metrics.k8s.io "node-c" not found' })
  t.ok(a.asked.every((x) => x.user.username === 'apiserver-kubelet-client' && x.subresource === 'stats'), 'the API server asks as apiserver-kubelet-client, for nodes/stats')
  const before = a.requests + b.requests
  await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes')
  t.equal(a.requests + b.requests, before, 'a second list within the window is answered from the cache')
})

t.test('PodMetrics: all namespaces, one namespace, one pod, selectors', async (t) => {
  const all = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/pods')
  t.equal(all.body.kind, 'PodMetricsList')
  t.same(all.body.items.map((i: { metadata: { namespace: string; name: string } }) => `${i.metadata.namespace}/${i.metadata.name}`), ['default/db', 'default/web', 'kube-system/dns'])
  const web = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web')
  t.match(web.body, {
    kind: 'PodMetrics',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    window: '10s',
    containers: [
      { name: 'app', usage: { cpu: '15m', memory: '40Mi' } },
      { name: 'proxy', usage: { cpu: '2500u', memory: '12292Ki' } },
    ],
  })
  const ns = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%20in%20(db,dns)')
  t.same(ns.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['db'])
  const field = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/pods?fieldSelector=metadata.namespace%3Dkube-system')
  t.same(field.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['dns'])
  const badField = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/pods?fieldSelector=spec.nodeName%3Dnode-a')
  t.equal(badField.status, 400)
  const lost = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/lost')
  t.match(lost.body, { code: 404, message: 'podmetrics.metrics.k8s.io "default/lost" not found' })
  const ghost = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/ghost')
  t.match(ghost.body, { code: 404, message: 'pods "ghost" not found' })
  t.equal((await call(api.url, 'DELETE', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web')).status, 405)
  t.equal((await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/pods?watch=true')).status, 405)
})

t.test('Table output for kubectl get', async (t) => {
  const table = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods', undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
  t.equal(table.body.kind, 'Table')
  t.same(table.body.columnDefinitions.map((c: { name: string }) => c.name), ['Name', 'cpu', 'memory', 'Window'])
  t.same(table.body.rows.map((r: { cells: unknown[] }) => r.cells), [
    ['db', '120m', '300Mi', '10s'],
    ['web', '17500u', '53252Ki', '10s'],
  ])
})

t.test('RBAC: get/list on nodes.metrics.k8s.io and pods.metrics.k8s.io', async (t) => {
  const viewer = await userCredentials('metrics-viewer')
  const refused = await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes', undefined, {}, viewer)
  t.equal(refused.status, 403)
  t.match(refused.body.message, /User "metrics-viewer" cannot list resource "nodes" in API group "metrics.k8s.io" at the cluster scope/)
  const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'metrics-viewer' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:aggregated-metrics-reader' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'metrics-viewer' }] }
  t.equal((await call(api.url, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding)).status, 201)
  let status = 0
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = (await call(api.url, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods', undefined, {}, viewer)).status
    if (status !== 200) await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(status, 200, 'system:aggregated-metrics-reader grants it')
  const roles = defaultClusterRoles()
  for (const name of ['view', 'edit', 'admin']) {
    const rules = aggregatedRules(roles.find((r) => r.metadata?.name === name)!, roles) ?? []
    t.ok(rules.some((r) => r.apiGroups?.includes('metrics.k8s.io') && r.resources?.includes('pods') && r.resources.includes('nodes') && r.verbs.includes('list')), `${name} aggregates the metrics reader`)
  }
})

t.test("over TCP: the node's InternalIP and kubelet port, its certificate checked", async (t) => {
  const { createServer } = await import('node:net')
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as { port: number }).port
  await new Promise((r) => probe.close(r))
  const tcpApi = await startTestServer(t, { metrics: { timeoutMs: 2000 } })
  const kubelet = await startStatsKubelet(t, tcpApi.dir, 'node-t', makeSummary('node-t', { nanoCores: 42_000_000, bytes: 64 * MiB }, []), `127.0.0.1:${port}`)
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-t' } }
  t.equal((await call(tcpApi.url, 'POST', '/api/v1/nodes', node)).status, 201)
  const status = { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } }
  t.equal((await call(tcpApi.url, 'PATCH', '/api/v1/nodes/node-t/status', status, { 'content-type': 'application/merge-patch+json' })).status, 200)
  const res = await call(tcpApi.url, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes/node-t')
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.same(res.body.usage, { cpu: '42m', memory: '64Mi' })
  t.equal(kubelet.requests, 1)
  // A summary that names another node is refused: the node is left out.
  const liar = await startTestServer(t, { metrics: { timeoutMs: 2000 } })
  t.equal((await call(liar.url, 'POST', '/api/v1/nodes', { ...node, metadata: { name: 'node-u' } })).status, 201)
  t.equal((await call(liar.url, 'PATCH', '/api/v1/nodes/node-u/status', status, { 'content-type': 'application/merge-patch+json' })).status, 200)
  const refused = await call(liar.url, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes')
  t.same(refused.body.items, [], 'the summary of node-t does not pass for node-u')
})
