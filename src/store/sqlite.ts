// The embedded store: etcd-style MVCC on node:sqlite. `kv` holds the current state,
// `history` one row per revision (what watch replays and what past-revision lists read).
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, statSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { compareKeys, prefixEnd } from './key-range.ts'
import { StoreError } from './store.ts'
import type { KeyValue, ListOptions, ListResult, Store, StoreSnapshot, Watch, WatchEvent, WatchHandlers } from './store.ts'
import { WatchHub } from './watch-hub.ts'

const PUT = 0
const DELETE = 1

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  create_revision INTEGER NOT NULL,
  mod_revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
  revision INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  type INTEGER NOT NULL,
  value TEXT,
  prev_value TEXT,
  create_revision INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_key_revision ON history (key, revision);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`

interface KvRow {
  key: string
  value: string
  create_revision: number
  mod_revision: number
}

interface HistoryRow {
  revision: number
  key: string
  type: number
  value: string | null
  prev_value: string | null
  create_revision: number
}

export interface SqliteStoreOptions {
  /** Database file; ':memory:' for a throwaway store. */
  path: string
  /**
   * When a commit is durable. 'full' (the default): fsync'd before the write is
   * acknowledged, so it survives power loss. 'normal': written to the WAL, which survives
   * the process's death (the kernel holds the pages) but a power loss or kernel crash can
   * lose the last commits; faster on disks with slow fsync.
   */
  synchronous?: 'full' | 'normal'
}

/** Revisions of history one compaction transaction sweeps. */
const compactWindow = 2000
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555

/** One write inside a group-commit transaction, given its revision. */
type WriteOp = (revision: number) => { kv: KeyValue; event: WatchEvent }

interface PendingWrite {
  op: WriteOp
  resolve: (kv: KeyValue) => void
  reject: (err: unknown) => void
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options)
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const
  readonly path: string
  readonly #db: DatabaseSync
  readonly #hub = new WatchHub()
  #revision: number
  #compacted: number
  #closed = false
  readonly #stmts = new Map<string, StatementSync>()
  readonly #begin: StatementSync
  readonly #commit: StatementSync
  readonly #rollback: StatementSync
  readonly #getKv: StatementSync
  readonly #insertKv: StatementSync
  readonly #updateKv: StatementSync
  readonly #deleteKv: StatementSync
  readonly #insertHistory: StatementSync
  #pending: PendingWrite[] = []

  constructor(options: SqliteStoreOptions) {
    this.path = options.path
    this.#db = new DatabaseSync(options.path)
    try {
      // One process owns the file: the revision counter lives in this process.
      this.#db.exec('PRAGMA locking_mode = EXCLUSIVE')
      this.#db.exec('PRAGMA journal_mode = WAL')
      this.#db.exec(`PRAGMA synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
      this.#db.exec(SCHEMA)
    } catch (err) {
      this.#db.close()
      const message = err instanceof Error ? err.message : String(err)
      if (/locked|busy/i.test(message)) {
        throw new StoreError('Unavailable', `SQLite store ${options.path} is in use by another process (${message}); stop it or use another data dir`)
      }
      throw err
    }
    this.#begin = this.#db.prepare('BEGIN')
    this.#commit = this.#db.prepare('COMMIT')
    this.#rollback = this.#db.prepare('ROLLBACK')
    this.#getKv = this.#db.prepare('SELECT key, value, create_revision, mod_revision FROM kv WHERE key = ?')
    this.#insertKv = this.#db.prepare('INSERT INTO kv (key, value, create_revision, mod_revision) VALUES (?, ?, ?, ?)')
    this.#updateKv = this.#db.prepare('UPDATE kv SET value = ?, mod_revision = ? WHERE key = ?')
    this.#deleteKv = this.#db.prepare('DELETE FROM kv WHERE key = ?')
    this.#insertHistory = this.#db.prepare(
      'INSERT INTO history (revision, key, type, value, prev_value, create_revision) VALUES (?, ?, ?, ?, ?, ?)',
    )
    // Compaction keeps the newest history row, so its revision is the store's revision.
    const maxRow = this.#db.prepare('SELECT max(revision) AS rev FROM history').get() as { rev: number | null }
    const compactedRow = this.#db.prepare("SELECT value FROM meta WHERE name = 'compacted'").get() as { value: number } | undefined
    this.#compacted = compactedRow?.value ?? 0
    this.#revision = Math.max(1, maxRow.rev ?? 0, this.#compacted)
    this.#hub.noteProgress(this.#revision)
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.#checkOpen()
    const row = this.#getKv.get(key) as KvRow | undefined
    return row === undefined ? undefined : toKeyValue(row)
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.#checkOpen()
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 0
    const atRevision = options.revision !== undefined && options.revision > 0 ? options.revision : 0
    if (atRevision !== 0 && atRevision < this.#compacted) {
      throw compactedError(atRevision, this.#compacted)
    }
    if (atRevision > this.#revision) {
      throw new StoreError('Unavailable', `revision ${atRevision} is newer than the store's current revision ${this.#revision}`)
    }
    const past = atRevision !== 0 && atRevision < this.#revision
    const range = keyRange(prefix, options.startAfter)
    if (past) {
      const sql = pastListSql(range)
      const rows = this.#statement(sql, () => sql).all({
        lower: range.lower,
        ...(range.upper !== undefined ? { upper: range.upper } : {}),
        rev: atRevision,
        limit: limit > 0 ? limit + 1 : -1,
      }) as unknown as KvRow[]
      const more = limit > 0 && rows.length > limit
      if (more) rows.length = limit
      // How many more there were then would take a look at every key: left unknown, as the interface allows.
      return { items: rows.map(toKeyValue), revision: atRevision, more }
    }
    const params: (string | number)[] = [range.lower]
    if (range.upper !== undefined) params.push(range.upper)
    const rows = this.#statement(listSql(range, true), () => listSql(range, true)).all(...params, limit > 0 ? limit + 1 : -1) as unknown as KvRow[]
    const more = limit > 0 && rows.length > limit
    if (more) rows.length = limit
    const result: ListResult = { items: rows.map(toKeyValue), revision: this.#revision, more }
    if (more && options.countRemaining) {
      const countSql = listSql(range, false)
      const total = this.#statement(countSql, () => countSql).get(...params) as { n: number }
      result.remaining = total.n - limit
    }
    return result
  }

  async count(prefix: string): Promise<number> {
    this.#checkOpen()
    const range = keyRange(prefix, undefined)
    const sql = listSql(range, false)
    const params: string[] = [range.lower]
    if (range.upper !== undefined) params.push(range.upper)
    return (this.#statement(sql, () => sql).get(...params) as { n: number }).n
  }

  create(key: string, value: string): Promise<KeyValue> {
    return this.#enqueue((rev) => {
      try {
        this.#insertKv.run(key, value, rev, rev)
      } catch (err) {
        // The primary key refuses an existing key: one statement instead of a lookup first.
        if ((err as { errcode?: number }).errcode === SQLITE_CONSTRAINT_PRIMARYKEY) throw new StoreError('KeyExists', `key ${key} already exists`)
        throw err
      }
      this.#insertHistory.run(rev, key, PUT, value, null, rev)
      return {
        kv: { key, value, createRevision: rev, modRevision: rev },
        event: { type: 'put', key, revision: rev, createRevision: rev, value },
      }
    })
  }

  update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    return this.#enqueue((rev) => {
      const current = this.#getKv.get(key) as KvRow | undefined
      if (current === undefined) throw new StoreError('KeyNotFound', `key ${key} not found`)
      if (current.mod_revision !== expectedModRevision) {
        throw new StoreError('Conflict', `key ${key} is at revision ${current.mod_revision}, not ${expectedModRevision}`, {
          current: toKeyValue(current),
        })
      }
      this.#updateKv.run(value, rev, key)
      this.#insertHistory.run(rev, key, PUT, value, current.value, current.create_revision)
      return {
        kv: { key, value, createRevision: current.create_revision, modRevision: rev },
        event: { type: 'put', key, revision: rev, createRevision: current.create_revision, value, prevValue: current.value },
      }
    })
  }

  delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    return this.#enqueue((rev) => {
      const current = this.#getKv.get(key) as KvRow | undefined
      if (current === undefined) throw new StoreError('KeyNotFound', `key ${key} not found`)
      if (expectedModRevision !== undefined && current.mod_revision !== expectedModRevision) {
        throw new StoreError('Conflict', `key ${key} is at revision ${current.mod_revision}, not ${expectedModRevision}`, {
          current: toKeyValue(current),
        })
      }
      this.#deleteKv.run(key)
      this.#insertHistory.run(rev, key, DELETE, null, current.value, current.create_revision)
      return {
        kv: { key, value: current.value, createRevision: current.create_revision, modRevision: rev },
        event: { type: 'delete', key, revision: rev, createRevision: current.create_revision, prevValue: current.value },
      }
    })
  }

  /**
   * Group commit: writes that arrive in the same turn of the event loop share one
   * transaction, each still getting its own revision and its own answer. A write is
   * acknowledged only once its transaction has committed.
   */
  #enqueue(op: WriteOp): Promise<KeyValue> {
    try {
      this.#checkOpen()
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ op, resolve, reject })
      if (this.#pending.length === 1) setImmediate(() => this.#flush())
    })
  }

  #flush(): void {
    const batch = this.#pending
    this.#pending = []
    if (batch.length === 0) return
    if (this.#closed) {
      for (const w of batch) w.reject(new StoreError('Unavailable', 'the store is closed'))
      return
    }
    const outcomes: ({ ok: true; kv: KeyValue; event: WatchEvent } | { ok: false; err: unknown })[] = []
    let rev = this.#revision
    try {
      this.#begin.run()
      for (const w of batch) {
        try {
          const done = w.op(rev + 1)
          rev++
          outcomes.push({ ok: true, ...done })
        } catch (err) {
          // A refused write (exists, conflict, missing) changed nothing; the others go on.
          outcomes.push({ ok: false, err })
        }
      }
      this.#commit.run()
    } catch (err) {
      if (this.#db.isTransaction) this.#rollback.run()
      for (const w of batch) w.reject(err)
      return
    }
    this.#revision = rev
    const events: WatchEvent[] = []
    for (const o of outcomes) if (o.ok) events.push(o.event)
    if (events.length > 0) this.#hub.publish(events)
    batch.forEach((w, i) => {
      const o = outcomes[i]
      if (o.ok) w.resolve(o.kv)
      else w.reject(o.err)
    })
  }

  watch(prefix: string, afterRevision: number, handlers: WatchHandlers): Watch {
    const sub = this.#hub.subscribe(prefix, afterRevision, handlers)
    if (this.#closed) {
      this.#hub.end(sub, new StoreError('Unavailable', 'the store is closed'))
      return sub
    }
    if (afterRevision < this.#compacted) {
      this.#hub.end(sub, compactedError(afterRevision, this.#compacted))
      return sub
    }
    // Replay and attach happen in one synchronous step, so no write falls between them.
    if (afterRevision < this.#revision) {
      const range = keyRange(prefix, undefined)
      const sql = replaySql(range)
      const params: (string | number)[] = [afterRevision, range.lower]
      if (range.upper !== undefined) params.push(range.upper)
      const rows = this.#statement(sql, () => sql).all(...params) as unknown as HistoryRow[]
      this.#hub.enqueue(sub, rows.map(toEvent))
    }
    sub.after = Math.max(sub.after, this.#revision)
    this.#hub.attach(sub)
    return sub
  }

  async currentRevision(): Promise<number> {
    this.#checkOpen()
    return this.#revision
  }

  async compactedRevision(): Promise<number> {
    this.#checkOpen()
    return this.#compacted
  }

  /**
   * Like etcd, keeps each key's newest row at or before `revision` (the state a list there
   * reads) unless it is a deletion, and drops every older row. The compaction takes effect
   * at once (reads and watches below it fail); the rows go afterwards, a window of
   * revisions per transaction with the event loop free in between, each window touching
   * only the keys written in it. A whole-table DELETE stopped a store of 100,000 pods for
   * seconds. Where the sweep has got to is kept, so one cut short by a stop goes on at
   * the next compaction.
   */
  async compact(revision: number): Promise<void> {
    this.#checkOpen()
    const rev = Math.min(revision, this.#revision)
    if (rev <= this.#compacted) return
    const record = this.#statement('record-meta', () => 'INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value')
    this.#write(() => void record.run('compacted', rev))
    this.#compacted = rev
    const keysIn = this.#statement('compact-keys', () => 'SELECT DISTINCT key FROM history WHERE revision >= ? AND revision <= ?')
    const dropOlder = this.#statement('compact-key', () =>
      `DELETE FROM history WHERE key = ?1 AND revision < ?2 AND (type = ${DELETE} OR revision < (
         SELECT max(revision) FROM history AS newest WHERE newest.key = ?1 AND newest.revision <= ?2))`,
    )
    const swept = (this.#db.prepare("SELECT value FROM meta WHERE name = 'swept'").get() as { value: number } | undefined)?.value ?? 0
    for (let from = swept; from <= rev; from += compactWindow) {
      if (from > swept) await new Promise((resolve) => setImmediate(resolve))
      if (this.#closed) return
      const to = Math.min(from + compactWindow - 1, rev)
      this.#write(() => {
        for (const { key } of keysIn.all(from, to) as { key: string }[]) dropOlder.run(key, rev)
        record.run('swept', to)
      })
    }
  }

  /** SQLite's synchronous setting in force: 'full' or 'normal'. */
  get synchronous(): string {
    const row = this.#db.prepare('PRAGMA synchronous').get() as { synchronous: number }
    return ['off', 'normal', 'full', 'extra'][row.synchronous] ?? String(row.synchronous)
  }

  async snapshot(): Promise<StoreSnapshot> {
    this.#checkOpen()
    if (this.path === ':memory:') throw new StoreError('Unavailable', 'an in-memory store has no snapshot')
    const path = `${this.path}.snapshot-${randomBytes(6).toString('hex')}`
    // The file is made 0600 before SQLite writes to it: VACUUM INTO keeps an existing empty file's mode.
    closeSync(openSync(path, 'wx', 0o600))
    try {
      // One statement, one read transaction: a consistent copy, without the history's free pages.
      this.#db.prepare('VACUUM INTO ?').run(path)
      return { path, size: statSync(path).size, dispose: () => rm(path, { force: true }) }
    } catch (err) {
      await rm(path, { force: true })
      throw err
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#hub.endAll(new StoreError('Unavailable', 'the store is closed'))
    this.#db.close()
  }

  #write(fn: () => void): void {
    this.#begin.run()
    try {
      fn()
      this.#commit.run()
    } catch (err) {
      if (this.#db.isTransaction) this.#rollback.run()
      throw err
    }
  }

  #statement(id: string, sql: () => string): StatementSync {
    let stmt = this.#stmts.get(id)
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql())
      this.#stmts.set(id, stmt)
    }
    return stmt
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError('Unavailable', 'the store is closed')
  }
}

