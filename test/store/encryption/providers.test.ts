// The transformers write upstream's format and read values built by hand the way
// kube-apiserver (Go) builds them; wrong keys and tampering are refused.
import { createCipheriv, randomBytes } from 'node:crypto'
import t from 'tap'
import nacl from 'tweetnacl'
import { NamedKey, type KeyedProviderType, type ProviderConfig } from '../../../src/store/encryption/config.ts'
import { IDENTITY, newProviderChain } from '../../../src/store/encryption/providers.ts'

const KEY = '/registry/core/secrets/default/db'
const PLAIN = '{"metadata":{"name":"db","namespace":"default"},"data":{"password":"aHVudGVyMg=="},"kind":"Secret","apiVersion":"v1"}'

const secretA = Buffer.alloc(32, 0xa1)
const secretB = Buffer.alloc(32, 0xb2)

function keyed(type: KeyedProviderType, ...keys: [string, Uint8Array][]): ProviderConfig {
  return { type, keys: keys.map(([name, secret]) => new NamedKey(name, secret)) }
}

function payloadOf(stored: string, prefix: string): Buffer {
  return Buffer.from(stored.slice(prefix.length), 'base64')
}

/** PKCS#7 + CBC chaining done by hand over single-block AES (ECB), as Go's cbc transformer does. */
function goAesCbc(key: Buffer, iv: Buffer, plain: Buffer): Buffer {
  const pad = 16 - (plain.length % 16)
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)])
  const out: Buffer[] = [iv]
  let prev = iv
  for (let i = 0; i < padded.length; i += 16) {
    const block = Buffer.alloc(16)
    for (let j = 0; j < 16; j++) block[j] = padded[i + j] ^ prev[j]
    const ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false)
    prev = Buffer.concat([ecb.update(block), ecb.final()])
    out.push(prev)
  }
  return Buffer.concat(out)
}

function goAesGcm(key: Buffer, nonce: Buffer, plain: Buffer, aad: string): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, nonce)
  c.setAAD(Buffer.from(aad))
  const body = Buffer.concat([c.update(plain), c.final()])
  return Buffer.concat([nonce, body, c.getAuthTag()])
}

t.test('each provider round-trips with upstream prefix and payload layout', async (t) => {
  const n = Buffer.byteLength(PLAIN)
  const cases: [KeyedProviderType, number][] = [
    ['aescbc', 16 + (Math.floor(n / 16) + 1) * 16],
    ['aesgcm', 12 + n + 16],
    ['secretbox', 24 + 16 + n],
  ]
  for (const [type, size] of cases) {
    const chain = newProviderChain([keyed(type, ['key1', secretA])])
    const stored = chain.toStorage(PLAIN, KEY)
    const prefix = `k8s:enc:${type}:v1:key1:`
    t.ok(stored.startsWith(prefix), `${type}: stored value starts with ${prefix}`)
    t.match(stored.slice(prefix.length), /^[A-Za-z0-9+/]+={0,2}$/, `${type}: the payload is base64`)
    t.equal(payloadOf(stored, prefix).length, size, `${type}: payload is nonce/IV + ciphertext (+ tag)`)
    t.notOk(stored.includes('aHVudGVyMg') || stored.includes('hunter2'), `${type}: no plaintext`)
    t.same(chain.fromStorage(stored, KEY), { value: PLAIN, stale: false }, `${type}: reads back`)
    t.not(chain.toStorage(PLAIN, KEY), stored, `${type}: a fresh nonce each write`)
  }
  for (const [type, secret] of [['aescbc', Buffer.alloc(16, 1)], ['aescbc', Buffer.alloc(24, 1)], ['aesgcm', Buffer.alloc(16, 1)], ['aesgcm', Buffer.alloc(24, 1)]] as const) {
    const chain = newProviderChain([keyed(type, ['k', secret])])
    t.equal(chain.fromStorage(chain.toStorage(PLAIN, KEY), KEY).value, PLAIN, `${type} with a ${secret.length}-byte key`)
  }
  t.equal(newProviderChain([keyed('aescbc', ['k', secretA])]).fromStorage(newProviderChain([keyed('aescbc', ['k', secretA])]).toStorage('', KEY), KEY).value, '', 'an empty value')
  const unicode = '{"metadata":{"name":"ü"},"data":{"x":"\u{1f512} ñ"}}'
  const gcm = newProviderChain([keyed('aesgcm', ['k', secretA])])
  t.equal(gcm.fromStorage(gcm.toStorage(unicode, KEY), KEY).value, unicode, 'non-ASCII text survives')
})

