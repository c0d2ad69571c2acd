// `weft server snapshot save|restore`: backups of the embedded SQLite store.
import { createWriteStream, existsSync, renameSync, rmSync, copyFileSync, chmodSync, closeSync, openSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { dirname, join, resolve, basename } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { SNAPSHOT_PATH } from '../apiserver/server.ts'
import { RestClient } from '../client/index.ts'
import { loadKubeconfig } from '../client/kubeconfig.ts'
import { checkSnapshot, restoreSnapshot, type SnapshotInfo } from '../store/sqlite-snapshot.ts'
import { openSqliteStore } from '../store/sqlite.ts'
import { StoreError } from '../store/store.ts'
import { defaultDataDir } from './data-dir.ts'
import type { Output } from './certs.ts'

export const snapshotUsage = `Usage: weft server snapshot save FILE [flags]
       weft server snapshot restore FILE [flags]

save     copies the SQLite store to FILE (0600; FILE must not exist yet). While the server
         runs, it makes the copy itself (VACUUM INTO: one consistent read, writes go on) and
         sends it through the API (GET ${SNAPSHOT_PATH}, for cluster admins); with the server
         stopped, the store file is copied directly.
restore  replaces the data dir's store with FILE, after checking FILE is a whole weft store.
         The server must be stopped. The store it replaces is kept as
         weft.db.before-restore-TIME. If that store had reached a later revision, the restored
         one is marked compacted past it (as etcdutl's --bump-revision --mark-compacted):
         watches and lists from an older revision get 410 Gone and relist, so no client
         mistakes the old history for new. Start the server again afterwards.

With --etcd-endpoints, the store is etcd's: use etcdctl snapshot save and etcdutl snapshot
restore instead.

Flags:
  --data-dir DIR       the server's data dir (default: $XDG_STATE_HOME/weft, else ~/.local/state/weft)
  --kubeconfig FILE    how to reach the running server for save (default DIR/kubeconfig)
  -h, --help           show this help
`

/** A new file at `path`, written whole or not at all: staged beside it (0600), then renamed. */
async function writeNewFile(path: string, write: (staging: string) => Promise<void>): Promise<void> {
  if (existsSync(path)) throw new Error(`${path} exists; remove it or choose another file`)
  const staging = join(dirname(path), `.${basename(path)}.part-${randomBytes(6).toString('hex')}`)
  closeSync(openSync(staging, 'wx', 0o600))
  try {
    await write(staging)
    chmodSync(staging, 0o600)
    checkSnapshot(staging)
    if (existsSync(path)) throw new Error(`${path} appeared meanwhile; remove it or choose another file`)
    renameSync(staging, path)
  } finally {
    rmSync(staging, { force: true })
  }
}

/** Copies the store: from the running server when one holds it, else from the file. */
export async function saveSnapshot(file: string, dataDir: string, kubeconfig: string): Promise<{ info: SnapshotInfo; via: 'server' | 'file' }> {
  const storePath = join(dataDir, 'weft.db')
  if (!existsSync(storePath)) throw new Error(`there is no store in ${dataDir} (no weft.db); is --data-dir the server's?`)
  let store: ReturnType<typeof openSqliteStore> | undefined
  try {
    store = openSqliteStore({ path: storePath })
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 'Unavailable')) throw err
  }
  if (store) {
    try {
      const snap = await store.snapshot()
      try {
        await writeNewFile(file, async (staging) => copyFileSync(snap.path, staging))
      } finally {
        await snap.dispose()
      }
    } finally {
      await store.close()
    }
    return { info: checkSnapshot(file), via: 'file' }
  }
  if (!existsSync(kubeconfig)) throw new Error(`the store is in use (its server runs) and there is no kubeconfig at ${kubeconfig} to ask the server for a copy; give --kubeconfig`)
  const client = new RestClient(loadKubeconfig(kubeconfig), { timeoutMs: 600_000 })
  try {
    await writeNewFile(file, async (staging) => pipeline(await client.stream(SNAPSHOT_PATH), createWriteStream(staging, { flags: 'r+' })))
  } finally {
    await client.close()
  }
  return { info: checkSnapshot(file), via: 'server' }
}

export async function runSnapshot(argv: string[], out: Output = process.stdout): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, kubeconfig: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  })
  if (values.help) {
    out.write(snapshotUsage)
    return
  }
  const [action, file, ...extra] = positionals
  if ((action !== 'save' && action !== 'restore') || !file || extra.length > 0) throw new Error(`give save FILE or restore FILE\n\n${snapshotUsage}`)
  const dataDir = resolve(values['data-dir'] ?? defaultDataDir())
  const path = resolve(file)
  if (action === 'save') {
    const { info, via } = await saveSnapshot(path, dataDir, resolve(values.kubeconfig ?? join(dataDir, 'kubeconfig')))
    out.write(`Snapshot saved at ${path}: revision ${info.revision}, ${info.keys} keys (${via === 'server' ? 'taken by the running server' : 'copied from the store file'})\n`)
    return
  }
  const result = await restoreSnapshot(path, dataDir)
  out.write(
    `Restored ${path} into ${join(dataDir, 'weft.db')}: ${result.info.keys} keys, revision ${result.revision}` +
      (result.revision > result.info.revision ? ` (marked compacted past the replaced store's revisions)` : '') +
      `\n${result.keptAs ? `The replaced store is kept as ${result.keptAs}\n` : ''}Start the server again.\n`,
  )
}
