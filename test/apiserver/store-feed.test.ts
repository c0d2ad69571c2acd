import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { encode, keyOf, type KObject } from '../../src/apiserver/objects.ts'
import { StoreFeed } from '../../src/apiserver/store-feed.ts'
import { openStore } from '../../src/store/open-store.ts'
import { logger } from '../../src/util/log.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const pod = (name: string): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, labels: { app: 'web' } },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'img' }] },
})

t.test('a relist tells the handlers what went, by identity only; a watched delete hands over the object as it was', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-feed-'))
  const store = await openStore({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  for (const name of ['a', 'b', 'c']) await store.create(keyOf(podInfo, 'ns', name), encode(pod(name)))
  const upserts: string[] = []
  const removed: KObject[] = []
  const feed = new StoreFeed(store, podInfo, { upsert: (o) => void upserts.push(o.metadata.name), remove: (o) => void removed.push(o) }, logger('test'))
  await feed.start()
  t.same(upserts.sort(), ['a', 'b', 'c'])

  const b = await store.get(keyOf(podInfo, 'ns', 'b'))
  await store.delete(b!.key, b!.modRevision)
  for (let i = 0; i < 100 && removed.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
  t.equal(removed[0]?.metadata.name, 'b')
  t.same(removed[0]?.spec?.nodeName, 'n1', 'a watched delete carries the deleted object')

  feed.stop()
  const c = await store.get(keyOf(podInfo, 'ns', 'c'))
  await store.delete(c!.key, c!.modRevision)
  await feed.start()
  t.same(removed[1], { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'c', namespace: 'ns', uid: 'uid-c' } }, 'found gone by a relist: its identity, no second copy of the object was kept')
  feed.stop()
})
