// Certificates of the cluster PKI, as kubeadm makes them: an ECDSA P-256 CA, leaf
// certificates signed by it, their facts read back, and kubeadm's CA pin.
import { createHash, randomBytes, X509Certificate as NodeCertificate } from 'node:crypto'
import type { Extension, X509Certificate } from '@peculiar/x509'
import { rawSubjectPublicKeyInfo } from './der.ts'
import { generateKeyPair, publicKeyAlgorithm, readPrivateKey, readPublicKey, signingKey, spkiDer, type PublicKeyAlgorithm } from './keys.ts'
import { checkDnsName, checkEmail, checkIpAddress, checkList, checkSubjectValue, checkUri } from './names.ts'
import { decodePemBlocks } from './pem.ts'
import { altNamesCount, altNamesOf, sanExtension, type AltNames } from './san.ts'
import { loadX509, type X509Lib } from './x509-lib.ts'

export interface CertAndKey {
  certPem: string
  keyPem: string
}

export type CertUsage = 'server' | 'client'

export interface CertificateSpec {
  commonName: string
  organizations?: string[]
  dnsNames?: string[]
  ipAddresses?: string[]
  emailAddresses?: string[]
  uris?: string[]
  usages: CertUsage[]
  /** Default 365; never past the CA's own notAfter. */
  validityDays?: number
  /** Certify this key (SPKI PEM) instead of generating one. */
  publicKeyPem?: string
  /** The issuing time (tests; renewals at a chosen moment). Default: now. */
  now?: Date
}

export interface IssuedCertificate {
  certPem: string
  /** PKCS#8 PEM; only when the key was generated here. */
  keyPem?: string
}

export interface CertificateInfo {
  subject: { commonName: string; organizations: string[] }
  issuer: { commonName: string }
  notBefore: Date
  notAfter: Date
  dnsNames: string[]
  ipAddresses: string[]
  emailAddresses: string[]
  uris: string[]
  usages: CertUsage[]
  isCA: boolean
  serialHex: string
  publicKeyAlgorithm: PublicKeyAlgorithm
}

const DAY_MS = 86_400_000
/** Tolerated clock skew between the issuer and whoever checks the certificate (k3s does the same). */
const BACKDATE_MS = 5 * 60_000
const MAX_VALIDITY_DAYS = 36_500
const OID_CN = '2.5.4.3'
const OID_O = '2.5.4.10'
const EKU: Record<CertUsage, string> = { server: '1.3.6.1.5.5.7.3.1', client: '1.3.6.1.5.5.7.3.2' }

export function checkValidityDays(days: unknown, field: string): number {
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new Error(`${field} must be a whole number of days from 1 to ${MAX_VALIDITY_DAYS}, not ${JSON.stringify(days)}`)
  }
  return days
}

export function checkUsages(usages: unknown): CertUsage[] {
  if (!Array.isArray(usages) || usages.length === 0) throw new Error('usages must list at least one of server, client')
  for (const u of usages) if (u !== 'server' && u !== 'client') throw new Error(`usage ${JSON.stringify(u)} is not server or client`)
  return [...new Set(usages as CertUsage[])]
}

function serialHex(): string {
  const bytes = randomBytes(16)
  bytes[0]! &= 0x7f
  bytes[0]! |= 0x01
  return bytes.toString('hex')
}

/** Go's pkix.Name order: O before CN; several organizations share one RDN. */
function subjectName(commonName: string, organizations: string[]): { [type: string]: string[] }[] {
  return organizations.length > 0 ? [{ O: organizations }, { CN: [commonName] }] : [{ CN: [commonName] }]
}

/** The first certificate of a PEM text, for node:crypto's cheap checks. */
export function readCertificate(pem: string, what: string): NodeCertificate {
  const block = decodePemBlocks(pem, what).find(() => true)
  if (!block) throw new Error(`${what}: no PEM block found (expected "CERTIFICATE")`)
  if (block.label !== 'CERTIFICATE') throw new Error(`${what}: PEM label is "${block.label}", expected "CERTIFICATE"`)
  try {
    return new NodeCertificate(block.der)
  } catch {
    throw new Error(`${what}: not a readable X.509 certificate`)
  }
}

