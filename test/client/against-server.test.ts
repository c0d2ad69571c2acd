// weft's own client library against the real weft API server (TCP and unix socket).
import { securityFromPki } from '../../src/apiserver/security.ts'
import { adminCredentials, testPki } from '../helpers/apiserver.ts'
import t from 'tap'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { Informer, RestClient } from '../../src/client/index.ts'
import { ApiServer } from '../../src/apiserver/server.ts'
import { openStore } from '../../src/store/open-store.ts'
import { isConflict, isNotFound } from '../../src/util/errors.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'

const configMaps = resources.find((r) => r.kind === 'ConfigMap')!
const services = resources.find((r) => r.kind === 'Service')!

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('RestClient and Informer over the unix socket, with compaction in between', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-client-'))
  const store = await openStore({ dataDir: dir })
  const socketPath = join(dir, 'api.sock')
  const server = new ApiServer({ store, security: securityFromPki(await testPki(), 'cluster.local'), listen: '127.0.0.1:0', socketPath, watch: { maxTimeoutSeconds: 1 } })
  await server.start()
  const client = new RestClient({ socketPath, credentials: await adminCredentials() })
  t.teardown(async () => {
    await client.close()
    await server.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  const created = await client.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'default' }, data: { k: '1' } })
  t.equal(created.metadata?.name, 'a')
  const stale = structuredClone(created)
  await client.patch(configMaps, 'a', 'default', { data: { k: '2' } }, 'merge')
  stale.data = { k: 'x' }
  const conflict = await client.update(configMaps, stale).then(() => undefined, (err: unknown) => err)
  t.ok(isConflict(conflict), 'a stale update is a Conflict')
  const missing = await client.get(configMaps, 'nope', 'default').then(() => undefined, (err: unknown) => err)
  t.ok(isNotFound(missing), 'a missing object is NotFound')

  const svc = await client.create(services, { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'default' }, spec: { ports: [{ port: 80 }] } })
  t.match((svc as unknown as { spec: { clusterIP: string } }).spec.clusterIP, /^10\./)

  const informer = new Informer(client, configMaps, { namespace: 'default' })
  const seen: string[] = []
  informer.onAdd((o) => seen.push(`add ${o.metadata?.name}`))
  informer.onUpdate((_o, n) => seen.push(`update ${n.metadata?.name}`))
  informer.onDelete((o) => seen.push(`delete ${o.metadata?.name}`))
  informer.start()
  t.teardown(() => informer.stop())
  t.ok(await informer.waitForSync(), 'synced')
  t.same(seen, ['add a'])

  await client.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: 'default' } })
  await client.patch(configMaps, 'b', 'default', { data: { z: '1' } }, 'merge')
  await client.delete(configMaps, 'a', 'default')
  await until('events', () => seen.includes('delete a') && seen.includes('update b'))

  // Compact past what the informer has seen while its watch reconnects: it must relist,
  // and the cache must still match the server.
  for (let i = 0; i < 3; i++) await client.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `other-${i}`, namespace: 'kube-system' } })
  await store.compact(await store.currentRevision())
  await client.delete(configMaps, 'b', 'default')
  await client.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } })
  await until('the cache to match the server', () => {
    const names = informer.list().map((o) => o.metadata?.name).sort()
    return names.length === 1 && names[0] === 'c'
  })
  t.ok(seen.includes('delete b'), 'the delete is seen, live or from the relist')

  const all = await client.listAll(configMaps, { namespace: 'kube-system', limit: 2 })
  t.equal(all.items.length, 3, 'listAll follows continue tokens')
})