interface KeyRange {
  lower: string
  inclusive: boolean
  upper: string | undefined
}

function keyRange(prefix: string, startAfter: string | undefined): KeyRange {
  const upper = prefixEnd(prefix)
  if (startAfter !== undefined && startAfter !== '' && compareKeys(startAfter, prefix) >= 0) {
    return { lower: startAfter, inclusive: false, upper }
  }
  return { lower: prefix, inclusive: true, upper }
}

function rangeWhere(range: KeyRange): string {
  return `key ${range.inclusive ? '>=' : '>'} ?` + (range.upper !== undefined ? ' AND key < ?' : '')
}

/** Lists (select=true) or counts the keys in `range` as they are now. */
function listSql(range: KeyRange, select: boolean): string {
  const where = rangeWhere(range)
  return select
    ? `SELECT key, value, create_revision, mod_revision FROM kv WHERE ${where} ORDER BY key LIMIT ?`
    : `SELECT count(*) AS n FROM kv WHERE ${where}`
}

/**
 * The keys in `range` as they were at revision :rev, a page of :limit. A skip-scan of the
 * (key, revision) index: each next key and its newest row at :rev is one index seek, so a
 * page costs the same however much history there is. The recursion yields keys in
 * ascending order and the page is read as it is produced: an ORDER BY would make SQLite
 * walk every key first.
 */
