// Several API servers sharing one real etcd see each other's writes and watches, and
// never hand out the same Service address twice.
import t from 'tap'
import { openStore } from '../../src/store/open-store.ts'
import { call, startTestServer, adminFetch } from '../helpers/apiserver.ts'
import { startEtcd } from '../helpers/etcd.ts'

t.test('two API servers on one etcd', async (t) => {
  const etcd = await startEtcd(t)
  const storeA = await openStore({ etcdEndpoints: [etcd.endpoint], etcdPrefix: '/shared' })
  const storeB = await openStore({ etcdEndpoints: [etcd.endpoint], etcdPrefix: '/shared' })
  t.teardown(async () => {
    await storeA.close()
    await storeB.close()
  })
  const a = await startTestServer(t, { store: storeA })
  const b = await startTestServer(t, { store: storeB })

  // A watch on B, then a write on A.
  const start = (await call(b.url, 'GET', '/api/v1/namespaces/default/configmaps')).body.metadata.resourceVersion
  const ac = new AbortController()
  const watched = (async () => {
    const res = await adminFetch(`${b.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${start}`, { signal: ac.signal })
    let text = ''
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      text += Buffer.from(chunk).toString()
      if (text.includes('\n')) return JSON.parse(text.split('\n')[0])
    }
  })()
  const timer = setTimeout(() => ac.abort(), 10_000)
  const created = await call(a.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'from-a' }, data: { x: '1' } })
  t.equal(created.status, 201)
  const event = await watched
  clearTimeout(timer)
  ac.abort()
  t.equal(event.type, 'ADDED')
  t.equal(event.object.metadata.name, 'from-a')
  t.equal(event.object.metadata.resourceVersion, created.body.metadata.resourceVersion, 'one revision space')

  const fromB = await call(b.url, 'GET', '/api/v1/namespaces/default/configmaps/from-a')
  t.equal(fromB.status, 200)
  t.same(fromB.body.data, { x: '1' })

  // Compare-and-swap holds across servers.
  const stale = structuredClone(fromB.body)
  await call(a.url, 'PATCH', '/api/v1/namespaces/default/configmaps/from-a', { data: { x: '2' } }, { 'content-type': 'application/merge-patch+json' })
  stale.data.x = '3'
  const conflict = await call(b.url, 'PUT', '/api/v1/namespaces/default/configmaps/from-a', stale)
  t.equal(conflict.status, 409)

  // Concurrent Service creates on both servers get distinct addresses and NodePorts.
  const creates = []
  for (let i = 0; i < 20; i++) {
    const server = i % 2 ? a : b
    creates.push(call(server.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: `s${i}` }, spec: { type: 'NodePort', ports: [{ port: 80 }] } }))
  }
  const results = await Promise.all(creates)
  t.ok(results.every((r) => r.status === 201), 'all created')
  t.equal(new Set(results.map((r) => r.body.spec.clusterIP)).size, 20, 'distinct cluster IPs')
  t.equal(new Set(results.map((r) => r.body.spec.ports[0].nodePort)).size, 20, 'distinct NodePorts')
})
