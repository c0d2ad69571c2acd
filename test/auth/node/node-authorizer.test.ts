import t from 'tap'
import { NodeAuthorizer } from '../../../src/auth/node/node-authorizer.ts'
import { NodeGraph } from '../../../src/auth/node/node-graph.ts'
import type { Attributes, ResourceAttributes, UserInfo } from '../../../src/auth/types.ts'

const node1: UserInfo = { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] }

function req(verb: string, resource: string, more: Partial<ResourceAttributes> = {}): ResourceAttributes {
  return { resourceRequest: true, user: node1, verb, namespace: '', apiGroup: '', apiVersion: 'v1', resource, subresource: '', name: '', ...more }
}

function setup() {
  const graph = new NodeGraph()
  graph.upsertPod({
    metadata: { namespace: 'ns', name: 'web', uid: 'u1' },
    spec: { nodeName: 'n1', serviceAccountName: 'web-sa', containers: [{ name: 'c' }], volumes: [{ name: 's', secret: { secretName: 'tls' } }, { name: 'c', configMap: { name: 'conf' } }, { name: 'p', persistentVolumeClaim: { claimName: 'data' } }] },
  })
  graph.upsertPod({ metadata: { namespace: 'ns', name: 'elsewhere' }, spec: { nodeName: 'n2', volumes: [{ name: 's', secret: { secretName: 'other' } }] } })
  return { graph, authz: new NodeAuthorizer(graph) }
}

const decide = (authz: NodeAuthorizer, a: Attributes, fieldSelector?: string) => authz.authorize(a, { fieldSelector })

t.test('callers that are not nodes get no opinion', async (t) => {
  const { authz } = setup()
  for (const user of [
    { username: 'system:node:n1', groups: [] },
    { username: 'alice', groups: ['system:nodes'] },
    { username: 'system:kube-proxy', groups: ['system:authenticated'] },
  ]) t.same(authz.authorize(req('get', 'secrets', { user, namespace: 'ns', name: 'tls' })), { decision: 'noOpinion', reason: '' }, user.username)
  t.same(authz.authorize(req('get', 'secrets', { user: { username: 'system:node:', groups: ['system:nodes'] }, namespace: 'ns', name: 'tls' })), { decision: 'noOpinion', reason: 'unknown node for user "system:node:"' })
  t.equal(authz.authorize({ resourceRequest: false, user: node1, verb: 'get', path: '/healthz' }).decision, 'noOpinion')
})

t.test('secrets and configmaps: only those its pods reference', async (t) => {
  const { authz } = setup()
  t.equal(authz.authorize(req('get', 'secrets', { namespace: 'ns', name: 'tls' })).decision, 'allow')
  t.equal(authz.authorize(req('get', 'configmaps', { namespace: 'ns', name: 'conf' })).decision, 'allow')
  t.same(authz.authorize(req('get', 'secrets', { namespace: 'ns', name: 'other' })), { decision: 'noOpinion', reason: "no relationship found between node 'n1' and this object" })
  t.same(authz.authorize(req('get', 'secrets', { namespace: 'other', name: 'tls' })), { decision: 'noOpinion', reason: "no relationship found between node 'n1' and this object" })
  t.same(authz.authorize(req('list', 'secrets', { namespace: 'ns' })), { decision: 'noOpinion', reason: 'No Object name found' }, 'listing all of them')
  t.same(authz.authorize(req('list', 'secrets')), { decision: 'noOpinion', reason: 'can only read namespaced object of this type' })
  t.equal(decide(authz, req('watch', 'secrets', { namespace: 'ns' }), 'metadata.name=tls').decision, 'allow', 'a watch of one named secret')
  t.equal(decide(authz, req('watch', 'secrets', { namespace: 'ns' }), 'metadata.name=other').decision, 'noOpinion')
  t.equal(decide(authz, req('watch', 'secrets', { namespace: 'ns' }), 'metadata.name!=other').decision, 'noOpinion', 'not an exact match')
  t.equal(decide(authz, req('watch', 'secrets', { namespace: 'ns' }), 'metadata.name=tls,bogus').decision, 'noOpinion', 'a selector the server would refuse selects nothing here')
  t.same(authz.authorize(req('update', 'secrets', { namespace: 'ns', name: 'tls' })), { decision: 'noOpinion', reason: 'can only read resources of this type' })
  t.same(authz.authorize(req('get', 'secrets', { namespace: 'ns', name: 'tls', subresource: 'x' })), { decision: 'noOpinion', reason: 'cannot read subresource' })
})

