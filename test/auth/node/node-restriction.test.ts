import t from 'tap'
import { NodeGraph } from '../../../src/auth/node/node-graph.ts'
import { forbiddenLabels, nodeRestriction, type NodeRestrictionRequest } from '../../../src/auth/node/node-restriction.ts'
import type { UserInfo } from '../../../src/auth/types.ts'

const a: UserInfo = { username: 'system:node:a', groups: ['system:nodes'] }
const r = (verb: string, resource: string, more: Partial<NodeRestrictionRequest> = {}): NodeRestrictionRequest => ({ verb, resource, subresource: '', namespace: '', name: '', ...more })

function graph() {
  const g = new NodeGraph()
  g.upsertPod({ metadata: { namespace: 'ns', name: 'mine', uid: 'u-mine' }, spec: { nodeName: 'a' } })
  g.upsertPod({ metadata: { namespace: 'ns', name: 'theirs', uid: 'u-theirs' }, spec: { nodeName: 'b' } })
  return g
}

t.test('only nodes are restricted, and only writes', async (t) => {
  t.equal(nodeRestriction({ username: 'alice', groups: [] }, r('update', 'nodes', { name: 'b' }), {}, {}), undefined)
  t.equal(nodeRestriction({ username: 'system:node:a', groups: [] }, r('update', 'nodes', { name: 'b' }), {}, {}), undefined, 'not in system:nodes')
  t.equal(nodeRestriction(a, r('get', 'nodes', { name: 'b' }), undefined, undefined), undefined)
  t.equal(nodeRestriction({ username: 'system:node:', groups: ['system:nodes'] }, r('update', 'nodes', { name: 'b' }), {}, {}), 'could not determine node from user "system:node:"')
  t.equal(nodeRestriction(a, r('update', 'configmaps', { name: 'x', namespace: 'ns' }), {}, {}), undefined, 'other resources are the authorizers\' business')
  t.equal(nodeRestriction(a, r('update', 'leases', { apiGroup: 'example.com', name: 'x' }), {}, {}), undefined, 'a lease of another group is not a node lease')
})

t.test('nodes: only its own, without forbidden labels or taint changes', async (t) => {
  t.equal(nodeRestriction(a, r('update', 'nodes', { name: 'b' }), {}, {}), 'node "a" is not allowed to modify node "b"')
  t.equal(nodeRestriction(a, r('delete', 'nodes', { name: 'b' }), undefined, undefined), 'node "a" is not allowed to modify node "b"')
  t.equal(nodeRestriction(a, r('create', 'nodes'), { metadata: { name: 'b' } }, undefined), 'node "a" is not allowed to modify node "b"', 'on create the name comes from the object')
  t.equal(nodeRestriction(a, r('create', 'nodes'), { metadata: { name: 'a', labels: { 'kubernetes.io/hostname': 'a', 'node.kubernetes.io/exclude-from-external-load-balancers': '', mine: 'x' } }, spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] } }, undefined), undefined, 'kubelet labels and taints on create are fine')
  t.equal(
    nodeRestriction(a, r('create', 'nodes'), { metadata: { name: 'a', labels: { 'node-restriction.kubernetes.io/pool': 'x', 'node-role.kubernetes.io/control-plane': '', 'example.k8s.io/x': 'y' } } }, undefined),
    'node "a" is not allowed to set the following labels: example.k8s.io/x, node-restriction.kubernetes.io/pool, node-role.kubernetes.io/control-plane',
  )
  t.equal(nodeRestriction(a, r('create', 'nodes'), { metadata: { name: 'a' }, spec: { configSource: { configMap: {} } } }, undefined), 'node "a" is not allowed to create pods with a non-nil configSource')
  const old = { metadata: { name: 'a', labels: { 'node-restriction.kubernetes.io/pool': 'x', keep: '1' } }, spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] } }
  t.equal(nodeRestriction(a, r('patch', 'nodes', { name: 'a' }), structuredClone(old), old), undefined, 'an unchanged node')
  t.equal(nodeRestriction(a, r('patch', 'nodes', { name: 'a', subresource: 'status' }), { ...structuredClone(old), status: { phase: 'x' } }, old), undefined, 'a status update')
  t.equal(nodeRestriction(a, r('update', 'nodes', { name: 'a' }), { ...old, spec: {} }, old), 'node "a" is not allowed to modify taints')
  t.equal(nodeRestriction(a, r('update', 'nodes', { name: 'a' }), { metadata: { name: 'a', labels: { keep: '1' } }, spec: old.spec }, old), 'is not allowed to modify labels: node-restriction.kubernetes.io/pool')
  t.equal(nodeRestriction(a, r('update', 'nodes', { name: 'a' }), { metadata: { name: 'a', labels: { ...old.metadata.labels, keep: '2', 'topology.kubernetes.io/zone': 'z' } }, spec: old.spec }, old), undefined, 'its own labels and kubelet labels')
  t.equal(nodeRestriction(a, r('update', 'nodes', { name: 'a' }), { metadata: { name: 'a' }, spec: { taints: [] } }, { metadata: { name: 'a' }, spec: {} }), undefined, 'no taints and [] are the same')
  t.equal(nodeRestriction(a, r('update', 'nodes', { name: 'a' }), { metadata: { name: 'a' }, spec: { configSource: { configMap: { name: 'x' } } } }, { metadata: { name: 'a' } }), 'node "a" is not allowed to update configSource to a new non-nil configSource')
})

