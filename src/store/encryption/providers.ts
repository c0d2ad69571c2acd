// Value transformers in upstream's storage format (k8s.io/apiserver storage/value/encrypt):
// a stored value is `k8s:enc:<provider>:v1:<keyname>:` followed by the payload.
//   aescbc:    16-byte random IV, then AES-CBC ciphertext with PKCS#7 padding
//   aesgcm:    12-byte random nonce, then ciphertext, then the 16-byte tag; the store key
//              is the additional authenticated data, as upstream binds the etcd key, so a
//              value copied under another key does not decrypt
//   secretbox: 24-byte random nonce, then NaCl secretbox (16-byte Poly1305 tag, ciphertext)
//   identity:  the plain value, no prefix
// One difference from upstream: upstream stores the payload as raw bytes; weft's Store
// holds strings (SQLite TEXT columns, etcd values carried as UTF-8 text), where raw bytes
// do not round-trip (NUL, invalid UTF-8). So the payload is standard base64 with padding
// after the text prefix; the prefix is exactly upstream's.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import nacl from 'tweetnacl'
import type { KeyedProviderType, NamedKey, ProviderConfig } from './config.ts'

/** Reserved for encrypted data on disk (upstream identity.go). */
export const ENCRYPTED_PREFIX = 'k8s:enc:'

export function providerPrefix(type: KeyedProviderType): string {
  return `${ENCRYPTED_PREFIX}${type}:v1:`
}

export interface ReadResult {
  value: string
  /** True when the value was not written by the current write provider and key: a rewrite would change it. */
  stale: boolean
}

export interface ValueTransformer {
  /** The stored form of `plain` under store key `key`, by the write (first) provider and key. */
  toStorage(plain: string, key: string): string
  /** The plain value; throws an Error whose message says why (never the value). */
  fromStorage(stored: string, key: string): ReadResult
}

/** Encrypts and decrypts payloads for one key. */
interface Cipher {
  seal(plain: Buffer, aad: Buffer): Buffer
  open(payload: Buffer, aad: Buffer): Buffer
}

const AES_BLOCK = 16
const GCM_NONCE = 12
const GCM_TAG = 16
const SECRETBOX_NONCE = nacl.secretbox.nonceLength

function aesCbc(secret: Uint8Array): Cipher {
  const key = createSecretKey(secret)
  const algorithm = `aes-${secret.length * 8}-cbc`
  return {
    seal(plain) {
      const iv = randomBytes(AES_BLOCK)
      const c = createCipheriv(algorithm, key, iv)
      return Buffer.concat([iv, c.update(plain), c.final()])
    },
    open(payload) {
      if (payload.length < AES_BLOCK) throw new Error('the stored data was shorter than the required size')
      const data = payload.subarray(AES_BLOCK)
      if (data.length % AES_BLOCK !== 0) throw new Error('the stored data is not a multiple of the block size')
      const d = createDecipheriv(algorithm, key, payload.subarray(0, AES_BLOCK)).setAutoPadding(false)
      const out = Buffer.concat([d.update(data), d.final()])
      const pad = out.length === 0 ? 0 : out[out.length - 1]
      if (pad === 0 || pad > AES_BLOCK || pad > out.length) throw new Error('invalid PKCS7 data (empty or not padded)')
      for (let i = out.length - pad; i < out.length; i++) {
        if (out[i] !== pad) throw new Error('invalid padding on input')
      }
      return out.subarray(0, out.length - pad)
    },
  }
}

function aesGcm(secret: Uint8Array): Cipher {
  const key = createSecretKey(secret)
  const algorithm = `aes-${secret.length * 8}-gcm` as const
  return {
    seal(plain, aad) {
      const nonce = randomBytes(GCM_NONCE)
      const c = createCipheriv(algorithm as 'aes-256-gcm', key, nonce, { authTagLength: GCM_TAG })
      c.setAAD(aad)
      const body = Buffer.concat([c.update(plain), c.final()])
      return Buffer.concat([nonce, body, c.getAuthTag()])
    },
    open(payload, aad) {
      if (payload.length < GCM_NONCE + GCM_TAG) throw new Error('the stored data was shorter than the required size')
      const d = createDecipheriv(algorithm as 'aes-256-gcm', key, payload.subarray(0, GCM_NONCE), { authTagLength: GCM_TAG })
      d.setAAD(aad)
      d.setAuthTag(payload.subarray(payload.length - GCM_TAG))
      const body = d.update(payload.subarray(GCM_NONCE, payload.length - GCM_TAG))
      try {
        return Buffer.concat([body, d.final()])
      } catch {
        throw new Error('cipher: message authentication failed')
      }
    },
  }
}

