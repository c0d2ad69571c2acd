import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { openStore } from '../../src/store/open-store.ts'
import { collect, runStoreSuite } from './store-behaviour.ts'

const dir = mkdtempSync(join(tmpdir(), 'weft-sqlite-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

await runStoreSuite(t, 'sqlite', async () => openSqliteStore({ path: join(dir, `suite-${n++}.db`) }))

const sqliteUrl = new URL('../../src/store/sqlite.ts', import.meta.url).href

t.test('acknowledged writes survive kill -9, and revisions continue upward', async (t) => {
  const path = join(dir, 'killed.db')
  // The child acknowledges each write on stdout only after create() resolved.
  const script = `
    const { openSqliteStore } = await import(${JSON.stringify(sqliteUrl)})
    const store = openSqliteStore({ path: ${JSON.stringify(path)} })
    for (let i = 0; ; i++) {
      const kv = await store.create('/k/' + String(i).padStart(8, '0'), 'value-' + i)
      await new Promise((resolve) => process.stdout.write(kv.key + ' ' + kv.modRevision + '\\n', resolve))
    }
  `
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pid = child.pid as number
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
    await exited
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const acked: { key: string; revision: number }[] = []
  let partial = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString()
      const lines = partial.split('\n')
      partial = lines.pop() as string
      for (const line of lines) {
        const [key, revision] = line.split(' ')
        acked.push({ key, revision: Number(revision) })
      }
      if (acked.length >= 2000) {
        process.kill(pid, 'SIGKILL')
        resolve()
      }
    })
    child.once('exit', (code, signal) => reject(new Error(`writer exited early (${code ?? signal}) after ${acked.length} writes: ${stderr}`)))
  })
  await exited
  // Lines still in the pipe after the kill were acknowledged too.
  const store = openSqliteStore({ path })
  t.teardown(() => store.close())
  const missing = []
  for (const { key, revision } of acked) {
    const kv = await store.get(key)
    if (kv === undefined || kv.modRevision !== revision || kv.value !== `value-${Number(key.slice(3))}`) missing.push(key)
  }
  t.same(missing, [], `all ${acked.length} acknowledged writes are there`)
  const last = acked[acked.length - 1].revision
  t.ok((await store.currentRevision()) >= last, 'the revision did not go back')
  const next = await store.create('/k/after-restart', 'x')
  t.ok(next.modRevision > last, 'new writes get new revisions')
  t.equal(await store.count('/k/'), (await store.list('/k/')).items.length)
})

t.test('reopening keeps revisions, history and compaction', async (t) => {
  const path = join(dir, 'reopen.db')
  const first = openSqliteStore({ path })
  const a = await first.create('/a', '1')
  const a2 = await first.update('/a', '2', a.modRevision)
  const b = await first.create('/b', '1')
  await first.delete('/b')
  await first.compact(a2.modRevision)
  const rev = await first.currentRevision()
  await first.close()
  await t.rejects(first.get('/a'), { code: 'Unavailable' }, 'a closed store refuses calls')

  const second = openSqliteStore({ path })
  t.teardown(() => second.close())
  t.equal(await second.currentRevision(), rev)
  t.equal(await second.compactedRevision(), a2.modRevision)
  t.same(await second.get('/a'), a2)
  await t.rejects(second.list('/', { revision: a.modRevision }), { code: 'Compacted' })
  t.same((await second.list('/', { revision: b.modRevision })).items.map((kv) => `${kv.key}=${kv.value}`), ['/a=2', '/b=1'])
  const w = collect(second, '/', a2.modRevision)
  t.teardown(() => w.cancel())
  const c = await second.create('/c', '1')
  t.equal(c.modRevision, rev + 1, 'the counter continues where it stopped')
  await w.until('/c')
  t.same(w.events.map((e) => `${e.type} ${e.key}`), ['put /b', 'delete /b', 'put /c'], 'history replays across a reopen')
})

t.test('a second opener of the same file is refused', async (t) => {
  const path = join(dir, 'locked.db')
  const first = openSqliteStore({ path })
  t.teardown(() => first.close())
  await first.create('/a', '1')
  t.throws(() => openSqliteStore({ path }), { code: 'Unavailable' })
})