/** A copy in a plain ArrayBuffer, the type @peculiar/x509 takes. */
export function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer
}

function parseCertificate(x509: X509Lib, node: NodeCertificate, what: string): X509Certificate {
  try {
    return new x509.X509Certificate(arrayBuffer(node.raw))
  } catch {
    throw new Error(`${what}: not a readable X.509 certificate`)
  }
}

interface LoadedCA {
  cert: X509Certificate
  node: NodeCertificate
  signing: ReturnType<typeof signingKey>
  keyId: string
}

async function loadCA(x509: X509Lib, ca: CertAndKey): Promise<LoadedCA> {
  const node = readCertificate(ca.certPem, 'CA certificate')
  const key = readPrivateKey(ca.keyPem, 'CA key')
  if (!node.ca) throw new Error('CA certificate: it is not a CA (basicConstraints CA:true is missing)')
  if (!node.checkPrivateKey(key)) throw new Error('CA key: it does not match the CA certificate')
  const cert = parseCertificate(x509, node, 'CA certificate')
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)
  const keyId = ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey)).keyId
  return { cert, node, signing: signingKey(key, 'CA key'), keyId }
}

/** A self-signed CA (ECDSA P-256): basicConstraints CA:true (critical), keyCertSign|cRLSign|digitalSignature, SKI. */
export async function createCA(commonName: string, validityDays = 3650, now: Date = new Date()): Promise<CertAndKey> {
  checkSubjectValue(commonName, 'CA commonName')
  checkValidityDays(validityDays, 'validityDays')
  const x509 = await loadX509()
  const pair = await generateKeyPair('ecdsa-p256')
  const key = readPrivateKey(pair.privateKeyPem, 'CA key')
  const spki = spkiDer(key)
  const flags = x509.KeyUsageFlags
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex(),
    subject: subjectName(commonName, []),
    issuer: subjectName(commonName, []),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
    publicKey: arrayBuffer(spki),
    signingKey: signingKey(key, 'CA key').key,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.KeyUsagesExtension(flags.digitalSignature | flags.keyCertSign | flags.cRLSign, true),
      new x509.BasicConstraintsExtension(true, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(new x509.PublicKey(arrayBuffer(spki))),
    ],
  })
  return { certPem: cert.toString('pem') + '\n', keyPem: pair.privateKeyPem }
}

export interface LeafRequest {
  commonName: string
  organizations: string[]
  altNames: AltNames
  usages: CertUsage[]
  validityDays: number
  publicKeySpki: Buffer
  rsa: boolean
  now: Date
}

/** Signs a leaf certificate for checked values; issueCertificate and signCertificateRequest check them. */
export async function signLeaf(x509: X509Lib, ca: CertAndKey, req: LeafRequest): Promise<string> {
  const loaded = await loadCA(x509, ca)
  const caNotAfter = loaded.cert.notAfter
  if (caNotAfter.getTime() <= req.now.getTime()) throw new Error(`CA certificate expired on ${caNotAfter.toISOString()}: no certificate can be issued from it`)
  const wanted = req.now.getTime() + req.validityDays * DAY_MS
  const flags = x509.KeyUsageFlags
  const extensions: Extension[] = [
    new x509.KeyUsagesExtension(req.rsa ? flags.digitalSignature | flags.keyEncipherment : flags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(req.usages.map((u) => EKU[u])),
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.AuthorityKeyIdentifierExtension(loaded.keyId),
  ]
  if (altNamesCount(req.altNames) > 0) extensions.push(sanExtension(x509, req.altNames))
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex(),
    subject: subjectName(req.commonName, req.organizations),
    issuer: loaded.cert.subjectName,
    notBefore: new Date(req.now.getTime() - BACKDATE_MS),
    notAfter: new Date(Math.min(wanted, caNotAfter.getTime())),
    publicKey: arrayBuffer(req.publicKeySpki),
    signingKey: loaded.signing.key,
    signingAlgorithm: loaded.signing.algorithm,
    extensions,
  })
  return cert.toString('pem') + '\n'
}

