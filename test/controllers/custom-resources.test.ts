// Custom resources with the controllers running: a namespace being deleted takes its custom
// resources with it, the garbage collector follows owner references from a ConfigMap to the
// custom resource that owns it, and an autoscaler scales one through its scale subresource.
import t from 'tap'
import { call } from '../helpers/apiserver.ts'
import { startCluster } from '../helpers/control-plane.ts'

const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions'
const crd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'gadgets.example.com' },
  spec: {
    group: 'example.com',
    names: { plural: 'gadgets', kind: 'Gadget' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
        subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } },
      },
    ],
  },
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

t.test('namespaces and the garbage collector know custom resources', async (t) => {
  const { url } = await startCluster(t, { hpaSyncPeriodMs: 300 })
  t.equal((await call(url, 'POST', crdPath, crd)).status, 201)
  await until('the CRD established', async () => {
    const got = await call(url, 'GET', `${crdPath}/gadgets.example.com`)
    return got.body.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True') ? true : undefined
  })
  t.equal((await call(url, 'POST', '/api/v1/namespaces', { metadata: { name: 'lab' } })).status, 201)
  const made = await call(url, 'POST', '/apis/example.com/v1/namespaces/lab/gadgets', { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g1' }, spec: { any: 1 } })
  t.equal(made.status, 201, JSON.stringify(made.body))
  const owned = await call(url, 'POST', '/api/v1/namespaces/lab/configmaps', {
    metadata: { name: 'owned', ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Gadget', name: 'g1', uid: made.body.metadata.uid }] },
    data: { a: 'b' },
  })
  t.equal(owned.status, 201)

  // The owner goes: its dependent follows.
  t.equal((await call(url, 'DELETE', '/apis/example.com/v1/namespaces/lab/gadgets/g1')).status, 200)
  await until('the owned ConfigMap collected', async () => ((await call(url, 'GET', '/api/v1/namespaces/lab/configmaps/owned')).status === 404 ? true : undefined))
  t.pass('the garbage collector deleted the ConfigMap a Gadget owned')

  // A HorizontalPodAutoscaler scales a custom resource through its scale subresource.
  const scaled = await call(url, 'POST', '/apis/example.com/v1/namespaces/lab/gadgets', { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'fleet' }, spec: { replicas: 1 } })
  t.equal(scaled.status, 201)
  await call(url, 'PATCH', '/apis/example.com/v1/namespaces/lab/gadgets/fleet/status', { status: { replicas: 1, selector: 'app=fleet' } }, { 'content-type': 'application/merge-patch+json' })
  const hpa = await call(url, 'POST', '/apis/autoscaling/v2/namespaces/lab/horizontalpodautoscalers', {
    metadata: { name: 'fleet' },
    spec: { scaleTargetRef: { apiVersion: 'example.com/v1', kind: 'Gadget', name: 'fleet' }, minReplicas: 3, maxReplicas: 5 },
  })
  t.equal(hpa.status, 201, JSON.stringify(hpa.body))
  await until('the Gadget scaled to the minimum', async () => ((await call(url, 'GET', '/apis/example.com/v1/namespaces/lab/gadgets/fleet')).body.spec.replicas === 3 ? true : undefined))
  t.pass('the autoscaler wrote spec.replicas through gadgets/scale')

  // The namespace goes: its custom resources go with it, and then the namespace.
  t.equal((await call(url, 'POST', '/apis/example.com/v1/namespaces/lab/gadgets', { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g2' } })).status, 201)
  t.equal((await call(url, 'DELETE', '/api/v1/namespaces/lab')).status, 200)
  await until('the namespace gone', async () => ((await call(url, 'GET', '/api/v1/namespaces/lab')).status === 404 ? true : undefined))
  const left = await call(url, 'GET', '/apis/example.com/v1/gadgets')
  t.same(left.body.items, [], 'no Gadget outlives its namespace')
})
