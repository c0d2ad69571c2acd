// Key pairs as PEM, and the checks every key read from disk or from a caller goes through.
import { createPrivateKey, createPublicKey, generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto'
import { decodePem } from './pem.ts'


/** ECDSA P-256 for certificates; RSA-2048 for the service-account signing key (RS256, as kubeadm's sa.key). */
export type KeyKind = 'ecdsa-p256' | 'rsa-2048'

export interface KeyPairPem {
  /** PKCS#8 (`PRIVATE KEY`). */
  privateKeyPem: string
  /** SubjectPublicKeyInfo (`PUBLIC KEY`). */
  publicKeyPem: string
}

/** Generated off the main thread (RSA key generation takes tens of milliseconds). */
export function generateKeyPair(kind: KeyKind): Promise<KeyPairPem> {
  const encoding = {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  } as const
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKeyPem: string, privateKeyPem: string) => (err ? reject(err) : resolve({ privateKeyPem, publicKeyPem }))
    if (kind === 'ecdsa-p256') generateKeyPairCb('ec', { namedCurve: 'P-256', ...encoding }, done)
    else if (kind === 'rsa-2048') generateKeyPairCb('rsa', { modulusLength: 2048, publicExponent: 0x10001, ...encoding }, done)
    else reject(new Error(`unknown key kind ${JSON.stringify(kind)}: use ecdsa-p256 or rsa-2048`))
  })
}

const PRIVATE_LABELS = ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']

/** A private key from PEM: PKCS#8, SEC 1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`), unencrypted. */
export function readPrivateKey(pem: string, what: string): KeyObject {
  const block = decodePem(pem, PRIVATE_LABELS, what)
  const type = block.label === 'PRIVATE KEY' ? 'pkcs8' : block.label === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs1'
  try {
    return createPrivateKey({ key: block.der, format: 'der', type })
  } catch {
    throw new Error(`${what}: not a readable ${block.label} (weft reads unencrypted keys only)`)
  }
}

export function readPublicKey(pem: string, what: string): KeyObject {
  const block = decodePem(pem, ['PUBLIC KEY'], what)
  try {
    return createPublicKey({ key: block.der, format: 'der', type: 'spki' })
  } catch {
    throw new Error(`${what}: not a readable public key`)
  }
}

export function spkiDer(key: KeyObject): Buffer {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' })
}

export function publicKeyPemOf(key: KeyObject): string {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'pem' }) as string
}

/** What keys weft accepts in a certificate or CSR; a short description of any other as the error. */
export type PublicKeyAlgorithm = 'ECDSA-P256' | 'ECDSA-P384' | 'RSA' | 'Ed25519'

export function publicKeyAlgorithm(key: KeyObject, what: string): PublicKeyAlgorithm {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails ?? {}
  if (type === 'ec' && details.namedCurve === 'prime256v1') return 'ECDSA-P256'
  if (type === 'ec' && details.namedCurve === 'secp384r1') return 'ECDSA-P384'
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0
    if (bits < 2048) throw new Error(`${what}: RSA key of ${bits} bits is too weak; use at least 2048 bits`)
    if (bits > 8192) throw new Error(`${what}: RSA key of ${bits} bits is larger than weft accepts (8192 bits)`)
    return 'RSA'
  }
  if (type === 'ed25519') return 'Ed25519'
  const name = type === 'ec' ? `EC key on curve ${details.namedCurve ?? 'unknown'}` : `${type ?? 'unknown'} key`
  throw new Error(`${what}: unsupported ${name}; use ECDSA P-256/P-384, RSA (2048 to 8192 bits) or Ed25519`)
}

interface WebCryptoParams {
  importAs: Algorithm & { namedCurve?: string; hash?: string }
  sign: Algorithm & { hash?: string }
}

function webCryptoParams(alg: PublicKeyAlgorithm): WebCryptoParams {
  switch (alg) {
    case 'ECDSA-P256':
      return { importAs: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } }
    case 'ECDSA-P384':
      return { importAs: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } }
    case 'RSA':
      return { importAs: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } }
    case 'Ed25519':
      return { importAs: { name: 'Ed25519' }, sign: { name: 'Ed25519' } }
  }
}

export interface SigningKey {
  key: CryptoKey
  publicKey: CryptoKey
  algorithm: Algorithm & { hash?: string }
}

/** A private key as WebCrypto keys, with the signature algorithm it signs with (SHA-384 for P-384, as Go does). */
export function signingKey(key: KeyObject, what: string): SigningKey {
  const params = webCryptoParams(publicKeyAlgorithm(key, what))
  return {
    key: key.toCryptoKey(params.importAs, false, ['sign']) as unknown as CryptoKey,
    publicKey: createPublicKey(key).toCryptoKey(params.importAs, true, ['verify']) as unknown as CryptoKey,
    algorithm: params.sign,
  }
}