t.test('identity first writes the plain value', async (t) => {
  const chain = newProviderChain([{ type: 'identity' }, keyed('aescbc', ['k', secretA])])
  t.equal(chain.toStorage(PLAIN, KEY), PLAIN)
  t.same(chain.fromStorage(PLAIN, KEY), { value: PLAIN, stale: false })
})

t.test('interop: values built by hand the way Go builds them', async (t) => {
  const iv = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')
  const cbcValue = `k8s:enc:aescbc:v1:key1:${goAesCbc(secretA, iv, Buffer.from(PLAIN)).toString('base64')}`
  t.same(newProviderChain([keyed('aescbc', ['key1', secretA])]).fromStorage(cbcValue, KEY), { value: PLAIN, stale: false }, 'aescbc')
  // Exactly one full block of padding when the plaintext fills its blocks.
  const sixteen = '0123456789abcdef'
  const full = `k8s:enc:aescbc:v1:key1:${goAesCbc(secretA, iv, Buffer.from(sixteen)).toString('base64')}`
  t.equal(payloadOf(full, 'k8s:enc:aescbc:v1:key1:').length, 48)
  t.equal(newProviderChain([keyed('aescbc', ['key1', secretA])]).fromStorage(full, KEY).value, sixteen, 'aescbc, block-aligned plaintext')

  const nonce = Buffer.from('cafebabefacedbaddecaf888', 'hex')
  const gcmValue = `k8s:enc:aesgcm:v1:key1:${goAesGcm(secretA, nonce, Buffer.from(PLAIN), KEY).toString('base64')}`
  const gcm = newProviderChain([keyed('aesgcm', ['key1', secretA])])
  t.same(gcm.fromStorage(gcmValue, KEY), { value: PLAIN, stale: false }, 'aesgcm with the store key as authenticated data')
  t.throws(() => gcm.fromStorage(gcmValue, '/registry/core/secrets/default/other'), /message authentication failed/, 'aesgcm: the value does not decrypt under another key')
  const noAad = `k8s:enc:aesgcm:v1:key1:${goAesGcm(secretA, nonce, Buffer.from(PLAIN), '').toString('base64')}`
  t.throws(() => gcm.fromStorage(noAad, KEY), /message authentication failed/, 'aesgcm without the key as AAD is refused')

  const boxNonce = Buffer.alloc(24, 7)
  const boxValue = `k8s:enc:secretbox:v1:key1:${Buffer.concat([boxNonce, nacl.secretbox(Buffer.from(PLAIN), boxNonce, secretA)]).toString('base64')}`
  t.same(newProviderChain([keyed('secretbox', ['key1', secretA])]).fromStorage(boxValue, KEY), { value: PLAIN, stale: false }, 'secretbox')
})

t.test('a wrong key is refused', async (t) => {
  const iv = Buffer.alloc(16, 5)
  // Fixed IV and keys: a wrong CBC key fails on the padding (a random one would pass ~1 in 256 times, as upstream's does).
  const cbcValue = `k8s:enc:aescbc:v1:key1:${goAesCbc(secretA, iv, Buffer.from(PLAIN)).toString('base64')}`
  t.throws(() => newProviderChain([keyed('aescbc', ['key1', secretB])]).fromStorage(cbcValue, KEY), /invalid (PKCS7 data|padding on input)/, 'aescbc')
  for (const type of ['aesgcm', 'secretbox'] as const) {
    const stored = newProviderChain([keyed(type, ['key1', secretA])]).toStorage(PLAIN, KEY)
    t.throws(() => newProviderChain([keyed(type, ['key1', secretB])]).fromStorage(stored, KEY), /message authentication failed/, type)
  }
  const stored = newProviderChain([keyed('aescbc', ['key1', secretA])]).toStorage(PLAIN, KEY)
  t.throws(() => newProviderChain([keyed('aescbc', ['key2', secretA])]).fromStorage(stored, KEY), /^no matching key was found for the provided AES transformer$/, 'unknown key name')
  const box = newProviderChain([keyed('secretbox', ['key1', secretA])]).toStorage(PLAIN, KEY)
  t.throws(() => newProviderChain([keyed('secretbox', ['key2', secretA])]).fromStorage(box, KEY), /^no matching key was found for the provided Secretbox transformer$/)
})