t.test('claims, volumes and service-account tokens', async (t) => {
  const { authz } = setup()
  t.equal(authz.authorize(req('get', 'persistentvolumeclaims', { namespace: 'ns', name: 'data' })).decision, 'allow')
  t.same(authz.authorize(req('list', 'persistentvolumeclaims', { namespace: 'ns' })), { decision: 'noOpinion', reason: 'can only get individual resources of this type' })
  t.equal(authz.authorize(req('patch', 'persistentvolumeclaims', { namespace: 'ns', name: 'data', subresource: 'status' })).decision, 'allow')
  t.same(authz.authorize(req('get', 'persistentvolumeclaims', { namespace: 'ns', name: 'data', subresource: 'status' })), { decision: 'noOpinion', reason: 'can only get/update/patch this type' })
  t.same(authz.authorize(req('get', 'persistentvolumes', { name: 'pv' })), { decision: 'noOpinion', reason: "no relationship found between node 'n1' and this object" }, 'PVs are not in the static rules either')
  t.equal(authz.authorize(req('create', 'serviceaccounts', { namespace: 'ns', name: 'web-sa', subresource: 'token' })).decision, 'allow')
  t.same(authz.authorize(req('create', 'serviceaccounts', { namespace: 'ns', name: 'default', subresource: 'token' })), { decision: 'noOpinion', reason: "no relationship found between node 'n1' and this object" })
  t.same(authz.authorize(req('get', 'serviceaccounts', { namespace: 'ns', name: 'web-sa' })), { decision: 'noOpinion', reason: 'can only create tokens for individual service accounts' })
  t.same(authz.authorize(req('create', 'serviceaccounts', { namespace: 'ns', name: 'web-sa' })), { decision: 'noOpinion', reason: 'can only create token subresource of serviceaccount' })
})

