// Snapshot files of the SQLite store: checked before they are trusted, and restored into a
// data dir as etcdutl restores with --bump-revision --mark-compacted, so no client can go on
// from a revision the restored store has not reached.
import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { openSqliteStore } from './sqlite.ts'
import { StoreError } from './store.ts'

export interface SnapshotInfo {
  /** The newest revision in it (or its compacted revision, if higher). */
  revision: number
  keys: number
}

/** Opens `path` read-only and checks it is a whole weft store; its revision and size. */
export function checkSnapshot(path: string): SnapshotInfo {
  if (!existsSync(path)) throw new Error(`${path} does not exist`)
  let db: DatabaseSync
  try {
    db = new DatabaseSync(path, { readOnly: true })
  } catch (err) {
    throw new Error(`${path} is not a SQLite database (${(err as Error).message})`)
  }
  try {
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name))
    for (const t of ['kv', 'history', 'meta']) if (!tables.has(t)) throw new Error(`${path} is not a weft store: it has no ${t} table`)
    const check = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]
    if (check.length !== 1 || check[0]!.integrity_check !== 'ok') throw new Error(`${path} is damaged: ${check.map((c) => c.integrity_check).slice(0, 3).join('; ')}`)
    return { revision: storeRevision(db), keys: (db.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n }
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(path)) throw err
    throw new Error(`${path} is not a readable weft store (${(err as Error).message})`)
  } finally {
    db.close()
  }
}

function storeRevision(db: DatabaseSync): number {
  const max = (db.prepare('SELECT max(revision) AS rev FROM history').get() as { rev: number | null }).rev ?? 0
  const compacted = (db.prepare("SELECT value FROM meta WHERE name = 'compacted'").get() as { value: number } | undefined)?.value ?? 0
  return Math.max(max, compacted)
}

export interface RestoreResult {
  info: SnapshotInfo
  /** Where the store that was replaced now is; undefined when there was none. */
  keptAs: string | undefined
  /** The restored store's revision: above every revision the replaced store handed out. */
  revision: number
}

/**
 * Replaces `dataDir`'s store with the snapshot. The store in place must not be in use (its
 * server stopped); it is kept beside, renamed, never deleted. When it was ahead of the
 * snapshot, the restored store is marked compacted at one past its revision: clients that
 * watch or list from an older revision get 410 Gone and relist, and new writes get
 * revisions no client has seen.
 */
export async function restoreSnapshot(snapshotPath: string, dataDir: string, now = new Date()): Promise<RestoreResult> {
  const info = checkSnapshot(snapshotPath)
  const target = join(dataDir, 'weft.db')
  let previousRevision = 0
  let keptAs: string | undefined
  if (existsSync(target)) {
    // Opening takes the store's exclusive lock: this fails while a server uses it, and closing folds the WAL in.
    let current: ReturnType<typeof openSqliteStore>
    try {
      current = openSqliteStore({ path: target })
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Unavailable') throw new Error(`the store in ${dataDir} is in use: stop its server before restoring`)
      throw err
    }
    previousRevision = await current.currentRevision()
    await current.close()
    keptAs = `${target}.before-restore-${now.toISOString().replace(/[:.]/g, '-')}`
  }
  const staging = `${target}.restoring-${randomBytes(6).toString('hex')}`
  closeSync(openSync(staging, 'wx', 0o600))
  try {
    copyFileSync(snapshotPath, staging)
    chmodSync(staging, 0o600)
    const db = new DatabaseSync(staging)
    try {
      if (previousRevision > info.revision) {
        db.prepare("INSERT INTO meta (name, value) VALUES ('compacted', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(previousRevision + 1)
      }
    } finally {
      db.close()
    }
    const fd = openSync(staging, constants.O_RDONLY)
    fsyncSync(fd)
    closeSync(fd)
  } catch (err) {
    rmSync(staging, { force: true })
    throw err
  }
  if (keptAs) {
    renameSync(target, keptAs)
    for (const suffix of ['-wal', '-shm']) if (existsSync(target + suffix)) renameSync(target + suffix, keptAs + suffix)
  }
  renameSync(staging, target)
  return { info, keptAs, revision: Math.max(info.revision, previousRevision + (previousRevision > info.revision ? 1 : 0)) }
}
