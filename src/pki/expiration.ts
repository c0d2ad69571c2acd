// `kubeadm certs check-expiration` and `kubeadm certs renew` for weft's PKI.
import { readCertificate } from './certificates.ts'
import { CERT_MODE, readOptional, readRequired, replaceFile } from './files.ts'
import { CA_NAME, LEAVES, MESH_CA_NAME, leafProfile, pairPaths, type LeafName, type UserPkiFiles } from './layout.ts'
import { checkPair, checkSignedBy, reissue } from './pair.ts'
import { decodePemBlocks } from './pem.ts'
import { X509Certificate as NodeCertificate } from 'node:crypto'

export interface ExpirationRow {
  name: string
  /** Unset when the file is missing. */
  expires?: Date
  /** Whole days left (negative once expired); unset when the file is missing. */
  residualDays?: number
  /** The signing CA's name (`ca`); empty for CAs and for certificates weft did not issue. */
  authority: string
  externallyManaged: boolean
  isAuthority: boolean
  missing: boolean
}

const DAY_MS = 86_400_000

function row(name: string, expires: Date | undefined, now: Date, fields: Pick<ExpirationRow, 'authority' | 'externallyManaged' | 'isAuthority'>): ExpirationRow {
  if (!expires) return { name, ...fields, missing: true }
  return { name, expires, residualDays: Math.floor((expires.getTime() - now.getTime()) / DAY_MS), ...fields, missing: false }
}

async function notAfterOf(path: string): Promise<Date | undefined> {
  const pem = await readOptional(path)
  return pem === undefined ? undefined : readCertificate(pem, path).validToDate
}

/** The earliest notAfter among the certificates of a bundle. */
async function bundleNotAfter(path: string): Promise<Date> {
  const blocks = decodePemBlocks(await readRequired(path, 'the client CA file'), path).filter((b) => b.label === 'CERTIFICATE')
  if (blocks.length === 0) throw new Error(`${path}: no certificate found`)
  return new Date(Math.min(...blocks.map((b) => new NodeCertificate(b.der).validToDate.getTime())))
}

/** One row per leaf certificate (kubeadm's order), then the CAs (isAuthority). */
export async function checkExpiration(dataDir: string, now: Date = new Date(), userFiles: UserPkiFiles = {}): Promise<ExpirationRow[]> {
  const rows: ExpirationRow[] = []
  for (const leaf of LEAVES) {
    if (leaf.name === 'apiserver' && userFiles.tlsCertFile) {
      rows.push(row(leaf.name, await notAfterOf(userFiles.tlsCertFile), now, { authority: '', externallyManaged: true, isAuthority: false }))
    } else {
      rows.push(row(leaf.name, await notAfterOf(pairPaths(dataDir, leaf.name).cert), now, { authority: CA_NAME, externallyManaged: false, isAuthority: false }))
    }
  }
  rows.push(row(CA_NAME, await notAfterOf(pairPaths(dataDir, CA_NAME).cert), now, { authority: '', externallyManaged: false, isAuthority: true }))
  rows.push(row(MESH_CA_NAME, await notAfterOf(pairPaths(dataDir, MESH_CA_NAME).cert), now, { authority: '', externallyManaged: false, isAuthority: true }))
  if (userFiles.clientCaFile) {
    rows.push(row('client-ca', await bundleNotAfter(userFiles.clientCaFile), now, { authority: '', externallyManaged: true, isAuthority: true }))
  }
  return rows
}

export const RENEWABLE: readonly LeafName[] = LEAVES.map((l) => l.name)

/**
 * Re-issues the named leaf certificates (or all) from ca.crt: same key, subject, SANs and
 * usages; new serial and validity from `now`. Every certificate is checked and made before
 * any file is written. Returns one line per certificate.
 */
export async function renewCertificates(dataDir: string, names: readonly string[] | 'all', now: Date = new Date(), userFiles: UserPkiFiles = {}): Promise<string[]> {
  const all = names === 'all'
  const wanted = all ? RENEWABLE : [...new Set(names)]
  if (wanted.length === 0) throw new Error(`name the certificates to renew (${RENEWABLE.join(', ')}) or all`)
  for (const name of wanted) {
    if (name === CA_NAME) throw new Error('the cluster CA cannot be renewed (nor can kubeadm renew it): it would invalidate every certificate it signed')
    if (!leafProfile(name)) throw new Error(`unknown certificate "${name}": choose from ${RENEWABLE.join(', ')}, or all`)
  }
  const caPaths = pairPaths(dataDir, CA_NAME)
  const caPair = checkPair(await readRequired(caPaths.cert, 'the cluster CA certificate'), await readRequired(caPaths.key, 'the cluster CA key'), caPaths)
  const ca = { certPem: caPair.certPem, keyPem: caPair.keyPem }

  const lines: string[] = []
  const writes: { path: string; pem: string }[] = []
  for (const name of wanted) {
    const profile = leafProfile(name)!
    if (name === 'apiserver' && userFiles.tlsCertFile) {
      if (!all) throw new Error(`apiserver is externally managed (${userFiles.tlsCertFile}): renew it where it was issued`)
      lines.push(`${name}: externally managed (${userFiles.tlsCertFile}); skipped`)
      continue
    }
    const paths = pairPaths(dataDir, name)
    const pair = checkPair(
      await readRequired(paths.cert, `the ${profile.purpose}`),
      await readRequired(paths.key, `the key of the ${profile.purpose}`),
      paths,
    )
    checkSignedBy(pair, paths, caPair.cert, caPaths.cert)
    writes.push({ path: paths.cert, pem: await reissue(ca, pair, now, profile.usages) })
    lines.push(`${name}: ${profile.purpose} renewed`)
  }
  for (const w of writes) await replaceFile(w.path, w.pem, CERT_MODE)
  return lines
}