t.test('its own lease, in kube-node-lease', async (t) => {
  const { authz } = setup()
  const lease = (verb: string, more: Partial<ResourceAttributes>) => authz.authorize(req(verb, 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', ...more }))
  t.equal(lease('patch', { name: 'n1' }).decision, 'allow')
  t.equal(lease('create', {}).decision, 'allow', 'the name is checked by NodeRestriction')
  t.same(lease('update', { name: 'n2' }), { decision: 'noOpinion', reason: 'can only access node lease with the same name as the requesting node' })
  t.same(lease('get', { name: 'n1', namespace: 'kube-system' }), { decision: 'noOpinion', reason: 'can only access leases in the "kube-node-lease" system namespace' })
  t.same(lease('list', {}), { decision: 'noOpinion', reason: 'can only get, create, update, patch, or delete a node lease' })
})

t.test('nodes: write any (NodeRestriction narrows), read only its own', async (t) => {
  const { authz } = setup()
  t.equal(authz.authorize(req('create', 'nodes')).decision, 'allow')
  t.equal(authz.authorize(req('patch', 'nodes', { name: 'n1', subresource: 'status' })).decision, 'allow')
  t.equal(authz.authorize(req('get', 'nodes', { name: 'n1' })).decision, 'allow')
  t.same(authz.authorize(req('get', 'nodes', { name: 'n2' })), { decision: 'noOpinion', reason: "node 'n1' cannot read 'n2', only its own Node object" })
  t.same(authz.authorize(req('list', 'nodes')), { decision: 'noOpinion', reason: "node 'n1' cannot read all nodes, only its own Node object" })
  t.equal(decide(authz, req('watch', 'nodes'), 'metadata.name=n1').decision, 'allow', "the proxy's watch of its own Node")
  t.equal(authz.authorize(req('delete', 'nodes', { name: 'n1' })).decision, 'noOpinion')
})

t.test('pods: its own, and lists scoped to spec.nodeName', async (t) => {
  const { authz } = setup()
  t.equal(authz.authorize(req('get', 'pods', { namespace: 'ns', name: 'web' })).decision, 'allow')
  t.same(authz.authorize(req('get', 'pods', { namespace: 'ns', name: 'elsewhere' })), { decision: 'noOpinion', reason: "no relationship found between node 'n1' and this object" })
  t.equal(decide(authz, req('list', 'pods'), 'spec.nodeName=n1').decision, 'allow')
  t.equal(decide(authz, req('watch', 'pods'), 'status.phase=Running,spec.nodeName=n1').decision, 'allow')
  t.same(decide(authz, req('watch', 'pods'), 'spec.nodeName=n2'), { decision: 'noOpinion', reason: 'can only list/watch pods with spec.nodeName field selector' })
  t.equal(decide(authz, req('watch', 'pods'), 'spec.nodeName!=n1').decision, 'noOpinion')
  t.equal(decide(authz, req('list', 'pods')).decision, 'noOpinion')
  t.equal(decide(authz, req('list', 'pods', { namespace: 'ns' }), 'metadata.name=web').decision, 'allow', 'one named pod of its own')
  t.equal(authz.authorize(req('patch', 'pods', { namespace: 'ns', name: 'web', subresource: 'status' })).decision, 'allow')
  t.equal(authz.authorize(req('create', 'pods', { namespace: 'ns', name: 'x', subresource: 'eviction' })).decision, 'allow')
  t.equal(authz.authorize(req('update', 'pods', { namespace: 'ns', name: 'web' })).decision, 'noOpinion')
  t.equal(authz.authorize(req('create', 'pods', { namespace: 'ns', name: 'web', subresource: 'exec' })).decision, 'noOpinion')
})

t.test('the static rules: what the agent and its proxy read', async (t) => {
  const { authz } = setup()
  t.equal(authz.authorize(req('watch', 'services')).decision, 'allow')
  t.equal(authz.authorize(req('list', 'endpointslices', { apiGroup: 'discovery.k8s.io' })).decision, 'allow')
  t.equal(authz.authorize(req('create', 'events', { namespace: 'ns' })).decision, 'allow')
  t.equal(authz.authorize(req('create', 'certificatesigningrequests', { apiGroup: 'certificates.k8s.io' })).decision, 'allow')
  t.equal(authz.authorize(req('delete', 'services', { namespace: 'ns', name: 'x' })).decision, 'noOpinion')
  t.equal(authz.authorize(req('get', 'deployments', { apiGroup: 'apps', namespace: 'ns', name: 'x' })).decision, 'noOpinion')
  t.equal(authz.authorize(req('list', 'namespaces')).decision, 'noOpinion')
  t.equal(authz.authorize(req('create', 'clusterrolebindings', { apiGroup: 'rbac.authorization.k8s.io' })).decision, 'noOpinion')
})

t.test('decisions follow the graph as pods change', async (t) => {
  const { graph, authz } = setup()
  graph.removePod('ns', 'web')
  t.equal(authz.authorize(req('get', 'secrets', { namespace: 'ns', name: 'tls' })).decision, 'noOpinion')
  t.equal(authz.authorize(req('get', 'pods', { namespace: 'ns', name: 'web' })).decision, 'noOpinion')
  graph.upsertPod({ metadata: { namespace: 'ns', name: 'elsewhere' }, spec: { nodeName: 'n1', volumes: [{ name: 's', secret: { secretName: 'other' } }] } })
  t.equal(authz.authorize(req('get', 'secrets', { namespace: 'ns', name: 'other' })).decision, 'allow')
})
