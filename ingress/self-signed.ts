import type * as X509 from '@peculiar/x509'

export interface KeyAndCert {
  cert: string
  key: string
}

export interface Validity {
  notBefore?: Date
  notAfter?: Date
}

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }

let loaded: Promise<typeof X509> | undefined

/**
 * @peculiar/x509 depends on tsyringe, which needs a Reflect metadata polyfill loaded first.
 * Both load on first use: x509 takes about half a second to load, which a process that never
 * makes a certificate should not pay.
 */
function loadX509(): Promise<typeof X509> {
  loaded ??= import('reflect-metadata').then(() => import('@peculiar/x509'))
  return loaded
}

/**
 * A self-signed certificate and key (PEM) for these DNS names ('*.' wildcards allowed):
 * ECDSA P-256 with SHA-256, a server-auth leaf (not a CA), CN = the first name, valid from
 * an hour ago for `days` days. `validity` overrides either bound (tests make expired ones).
 */
export async function selfSigned(names: string[], days = 365, validity: Validity = {}): Promise<KeyAndCert> {
  if (names.length === 0) throw new Error('selfSigned: at least one DNS name is required')
  const x509 = await loadX509()
  const now = Date.now()
  const notBefore = validity.notBefore ?? new Date(now - HOUR_MS)
  const notAfter = validity.notAfter ?? new Date(now + days * DAY_MS)
  const keys = await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [names[0]!] }],
    notBefore,
    notAfter,
    signingAlgorithm: ECDSA_P256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey)
  return {
    cert: cert.toString('pem') + '\n',
    key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n',
  }
}
