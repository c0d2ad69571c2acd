// Opens the configured store: embedded SQLite under a data dir, or etcd.
import { join } from 'node:path'
import { makePrivateDir, privateFile, restrictFiles } from '../util/private-files.ts'
import { openEtcdStore } from './etcd.ts'
import type { EtcdTls } from './etcd-http.ts'
import { openSqliteStore } from './sqlite.ts'
import type { Store } from './store.ts'

export type OpenStoreOptions =
  | { dataDir: string; synchronous?: 'full' | 'normal' }
  | { etcdEndpoints: string[]; etcdPrefix?: string; etcdTls?: EtcdTls; etcdRequestTimeoutMs?: number }

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if ('etcdEndpoints' in options) {
    return openEtcdStore({ endpoints: options.etcdEndpoints, prefix: options.etcdPrefix, tls: options.etcdTls, requestTimeoutMs: options.etcdRequestTimeoutMs })
  }
  // `weft server` warns about a data dir others can read; the store itself is 0600 regardless.
  makePrivateDir(options.dataDir)
  const path = join(options.dataDir, 'weft.db')
  // SQLite gives the -wal and -shm files the database file's mode.
  privateFile(path)
  restrictFiles(`${path}-wal`, `${path}-shm`, `${path}-journal`)
  return openSqliteStore({ path, synchronous: options.synchronous })
}
