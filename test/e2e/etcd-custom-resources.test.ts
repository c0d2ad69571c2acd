// Two API servers on one etcd: a CRD created through one is served by the other (its store
// feed), objects written through either are the same, and deleting the CRD through the
// other stops both.
import t from 'tap'
import { openStore } from '../../src/store/open-store.ts'
import { call, startTestServer } from '../helpers/apiserver.ts'
import { startEtcd } from '../helpers/etcd.ts'

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test('custom resources across API servers sharing etcd', async (t) => {
  const etcd = await startEtcd(t)
  const storeA = await openStore({ etcdEndpoints: [etcd.endpoint], etcdPrefix: '/crd' })
  const storeB = await openStore({ etcdEndpoints: [etcd.endpoint], etcdPrefix: '/crd' })
  t.teardown(async () => {
    await storeA.close()
    await storeB.close()
  })
  const a = await startTestServer(t, { store: storeA })
  const b = await startTestServer(t, { store: storeB })
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'notes.example.com' },
    spec: {
      group: 'example.com',
      names: { plural: 'notes', kind: 'Note' },
      scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { text: { type: 'string', maxLength: 5 } } } } } } }],
    },
  }
  t.equal((await call(a.url, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).status, 201)
  const path = '/apis/example.com/v1/namespaces/default/notes'
  await until('B serving notes', async () => ((await call(b.url, 'GET', path)).status === 200 ? true : undefined))
  const made = await call(b.url, 'POST', path, { apiVersion: 'example.com/v1', kind: 'Note', metadata: { name: 'n' }, spec: { text: 'hi' } })
  t.equal(made.status, 201, JSON.stringify(made.body))
  t.equal((await call(b.url, 'POST', path, { apiVersion: 'example.com/v1', kind: 'Note', metadata: { name: 'long' }, spec: { text: 'too long' } })).status, 422, "B validates with the CRD's schema")
  const fromA = await call(a.url, 'GET', `${path}/n`)
  t.same(fromA.body.spec, { text: 'hi' })
  const established = await until('Established, written once', async () => {
    const got = await call(b.url, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/notes.example.com')
    return got.body.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True') ? got.body : undefined
  })
  await new Promise((r) => setTimeout(r, 300))
  const later = await call(a.url, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/notes.example.com')
  t.equal(later.body.metadata.resourceVersion, established.metadata.resourceVersion, 'the two servers agree on the status: no write back and forth')

  t.equal((await call(b.url, 'DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/notes.example.com')).status, 200)
  await until('A no longer serving notes', async () => ((await call(a.url, 'GET', path)).status === 404 ? true : undefined))
  t.equal((await call(b.url, 'GET', path)).status, 404)
})
