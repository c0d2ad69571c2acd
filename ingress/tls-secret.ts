import { X509Certificate, createPrivateKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { V1Secret } from '@kubernetes/client-node'

/** One certificate chain and its key: what TLS serves to clients that accept its key type (TLS holds one chain of each). */
export interface CertificateChain {
  /** PEM: the leaf, then its intermediates. */
  cert: string
  key: string
}

/** The key types TLS serves; a Secret may hold one key of each. */
type KeyType = 'RSA' | 'ECDSA' | 'Ed25519' | 'Ed448'

export interface ParsedCertificate {
  /** One per key in tls.key, in the order of tls.crt. */
  chains: CertificateChain[]
  /** The leaves' SAN DNS names (lower-case, '*.' wildcards kept), else their CNs. */
  names: string[]
  /** The latest notBefore and earliest notAfter of the leaves. */
  notBefore: Date
  notAfter: Date
  /** SHA-256 of the first leaf certificate, colon-separated hex as openssl prints it. */
  fingerprint: string
}

export type TlsSecretErrorCode =
  | 'WrongType'
  | 'MissingKey'
  | 'BadCertificate'
  | 'BadKey'
  | 'KeyMismatch'
  | 'UnsupportedKey'
  | 'Expired'

export class TlsSecretError extends Error {
  /** 'namespace/name' of the Secret. */
  readonly secret: string
  readonly code: TlsSecretErrorCode

  constructor(secret: string, code: TlsSecretErrorCode, reason: string) {
    super(`Secret ${secret}: ${reason}`)
    this.name = 'TlsSecretError'
    this.secret = secret
    this.code = code
  }
}

export const TLS_SECRET_TYPE = 'kubernetes.io/tls'

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g
/** A PEM boundary line. A label holds no '-', so finding them all is linear in the text. */
const PEM_MARKER = /-----(BEGIN|END) ([A-Z ]*)-----/g
/** EC curves with a TLS 1.3 signature scheme (Node names them as OpenSSL does: P-256, P-384, P-521). */
const TLS_CURVES: ReadonlySet<string> = new Set(['prime256v1', 'secp384r1', 'secp521r1'])

export function secretKey(secret: V1Secret): string {
  return `${secret.metadata?.namespace ?? ''}/${secret.metadata?.name ?? ''}`
}

/**
 * Validates a `kubernetes.io/tls` Secret: tls.crt holds PEM certificates, tls.key PEM private
 * keys (usually one; at most one of each key type: an RSA and an ECDSA one serve clients of
 * either kind), each key's certificate is in tls.crt followed by its intermediates (tls.crt
 * starts with a key's certificate), every key can serve TLS, and no leaf has expired at `now`.
 */
export function parseTlsSecret(secret: V1Secret, now: Date = new Date()): ParsedCertificate {
  const id = secretKey(secret)
  const fail = (code: TlsSecretErrorCode, reason: string): never => {
    throw new TlsSecretError(id, code, reason)
  }
  if (secret.type !== TLS_SECRET_TYPE) {
    fail('WrongType', `type is ${JSON.stringify(secret.type ?? 'Opaque')}, want ${JSON.stringify(TLS_SECRET_TYPE)}`)
  }
  const cert = field(secret, 'tls.crt') ?? fail('MissingKey', 'data has no "tls.crt"; add the PEM certificate chain')
  const key = field(secret, 'tls.key') ?? fail('MissingKey', 'data has no "tls.key"; add the PEM private key')

  const blocks = cert.match(PEM_CERTIFICATE) ?? fail('BadCertificate', 'tls.crt holds no PEM certificate')
  const certs = blocks.map((block, i) => {
    try {
      return new X509Certificate(block)
    } catch (err) {
      return fail('BadCertificate', `tls.crt certificate #${i + 1} does not parse: ${(err as Error).message}`)
    }
  })

  const keyBlocks = privateKeyBlocks(key)
  if (keyBlocks.length === 0) fail('BadKey', 'tls.key holds no PEM private key')
  const keys = keyBlocks.map((block, i) => {
    if (/ENCRYPTED/.test(block)) fail('BadKey', 'tls.key is encrypted, which is not supported; store the key unencrypted')
    try {
      return { pem: block, object: createPrivateKey(block) }
    } catch (err) {
      return fail('BadKey', `tls.key ${keyBlocks.length > 1 ? `key #${i + 1} ` : ''}does not parse (encrypted keys are not supported): ${(err as Error).message}`)
    }
  })

  const seen = new Map<KeyType, number>()
  const chains: { leafIndex: number; key: string }[] = []
  keys.forEach((k, i) => {
    const keyType = tlsKeyType(k.object, keys.length > 1 ? `key #${i + 1}` : 'the key', fail)
    if (seen.has(keyType)) fail('UnsupportedKey', `tls.key holds two ${keyType} keys (#${seen.get(keyType)! + 1} and #${i + 1}); TLS serves one certificate per key type: keep one`)
    seen.set(keyType, i)
    const leafIndex = certs.findIndex((c) => c.checkPrivateKey(k.object))
    if (leafIndex >= 0) chains.push({ leafIndex, key: k.pem })
  })
  if (keys.length === 1 && (chains.length === 0 || chains[0]!.leafIndex !== 0)) {
    fail('KeyMismatch', `tls.key does not belong to the certificate in tls.crt (${describeLeaf(certs[0]!)})`)
  }
  if (chains.length < keys.length) {
    fail('KeyMismatch', `tls.key holds ${keys.length} keys but tls.crt has a certificate for ${chains.length}; give each key its certificate (then its intermediates) in tls.crt`)
  }
  chains.sort((a, b) => a.leafIndex - b.leafIndex)
  if (chains[0]!.leafIndex !== 0) fail('KeyMismatch', `tls.crt must start with the certificate of a key in tls.key, not ${describeLeaf(certs[0]!)}`)

  const names = new Set<string>()
  let notBefore = certs[0]!.validFromDate
  let notAfter = certs[0]!.validToDate
  const out: CertificateChain[] = chains.map((c, i) => {
    const leaf = certs[c.leafIndex]!
    if (leaf.validToDate.getTime() < now.getTime()) {
      fail('Expired', `the certificate expired on ${leaf.validToDate.toISOString()} (${describeLeaf(leaf)}); renew it`)
    }
    for (const name of certificateNames(leaf)) names.add(name)
    if (leaf.validFromDate > notBefore) notBefore = leaf.validFromDate
    if (leaf.validToDate < notAfter) notAfter = leaf.validToDate
    const end = i + 1 < chains.length ? chains[i + 1]!.leafIndex : blocks.length
    return { cert: blocks.slice(c.leafIndex, end).join('\n') + '\n', key: c.key + '\n' }
  })
  return {
    chains: out,
    names: [...names],
    notBefore,
    notAfter,
    fingerprint: certs[0]!.fingerprint256,
  }
}

/**
 * The private-key PEM blocks of `text` in order: each from a `-----BEGIN … PRIVATE KEY-----`
 * line to the next END line of the same label (`RSA PRIVATE KEY`, `EC PRIVATE KEY`, …), what
 * the lazy regex /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/g
 * matched. That regex searched the rest of the text again from every BEGIN without an END:
 * quadratic, seconds for a tls.key of a MiB of BEGIN lines. Here the boundary lines are found
 * in one pass and each label's END lines are walked once.
 */
export function privateKeyBlocks(text: string): string[] {
  const begins: { label: string; start: number; end: number }[] = []
  const ends = new Map<string, { start: number; end: number }[]>()
  for (const m of text.matchAll(PEM_MARKER)) {
    const label = m[2]!
    if (!label.endsWith('PRIVATE KEY')) continue
    const marker = { start: m.index, end: m.index + m[0].length }
    if (m[1] === 'BEGIN') begins.push({ label, ...marker })
    else {
      const list = ends.get(label)
      if (list) list.push(marker)
      else ends.set(label, [marker])
    }
  }
  const blocks: string[] = []
  /** Per label: the first of its END lines not yet passed (BEGINs are visited in order, so it only moves on). */
  const next = new Map<string, number>()
  let after = 0
  for (const begin of begins) {
    if (begin.start < after) continue // inside the block just taken
    const list = ends.get(begin.label)
    if (!list) continue
    let i = next.get(begin.label) ?? 0
    // The body holds at least one character.
    while (i < list.length && list[i]!.start <= begin.end) i++
    next.set(begin.label, i)
    if (i === list.length) continue
    blocks.push(text.slice(begin.start, list[i]!.end))
    after = list[i]!.end
  }
  return blocks
}

/** The TLS key type of a private key, or a failure saying why TLS cannot serve it. */
function tlsKeyType(key: KeyObject, which: string, fail: (code: TlsSecretErrorCode, reason: string) => never): KeyType {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails ?? {}
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0
    if (bits < 2048) fail('UnsupportedKey', `tls.key: ${which} is an RSA key of ${bits} bits, which is too short: TLS clients refuse RSA keys under 2048 bits; use 2048 or more`)
    return 'RSA'
  }
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown'
    if (!TLS_CURVES.has(curve)) fail('UnsupportedKey', `tls.key: ${which} is on the EC curve ${curve}, which has no TLS 1.3 signature scheme; use P-256, P-384 or P-521`)
    return 'ECDSA'
  }
  if (type === 'ed25519') return 'Ed25519'
  if (type === 'ed448') return 'Ed448'
  return fail('UnsupportedKey', `tls.key: ${which} is a ${type ?? 'unknown'} key, which cannot sign TLS handshakes; use an RSA (2048 bits or more), ECDSA (P-256, P-384, P-521) or Ed25519 key`)
}

