// The shared Store behaviour suite, run against EncryptedStore over SQLite with every
// key encrypted: the suite's keys (`/a/x`) are moved under `/registry/core/secrets` on the
// way in and back on the way out, so the contract is checked on encrypted values.
import { mkdtempSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { NamedKey } from '../../../src/store/encryption/config.ts'
import { EncryptedStore } from '../../../src/store/encryption/encrypted-store.ts'
import { openEtcdStore } from '../../../src/store/etcd.ts'
import { openSqliteStore } from '../../../src/store/sqlite.ts'
import { isStoreError, StoreError, type KeyValue, type ListOptions, type Store, type WatchEvent, type WatchHandlers } from '../../../src/store/store.ts'
import { startEtcd } from '../../helpers/etcd.ts'
import { runStoreSuite } from '../store-behaviour.ts'

const BASE = '/registry/core/secrets'

class UnderSecrets implements Store {
  readonly backend: Store['backend']
  readonly inner: Store
  constructor(inner: Store) {
    this.inner = inner
    this.backend = inner.backend
  }
  #kv(kv: KeyValue): KeyValue {
    return { ...kv, key: kv.key.slice(BASE.length) }
  }
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (isStoreError(err, 'Conflict') && err.current) throw new StoreError('Conflict', err.message, { current: this.#kv(err.current) })
      throw err
    }
  }
  async get(key: string) {
    const kv = await this.inner.get(BASE + key)
    return kv && this.#kv(kv)
  }
  async list(prefix: string, options: ListOptions = {}) {
    const mapped = { ...options, startAfter: options.startAfter ? BASE + options.startAfter : options.startAfter }
    const res = await this.inner.list(BASE + prefix, mapped)
    return { ...res, items: res.items.map((kv) => this.#kv(kv)) }
  }
  count(prefix: string) {
    return this.inner.count(BASE + prefix)
  }
  create(key: string, value: string) {
    return this.#call(async () => this.#kv(await this.inner.create(BASE + key, value)))
  }
  update(key: string, value: string, rev: number) {
    return this.#call(async () => this.#kv(await this.inner.update(BASE + key, value, rev)))
  }
  delete(key: string, rev?: number) {
    return this.#call(async () => this.#kv(await this.inner.delete(BASE + key, rev)))
  }
  watch(prefix: string, after: number, handlers: WatchHandlers) {
    return this.inner.watch(BASE + prefix, after, {
      onEvent: (ev: WatchEvent) => handlers.onEvent({ ...ev, key: ev.key.slice(BASE.length) }),
      onError: (err) => handlers.onError(err),
    })
  }
  currentRevision() {
    return this.inner.currentRevision()
  }
  compactedRevision() {
    return this.inner.compactedRevision()
  }
  compact(rev: number) {
    return this.inner.compact(rev)
  }
  close() {
    return this.inner.close()
  }
}

// etcd carries values as text too: the base64 payload must round-trip there.
const etcd = await startEtcd(t)
const dir = mkdtempSync(join(tmpdir(), 'weft-enc-suite-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

const configOf = (type: 'aescbc' | 'aesgcm' | 'secretbox') => ({
  resources: [{ resources: [{ group: '', resource: 'secrets' }], providers: [{ type, keys: [new NamedKey('k', randomBytes(32))] }] }],
})

async function encryptedSuite(name: string, type: 'aescbc' | 'aesgcm' | 'secretbox', open: () => Promise<Store>): Promise<void> {
  const config = configOf(type)
  await runStoreSuite(t, name, async () => {
    const raw = await open()
    const store = new UnderSecrets(new EncryptedStore(raw, config))
    // Prove the suite's values really are encrypted underneath.
    const probe = await store.create('/probe', 'probe-value')
    const stored = await raw.get(`${BASE}/probe`)
    if (!stored?.value.startsWith(`k8s:enc:${type}:v1:k:`)) throw new Error('the suite would not run on encrypted values')
    await store.delete('/probe', probe.modRevision)
    return store
  })
}

for (const type of ['aescbc', 'aesgcm', 'secretbox'] as const) {
  await encryptedSuite(`encrypted ${type} over sqlite`, type, async () => openSqliteStore({ path: join(dir, `suite-${n++}.db`) }))
}

await encryptedSuite('encrypted aesgcm over etcd', 'aesgcm', () => openEtcdStore({ endpoints: [etcd.endpoint], prefix: `/weft-enc-${n++}` }))

t.test('etcd: getCached (kept from the store\'s own watch) is decrypted', async (t) => {
  const raw = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: `/weft-enc-${n++}` })
  t.teardown(() => raw.close())
  const store = new EncryptedStore(raw, configOf('secretbox'))
  const kv = await store.create(`${BASE}/default/s`, '{"metadata":{"name":"s"}}')
  const deadline = Date.now() + 5000
  while (raw.getCached(`${BASE}/default/s`) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.match(raw.getCached(`${BASE}/default/s`)?.value, /^k8s:enc:secretbox:v1:k:/)
  t.same(store.getCached?.(`${BASE}/default/s`), kv)
})
