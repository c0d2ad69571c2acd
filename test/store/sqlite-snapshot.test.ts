// Snapshots of the SQLite store: taken while it serves, checked, restored with the revision
// bumped past the store they replace; and the durability setting.
import t from 'tap'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { checkSnapshot, restoreSnapshot } from '../../src/store/sqlite-snapshot.ts'
import { isStoreError } from '../../src/store/store.ts'
import { collect } from './store-behaviour.ts'

const dir = mkdtempSync(join(tmpdir(), 'weft-snapshot-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('synchronous: full unless normal is asked for', async (t) => {
  const full = openSqliteStore({ path: join(dir, 'full.db') })
  t.equal(full.synchronous, 'full', 'fsync before a write is acknowledged, by default')
  await full.close()
  const normal = openSqliteStore({ path: join(dir, 'normal.db'), synchronous: 'normal' })
  t.equal(normal.synchronous, 'normal')
  await normal.close()
})

t.test('a snapshot taken while writes go on is consistent, private, and restores with a bumped revision', async (t) => {
  const data = join(dir, 'data')
  const store = openSqliteStore({ path: join(dir, 'live.db') })
  for (let i = 0; i < 200; i++) await store.create(`/k/${String(i).padStart(3, '0')}`, `v${i}`)
  // Writes in flight while the copy is made land either wholly in it or not at all.
  const writing = Promise.all(Array.from({ length: 50 }, (_, i) => store.create(`/late/${i}`, 'x')))
  const snap = await store.snapshot()
  await writing
  t.equal(statSync(snap.path).mode & 0o777, 0o600, 'the copy is 0600')
  const info = checkSnapshot(snap.path)
  t.ok(info.keys >= 200 && info.keys <= 250, `${info.keys} keys`)
  t.equal(info.revision, info.keys + 1, 'consistent: every key it holds and no write beyond them (one create, one revision)')
  const snapshotFile = join(dir, 'snap.db')
  writeFileSync(snapshotFile, readFileSync(snap.path), { mode: 0o644 })
  await snap.dispose()
  t.notOk(existsSync(snap.path), 'dispose removes the copy')
  const after = await store.currentRevision()
  await store.close()

  // The data dir's store went on to a later revision than the snapshot.
  mkdirSync(data, { mode: 0o700 })
  copyFileSync(join(dir, 'live.db'), join(data, 'weft.db'))
  const ahead = openSqliteStore({ path: join(data, 'weft.db') })
  for (let i = 0; i < 10; i++) await ahead.create(`/newer/${i}`, 'n')
  const aheadRevision = await ahead.currentRevision()
  t.ok(aheadRevision > after)
  await ahead.close()

  const result = await restoreSnapshot(snapshotFile, data, new Date('2026-12-06T10:00:00Z'))
  t.equal(result.keptAs, join(data, 'weft.db.before-restore-2026-12-06T10-00-00-000Z'))
  t.ok(existsSync(result.keptAs!), 'the replaced store is kept')
  t.equal(result.revision, aheadRevision + 1, 'the revision is bumped past the replaced store')
  t.equal(statSync(join(data, 'weft.db')).mode & 0o777, 0o600, 'the restored store is 0600 whatever the snapshot file was')
  t.notOk(readdirSync(data).some((f) => f.includes('restoring')), 'no staging file is left')

  const restored = openSqliteStore({ path: join(data, 'weft.db') })
  t.teardown(() => restored.close())
  t.equal(await restored.currentRevision(), aheadRevision + 1)
  t.equal((await restored.get('/k/199'))?.value, 'v199', 'what the snapshot held is there')
  t.equal(await restored.get('/newer/0'), undefined, 'what came after it is not')
  const w = collect(restored, '/k/', aheadRevision - 1)
  t.ok(isStoreError(await w.untilError(), 'Compacted'), 'a watch from a revision of the replaced store is told to relist')
  const next = await restored.create('/after-restore', 'x')
  t.ok(next.modRevision > aheadRevision + 1, 'new writes get revisions no client has seen')
})

t.test('bad snapshots and a store in use are refused, and nothing is touched', async (t) => {
  const data = join(dir, 'data2')
  const live = openSqliteStore({ path: join(dir, 'x.db') })
  await live.create('/a', '1')
  const snap = await live.snapshot()
  await live.close()
  mkdirSync(data, { mode: 0o700 })
  const inUse = openSqliteStore({ path: join(data, 'weft.db') })
  await inUse.create('/mine', 'kept')
  await t.rejects(restoreSnapshot(snap.path, data), /the store in .* is in use: stop its server before restoring/)
  await inUse.close()
  await snap.dispose()

  const junk = join(dir, 'junk.db')
  writeFileSync(junk, 'not a database at all, just text '.repeat(100))
  await t.rejects(restoreSnapshot(junk, data), /is not/)
  const otherDb = join(dir, 'other.db')
  const db = new DatabaseSync(otherDb)
  db.exec('CREATE TABLE t (x)')
  db.close()
  await t.rejects(restoreSnapshot(otherDb, data), /is not a weft store: it has no kv table/)
  await t.rejects(restoreSnapshot(join(dir, 'missing.db'), data), /does not exist/)
  t.same(readdirSync(data).filter((f) => !f.startsWith('weft.db-')).sort(), ['weft.db'], 'the data dir is as it was')
  const kept = openSqliteStore({ path: join(data, 'weft.db') })
  t.equal((await kept.get('/mine'))?.value, 'kept')
  await kept.close()
})