t.test('openStore makes <dataDir>/weft.db', async (t) => {
  const dataDir = join(dir, 'nested', 'data')
  const store = await openStore({ dataDir })
  t.teardown(() => store.close())
  t.equal(store.backend, 'sqlite')
  await store.create('/x', 'y')
  t.ok(existsSync(join(dataDir, 'weft.db')))
})

t.test('the store is private: data dir 0700, weft.db and its -wal/-shm 0600', async (t) => {
  const dataDir = join(dir, 'private', 'data')
  const store = await openStore({ dataDir })
  await store.create('/secret', 'value')
  t.ok(existsSync(join(dataDir, 'weft.db-wal')))
  // (In exclusive locking mode SQLite keeps the WAL index in memory: no -shm file.)
  for (const f of ['weft.db', 'weft.db-wal', 'weft.db-shm'].filter((f) => existsSync(join(dataDir, f)))) t.equal(statSync(join(dataDir, f)).mode & 0o777, 0o600, `${f} is 0600`)
  t.equal(statSync(dataDir).mode & 0o777, 0o700, 'the data dir weft made is 0700')
  t.equal(statSync(join(dir, 'private')).mode & 0o777, 0o700, 'and so are the parents it made')
  await store.close()

  // A store from before: world-readable files are made private when opened.
  const old = join(dir, 'old-data')
  mkdirSync(old, { mode: 0o755 })
  chmodSync(old, 0o755)
  for (const f of ['weft.db', 'weft.db-wal', 'weft.db-shm']) writeFileSync(join(old, f), '', { mode: 0o644 })
  const reopened = await openStore({ dataDir: old })
  t.teardown(() => reopened.close())
  await reopened.create('/k', 'v')
  for (const f of ['weft.db', 'weft.db-wal', 'weft.db-shm']) t.equal(statSync(join(old, f)).mode & 0o777, 0o600, `an existing ${f} becomes 0600`)
  t.equal(statSync(old).mode & 0o777, 0o755, 'a data dir weft did not make keeps its mode (weft only warns)')
})

t.test('compaction sweeps history a window at a time, lets other work run, and keeps exactly the newest rows', async (t) => {
  const path = join(dir, 'sweep.db')
  const store = openSqliteStore({ path })
  const kept = new Map<string, number>()
  const created: number[] = []
  for (let i = 0; i < 3000; i++) created.push((await store.create(`/s/${i}`, 'a')).modRevision)
  for (let i = 0; i < 3000; i += 2) await store.update(`/s/${i}`, 'b', created[i])
  for (let i = 1; i < 1000; i += 2) await store.delete(`/s/${i}`)
  const old = await store.create('/s/old', 'x')
  const then = await store.currentRevision()
  const before = (await store.list('/s/', { revision: then })).items.map((kv) => `${kv.key}=${kv.value}`)
  for (const kv of (await store.list('/s/')).items) kept.set(kv.key, kv.modRevision)

  let others = 0
  const compaction = store.compact(then)
  setImmediate(() => others++)
  await t.rejects(store.list('/s/', { revision: then - 1 }), { code: 'Compacted' }, 'in force at once, before the rows go')
  await compaction
  t.equal(others, 1, 'other work ran between its windows')
  t.same((await store.list('/s/', { revision: then })).items.map((kv) => `${kv.key}=${kv.value}`), before, 'the state at the compacted revision is intact')

  // The store holds the file exclusively: read its rows once it is closed.
  await store.close()
  const { DatabaseSync } = await import('node:sqlite')
  const db = new DatabaseSync(path, { readOnly: true })
  const rows = db.prepare('SELECT key, revision, type FROM history').all() as { key: string; revision: number }[]
  db.close()
  t.equal(rows.length, kept.size, 'one row per live key: older rows and tombstones are gone')
  t.ok(rows.every((r) => kept.get(r.key) === r.revision), "and each is the key's newest")
  t.equal(old.modRevision, then)
})
