import { X509Certificate, createPrivateKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { V1Secret } from '@kubernetes/client-node'

export interface ParsedCertificate {
  /** tls.crt as PEM: the leaf first, then any intermediates. */
  cert: string
  key: string
  /** The leaf's SAN DNS names (lower-case, '*.' wildcards kept), else its CN. */
  names: string[]
  notBefore: Date
  notAfter: Date
  /** SHA-256 of the leaf certificate, colon-separated hex as openssl prints it. */
  fingerprint: string
}

export type TlsSecretErrorCode =
  | 'WrongType'
  | 'MissingKey'
  | 'BadCertificate'
  | 'BadKey'
  | 'KeyMismatch'
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

export function secretKey(secret: V1Secret): string {
  return `${secret.metadata?.namespace ?? ''}/${secret.metadata?.name ?? ''}`
}

/**
 * Validates a `kubernetes.io/tls` Secret: tls.crt holds PEM certificates (leaf first), tls.key
 * a PEM private key that belongs to the leaf, and the leaf has not expired at `now`.
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
  const chain = blocks.map((block, i) => {
    try {
      return new X509Certificate(block)
    } catch (err) {
      return fail('BadCertificate', `tls.crt certificate #${i + 1} does not parse: ${(err as Error).message}`)
    }
  })
  const leaf = chain[0]!

  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) fail('BadKey', 'tls.key holds no PEM private key')
  let privateKey: KeyObject | undefined
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    fail('BadKey', `tls.key does not parse (encrypted keys are not supported): ${(err as Error).message}`)
  }
  if (!leaf.checkPrivateKey(privateKey!)) {
    fail('KeyMismatch', `tls.key does not belong to the certificate in tls.crt (${describeLeaf(leaf)})`)
  }
  if (leaf.validToDate.getTime() < now.getTime()) {
    fail('Expired', `the certificate expired on ${leaf.validToDate.toISOString()} (${describeLeaf(leaf)}); renew it`)
  }
  return {
    cert: blocks.join('\n') + '\n',
    key,
    names: certificateNames(leaf),
    notBefore: leaf.validFromDate,
    notAfter: leaf.validToDate,
    fingerprint: leaf.fingerprint256,
  }
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