t.test('tampering is refused (aesgcm, secretbox)', async (t) => {
  for (const type of ['aesgcm', 'secretbox'] as const) {
    const chain = newProviderChain([keyed(type, ['k', secretA])])
    const prefix = `k8s:enc:${type}:v1:k:`
    const payload = payloadOf(chain.toStorage(PLAIN, KEY), prefix)
    for (const at of [0, payload.length >> 1, payload.length - 1]) {
      const bad = Buffer.from(payload)
      bad[at] ^= 0x01
      t.throws(() => chain.fromStorage(prefix + bad.toString('base64'), KEY), /message authentication failed/, `${type}: byte ${at} flipped`)
    }
    t.throws(() => chain.fromStorage(prefix + payload.subarray(0, 20).toString('base64'), KEY), /the stored data was shorter than the required size/, `${type}: truncated`)
  }
  const cbc = newProviderChain([keyed('aescbc', ['k', secretA])])
  const payload = payloadOf(cbc.toStorage(PLAIN, KEY), 'k8s:enc:aescbc:v1:k:')
  t.throws(() => cbc.fromStorage(`k8s:enc:aescbc:v1:k:${payload.subarray(0, payload.length - 3).toString('base64')}`, KEY), /not a multiple of the block size/)
  t.throws(() => cbc.fromStorage('k8s:enc:aescbc:v1:k:AAAA', KEY), /shorter than the required size/)
  t.throws(() => cbc.fromStorage('k8s:enc:aescbc:v1:k:not*base64', KEY), /not base64/)
})

t.test('reading picks provider and key by prefix; stale unless the first key wrote it', async (t) => {
  const a = newProviderChain([keyed('aescbc', ['a', secretA])]).toStorage(PLAIN, KEY)
  const b = newProviderChain([keyed('aescbc', ['b', secretB])]).toStorage(PLAIN, KEY)
  const box = newProviderChain([keyed('secretbox', ['s', secretA])]).toStorage(PLAIN, KEY)

  const rotated = newProviderChain([keyed('aescbc', ['b', secretB], ['a', secretA]), keyed('secretbox', ['s', secretA]), { type: 'identity' }])
  t.same(rotated.fromStorage(b, KEY), { value: PLAIN, stale: false }, 'first key: current')
  t.same(rotated.fromStorage(a, KEY), { value: PLAIN, stale: true }, 'second key: stale')
  t.same(rotated.fromStorage(box, KEY), { value: PLAIN, stale: true }, 'second provider: stale')
  t.same(rotated.fromStorage(PLAIN, KEY), { value: PLAIN, stale: true }, 'plain value read by identity: stale')
  t.ok(rotated.toStorage(PLAIN, KEY).startsWith('k8s:enc:aescbc:v1:b:'), 'the first key of the first provider writes')

  const twoCbc = newProviderChain([keyed('aescbc', ['b', secretB]), keyed('aescbc', ['a', secretA])])
  t.same(twoCbc.fromStorage(a, KEY), { value: PLAIN, stale: true }, 'a key in a second provider of the same type is found')

  const off = newProviderChain([{ type: 'identity' }, keyed('aescbc', ['a', secretA])])
  t.same(off.fromStorage(a, KEY), { value: PLAIN, stale: true }, 'identity first: encrypted values read, stale')
  t.same(off.fromStorage(PLAIN, KEY), { value: PLAIN, stale: false })

  const noIdentity = newProviderChain([keyed('aescbc', ['a', secretA])])
  t.throws(() => noIdentity.fromStorage(PLAIN, KEY), /^no matching prefix found$/, 'a plain value without identity configured')
  t.throws(() => noIdentity.fromStorage(box, KEY), /^no matching prefix found$/, 'an unconfigured provider')
  const withIdentity = newProviderChain([keyed('aescbc', ['a', secretA]), { type: 'identity' }])
  t.throws(() => withIdentity.fromStorage(box, KEY), /^identity transformer tried to read encrypted data$/)
  t.throws(() => IDENTITY.fromStorage(a, KEY), /^identity transformer tried to read encrypted data$/, 'the default identity refuses encrypted data')
  t.same(IDENTITY.fromStorage(PLAIN, KEY), { value: PLAIN, stale: false })
})

t.test('error messages never carry the value', async (t) => {
  const chain = newProviderChain([keyed('aesgcm', ['k', secretA])])
  const stored = chain.toStorage(PLAIN, KEY)
  for (const bad of [stored.slice(0, -8) + 'AAAAAAA=', PLAIN, stored.replace(':k:', ':x:'), `k8s:enc:aesgcm:v1:k:${randomBytes(40).toString('base64')}`]) {
    try {
      chain.fromStorage(bad, KEY)
      t.fail('read succeeded')
    } catch (err) {
      const message = (err as Error).message
      t.notOk(message.includes('hunter') || message.includes(stored.slice(25, 45)) || message.includes('password'), message)
    }
  }
})