function field(secret: V1Secret, name: string): string | undefined {
  const b64 = secret.data?.[name]
  if (b64 !== undefined && b64 !== '') return Buffer.from(b64, 'base64').toString('utf8')
  const plain = secret.stringData?.[name]
  return plain === undefined || plain === '' ? undefined : plain
}

function describeLeaf(leaf: X509Certificate): string {
  return `subject ${leaf.subject.replaceAll('\n', ', ')}`
}

/** SAN DNS names if any (clients ignore the CN then), else the subject's CN. */
export function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = []
  for (const entry of splitAltNames(cert.subjectAltName ?? '')) {
    if (entry.startsWith('DNS:')) names.push(unquote(entry.slice(4)).toLowerCase())
  }
  if (names.length > 0) return names
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('CN=')) return [unquote(line.slice(3)).toLowerCase()]
  }
  return []
}

/** Node joins entries with ', ' and JSON-quotes values that contain separators. */
function splitAltNames(text: string): string[] {
  const out: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\' && quoted) i++
    else if (c === '"') quoted = !quoted
    else if (c === ',' && !quoted) {
      out.push(text.slice(start, i).trim())
      start = i + 1
    }
  }
  if (start < text.length) out.push(text.slice(start).trim())
  return out
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value
  try {
    return String(JSON.parse(value))
  } catch {
    return value
  }
}
