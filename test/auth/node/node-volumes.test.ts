// What a node may do with PersistentVolumes: read the volumes its pods' claims are bound to
// (upstream's pvc → pv edge), and list, watch and free the local-path volumes on its disk.
import t from 'tap'
import { NodeAuthorizer } from '../../../src/auth/node/node-authorizer.ts'
import { NodeGraph } from '../../../src/auth/node/node-graph.ts'
import { nodeRestriction } from '../../../src/auth/node/node-restriction.ts'
import type { ResourceAttributes, UserInfo } from '../../../src/auth/types.ts'

const node1: UserInfo = { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] }
const noRelation = { decision: 'noOpinion', reason: "no relationship found between node 'n1' and this object" }

function req(verb: string, name = '', more: Partial<ResourceAttributes> = {}): ResourceAttributes {
  return { resourceRequest: true, user: node1, verb, namespace: '', apiGroup: '', apiVersion: 'v1', resource: 'persistentvolumes', subresource: '', name, ...more }
}

const localVolume = (name: string, node: string) => ({ metadata: { name, labels: { 'weft.dev/local-path-node': node } } })

function setup() {
  const graph = new NodeGraph()
  graph.upsertPod({ metadata: { namespace: 'ns', name: 'web', uid: 'u1' }, spec: { nodeName: 'n1', volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }] } })
  graph.upsertClaim({ metadata: { namespace: 'ns', name: 'data' }, spec: { volumeName: 'pv-data' } })
  graph.upsertClaim({ metadata: { namespace: 'ns', name: 'unused' }, spec: { volumeName: 'pv-unused' } })
  graph.upsertVolume(localVolume('pvc-mine', 'n1'))
  graph.upsertVolume(localVolume('pvc-theirs', 'n2'))
  return { graph, authz: new NodeAuthorizer(graph) }
}

t.test('get: the volume of a claim its pods use, or a local-path volume on its disk', async (t) => {
  const { graph, authz } = setup()
  t.equal(authz.authorize(req('get', 'pv-data')).decision, 'allow')
  t.equal(authz.authorize(req('get', 'pvc-mine')).decision, 'allow')
  t.same(authz.authorize(req('get', 'pv-unused')), noRelation, 'bound to a claim no pod of the node uses')
  t.same(authz.authorize(req('get', 'pvc-theirs')), noRelation, "another node's local-path volume")
  graph.removePod('ns', 'web')
  t.same(authz.authorize(req('get', 'pv-data')), noRelation, 'the pod went')
  graph.upsertPod({ metadata: { namespace: 'ns', name: 'web', uid: 'u1' }, spec: { nodeName: 'n1', volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }] } })
  graph.upsertClaim({ metadata: { namespace: 'ns', name: 'data' }, spec: { volumeName: 'pv-other' } })
  t.same(authz.authorize(req('get', 'pv-data')), noRelation, 'the claim was bound elsewhere')
  t.equal(authz.authorize(req('get', 'pv-other')).decision, 'allow')
  graph.removeVolume('pvc-mine')
  t.same(authz.authorize(req('get', 'pvc-mine')), noRelation, 'the volume went')
})

t.test('list and watch: only its own local-path volumes, by label selector', async (t) => {
  const { authz } = setup()
  const decide = (verb: string, labelSelector?: string) => authz.authorize(req(verb), { labelSelector })
  t.equal(decide('watch', 'weft.dev/local-path-node=n1').decision, 'allow')
  t.equal(decide('list', 'weft.dev/local-path-node in (n1),tier=x').decision, 'allow', 'narrower is fine')
  const refused = { decision: 'noOpinion', reason: 'can only list/watch persistentvolumes with the weft.dev/local-path-node=n1 label selector' }
  t.same(decide('list'), refused)
  t.same(decide('list', 'weft.dev/local-path-node=n2'), refused)
  t.same(decide('list', 'weft.dev/local-path-node!=n2'), refused)
  t.same(decide('list', 'weft.dev/local-path-node in (n1,n2)'), refused)
  t.same(decide('list', 'weft.dev/local-path-node=n1,(bogus'), refused, 'a selector the server would refuse')
})

t.test('update and patch: its local-path volumes only; create and delete never', async (t) => {
  const { authz } = setup()
  t.equal(authz.authorize(req('patch', 'pvc-mine')).decision, 'allow')
  t.equal(authz.authorize(req('update', 'pvc-mine')).decision, 'allow')
  t.same(authz.authorize(req('update', 'pv-data')), noRelation, 'reading a volume is not writing it')
  t.same(authz.authorize(req('patch', 'pvc-theirs')), noRelation)
  t.same(authz.authorize(req('update', 'pvc-mine', { subresource: 'status' })), { decision: 'noOpinion', reason: 'cannot get subresource' })
  t.same(authz.authorize(req('delete', 'pvc-mine')), { decision: 'noOpinion', reason: 'can only get, list, watch, update or patch persistentvolumes' })
  t.same(authz.authorize(req('create')), { decision: 'noOpinion', reason: 'can only get, list, watch, update or patch persistentvolumes' })
})

t.test('NodeRestriction: a node may only take its cleanup finalizer off its own local-path volume', async (t) => {
  const old = {
    metadata: { name: 'pvc-mine', resourceVersion: '4', labels: { 'weft.dev/local-path-node': 'n1' }, finalizers: ['kubernetes.io/pv-protection', 'weft.dev/local-path-cleanup'] },
    spec: { hostPath: { path: '/var/lib/weft/agent/storage/pvc-mine_ns_data' } },
  }
  const restrict = (obj: unknown, o: unknown = old, verb = 'update') => nodeRestriction(node1, { verb, apiGroup: '', resource: 'persistentvolumes', subresource: '', namespace: '', name: 'pvc-mine' }, obj, o)
  const next = (patch: (o: typeof old) => void) => {
    const o = structuredClone(old)
    patch(o)
    return o
  }
  t.equal(restrict(next((o) => (o.metadata.finalizers = ['kubernetes.io/pv-protection']))), undefined)
  const only = 'node "n1" may only remove the weft.dev/local-path-cleanup finalizer of a local-path volume on its disk'
  t.equal(restrict(next((o) => (o.metadata.finalizers = [])))!, only, 'not the protection finalizer')
  t.equal(restrict(next((o) => ((o.metadata.finalizers = ['kubernetes.io/pv-protection']), (o.spec.hostPath.path = '/etc')))), `${only}: it changed spec.hostPath`)
  t.equal(restrict(next((o) => ((o.metadata.finalizers = ['kubernetes.io/pv-protection']), (o.metadata.labels = { 'weft.dev/local-path-node': 'n2' })))), `${only}: it changed metadata.labels`)
  const theirs = next((o) => (o.metadata.labels = { 'weft.dev/local-path-node': 'n2' }))
  t.equal(restrict(next((o) => (o.metadata.finalizers = ['kubernetes.io/pv-protection'])), theirs), only, "another node's volume")
  t.equal(restrict(undefined, old, 'delete'), only)
  t.equal(nodeRestriction({ username: 'alice', groups: [] }, { verb: 'update', resource: 'persistentvolumes', subresource: '', namespace: '', name: 'x' }, {}, old), undefined, 'other users are not restricted here')
})
