// --secrets-encryption: weft's own config in the data dir, key rotation, and what
// `weft server` wires through openEncryption().
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadEncryptionConfig, type ProviderConfig } from '../../../src/store/encryption/config.ts'
import { EncryptedStore } from '../../../src/store/encryption/encrypted-store.ts'
import { ensureSecretsEncryptionConfig, openEncryption, rotateKey } from '../../../src/store/encryption/secrets-encryption.ts'
import { openStore } from '../../../src/store/open-store.ts'

const root = mkdtempSync(join(tmpdir(), 'weft-enc-keys-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const freshDir = () => join(root, `data-${n++}`, 'server')

const mode = (path: string) => statSync(path).mode & 0o777

function keyNames(p: ProviderConfig): string[] {
  return p.type === 'identity' ? [] : p.keys.map((k) => k.name)
}

t.test('ensureSecretsEncryptionConfig writes one random aescbc key for secrets, then identity', async (t) => {
  const dir = freshDir()
  const path = ensureSecretsEncryptionConfig(dir)
  t.equal(path, join(dir, 'encryption-config.yaml'))
  t.equal(mode(path), 0o600, 'the file is 0600')
  t.equal(mode(dir), 0o700, 'its new dir is 0700')
  const config = loadEncryptionConfig(path)
  t.same(config.resources.map((r) => r.resources), [[{ group: '', resource: 'secrets' }]])
  const [cbc, identity] = config.resources[0].providers
  t.equal(cbc.type, 'aescbc')
  t.equal(identity?.type, 'identity')
  if (cbc.type === 'aescbc') {
    t.equal(cbc.keys.length, 1)
    t.equal(cbc.keys[0].secret.length, 32)
    t.match(cbc.keys[0].name, /^aescbckey-\d{8}T\d{6}Z$/)
  }
  const text = readFileSync(path, 'utf8')
  t.equal(ensureSecretsEncryptionConfig(dir), path, 'a second call returns the same file')
  t.equal(readFileSync(path, 'utf8'), text, 'and leaves it as it was')
  t.same(readdirSync(dir), ['encryption-config.yaml'], 'no temporary files are left')
  const other = ensureSecretsEncryptionConfig(freshDir())
  t.not(readFileSync(other, 'utf8'), text, 'each data dir gets its own key')
})

t.test('rotateKey prepends a new key and keeps the old ones', async (t) => {
  const dir = freshDir()
  const path = ensureSecretsEncryptionConfig(dir)
  const before = loadEncryptionConfig(path).resources[0].providers[0]
  const { keyName } = rotateKey(path)
  const { keyName: third } = rotateKey(path)
  t.not(keyName, third, 'two rotations in one second still get distinct names')
  const after = loadEncryptionConfig(path).resources[0].providers
  t.equal(after.length, 2, 'no provider added when aescbc is first')
  t.same(keyNames(after[0]), [third, keyName, ...keyNames(before)])
  t.equal(after[1].type, 'identity')
  const oldSecret = before.type === 'aescbc' ? Buffer.from(before.keys[0].secret).toString('hex') : ''
  t.equal(after[0].type === 'aescbc' ? Buffer.from(after[0].keys[2].secret).toString('hex') : '', oldSecret, 'the old key is unchanged')
  t.equal(mode(path), 0o600, 'still 0600')
  t.match(readFileSync(path, 'utf8'), /^# Written by weft --secrets-encryption/, 'comments are kept')
  t.same(readdirSync(dir), ['encryption-config.yaml'])
})

t.test('rotateKey on hand-written configs', async (t) => {
  const dir = mkdtempSync(join(root, 'hand-'))
  const secret = Buffer.alloc(32, 9).toString('base64')
  const json = join(dir, 'enc.json')
  writeFileSync(json, JSON.stringify({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [
      { resources: ['configmaps'], providers: [{ aesgcm: { keys: [{ name: 'cm', secret }] } }] },
      { resources: ['secrets'], providers: [{ identity: {} }, { aescbc: { keys: [{ name: 'old', secret }] } }] },
    ],
  }), { mode: 0o600 })
  const { keyName } = rotateKey(json)
  const parsed = JSON.parse(readFileSync(json, 'utf8')) as { resources: { providers: unknown[] }[] }
  t.equal(parsed.resources[1].providers.length, 3, 'JSON stays JSON; identity first gets a new aescbc provider in front')
  const providers = loadEncryptionConfig(json).resources[1].providers
  t.same(providers.map((p) => p.type), ['aescbc', 'identity', 'aescbc'])
  t.same(keyNames(providers[0]), [keyName])
  t.same(keyNames(loadEncryptionConfig(json).resources[0].providers[0]), ['cm'], 'other entries are untouched')

  const noSecrets = join(dir, 'cm.yaml')
  writeFileSync(noSecrets, `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [configmaps]\n  providers: [{identity: {}}]\n`, { mode: 0o600 })
  t.throws(() => rotateKey(noSecrets), { code: 'InvalidConfig', message: /no resources entry for secrets/ })
  chmodSync(noSecrets, 0o644)
  t.throws(() => rotateKey(noSecrets), { code: 'ConfigFile' }, 'an open file is refused before anything is written')
})

t.test('openEncryption: the flags weft server wires', async (t) => {
  const dataDir = freshDir()
  t.equal(openEncryption({ dataDir }), undefined, 'neither flag: no encryption')
  t.equal(openEncryption({ dataDir, secretsEncryption: false }), undefined)
  t.throws(() => openEncryption({ dataDir, configPath: '/x', secretsEncryption: true }), { code: 'InvalidConfig', message: /cannot be used together/ })
  const open = join(root, 'open.yaml')
  writeFileSync(open, 'x: 1\n', { mode: 0o644 })
  chmodSync(open, 0o644)
  t.throws(() => openEncryption({ dataDir, configPath: open }), { code: 'ConfigFile' })

  const store = await openStore({ dataDir })
  t.teardown(() => store.close())
  const enc = openEncryption({ dataDir, secretsEncryption: true })
  if (!enc) throw new Error('expected encryption')
  t.equal(enc.configPath, join(dataDir, 'encryption-config.yaml'))
  const wrapped = enc.wrap(store)
  t.ok(wrapped instanceof EncryptedStore)
  const key = '/registry/core/secrets/default/s'
  const value = '{"metadata":{"name":"s"},"data":{"k":"dmFsdWU="}}'
  await store.create('/registry/core/secrets/default/old', value)
  await wrapped.create(key, value)
  const first = (await store.get(key))?.value ?? ''
  t.match(first, /^k8s:enc:aescbc:v1:aescbckey-/)
  t.same(await enc.rewriteStale(store), { rewritten: 1, total: 2 }, 'rewriteStale takes the raw store…')

  const { keyName } = rotateKey(enc.configPath)
  const reloaded = openEncryption({ dataDir, secretsEncryption: true })
  if (!reloaded) throw new Error('expected encryption')
  const rewrapped = reloaded.wrap(store)
  t.equal((await rewrapped.get(key))?.value, value, 'old values read after rotation')
  t.same(await reloaded.rewriteStale(rewrapped), { rewritten: 2, total: 2 }, '…or the wrapped one')
  for (const k of [key, '/registry/core/secrets/default/old']) {
    t.ok((await store.get(k))?.value.startsWith(`k8s:enc:aescbc:v1:${keyName}:`), `${k} is under the new key`)
    t.equal((await rewrapped.get(k))?.value, value)
  }
  const byPath = openEncryption({ dataDir: freshDir(), configPath: enc.configPath })
  t.equal(byPath?.configPath, enc.configPath, '--encryption-provider-config reads the named file')
})