function pastListSql(range: KeyRange): string {
  const upper = range.upper !== undefined ? ' AND key < :upper' : ''
  return `WITH RECURSIVE keys(key) AS (
      SELECT (SELECT min(key) FROM history WHERE key ${range.inclusive ? '>=' : '>'} :lower${upper})
      UNION ALL
      SELECT (SELECT min(key) FROM history WHERE key > keys.key${upper}) FROM keys WHERE keys.key IS NOT NULL
    )
    SELECT h.key, h.value, h.create_revision, h.revision AS mod_revision
    FROM keys JOIN history h ON h.revision = (SELECT max(revision) FROM history WHERE key = keys.key AND revision <= :rev)
    WHERE keys.key IS NOT NULL AND h.type = ${PUT}
    LIMIT :limit`
}

function replaySql(range: KeyRange): string {
  return `SELECT revision, key, type, value, prev_value, create_revision FROM history
    WHERE revision > ? AND ${rangeWhere(range)} ORDER BY revision`
}

function toKeyValue(row: KvRow): KeyValue {
  return { key: row.key, value: row.value, createRevision: row.create_revision, modRevision: row.mod_revision }
}

function toEvent(row: HistoryRow): WatchEvent {
  const ev: WatchEvent = {
    type: row.type === DELETE ? 'delete' : 'put',
    key: row.key,
    revision: row.revision,
    createRevision: row.create_revision,
  }
  if (row.type !== DELETE && row.value !== null) ev.value = row.value
  if (row.prev_value !== null) ev.prevValue = row.prev_value
  return ev
}

function compactedError(revision: number, compacted: number): StoreError {
  return new StoreError('Compacted', `revision ${revision} has been compacted; the oldest available is ${compacted}`, {
    compactRevision: compacted,
  })
}
