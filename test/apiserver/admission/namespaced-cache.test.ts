import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { resources } from '../../../src/api/registry.ts'
import { NamespacedCache } from '../../../src/apiserver/admission/namespaced-cache.ts'
import { ObjectStore, type KObject } from '../../../src/apiserver/objects.ts'
import { openStore } from '../../../src/store/open-store.ts'
import { logger } from '../../../src/util/log.ts'

const quotaInfo = resources.find((r) => r.kind === 'ResourceQuota')!
const quota = (name: string, used: string, namespace = 'n'): KObject => ({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name, namespace, uid: `uid-${name}` }, status: { used: { pods: used } } })
const pods = (objs: KObject[]) => objs.map((q) => [q.metadata.name, q.status.used.pods])

async function objects(t: { teardown(fn: () => unknown): void }): Promise<ObjectStore> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cache-'))
  const store = await openStore({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return new ObjectStore(store)
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

t.test('the feed says which objects exist; a refreshed copy never goes back in time and never adds one', async (t) => {
  const store = await objects(t)
  const b1 = await store.create(quotaInfo, quota('b', '1'))
  await store.create(quotaInfo, quota('a', '1'))
  const cache = new NamespacedCache(store, quotaInfo, logger('test'))
  await cache.start()
  t.teardown(() => cache.stop())
  t.same(pods(cache.inNamespace('n')), [['a', '1'], ['b', '1']], 'sorted by name')
  const b2 = await store.update(quotaInfo, { ...b1, status: { used: { pods: '2' } } }, Number(b1.metadata.resourceVersion))
  cache.refresh(b2)
  t.same(pods(cache.inNamespace('n')), [['a', '1'], ['b', '2']], 'the writer hands back its newer copy at once')
  cache.refresh(b1)
  t.equal(cache.inNamespace('n')[1].status.used.pods, '2', 'an older copy is not taken')
  cache.refresh(quota('c', '9'))
  t.equal(cache.inNamespace('n').length, 2, 'refresh never adds an object the feed has not brought')
  await store.delete(quotaInfo, b2, Number(b2.metadata.resourceVersion))
  await until('the feed to drop b', () => cache.inNamespace('n').length === 1)
  cache.refresh(b2)
  t.same(pods(cache.inNamespace('n')), [['a', '1']], 'a deleted object does not come back through refresh')
  t.same(cache.inNamespace('elsewhere'), [])
})

t.test('while the feed holds nothing for a namespace, lookup asks the store until the feed brings a change', async (t) => {
  const store = await objects(t)
  await store.create(quotaInfo, quota('q', '1', 'late'))
  // Not started: its feed has seen nothing.
  const cache = new NamespacedCache(store, quotaInfo, logger('test'))
  t.same(cache.inNamespace('late'), [])
  const found = await cache.lookup('late')
  t.same(pods(found), [['q', '1']])
  t.same(await cache.lookup('empty'), [])
  await store.create(quotaInfo, quota('new', '0', 'empty'))
  t.same(await cache.lookup('empty'), [], 'the answer is kept (up to 30 s)')
  await cache.start()
  t.teardown(() => cache.stop())
  t.same(pods(await cache.lookup('empty')), [['new', '0']], 'what the feed brings replaces it')
})

t.test('guarded: an object its user cannot read is passed over and logged once per version', async (t) => {
  const log = logger('test')
  const errors: unknown[] = []
  log.error = ((obj: unknown) => void errors.push(obj)) as typeof log.error
  const cache = new NamespacedCache({ store: {} } as ObjectStore, quotaInfo, log)
  const bad = { ...quota('bad', 'x'), metadata: { ...quota('bad', 'x').metadata, resourceVersion: '7' } }
  const boom = (): number => {
    throw new Error('cannot read it')
  }
  t.equal(cache.guarded(bad, boom, -1), -1)
  t.equal(cache.guarded(bad, boom, -1), -1)
  t.equal(cache.guarded(bad, () => 3, -1), 3)
  t.equal(errors.length, 1, 'one log line for one version')
  t.match(errors[0], { kind: 'ResourceQuota', namespace: 'n', name: 'bad' })
})