function secretbox(secret: Uint8Array): Cipher {
  const key = Uint8Array.from(secret)
  return {
    seal(plain) {
      const nonce = randomBytes(SECRETBOX_NONCE)
      return Buffer.concat([nonce, nacl.secretbox(plain, nonce, key)])
    },
    open(payload) {
      if (payload.length < SECRETBOX_NONCE + nacl.secretbox.overheadLength) throw new Error('the stored data was shorter than the required size')
      const out = nacl.secretbox.open(payload.subarray(SECRETBOX_NONCE), payload.subarray(0, SECRETBOX_NONCE), key)
      if (out === null) throw new Error('secretbox: message authentication failed')
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength)
    },
  }
}

const CIPHERS: Record<KeyedProviderType, (secret: Uint8Array) => Cipher> = { aescbc: aesCbc, aesgcm: aesGcm, secretbox }
const NO_KEY: Record<KeyedProviderType, string> = {
  aescbc: 'no matching key was found for the provided AES transformer',
  aesgcm: 'no matching key was found for the provided AES transformer',
  secretbox: 'no matching key was found for the provided Secretbox transformer',
}
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

type Provider = { type: 'identity' } | { type: KeyedProviderType; prefix: string; keys: { tag: string; cipher: Cipher }[] }

function decodePayload(text: string): Buffer {
  if (!BASE64.test(text)) throw new Error('the stored payload is not base64')
  return Buffer.from(text, 'base64')
}

/**
 * Upstream's prefix transformers for one resource: the first provider (its first key)
 * writes; a read takes the first provider whose prefix and key name match, and is stale
 * unless that was the first provider's first key. Identity matches any value that does
 * not start with `k8s:enc:`.
 */
export function newProviderChain(configs: ProviderConfig[]): ValueTransformer {
  if (configs.length === 0) throw new Error('at least one provider is required')
  const providers: Provider[] = configs.map((c) =>
    c.type === 'identity'
      ? { type: 'identity' }
      : { type: c.type, prefix: providerPrefix(c.type), keys: c.keys.map((k: NamedKey) => ({ tag: `${k.name}:`, cipher: CIPHERS[c.type](k.secret) })) },
  )
  const writer = providers[0]
  return {
    toStorage(plain, key) {
      if (writer.type === 'identity') return plain
      const { tag, cipher } = writer.keys[0]
      return writer.prefix + tag + cipher.seal(Buffer.from(plain, 'utf8'), Buffer.from(key, 'utf8')).toString('base64')
    },
    fromStorage(stored, key) {
      let reason = 'no matching prefix found'
      for (let i = 0; i < providers.length; i++) {
        const p = providers[i]
        if (p.type === 'identity') {
          if (!stored.startsWith(ENCRYPTED_PREFIX)) return { value: stored, stale: i !== 0 }
          reason = 'identity transformer tried to read encrypted data'
          continue
        }
        if (!stored.startsWith(p.prefix)) continue
        for (let j = 0; j < p.keys.length; j++) {
          const { tag, cipher } = p.keys[j]
          if (!stored.startsWith(tag, p.prefix.length)) continue
          const payload = decodePayload(stored.slice(p.prefix.length + tag.length))
          const plain = cipher.open(payload, Buffer.from(key, 'utf8'))
          return { value: plain.toString('utf8'), stale: i !== 0 || j !== 0 }
        }
        // Another provider of the same type further down may hold the key.
        reason = NO_KEY[p.type]
      }
      throw new Error(reason)
    },
  }
}

/** What a resource no entry covers gets: upstream's default identity transformer. */
export const IDENTITY: ValueTransformer = newProviderChain([{ type: 'identity' }])
