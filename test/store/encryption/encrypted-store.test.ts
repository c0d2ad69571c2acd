// EncryptedStore over a real SQLite store: Secrets are encrypted on disk and read back
// plain through every read path; other resources pass through; rewriteStale moves
// values to the current key and back to plain.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { NamedKey, type EncryptionConfig, type ProviderConfig } from '../../../src/store/encryption/config.ts'
import { EncryptedStore } from '../../../src/store/encryption/encrypted-store.ts'
import { isEncryptionError } from '../../../src/store/encryption/errors.ts'
import { openStore } from '../../../src/store/open-store.ts'
import { isStoreError, type KeyValue, type ListOptions, type Store, type WatchHandlers } from '../../../src/store/store.ts'
import { collect } from '../store-behaviour.ts'

const root = mkdtempSync(join(tmpdir(), 'weft-enc-store-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))

const key1 = new NamedKey('key1', randomBytes(32))
const key2 = new NamedKey('key2', randomBytes(32))

function config(providers: ProviderConfig[], resources = [{ group: '', resource: 'secrets' }]): EncryptionConfig {
  return { resources: [{ resources, providers }] }
}
const withKey1: ProviderConfig[] = [{ type: 'aescbc', keys: [key1] }, { type: 'identity' }]

const SECRET_TEXT = `s3cr3t-${randomBytes(8).toString('hex')}`
const SECRET_B64 = Buffer.from(SECRET_TEXT).toString('base64')

function secret(name: string, text = SECRET_TEXT): string {
  return JSON.stringify({ metadata: { name, namespace: 'default' }, kind: 'Secret', apiVersion: 'v1', data: { password: Buffer.from(text).toString('base64') } })
}
function configMap(name: string, text: string): string {
  return JSON.stringify({ metadata: { name, namespace: 'default' }, kind: 'ConfigMap', apiVersion: 'v1', data: { note: text } })
}
const secretKey = (name: string) => `/registry/core/secrets/default/${name}`
const cmKey = (name: string) => `/registry/core/configmaps/default/${name}`

async function sqlite(t: Test): Promise<{ raw: Store; dir: string }> {
  const dir = mkdtempSync(join(root, 'data-'))
  const raw = await openStore({ dataDir: dir })
  t.teardown(() => raw.close())
  return { raw, dir }
}

function diskBytes(dir: string): Buffer {
  return Buffer.concat(['weft.db', 'weft.db-wal'].map((f) => join(dir, f)).filter(existsSync).map((p) => readFileSync(p)))
}

/** A Store that delegates to another, with hooks for getCached and for racing writes. */
class Delegate implements Store {
  readonly backend: Store['backend']
  readonly inner: Store
  readonly cache = new Map<string, KeyValue>()
  beforeUpdate: ((key: string) => Promise<void>) | undefined
  constructor(inner: Store) {
    this.inner = inner
    this.backend = inner.backend
  }
  getCached(key: string): KeyValue | undefined {
    return this.cache.get(key)
  }
  get(key: string) {
    return this.inner.get(key)
  }
  list(prefix: string, options?: ListOptions) {
    return this.inner.list(prefix, options)
  }
  count(prefix: string) {
    return this.inner.count(prefix)
  }
  async create(key: string, value: string) {
    const kv = await this.inner.create(key, value)
    this.cache.set(key, kv)
    return kv
  }
  async update(key: string, value: string, rev: number) {
    const hook = this.beforeUpdate
    this.beforeUpdate = undefined
    if (hook) await hook(key)
    const kv = await this.inner.update(key, value, rev)
    this.cache.set(key, kv)
    return kv
  }
  delete(key: string, rev?: number) {
    return this.inner.delete(key, rev)
  }
  watch(prefix: string, after: number, handlers: WatchHandlers) {
    return this.inner.watch(prefix, after, handlers)
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

t.test('a Secret through create/get/list/watch/update/delete; its value never reaches the disk', async (t) => {
  const { raw, dir } = await sqlite(t)
  const store = new EncryptedStore(raw, config(withKey1))
  t.equal(store.backend, 'sqlite')
  const watch = collect(store, '/registry/core/', 0)
  t.teardown(() => watch.cancel())

  const created = await store.create(secretKey('db'), secret('db'))
  t.equal(created.value, secret('db'), 'create answers the plain value')
  const stored = await raw.get(secretKey('db'))
  t.ok(stored?.value.startsWith('k8s:enc:aescbc:v1:key1:'), 'the raw store holds the encrypted value')
  t.equal(stored?.modRevision, created.modRevision, 'revisions are the inner store\'s')
  t.same(await store.get(secretKey('db')), created, 'get decrypts')

  const cm = await store.create(cmKey('settings'), configMap('settings', 'plain-config-marker'))
  t.equal((await raw.get(cmKey('settings')))?.value, configMap('settings', 'plain-config-marker'), 'a ConfigMap is stored as it is')
  t.same(await store.get(cmKey('settings')), cm)

  const updated = await store.update(secretKey('db'), secret('db', `${SECRET_TEXT}-2`), created.modRevision)
  t.equal(updated.value, secret('db', `${SECRET_TEXT}-2`))
  t.equal(updated.createRevision, created.createRevision)
  try {
    await store.update(secretKey('db'), secret('db', 'stale'), created.modRevision)
    t.fail('a stale update must conflict')
  } catch (err) {
    t.ok(isStoreError(err, 'Conflict'), 'Conflict')
    t.same(isStoreError(err) ? err.current : undefined, updated, "the Conflict's current value is decrypted")
  }
  await t.rejects(store.update(secretKey('missing'), secret('missing'), 1), { code: 'KeyNotFound' })
  await t.rejects(store.create(secretKey('db'), secret('db')), { code: 'KeyExists' })

  const list = await store.list('/registry/core/secrets/')
  t.same(list.items, [updated], 'list decrypts')
  const page = await store.list('/registry/core/', { limit: 1 })
  t.equal(page.more, true)
  t.same(page.items, [cm], 'paging is the inner store\'s')
  t.equal(await store.count('/registry/core/secrets/'), 1)

  await store.create(secretKey('api'), secret('api'))
  const gone = await store.delete(secretKey('api'))
  t.equal(gone.value, secret('api'), 'delete answers the decrypted last value')
  await t.rejects(store.delete(secretKey('db'), created.modRevision), { code: 'Conflict', current: updated })

  await watch.until(secretKey('api'))
  await new Promise((r) => setTimeout(r, 20))
  t.same(
    watch.events.map((e) => [e.type, e.key, e.value, e.prevValue]),
    [
      ['put', secretKey('db'), secret('db'), undefined],
      ['put', cmKey('settings'), configMap('settings', 'plain-config-marker'), undefined],
      ['put', secretKey('db'), secret('db', `${SECRET_TEXT}-2`), secret('db')],
      ['put', secretKey('api'), secret('api'), undefined],
      ['delete', secretKey('api'), undefined, secret('api')],
    ],
    'watch events carry decrypted values and prevValues',
  )
  const replay = collect(store, '/registry/core/secrets/', 0)
  await replay.until(secretKey('api'))
  await new Promise((r) => setTimeout(r, 20))
  replay.cancel()
  t.same(replay.events.map((e) => e.value ?? e.prevValue), [secret('db'), secret('db', `${SECRET_TEXT}-2`), secret('api'), secret('api')], 'replayed history is decrypted too')

  const disk = diskBytes(dir)
  t.ok(disk.includes('plain-config-marker'), 'the disk check sees plain values (the ConfigMap)')
  for (const needle of [SECRET_TEXT, SECRET_B64, `${SECRET_TEXT}-2`, Buffer.from(`${SECRET_TEXT}-2`).toString('base64')]) {
    t.notOk(disk.includes(needle), `the database and its WAL do not contain ${needle.slice(0, 12)}…`)
  }
  await raw.close()
  const closed = diskBytes(dir)
  t.ok(closed.includes('plain-config-marker'))
  t.notOk(closed.includes(SECRET_TEXT) || closed.includes(SECRET_B64), 'nor after close and checkpoint')
})

t.test('configmaps are encrypted only when listed', async (t) => {
  const { raw } = await sqlite(t)
  const store = new EncryptedStore(raw, config(withKey1, [{ group: '', resource: 'secrets' }, { group: '', resource: 'configmaps' }]))
  await store.create(cmKey('c'), configMap('c', 'x'))
  t.match((await raw.get(cmKey('c')))?.value, /^k8s:enc:aescbc:v1:key1:/)
  t.equal((await store.get(cmKey('c')))?.value, configMap('c', 'x'))
  const everything = new EncryptedStore(raw, config([{ type: 'secretbox', keys: [key2] }], [{ group: '*', resource: '*' }]))
  await everything.create('/registry/apps/deployments/default/web', '{"metadata":{"name":"web"}}')
  t.match((await raw.get('/registry/apps/deployments/default/web'))?.value, /^k8s:enc:secretbox:v1:key2:/, '*.* covers every group')
  await everything.create('/weft/other', 'x')
  t.equal((await raw.get('/weft/other'))?.value, 'x', 'keys outside /registry/ pass through')
})

t.test('getCached decrypts; a cached copy that does not decrypt reads as absent', async (t) => {
  const { raw } = await sqlite(t)
  const inner = new Delegate(raw)
  const store = new EncryptedStore(inner, config(withKey1))
  t.equal(typeof store.getCached, 'function')
  const kv = await store.create(secretKey('a'), secret('a'))
  t.same(store.getCached?.(secretKey('a')), kv)
  t.equal(store.getCached?.(secretKey('none')), undefined)
  inner.cache.set(secretKey('a'), { ...kv, value: 'k8s:enc:aescbc:v1:gone:AAAA' })
  t.equal(store.getCached?.(secretKey('a')), undefined)
  t.equal(new EncryptedStore(raw, config(withKey1)).getCached, undefined, 'absent when the inner store has none')
})

t.test('a value that does not decrypt fails its read, naming the key and not the value', async (t) => {
  const { raw } = await sqlite(t)
  const store = new EncryptedStore(raw, config(withKey1))
  await store.create(secretKey('good'), secret('good'))
  await store.create(cmKey('c'), configMap('c', 'x'))
  const other = new EncryptedStore(raw, config([{ type: 'aescbc', keys: [key2] }]))
  await other.create(secretKey('foreign'), secret('foreign'))
  const expect = { code: 'TransformFailed', message: `unable to transform key "${secretKey('foreign')}": identity transformer tried to read encrypted data` }
  await t.rejects(store.get(secretKey('foreign')), expect)
  // Upstream fails the whole list: leaving the item out would tell informers it was deleted.
  await t.rejects(store.list('/registry/core/secrets/'), expect, 'the list fails as a whole')
  t.equal((await store.list('/registry/core/configmaps/')).items.length, 1, 'other resources still list')
  await t.rejects(store.update(secretKey('foreign'), secret('foreign'), 1), expect, "a Conflict whose current value does not decrypt")
  const w = collect(store, '/registry/core/secrets/', 0)
  const err = await w.untilError()
  t.ok(isEncryptionError(err, 'TransformFailed'), 'a watch that meets it ends with the error')
  t.equal(w.events.length, 1, 'after delivering what came before it')
  await store.create(secretKey('later'), secret('later'))
  await new Promise((r) => setTimeout(r, 30))
  t.equal(w.events.length, 1, 'and nothing after it')
  t.equal(w.errors.length, 1)
  const strict = new EncryptedStore(raw, config([{ type: 'aescbc', keys: [key1] }]))
  await raw.create(secretKey('plain'), secret('plain'))
  await t.rejects(strict.get(secretKey('plain')), { message: `unable to transform key "${secretKey('plain')}": no matching prefix found` }, 'a plain value without identity configured')
  for (const e of [await store.get(secretKey('foreign')).catch((e: Error) => e), await strict.get(secretKey('plain')).catch((e: Error) => e)]) {
    t.notOk(String((e as Error).message).includes(SECRET_B64), 'no value in the message')
  }
  const deleted = await store.delete(secretKey('foreign')).catch((e: Error) => e)
  t.match(deleted, { code: 'TransformFailed', message: /\(the key was deleted\)$/ })
  t.equal(await raw.get(secretKey('foreign')), undefined)
  const encryptedElsewhere = new EncryptedStore(raw, config(withKey1))
  await raw.create(cmKey('odd'), 'k8s:enc:aescbc:v1:key1:AAAA')
  await t.rejects(encryptedElsewhere.get(cmKey('odd')), { message: /identity transformer tried to read encrypted data/ }, 'an uncovered key holding encrypted data is refused, as upstream')
})

t.test('rewriteStale: encryption on, key rotation, encryption off', async (t) => {
  const { raw, dir } = await sqlite(t)
  const names = ['a', 'b', 'c', 'd', 'e']
  for (const n of names.slice(0, 2)) await raw.create(secretKey(n), secret(n))
  await raw.create(cmKey('c'), configMap('c', 'plain'))

  const on = new EncryptedStore(raw, config(withKey1))
  for (const n of names.slice(2)) await on.create(secretKey(n), secret(n))
  t.same(await on.rewriteStale(), { rewritten: 2, total: 5 }, 'turning encryption on rewrites the plain Secrets')
  for (const n of names) t.match((await raw.get(secretKey(n)))?.value, /^k8s:enc:aescbc:v1:key1:/)
  t.equal((await raw.get(cmKey('c')))?.value, configMap('c', 'plain'), 'ConfigMaps are not touched')
  t.same(await on.rewriteStale(), { rewritten: 0, total: 5 }, 'nothing left to do')

  const rotated = new EncryptedStore(raw, config([{ type: 'aescbc', keys: [key2, key1] }, { type: 'identity' }]))
  t.same(await rotated.rewriteStale(), { rewritten: 5, total: 5 }, 'after rotation every Secret is rewritten')
  const onlyKey2 = new EncryptedStore(raw, config([{ type: 'aescbc', keys: [key2] }]))
  for (const n of names) t.equal((await onlyKey2.get(secretKey(n)))?.value, secret(n), `${n} reads with the new key alone`)

  const off = new EncryptedStore(raw, config([{ type: 'identity' }, { type: 'aescbc', keys: [key2] }]))
  t.same(await off.rewriteStale(['/registry/core/secrets/']), { rewritten: 5, total: 5 }, 'identity first turns encryption off')
  for (const n of names) t.equal((await raw.get(secretKey(n)))?.value, secret(n), `${n} is plain again`)
  t.ok(diskBytes(dir).length > 0)
})

t.test('rewriteStale retries on Conflict and skips deleted keys', async (t) => {
  const { raw } = await sqlite(t)
  for (const n of ['a', 'b', 'c']) await raw.create(secretKey(n), secret(n))
  const inner = new Delegate(raw)
  const store = new EncryptedStore(inner, config(withKey1))
  // Someone else writes `a` (plain, an old server) just before the rewrite of `a` lands.
  inner.beforeUpdate = async (key) => {
    const cur = await raw.get(key)
    await raw.update(key, secret('a', 'changed'), cur!.modRevision)
  }
  const origList = inner.list.bind(inner)
  let listed = false
  inner.list = async (prefix, options) => {
    const page = await origList(prefix, options)
    if (!listed) {
      listed = true
      await raw.delete(secretKey('c'))
    }
    return page
  }
  t.same(await store.rewriteStale(), { rewritten: 2, total: 3 })
  t.equal((await store.get(secretKey('a')))?.value, secret('a', 'changed'), 'the competing write is kept, then encrypted')
  t.match((await raw.get(secretKey('a')))?.value, /^k8s:enc:aescbc:v1:key1:/)
  t.equal(await raw.get(secretKey('c')), undefined)
})

t.test('rewriteStale rewrites what it can and names what it cannot read', async (t) => {
  const { raw } = await sqlite(t)
  await raw.create(secretKey('a'), secret('a'))
  await new EncryptedStore(raw, config([{ type: 'aescbc', keys: [key2] }])).create(secretKey('lost'), secret('lost'))
  await raw.create(secretKey('z'), secret('z'))
  const store = new EncryptedStore(raw, config(withKey1))
  await t.rejects(store.rewriteStale(), { code: 'TransformFailed', message: /^1 of 3 stored values could not be decrypted.*\(2 others were rewritten\): "\/registry\/core\/secrets\/default\/lost"/ })
  t.match((await raw.get(secretKey('z')))?.value, /^k8s:enc:aescbc:v1:key1:/, 'the values after it were still rewritten')
  await t.rejects(store.rewriteStale(['registry/']), TypeError)
})
