// A certificate and its key on disk, checked before anything relies on them.
import type { X509Certificate as NodeCertificate } from 'node:crypto'
import { certificateInfo, issueCertificate, readCertificate, type CertAndKey, type CertUsage } from './certificates.ts'
import { publicKeyPemOf, readPrivateKey } from './keys.ts'
import { LEAF_VALIDITY_DAYS, type PairPaths } from './layout.ts'
import { emptyAltNames, type AltNames } from './san.ts'

export interface CheckedPair {
  certPem: string
  keyPem: string
  cert: NodeCertificate
}

export function checkPair(certPem: string, keyPem: string, paths: PairPaths): CheckedPair {
  const cert = readCertificate(certPem, paths.cert)
  const key = readPrivateKey(keyPem, paths.key)
  if (!cert.checkPrivateKey(key)) {
    throw new Error(`${paths.cert} does not match its key ${paths.key}: put back the matching pair, or remove both files to have weft issue a new one`)
  }
  return { certPem, keyPem, cert }
}

/** `pair` was signed by the CA `ca` (read from `caPath`). */
export function checkSignedBy(pair: CheckedPair, paths: PairPaths, ca: NodeCertificate, caPath: string): void {
  if (!pair.cert.checkIssued(ca) || !pair.cert.verify(ca.publicKey)) {
    throw new Error(`${paths.cert} is not signed by ${caPath}: put back the certificate weft issued, or remove ${paths.cert} and ${paths.key} to have weft issue a new pair`)
  }
}

/** Both files or neither: a lone certificate is refused (weft never replaces it); a lone key is certified again. */
export function checkBothOrKey(certPem: string | undefined, keyPem: string | undefined, paths: PairPaths): void {
  if (certPem !== undefined && keyPem === undefined) {
    throw new Error(`${paths.cert} exists but its key ${paths.key} does not: put the key back, or remove ${paths.cert} to have weft issue a new pair`)
  }
}

/**
 * A new certificate for the same key, subject, SANs (plus `extra`) and usages, signed by
 * `ca` from `now` on (kubeadm's renewal keeps the key too).
 */
export async function reissue(ca: CertAndKey, pair: CheckedPair, now: Date, fallbackUsages: CertUsage[], extra: AltNames = emptyAltNames()): Promise<string> {
  const info = await certificateInfo(pair.certPem)
  const union = (a: string[], b: string[]) => [...new Set([...a, ...b])]
  const issued = await issueCertificate(ca, {
    commonName: info.subject.commonName,
    organizations: info.subject.organizations,
    dnsNames: union(info.dnsNames, extra.dnsNames),
    ipAddresses: union(info.ipAddresses, extra.ipAddresses),
    emailAddresses: union(info.emailAddresses, extra.emailAddresses),
    uris: union(info.uris, extra.uris),
    usages: info.usages.length > 0 ? info.usages : fallbackUsages,
    validityDays: LEAF_VALIDITY_DAYS,
    publicKeyPem: publicKeyPemOf(readPrivateKey(pair.keyPem, 'key')),
    now,
  })
  return issued.certPem
}
