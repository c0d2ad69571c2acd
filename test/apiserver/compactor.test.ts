import t from 'tap'
import { Compactor } from '../../src/apiserver/compactor.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { logger } from '../../src/util/log.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

t.test('each tick compacts to the revision the previous tick saw', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-compact-'))
  const store = openSqliteStore({ path: join(dir, 'weft.db') })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  const compactor = new Compactor(store, logger('test'), 60_000)
  await store.create('/a', '1')
  t.equal(await compactor.runOnce(), undefined, 'the first tick only remembers')
  const seen = await store.currentRevision()
  await store.create('/b', '2')
  await store.create('/c', '3')
  t.equal(await compactor.runOnce(), seen)
  t.equal(await store.compactedRevision(), seen, 'history before the previous tick is gone')
  const after = await store.list('/', { revision: seen })
  t.same(after.items.map((kv) => kv.key), ['/a'], 'the retained revision can still be read')
  await t.rejects(store.list('/', { revision: seen - 1 }), { code: 'Compacted' })
})
