// MeshAuthorization as the API serves it: the CRD the server installs at start, its schema
// refusing what it cannot be, and the reads nodes and namespace editors get.
import t from 'tap'
import { call, userCredentials } from '../helpers/apiserver.ts'
import { startCluster, until } from '../helpers/control-plane.ts'

const path = (ns: string) => `/apis/mesh.weft.dev/v1alpha1/namespaces/${ns}/meshauthorizations`

t.test('the API server serves MeshAuthorization from start', async (t) => {
  // With the controllers: edit's rules come from the clusterrole-aggregation-controller.
  const { url } = await startCluster(t)
  await until('the CRD is established', async () => {
    const crd = await call(url, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/meshauthorizations.mesh.weft.dev')
    return crd.body.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True') === true
  })
  await call(url, 'POST', '/api/v1/namespaces', { metadata: { name: 'shop' } })
  const body = (spec: unknown) => ({ apiVersion: 'mesh.weft.dev/v1alpha1', kind: 'MeshAuthorization', metadata: { name: 'p' }, spec })
  await until('a MeshAuthorization can be created', async () => (await call(url, 'POST', path('shop'), body({ action: 'DENY', rules: [{ from: [{ serviceAccounts: ['shop/batch'] }], ports: [8080] }] }))).status === 201)
  const got = await call(url, 'GET', `${path('shop')}/p`)
  t.match(got.body, { spec: { action: 'DENY', rules: [{ from: [{ serviceAccounts: ['shop/batch'] }], ports: [8080] }] } })
  const bad = await call(url, 'POST', path('shop'), { ...body({ action: 'MAYBE', rules: [{ ports: [70000] }] }), metadata: { name: 'bad' } })
  t.equal(bad.status, 422)
  t.match(bad.body.message, /spec\.action: Unsupported value: "MAYBE"/)
  t.match(bad.body.message, /spec\.rules\[0\]\.ports\[0\]: Invalid value: 70000/)
  const node = await userCredentials('system:node:n1', ['system:nodes'])
  t.equal((await call(url, 'GET', '/apis/mesh.weft.dev/v1alpha1/meshauthorizations', undefined, {}, node)).status, 200, 'a node lists them all')
  t.equal((await call(url, 'POST', path('shop'), { ...body({}), metadata: { name: 'x' } }, {}, node)).status, 403, 'but writes none')
  const alice = await userCredentials('alice')
  await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings', { metadata: { name: 'alice-edit' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }] })
  await until('edit aggregates MeshAuthorization', async () => (await call(url, 'POST', path('shop'), { ...body({}), metadata: { name: 'default-deny' } }, {}, alice)).status === 201)
  t.pass('a namespace editor writes them')
})