t.test('forbiddenLabels follows the kubelet label rules', async (t) => {
  t.same(forbiddenLabels(['kubernetes.io/hostname', 'kubelet.kubernetes.io/x', 'foo.node.kubernetes.io/y', 'plain', 'example.com/x']), [])
  t.same(forbiddenLabels(['kubernetes.io/role', 'x.node-restriction.kubernetes.io/y', 'k8s.io/z']), ['k8s.io/z', 'kubernetes.io/role', 'x.node-restriction.kubernetes.io/y'])
})

t.test('pods: no creates in weft; deletes and status only of its own', async (t) => {
  const g = graph()
  t.equal(nodeRestriction(a, r('create', 'pods', { namespace: 'ns' }), { metadata: { name: 'p' }, spec: { nodeName: 'a' } }, undefined, g), 'pod does not have "kubernetes.io/config.mirror" annotation, node "a" can only create mirror pods')
  t.match(nodeRestriction(a, r('create', 'pods', { namespace: 'ns' }), { metadata: { name: 'p', annotations: { 'kubernetes.io/config.mirror': 'x' } }, spec: { nodeName: 'a' } }, undefined, g), /can not create mirror pods/)
  t.equal(nodeRestriction(a, r('delete', 'pods', { namespace: 'ns', name: 'mine' }), undefined, { spec: { nodeName: 'a' } }), undefined)
  t.equal(nodeRestriction(a, r('delete', 'pods', { namespace: 'ns', name: 'theirs' }), undefined, { spec: { nodeName: 'b' } }), 'node "a" can only delete pods with spec.nodeName set to itself')
  t.equal(nodeRestriction(a, r('delete', 'pods', { namespace: 'ns', name: 'theirs' }), undefined, undefined, g), 'node "a" can only delete pods with spec.nodeName set to itself', 'from the lookups')
  t.equal(nodeRestriction(a, r('update', 'pods', { namespace: 'ns', name: 'mine' }), {}, {}), 'unexpected operation "UPDATE", node "a" can only create and delete mirror pods')
  const mine = { metadata: { name: 'mine', labels: { app: 'x' } }, spec: { nodeName: 'a' }, status: {} }
  t.equal(nodeRestriction(a, r('patch', 'pods', { namespace: 'ns', name: 'mine', subresource: 'status' }), { ...mine, status: { phase: 'Running' } }, mine), undefined)
  t.equal(nodeRestriction(a, r('patch', 'pods', { namespace: 'ns', name: 'x', subresource: 'status' }), { ...mine, spec: { nodeName: 'b' } }, { ...mine, spec: { nodeName: 'b' } }), 'node "a" can only update pod status for pods with spec.nodeName set to itself')
  t.equal(nodeRestriction(a, r('patch', 'pods', { namespace: 'ns', name: 'mine', subresource: 'status' }), { ...mine, metadata: { name: 'mine', labels: { app: 'y' } } }, mine), 'node "a" cannot update labels through pod status')
  t.equal(nodeRestriction(a, r('patch', 'pods', { namespace: 'ns', name: 'mine', subresource: 'status' }), { ...mine, status: { resourceClaimStatuses: [{ name: 'c' }] } }, mine), 'node "a" cannot update resource claim statues')
  t.equal(nodeRestriction(a, r('create', 'pods', { namespace: 'ns', name: 'mine', subresource: 'status' }), {}, undefined), 'unexpected operation "CREATE"')
  t.equal(nodeRestriction(a, r('create', 'pods', { namespace: 'ns', name: 'mine', subresource: 'exec' }), {}, undefined), `unexpected pod subresource "exec", only 'status' and 'eviction' are allowed`)
  t.equal(nodeRestriction(a, r('create', 'pods', { namespace: 'ns', name: 'mine', subresource: 'eviction' }), {}, undefined, g), undefined)
  t.equal(nodeRestriction(a, r('create', 'pods', { namespace: 'ns', name: 'theirs', subresource: 'eviction' }), {}, undefined, g), 'node a can only evict pods with spec.nodeName set to itself')
})

