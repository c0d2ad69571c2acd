// Opens the configured store: embedded SQLite under a data dir, or etcd.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { openEtcdStore } from './etcd.ts'
import { openSqliteStore } from './sqlite.ts'
import type { Store } from './store.ts'

export type OpenStoreOptions = { dataDir: string } | { etcdEndpoints: string[]; etcdPrefix?: string }

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if ('etcdEndpoints' in options) {
    return openEtcdStore({ endpoints: options.etcdEndpoints, prefix: options.etcdPrefix })
  }
  mkdirSync(options.dataDir, { recursive: true })
  return openSqliteStore({ path: join(options.dataDir, 'weft.db') })
}
