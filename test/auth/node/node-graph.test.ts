import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { NodeGraph, podReferences } from '../../../src/auth/node/node-graph.ts'

function pod(name: string, nodeName: string | undefined, spec: Partial<NonNullable<V1Pod['spec']>> = {}, namespace = 'ns'): V1Pod {
  return { metadata: { name, namespace, uid: `uid-${name}` }, spec: { containers: [{ name: 'c' }], ...spec, ...(nodeName ? { nodeName } : {}) } }
}

const everything: Partial<NonNullable<V1Pod['spec']>> = {
  serviceAccountName: 'sa',
  imagePullSecrets: [{ name: 'pull' }],
  containers: [{ name: 'c', envFrom: [{ secretRef: { name: 'env-from-secret' } }, { configMapRef: { name: 'env-from-cm' } }], env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } }, { name: 'B', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'k' } } }] }],
  initContainers: [{ name: 'i', envFrom: [{ secretRef: { name: 'init-secret' } }] }],
  ephemeralContainers: [{ name: 'e', env: [{ name: 'C', valueFrom: { configMapKeyRef: { name: 'ephemeral-cm', key: 'k' } } }] }],
  volumes: [
    { name: 's', secret: { secretName: 'vol-secret' } },
    { name: 'm', configMap: { name: 'vol-cm' } },
    { name: 'p', persistentVolumeClaim: { claimName: 'claim' } },
    { name: 'proj', projected: { sources: [{ secret: { name: 'proj-secret' } }, { configMap: { name: 'proj-cm' } }, { serviceAccountToken: { path: 't' } }] } },
    { name: 'csi', csi: { driver: 'd', nodePublishSecretRef: { name: 'csi-secret' } } },
    { name: 'eph', ephemeral: { volumeClaimTemplate: { spec: {} } } },
  ],
}

t.test('podReferences finds every reference, in every container list', async (t) => {
  const refs = podReferences(pod('p', 'n1', everything)).map((r) => `${r.kind}/${r.name}`).sort()
  t.same(refs, [
    'configmap/env-cm', 'configmap/env-from-cm', 'configmap/ephemeral-cm', 'configmap/proj-cm', 'configmap/vol-cm',
    'persistentvolumeclaim/claim', 'persistentvolumeclaim/p-eph',
    'secret/csi-secret', 'secret/env-from-secret', 'secret/env-secret', 'secret/init-secret', 'secret/proj-secret', 'secret/pull', 'secret/vol-secret',
    'serviceaccount/sa',
  ])
  t.same(podReferences(pod('p', 'n1')).map((r) => `${r.kind}/${r.name}`), ['serviceaccount/default'], 'no serviceAccountName means default')
  t.same(podReferences({ spec: { volumes: [{ secret: { secretName: 5 } }, null, 'x'], containers: 'nope' } }).map((r) => r.name), ['default'], 'malformed parts are skipped')
  t.same(podReferences(null), [])
})

t.test('a node reads what its pods reference, in their namespace only', async (t) => {
  const g = new NodeGraph()
  t.ok(g.upsertPod(pod('p', 'n1', everything)))
  t.ok(g.mayRead('n1', 'secret', 'ns', 'vol-secret'))
  t.ok(g.mayRead('n1', 'configmap', 'ns', 'env-cm'))
  t.ok(g.mayRead('n1', 'persistentvolumeclaim', 'ns', 'claim'))
  t.ok(g.mayRead('n1', 'serviceaccount', 'ns', 'sa'))
  t.notOk(g.mayRead('n2', 'secret', 'ns', 'vol-secret'), 'another node')
  t.notOk(g.mayRead('n1', 'secret', 'other', 'vol-secret'), 'another namespace')
  t.notOk(g.mayRead('n1', 'configmap', 'ns', 'vol-secret'), 'another kind')
  t.notOk(g.mayRead('n1', 'secret', 'ns', 'unreferenced'))
  t.ok(g.hasPod('n1', 'ns', 'p'))
  t.notOk(g.hasPod('n2', 'ns', 'p'))
  t.same(g.podsOn('n1'), [{ namespace: 'ns', name: 'p', uid: 'uid-p', nodeName: 'n1' }])
  t.same(g.pod('ns', 'p'), { namespace: 'ns', name: 'p', uid: 'uid-p', nodeName: 'n1' })
})

t.test('reference counts follow pods as they come, change, move and go', async (t) => {
  const g = new NodeGraph()
  const withSecret = (name: string, node: string | undefined, secret: string) => pod(name, node, { volumes: [{ name: 'v', secret: { secretName: secret } }] })
  g.upsertPod(withSecret('a', 'n1', 's'))
  g.upsertPod(withSecret('b', 'n1', 's'))
  t.equal(g.referenceCount('n1', 'secret', 'ns', 's'), 2)
  g.removePod('ns', 'a')
  t.equal(g.referenceCount('n1', 'secret', 'ns', 's'), 1)
  g.upsertPod(withSecret('b', 'n1', 't'))
  t.notOk(g.mayRead('n1', 'secret', 'ns', 's'), 'the last reference changed away')
  t.ok(g.mayRead('n1', 'secret', 'ns', 't'))
  g.upsertPod(withSecret('b', 'n2', 't'))
  t.notOk(g.mayRead('n1', 'secret', 'ns', 't'), 'moved off n1')
  t.ok(g.mayRead('n2', 'secret', 'ns', 't'))
  t.same(g.podsOn('n1'), [])
  t.notOk(g.upsertPod(withSecret('b', undefined, 't')), 'unbinding drops the pod')
  t.notOk(g.mayRead('n2', 'secret', 'ns', 't'))
  t.same(g.dump(), [], 'nothing left behind')
  g.removePod('ns', 'never-there')
})

t.test('names with separators cannot forge an edge', async (t) => {
  const g = new NodeGraph()
  g.upsertPod(pod('p', 'n1|secret|ns', { volumes: [{ name: 'v', secret: { secretName: 'x' } }] }, 'a'))
  t.notOk(g.mayRead('n1', 'secret', 'ns|a', 'x'))
  t.notOk(g.mayRead('n1', 'secret', 'ns', 'a/x'))
  t.ok(g.mayRead('n1|secret|ns', 'secret', 'a', 'x'))
})

t.test('pods without a namespace or name are not tracked', async (t) => {
  const g = new NodeGraph()
  t.notOk(g.upsertPod({ metadata: { name: 'p' }, spec: { nodeName: 'n1' } }))
  t.notOk(g.upsertPod({ metadata: { namespace: 'ns', name: 7 }, spec: { nodeName: 'n1' } }))
  t.notOk(g.upsertPod('a pod'))
  t.notOk(g.upsertPod({ metadata: { namespace: 'ns', name: 'p' }, spec: { nodeName: ['n1'] } }), 'a non-string node is no node')
  t.same(g.dump(), [])
})
