// bench:store-pages: the cost of one page of 500 keys read at a past revision (a paged
// list's continue pages), with 10k keys and 10k history rows against 10k keys and 1M
// history rows. The store reads such pages by a skip-scan of its (key, revision) index, so
// the two should cost the same; the peer is the small-history store in the same run.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { median } from '../lib/stats.ts'

const KEYS = 10_000
const PAGE = 500
const RUNS = 7
const PAGES_PER_RUN = 10

/** A store whose history holds `versions` rows per key (a create, then updates), built with SQL for speed. */
function build(dir: string, versions: number): { path: string; past: number } {
  const path = join(dir, `v${versions}.db`)
  openSqliteStore({ path }).close()
  const db = new DatabaseSync(path)
  const history = db.prepare('INSERT INTO history (revision, key, type, value, prev_value, create_revision) VALUES (?, ?, 0, ?, NULL, ?)')
  const kv = db.prepare('INSERT OR REPLACE INTO kv (key, value, create_revision, mod_revision) VALUES (?, ?, ?, ?)')
  const value = JSON.stringify({ metadata: { name: 'x' }, data: { v: 'y'.repeat(200) } })
  db.exec('BEGIN')
  let revision = 1
  for (let v = 0; v < versions; v++) {
    for (let k = 0; k < KEYS; k++) {
      const key = `/registry/configmaps/default/cm-${String(k).padStart(5, '0')}`
      revision++
      const created = 2 + k
      history.run(revision, key, value, created)
      kv.run(key, value, created, revision)
    }
  }
  db.exec('COMMIT')
  db.close()
  // A revision from the last tenth of the history: the state most keys had then.
  return { path, past: Math.floor(revision * 0.9) }
}

async function pageMs(path: string, past: number): Promise<number[]> {
  const store = openSqliteStore({ path })
  const out: number[] = []
  try {
    for (let run = 0; run < RUNS; run++) {
      let after: string | undefined
      const started = performance.now()
      for (let p = 0; p < PAGES_PER_RUN; p++) {
        const page = await store.list('/registry/configmaps/', { revision: past, limit: PAGE, startAfter: after })
        if (page.items.length !== PAGE) throw new Error(`a page had ${page.items.length} items`)
        after = page.items[page.items.length - 1]!.key
      }
      out.push((performance.now() - started) / PAGES_PER_RUN)
    }
  } finally {
    await store.close()
  }
  return out
}

const dir = mkdtempSync(join(tmpdir(), 'weft-bench-store-'))
try {
  const small = build(dir, 1)
  const large = build(dir, 100)
  const smallMs = median(await pageMs(small.path, small.past))
  const largeMs = median(await pageMs(large.path, large.past))
  console.log(`one page of ${PAGE} at a past revision, ${KEYS} keys, median of ${RUNS} runs of ${PAGES_PER_RUN} pages:`)
  console.log(`  ${KEYS.toLocaleString('en')} history rows (peer): ${smallMs.toFixed(2)} ms`)
  console.log(`  ${(KEYS * 100).toLocaleString('en')} history rows: ${largeMs.toFixed(2)} ms = ${(largeMs / smallMs).toFixed(2)}× the peer`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
