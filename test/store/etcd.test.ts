import t from 'tap'
import { randomUUID } from 'node:crypto'
import { openEtcdStore } from '../../src/store/etcd.ts'
import { startEtcd } from '../helpers/etcd.ts'
import { collect, runStoreSuite } from './store-behaviour.ts'

const etcd = await startEtcd(t)
const prefix = (): string => `/weft-test-${randomUUID()}`

await runStoreSuite(t, 'etcd', () => openEtcdStore({ endpoints: [etcd.endpoint], prefix: prefix() }))

t.test('two stores on one etcd see each other', async (t) => {
  const shared = prefix()
  const a = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: shared })
  t.teardown(() => a.close())
  const b = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: shared })
  t.teardown(() => b.close())
  const other = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: prefix() })
  t.teardown(() => other.close())
  const start = await a.currentRevision()
  const watchA = collect(a, '/pods/', start)
  const watchB = collect(b, '/pods/', start)
  const watchOther = collect(other, '/pods/', start)
  t.teardown(() => [watchA, watchB, watchOther].forEach((w) => w.cancel()))

  const x = await a.create('/pods/x', 'from-a')
  t.same(await b.get('/pods/x'), x, 'b reads what a wrote')
  await t.rejects(b.create('/pods/x', 'dup'), { code: 'KeyExists' })
  const y = await b.update('/pods/x', 'from-b', x.modRevision)
  await t.rejects(a.update('/pods/x', 'stale', x.modRevision), { code: 'Conflict' }, 'a sees b moved the key')
  await a.delete('/pods/x', y.modRevision)
  await other.create('/pods/x', 'elsewhere')
  await b.create('/pods/zz-end', 'end')
  await watchA.until('/pods/zz-end')
  await watchB.until('/pods/zz-end')
  const expected = ['put /pods/x from-a', 'put /pods/x from-b', 'delete /pods/x', 'put /pods/zz-end end']
  const show = (w: typeof watchA): string[] => w.events.map((e) => `${e.type} ${e.key} ${e.value ?? ''}`.trim())
  t.same(show(watchA), expected, 'a watches b\'s writes and its own')
  t.same(show(watchB), expected, 'b watches a\'s writes and its own')
  t.same((await a.list('/pods/')).items.map((kv) => kv.key), ['/pods/zz-end'], 'prefixes keep stores apart')
  await watchOther.until('/pods/x')
  t.same(show(watchOther), ['put /pods/x elsewhere'])
})

t.test('a watch older than the shared buffer catches up, then joins the shared stream', async (t) => {
  const name = prefix()
  const writer = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: name })
  t.teardown(() => writer.close())
  const start = await writer.currentRevision()
  for (let i = 0; i < 10; i++) await writer.create(`/c/${i}`, String(i))
  const reader = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: name, watchCacheSize: 2 })
  t.teardown(() => reader.close())
  const watchers = Array.from({ length: 20 }, () => collect(reader, '/c/', start))
  t.teardown(() => watchers.forEach((w) => w.cancel()))
  t.same(reader.watchStreams, { shared: 1, catchUp: 20 }, 'watchers older than the shared stream catch up on their own')
  await Promise.all(watchers.map((w) => w.until('/c/9')))
  t.same(reader.watchStreams, { shared: 1, catchUp: 0 }, 'caught-up watchers moved to the shared stream')
  for (let i = 10; i < 20; i++) await writer.create(`/c/${i}`, String(i))
  await Promise.all(watchers.map((w) => w.until('/c/19')))
  const expected = Array.from({ length: 20 }, (_, i) => `/c/${i}`)
  t.equal(watchers.filter((w) => JSON.stringify(w.events.map((e) => e.key)) !== JSON.stringify(expected)).length, 0, 'no gap, no duplicate')
  t.same(reader.watchStreams, { shared: 1, catchUp: 0 })
  const late = collect(reader, '/c/', start + 15)
  t.teardown(() => late.cancel())
  await late.until('/c/19')
  t.same(late.events.map((e) => e.key), ['/c/15', '/c/16', '/c/17', '/c/18', '/c/19'], 'a recent start is served from the buffer')
  t.same(reader.watchStreams, { shared: 1, catchUp: 0 })
})

t.test('updates start from the recently written values the watch kept, within their byte bound', async (t) => {
  const name = prefix()
  // Each entry costs its key (4 characters) and value (46): two fit, three do not.
  const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: name, updateCacheBytes: 120 })
  t.teardown(() => store.close())
  const value = (i: number): string => `${i}`.padEnd(46, '.')
  const written = []
  for (let i = 0; i < 3; i++) written.push(await store.create(`/k/${i}`, value(i)))
  const probe = collect(store, '/k/', written[2].modRevision - 1)
  t.teardown(() => probe.cancel())
  await probe.until('/k/2')
  t.equal(store.getCached('/k/0'), undefined, 'the oldest write is not kept')
  t.same(store.getCached('/k/1'), written[1])
  t.same(store.getCached('/k/2'), written[2])
  const moved = await store.update('/k/1', value(9), written[1].modRevision)
  await store.delete('/k/2')
  await store.create('/k/3', value(3))
  await probe.until('/k/3')
  t.same(store.getCached('/k/1'), moved, 'an update replaces the kept copy')
  t.equal(store.getCached('/k/2'), undefined, 'a deleted key is not kept')
  t.ok(store.getCached('/k/3'))
})

t.test('a lost etcd ends watches with Unavailable', async (t) => {
  const own = await startEtcd(t)
  const store = await openEtcdStore({ endpoints: [own.endpoint], prefix: prefix(), reconnectTimeoutMs: 300 })
  t.teardown(() => store.close())
  const w = collect(store, '/', await store.currentRevision())
  await own.stop()
  const err = await w.untilError()
  t.match(err, { code: 'Unavailable' })
  await t.rejects(store.get('/a'), { code: 'Unavailable' }, 'calls fail with Unavailable')
})
