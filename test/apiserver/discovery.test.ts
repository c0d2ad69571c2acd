import t from 'tap'
import { call, startTestServer } from '../helpers/apiserver.ts'

t.test('legacy discovery documents', async (t) => {
  const { url } = await startTestServer(t)
  const api = await call(url, 'GET', '/api')
  t.equal(api.body.kind, 'APIVersions')
  t.same(api.body.versions, ['v1'])
  const apis = await call(url, 'GET', '/apis')
  t.same(apis.body.groups.map((g: any) => g.name).sort(), ['apiextensions.k8s.io', 'apps', 'authentication.k8s.io', 'authorization.k8s.io', 'autoscaling', 'batch', 'certificates.k8s.io', 'coordination.k8s.io', 'discovery.k8s.io', 'events.k8s.io', 'mesh.weft.dev', 'metrics.k8s.io', 'networking.k8s.io', 'policy', 'rbac.authorization.k8s.io', 'scheduling.k8s.io', 'storage.k8s.io'])
  const v1 = await call(url, 'GET', '/api/v1')
  const pods = v1.body.resources.find((r: any) => r.name === 'pods')
  t.match(pods, { kind: 'Pod', namespaced: true, shortNames: ['po'] })
  t.ok(pods.verbs.includes('watch'))
  t.ok(v1.body.resources.some((r: any) => r.name === 'pods/binding' && r.verbs.includes('create')))
  const policy = await call(url, 'GET', '/apis/policy/v1')
  t.match(policy.body.resources.find((r: any) => r.name === 'poddisruptionbudgets'), { kind: 'PodDisruptionBudget', namespaced: true, shortNames: ['pdb'] })
  t.match(policy.body.resources.find((r: any) => r.name === 'poddisruptionbudgets/status'), { kind: 'PodDisruptionBudget', verbs: ['get', 'patch', 'update'] })
  const networking = await call(url, 'GET', '/apis/networking.k8s.io/v1')
  t.match(networking.body.resources.find((r: any) => r.name === 'networkpolicies'), {
    kind: 'NetworkPolicy',
    singularName: 'networkpolicy',
    namespaced: true,
    shortNames: ['netpol'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  })
  t.notOk(networking.body.resources.some((r: any) => r.name.startsWith('networkpolicies/')), 'no subresources')
  const apps = await call(url, 'GET', '/apis/apps/v1')
  const scale = apps.body.resources.find((r: any) => r.name === 'deployments/scale')
  t.match(scale, { group: 'autoscaling', version: 'v1', kind: 'Scale' })
  t.equal((await call(url, 'GET', '/apis/apps')).body.preferredVersion.groupVersion, 'apps/v1')
  t.equal((await call(url, 'GET', '/apis/nope/v1')).status, 404)
})

t.test('aggregated discovery when asked for', async (t) => {
  const { url } = await startTestServer(t)
  const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'
  const res = await call(url, 'GET', '/apis', undefined, { accept })
  t.match(res.headers.get('content-type'), /as=APIGroupDiscoveryList/)
  t.equal(res.body.kind, 'APIGroupDiscoveryList')
  const networking = res.body.items.find((g: any) => g.metadata.name === 'networking.k8s.io')
  const ingresses = networking.versions[0].resources.find((r: any) => r.resource === 'ingresses')
  t.match(ingresses, { scope: 'Namespaced', responseKind: { kind: 'Ingress' } })
  t.same(ingresses.subresources.map((s: any) => s.subresource), ['status'])
  const core = await call(url, 'GET', '/api', undefined, { accept })
  t.same(core.body.items.map((g: any) => g.metadata.name), [''])
})

t.test('version, health and metrics', async (t) => {
  const { url } = await startTestServer(t)
  const version = await call(url, 'GET', '/version')
  t.match(version.body, { major: '1', gitVersion: /^v1\.\d+\.\d+/ })
  for (const path of ['/healthz', '/livez', '/readyz']) {
    const res = await call(url, 'GET', path)
    t.equal(res.status, 200, path)
    t.equal(res.body, 'ok')
  }
  const verbose = await call(url, 'GET', '/readyz?verbose')
  t.match(verbose.body, /\[\+\]sqlite ok/)
  await call(url, 'GET', '/api/v1/namespaces/default/pods')
  const metrics = await call(url, 'GET', '/metrics')
  t.match(metrics.body, /apiserver_request_total\{verb="LIST",group="",version="v1",resource="pods",subresource="",code="200"\} 1/)
  t.match(metrics.body, /apiserver_request_duration_seconds_bucket/)
  const post = await call(url, 'POST', '/healthz', {})
  t.equal(post.status, 405)
})
