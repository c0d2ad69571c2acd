// PKCS#10 certificate requests: made by a joining node agent, read (as hostile input) and
// signed by the server.
import { createPublicKey } from 'node:crypto'
import type { Pkcs10CertificateRequest } from '@peculiar/x509'
import { arrayBuffer, checkUsages, checkValidityDays, signLeaf, type CertAndKey, type CertUsage } from './certificates.ts'
import { publicKeyAlgorithm, readPrivateKey, signingKey, type PublicKeyAlgorithm } from './keys.ts'
import { checkDnsName, checkIpAddress, checkList, checkSubjectValue, checkUri } from './names.ts'
import { decodePem, encodePem } from './pem.ts'
import { altNamesOf, sanExtension } from './san.ts'
import { loadX509 } from './x509-lib.ts'

export interface CertificateRequestInfo {
  commonName: string
  organizations: string[]
  dnsNames: string[]
  ipAddresses: string[]
  emailAddresses: string[]
  uris: string[]
  publicKeyPem: string
  publicKeyAlgorithm: PublicKeyAlgorithm
}

export interface CertificateRequestSpec {
  commonName: string
  organizations: string[]
  dnsNames?: string[]
  ipAddresses?: string[]
  uris?: string[]
}

export interface SignRequestOptions {
  usages: CertUsage[]
  /** Whole days, or `validitySeconds` for a CSR's expirationSeconds (at least 600). */
  validityDays?: number
  validitySeconds?: number
  now?: Date
}

const WHAT = 'certificate request'
const OID_CN = '2.5.4.3'
const OID_O = '2.5.4.10'
/** A CSR with a few names is under 2 KiB; this leaves room and refuses floods. */
const MAX_CSR_CHARS = 64 * 1024
const WEAK_HASHES = new Set(['SHA-1', 'MD5', 'MD2'])

function hashName(alg: { hash?: unknown }): string | undefined {
  const hash = alg.hash
  if (typeof hash === 'string') return hash
  if (hash && typeof hash === 'object' && typeof (hash as { name?: unknown }).name === 'string') return (hash as { name: string }).name
  return undefined
}

async function verifySignature(csr: Pkcs10CertificateRequest): Promise<void> {
  let ok = false
  try {
    const hash = hashName(csr.signatureAlgorithm)
    if (hash && WEAK_HASHES.has(hash.toUpperCase())) throw new Error(`${WHAT}: signed with ${hash}, which is too weak; use SHA-256 or better`)
    ok = await csr.verify()
  } catch (err) {
    if ((err as Error).message.startsWith(WHAT)) throw err
    throw new Error(`${WHAT}: its signature cannot be checked (unsupported signature algorithm or malformed signature)`)
  }
  if (!ok) throw new Error(`${WHAT}: its signature does not verify with its own public key (forged or corrupted)`)
}

/** Reads a CSR, verifying its self-signature; refuses anything weft would not sign. */
export async function parseCertificateRequest(pem: string): Promise<CertificateRequestInfo> {
  if (typeof pem === 'string' && pem.length > MAX_CSR_CHARS) throw new Error(`${WHAT}: larger than ${MAX_CSR_CHARS} characters; not a request weft signs`)
  const block = decodePem(pem, ['CERTIFICATE REQUEST'], WHAT)
  const x509 = await loadX509()
  let csr: Pkcs10CertificateRequest
  let spki: ArrayBuffer
  try {
    csr = new x509.Pkcs10CertificateRequest(arrayBuffer(block.der))
    spki = csr.publicKey.rawData
  } catch {
    throw new Error(`${WHAT}: not a readable PKCS#10 request`)
  }
  let publicKey
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
  } catch {
    throw new Error(`${WHAT}: its public key cannot be read (unsupported key type)`)
  }
  const algorithm = publicKeyAlgorithm(publicKey, WHAT)
  await verifySignature(csr)

  let cns: string[]
  let orgs: string[]
  try {
    cns = csr.subjectName.getField(OID_CN)
    orgs = csr.subjectName.getField(OID_O)
  } catch {
    throw new Error(`${WHAT}: its subject cannot be read`)
  }
  if (cns.length !== 1) throw new Error(`${WHAT}: the subject must have exactly one commonName, found ${cns.length}`)
  const commonName = checkSubjectValue(cns[0], `${WHAT}: commonName`)
  const organizations = checkList(orgs, (v) => checkSubjectValue(v, `${WHAT}: organization`), `${WHAT}: organizations`)
  const names = altNamesOf(x509, csr, true, WHAT)
  return {
    commonName,
    organizations,
    dnsNames: [...new Set(names.dnsNames)],
    ipAddresses: [...new Set(names.ipAddresses)],
    emailAddresses: [...new Set(names.emailAddresses)],
    uris: [...new Set(names.uris)],
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    publicKeyAlgorithm: algorithm,
  }
}

/** A CSR signed by `keyPem` (a node agent's request: to join, to serve, for a mesh identity). */
export async function createCertificateRequest(keyPem: string, spec: CertificateRequestSpec): Promise<string> {
  const commonName = checkSubjectValue(spec.commonName, 'commonName')
  const organizations = checkList(spec.organizations ?? [], (v) => checkSubjectValue(v, 'organization'), 'organizations')
  const dnsNames = checkList(spec.dnsNames, checkDnsName, 'dnsNames')
  const ipAddresses = checkList(spec.ipAddresses, checkIpAddress, 'ipAddresses')
  const uris = checkList(spec.uris, checkUri, 'uris')
  const signer = signingKey(readPrivateKey(keyPem, 'key'), 'key')
  const x509 = await loadX509()
  const extensions = dnsNames.length + ipAddresses.length + uris.length > 0 ? [sanExtension(x509, { dnsNames, ipAddresses, emailAddresses: [], uris })] : []
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: organizations.length > 0 ? [{ O: organizations }, { CN: [commonName] }] : [{ CN: [commonName] }],
    keys: { privateKey: signer.key, publicKey: signer.publicKey },
    signingAlgorithm: signer.algorithm,
    extensions,
  })
  return encodePem('CERTIFICATE REQUEST', new Uint8Array(csr.rawData))
}

function checkValiditySeconds(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 10 || seconds > 36_500 * 86_400) throw new Error(`validitySeconds must be a whole number of seconds from 10 to 100 years, not ${JSON.stringify(seconds)}`)
  return seconds / 86_400
}

/** A certificate for the CSR's key, subject (CN, O) and SANs, signed by `ca`. */
export async function signCertificateRequest(ca: CertAndKey, csrPem: string, options: SignRequestOptions): Promise<string> {
  const usages = checkUsages(options.usages)
  const validityDays = options.validitySeconds !== undefined ? checkValiditySeconds(options.validitySeconds) : checkValidityDays(options.validityDays, 'validityDays')
  const req = await parseCertificateRequest(csrPem)
  const publicKey = createPublicKey(req.publicKeyPem)
  return signLeaf(await loadX509(), ca, {
    commonName: req.commonName,
    organizations: req.organizations,
    altNames: { dnsNames: req.dnsNames, ipAddresses: req.ipAddresses, emailAddresses: req.emailAddresses, uris: req.uris },
    usages,
    validityDays,
    publicKeySpki: publicKey.export({ type: 'spki', format: 'der' }),
    rsa: req.publicKeyAlgorithm === 'RSA',
    now: options.now ?? new Date(),
  })
}