/** A leaf certificate signed by `ca`, for a new ECDSA P-256 key unless `spec.publicKeyPem` names one. */
export async function issueCertificate(ca: CertAndKey, spec: CertificateSpec): Promise<IssuedCertificate> {
  const commonName = checkSubjectValue(spec.commonName, 'commonName')
  const organizations = checkList(spec.organizations, (v) => checkSubjectValue(v, 'organization'), 'organizations')
  const altNames: AltNames = {
    dnsNames: checkList(spec.dnsNames, checkDnsName, 'dnsNames'),
    ipAddresses: checkList(spec.ipAddresses, checkIpAddress, 'ipAddresses'),
    emailAddresses: checkList(spec.emailAddresses, checkEmail, 'emailAddresses'),
    uris: checkList(spec.uris, checkUri, 'uris'),
  }
  const usages = checkUsages(spec.usages)
  const validityDays = checkValidityDays(spec.validityDays ?? 365, 'validityDays')
  const x509 = await loadX509()
  let keyPem: string | undefined
  let publicKey
  if (spec.publicKeyPem === undefined) {
    keyPem = (await generateKeyPair('ecdsa-p256')).privateKeyPem
    publicKey = readPrivateKey(keyPem, 'generated key')
  } else {
    publicKey = readPublicKey(spec.publicKeyPem, 'publicKeyPem')
  }
  const rsa = publicKeyAlgorithm(publicKey, 'publicKeyPem') === 'RSA'
  const certPem = await signLeaf(x509, ca, {
    commonName,
    organizations,
    altNames,
    usages,
    validityDays,
    publicKeySpki: spkiDer(publicKey),
    rsa,
    now: spec.now ?? new Date(),
  })
  return keyPem === undefined ? { certPem } : { certPem, keyPem }
}

/** The facts of a certificate (the first one in `pem`). */
export async function certificateInfo(pem: string): Promise<CertificateInfo> {
  const x509 = await loadX509()
  const first = readCertificate(pem, 'certificate')
  const cert = parseCertificate(x509, first, 'certificate')
  const names = altNamesOf(x509, cert, false, 'certificate')
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)
  const ekus = eku ? eku.usages.map(String) : []
  const usages = (Object.keys(EKU) as CertUsage[]).filter((u) => ekus.includes(EKU[u]))
  return {
    subject: { commonName: cert.subjectName.getField(OID_CN)[0] ?? '', organizations: cert.subjectName.getField(OID_O) },
    issuer: { commonName: cert.issuerName.getField(OID_CN)[0] ?? '' },
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    emailAddresses: names.emailAddresses,
    uris: names.uris,
    usages,
    isCA: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    // Node gives the DER bytes' hex (a leading 00 or 0 kept); the number is what identifies it.
    serialHex: cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    publicKeyAlgorithm: publicKeyAlgorithm(first.publicKey, 'certificate'),
  }
}

/** kubeadm's `--discovery-token-ca-cert-hash`: `sha256:` + hex SHA-256 of the certificate's raw SubjectPublicKeyInfo. */
export function caCertHash(caPem: string): string {
  const cert = readCertificate(caPem, 'CA certificate')
  return 'sha256:' + createHash('sha256').update(rawSubjectPublicKeyInfo(cert.raw)).digest('hex')
}

/** Whether `keyPem` is the private key of the certificate `certPem` (its first certificate). */
export function certificateMatchesKey(certPem: string, keyPem: string): boolean {
  return readCertificate(certPem, 'certificate').checkPrivateKey(readPrivateKey(keyPem, 'key'))
}
