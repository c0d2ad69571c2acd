// A list without a limit is read in pieces (other requests run in between), all at the
// revision of its first piece: writes that land meanwhile are not in it, and nothing that
// was there before is missing.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { call, startTestServer } from '../helpers/apiserver.ts'
import { openStore } from '../../src/store/open-store.ts'

const configMap = (name: string) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: '2026-01-01T00:00:00Z' }, data: { v: name } })

t.test('a whole list of many pieces is one snapshot', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-whole-list-'))
  const store = await openStore({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  const { url } = await startTestServer(t, { store })
  const created = new Map<string, number>()
  const put = async (name: string) => created.set(name, (await store.create(`/registry/core/configmaps/default/${name}`, configMap(name))).modRevision)
  for (let i = 0; i < 3500; i++) await put(`before-${String(i).padStart(5, '0')}`)

  let listed: { status: number; body: any } | undefined
  const listing = call(url, 'GET', '/api/v1/namespaces/default/configmaps').then((r) => (listed = r))
  let during = 0
  while (!listed) {
    await put(`during-${String(during).padStart(5, '0')}`)
    during++
  }
  await listing
  t.equal(listed.status, 200)
  const rv = Number(listed.body.metadata.resourceVersion)
  const names = listed.body.items.map((c: any) => c.metadata.name)
  const expected = [...created].filter(([, rev]) => rev <= rv).map(([name]) => name).sort()
  t.same(names, expected, 'exactly what existed at the list revision, in key order')
  t.ok(names.length >= 3500, `every object made before (${names.length} listed)`)
  t.notOk(listed.body.metadata.continue, 'no continue token on a whole list')
  t.ok(listed.body.items.every((c: any) => Number(c.metadata.resourceVersion) <= rv), 'no item newer than the list')
  t.comment(`${during} writes were made while the list was read`)
})
