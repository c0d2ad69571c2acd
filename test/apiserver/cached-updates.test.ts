// Updates may start from a store's cached copy (etcd keeps one from its watch); a stale
// copy must never change the outcome, only cost a retry.
import t from 'tap'
import type { KeyValue } from '../../src/store/store.ts'
import { call, startTestServer } from '../helpers/apiserver.ts'
import { openStore } from '../../src/store/open-store.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

t.test('a stale cached copy costs a retry, never a wrong answer', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cache-'))
  const store = await openStore({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  const stale = new Map<string, KeyValue>()
  store.getCached = (key) => stale.get(key)
  const { url } = await startTestServer(t, { store })
  const path = '/api/v1/namespaces/default/configmaps/x'
  const merge = { 'content-type': 'application/merge-patch+json' }
  const key = '/registry/core/configmaps/default/x'

  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'x' }, data: { a: '1' } })
  const first = (await store.get(key))!
  await call(url, 'PATCH', path, { data: { a: '2' } }, merge)
  stale.set(key, first)

  const back = await call(url, 'PATCH', path, { data: { a: '1' } }, merge)
  t.equal(back.status, 200)
  t.equal(back.body.data.a, '1', 'a patch that looks like a no-op on the stale copy is still written')
  t.equal((await call(url, 'GET', path)).body.data.a, '1')

  const three = await call(url, 'PATCH', path, { data: { a: '3' } }, merge)
  t.equal(three.body.data.a, '3', 'the compare-and-swap failure on the stale copy is retried')

  const current = (await call(url, 'GET', path)).body
  current.data.a = '4'
  const put = await call(url, 'PUT', path, current)
  t.equal(put.status, 200, 'a precondition that matches the store passes though the copy is older')
  t.equal(put.body.data.a, '4')

  const stalePut = structuredClone(current)
  stalePut.data.a = '5'
  const conflict = await call(url, 'PUT', path, stalePut)
  t.equal(conflict.status, 409, 'a precondition the store has moved past is still a conflict')
})