t.test('leases: its own, in kube-node-lease', async (t) => {
  const lease = (verb: string, more: Partial<NodeRestrictionRequest>, obj?: unknown) => nodeRestriction(a, r(verb, 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', ...more }), obj, undefined)
  t.equal(lease('create', {}, { metadata: { name: 'a' } }), undefined)
  t.equal(lease('create', {}, { metadata: { name: 'b' } }), 'can only access node lease with the same name as the requesting node')
  t.equal(lease('update', { name: 'b' }), 'can only access node lease with the same name as the requesting node')
  t.equal(lease('delete', { name: 'a' }), undefined)
  t.equal(lease('update', { name: 'a', namespace: 'kube-system' }), 'can only access leases in the "kube-node-lease" system namespace')
})

t.test('service-account tokens: bound to a pod on this node', async (t) => {
  const g = graph()
  const token = (ref: unknown) => nodeRestriction(a, r('create', 'serviceaccounts', { namespace: 'ns', name: 'default', subresource: 'token' }), { spec: { boundObjectRef: ref } }, undefined, g)
  t.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'mine', uid: 'u-mine' }), undefined)
  t.equal(token(undefined), 'node requested token not bound to a pod')
  t.equal(token({ apiVersion: 'v1', kind: 'Secret', name: 'mine', uid: 'u-mine' }), 'node requested token not bound to a pod')
  t.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'mine' }), 'node requested token with a pod binding without a uid')
  t.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'mine', uid: 'old' }), 'the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated')
  t.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'theirs', uid: 'u-theirs' }), 'node requested token bound to a pod scheduled on a different node')
  t.equal(token({ apiVersion: 'v1', kind: 'Pod', name: 'gone', uid: 'u' }), 'pods "gone" not found')
  t.equal(nodeRestriction(a, r('update', 'serviceaccounts', { namespace: 'ns', name: 'default' }), {}, {}), undefined, 'only token requests are restricted here')
})

t.test('claims: status only, and only capacity and conditions', async (t) => {
  const old = { metadata: { name: 'c', resourceVersion: '1' }, spec: { volumeName: 'v' }, status: { phase: 'Bound' } }
  const pvc = (verb: string, obj: unknown, sub = 'status') => nodeRestriction(a, r(verb, 'persistentvolumeclaims', { namespace: 'ns', name: 'c', subresource: sub }), obj, old)
  t.equal(pvc('update', { ...old, metadata: { name: 'c', resourceVersion: '2' }, status: { phase: 'Bound', capacity: { storage: '1Gi' }, conditions: [] } }), undefined)
  t.equal(pvc('update', { ...old, status: { phase: 'Lost' } }), 'node "a" is not allowed to update fields other than status.capacity and status.conditions: status.phase')
  t.equal(pvc('update', old, ''), 'may only update PVC status')
  t.equal(pvc('delete', old), 'unexpected operation "DELETE"')
})
