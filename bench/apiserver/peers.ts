// The storage floor weft is compared with: the same writes straight to etcd (its
// HTTP/JSON gateway) or to SQLite (node:sqlite in this process, the same pragmas and
// one transaction per write, as weft's SQLite store does).
import { DatabaseSync } from 'node:sqlite'
import { join } from 'node:path'
import { nowMs } from '../lib/clock.ts'
import { closedLoop, openLoop, type LoadResult } from '../lib/load.ts'
import { Samples } from '../lib/stats.ts'
import { pool, send } from './http.ts'

const b64 = (s: string) => Buffer.from(s).toString('base64')

/** `count` puts of fresh keys under `prefix` with `concurrency` in flight; `valueOf(i)` is each value. */
export async function etcdPuts(endpoint: string, prefix: string, count: number, concurrency: number, valueOf: (i: number) => string): Promise<LoadResult> {
  const p = pool(endpoint, concurrency)
  try {
    return await closedLoop(count, concurrency, async (i) => {
      await send(p, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(`${prefix}${i}`), value: b64(valueOf(i)) }))
    })
  } finally {
    await p.close()
  }
}

/** Puts at a fixed rate (open loop), as the watch test's mutations arrive: the floor for their latency. */
export async function etcdPutsAtRate(endpoint: string, prefix: string, rate: number, seconds: number, valueOf: (i: number) => string): Promise<LoadResult> {
  const p = pool(endpoint, 64)
  try {
    return await openLoop(rate, seconds * 1000, async (i) => {
      await send(p, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(`${prefix}${i}`), value: b64(valueOf(i)) }))
    })
  } finally {
    await p.close()
  }
}

export interface SqliteFloor {
  open(): void
  /** `count` inserts of fresh keys, one autocommit transaction each. */
  inserts(keyPrefix: string, count: number, valueOf: (i: number) => string): LoadResult
  close(): void
}

export function sqliteFloor(dir: string): SqliteFloor {
  let db: DatabaseSync | undefined
  return {
    open() {
      db = new DatabaseSync(join(dir, 'raw.db'))
      db.exec('PRAGMA locking_mode = EXCLUSIVE')
      db.exec('PRAGMA journal_mode = WAL')
      db.exec('PRAGMA synchronous = NORMAL')
      db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID')
    },
    inserts(keyPrefix, count, valueOf) {
      if (db === undefined) throw new Error('sqliteFloor: open() first')
      const insert = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?)')
      const latency = new Samples()
      const started = nowMs()
      for (let i = 0; i < count; i++) {
        const t0 = nowMs()
        insert.run(`${keyPrefix}${i}`, valueOf(i))
        latency.add(nowMs() - t0)
      }
      const elapsedMs = nowMs() - started
      return { ok: count, errors: 0, firstError: undefined, elapsedMs, rate: (count / elapsedMs) * 1000, latency }
    },
    close() {
      db?.close()
      db = undefined
    },
  }
}
