// The cluster PKI of `weft server`, laid out as kubeadm's under DATA_DIR/pki: made on the
// first run, checked and reused on every later one (cheaply: node:crypto only, unless
// something must be issued).
import { X509Certificate as NodeCertificate } from 'node:crypto'
import { chmod } from 'node:fs/promises'
import { makePrivateDir, restrictFiles } from '../util/private-files.ts'
import { caCertHash, createCA, issueCertificate, type CertAndKey } from './certificates.ts'
import { createFile, CERT_MODE, KEY_MODE, readOptional, readRequired, replaceFile } from './files.ts'
import { generateKeyPair, publicKeyPemOf, readPrivateKey, readPublicKey, spkiDer } from './keys.ts'
import {
  CA_COMMON_NAME,
  CA_NAME,
  CA_VALIDITY_DAYS,
  LEAF_VALIDITY_DAYS,
  LEAVES,
  MESH_CA_COMMON_NAME,
  MESH_CA_NAME,
  leafProfile,
  pairPaths,
  pkiDir,
  serviceAccountPaths,
  type LeafName,
  type LeafProfile,
  type UserPkiFiles,
} from './layout.ts'
import { checkDnsName, checkIpAddress, isIpAddress } from './names.ts'
import { checkBothOrKey, checkPair, checkSignedBy, reissue, type CheckedPair } from './pair.ts'
import { decodePemBlocks, encodePem } from './pem.ts'
import type { AltNames } from './san.ts'

export interface ClusterPkiOptions {
  /** IP addresses or DNS names the API server listens on or is reached at (unspecified addresses are skipped). */
  listenHosts: string[]
  /** The first service IP (the `kubernetes` Service's ClusterIP). */
  serviceIP: string
  clusterDomain: string
  now?: Date
  userFiles?: UserPkiFiles
}

export interface ServiceAccountKeys {
  /** RSA-2048 (RS256), as kubeadm's sa.key. */
  privateKeyPem: string
  publicKeyPem: string
}

export interface ClusterPki {
  /** DATA_DIR/pki, where the files are. */
  dir: string
  ca: CertAndKey
  /** The mesh CA (mesh-ca.crt): signs workload identities for the weft.dev/mesh signer, nothing else. */
  meshCa: CertAndKey
  /** ca.crt, then the certificates of userFiles.clientCaFile: the CAs trusted for client certificates. */
  clientCaBundlePem: string
  serving: CertAndKey
  kubeletClient: CertAndKey
  admin: CertAndKey
  serviceAccount: ServiceAccountKeys
  /** kubeadm's `--discovery-token-ca-cert-hash` of ca.crt. */
  caHash: string
  /** What this call created or renewed, one line each (nothing secret). */
  changes: string[]
}

const DAY_MS = 86_400_000
/** A weft-issued leaf this close to expiry is renewed on start (k3s renews within 90 days). */
const RENEW_WITHIN_DAYS = 90

interface LoadedCA extends CertAndKey {
  cert: NodeCertificate
  path: string
}

function hostsOf(opts: ClusterPkiOptions): AltNames {
  if (!Array.isArray(opts.listenHosts)) throw new Error('listenHosts must be a list of IP addresses or DNS names')
  const domain = checkDnsName(opts.clusterDomain)
  const dnsNames = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${domain}`, 'localhost']
  const ipAddresses = ['127.0.0.1', checkIpAddress(opts.serviceIP)]
  for (const raw of opts.listenHosts) {
    const host = typeof raw === 'string' && raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw
    if (typeof host === 'string' && isIpAddress(host)) {
      const ip = checkIpAddress(host)
      if (ip !== '0.0.0.0' && ip !== '::') ipAddresses.push(ip)
    } else {
      dnsNames.push(checkDnsName(host))
    }
  }
  return { dnsNames: [...new Set(dnsNames)], ipAddresses: [...new Set(ipAddresses)], emailAddresses: [], uris: [] }
}

async function ensureCA(dataDir: string, now: Date, changes: string[], name = CA_NAME, commonName = CA_COMMON_NAME): Promise<LoadedCA> {
  const paths = pairPaths(dataDir, name)
  let certPem = await readOptional(paths.cert)
  let keyPem = await readOptional(paths.key)
  if (certPem !== undefined && keyPem === undefined) {
    throw new Error(`${paths.cert} exists without ${paths.key}: weft needs the CA key to issue certificates; put the key beside it, or remove ${paths.cert} to start a new CA`)
  }
  if (certPem === undefined && keyPem !== undefined) {
    throw new Error(`${paths.key} exists without ${paths.cert}: put the CA certificate back, or remove ${paths.key} to start a new CA`)
  }
  if (certPem === undefined || keyPem === undefined) {
    const ca = await createCA(commonName, CA_VALIDITY_DAYS, now)
    await createFile(paths.key, ca.keyPem, KEY_MODE)
    await createFile(paths.cert, ca.certPem, CERT_MODE)
    changes.push(`created ${name} (${paths.cert})`)
    certPem = ca.certPem
    keyPem = ca.keyPem
  }
  const pair = checkPair(certPem, keyPem, paths)
  if (!pair.cert.ca) throw new Error(`${paths.cert} is not a CA certificate (basicConstraints CA:true is missing)`)
  if (pair.cert.validToDate.getTime() <= now.getTime()) {
    throw new Error(`${paths.cert} expired on ${pair.cert.validToDate.toISOString()}: weft does not renew a CA (nor does kubeadm); replace ${name}.crt and ${name}.key, then every certificate it signed`)
  }
  return { certPem, keyPem, cert: pair.cert, path: paths.cert }
}

async function ensureServiceAccount(dataDir: string, changes: string[]): Promise<ServiceAccountKeys> {
  const paths = serviceAccountPaths(dataDir)
  const keyPem = await readOptional(paths.key)
  const pubPem = await readOptional(paths.pub)
  if (keyPem === undefined) {
    if (pubPem !== undefined) {
      throw new Error(`${paths.pub} exists without ${paths.key}: put the key back, or remove ${paths.pub} to have weft make a new pair (tokens signed with the old key stop verifying)`)
    }
    const pair = await generateKeyPair('rsa-2048')
    await createFile(paths.key, pair.privateKeyPem, KEY_MODE)
    await createFile(paths.pub, pair.publicKeyPem, CERT_MODE)
    changes.push(`created service-account key pair (${paths.key})`)
    return pair
  }
  const key = readPrivateKey(keyPem, paths.key)
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new Error(`${paths.key} must be an RSA key of at least 2048 bits: service-account tokens are signed with RS256`)
  }
  const derived = publicKeyPemOf(key)
  if (pubPem === undefined) {
    await createFile(paths.pub, derived, CERT_MODE)
    changes.push(`created ${paths.pub} from ${paths.key}`)
    return { privateKeyPem: keyPem, publicKeyPem: derived }
  }
  if (!spkiDer(readPublicKey(pubPem, paths.pub)).equals(spkiDer(key))) {
    throw new Error(`${paths.pub} is not the public key of ${paths.key}: remove ${paths.pub} to have weft derive it from the key again`)
  }
  return { privateKeyPem: keyPem, publicKeyPem: pubPem }
}

function missingNames(cert: NodeCertificate, wanted: AltNames): AltNames {
  return {
    dnsNames: wanted.dnsNames.filter((n) => cert.checkHost(n, { subject: 'never', wildcards: false }) === undefined),
    ipAddresses: wanted.ipAddresses.filter((ip) => cert.checkIP(ip) === undefined),
    emailAddresses: [],
    uris: [],
  }
}

async function ensureLeaf(dataDir: string, profile: LeafProfile, ca: LoadedCA, now: Date, changes: string[], wanted?: AltNames): Promise<CertAndKey> {
  const paths = pairPaths(dataDir, profile.name)
  const certPem = await readOptional(paths.cert)
  const keyPem = await readOptional(paths.key)
  checkBothOrKey(certPem, keyPem, paths)
  if (certPem === undefined || keyPem === undefined) {
    const publicKeyPem = keyPem === undefined ? undefined : publicKeyPemOf(readPrivateKey(keyPem, paths.key))
    const issued = await issueCertificate(ca, {
      commonName: profile.commonName,
      organizations: profile.organizations,
      dnsNames: wanted?.dnsNames,
      ipAddresses: wanted?.ipAddresses,
      usages: profile.usages,
      validityDays: LEAF_VALIDITY_DAYS,
      now,
      ...(publicKeyPem === undefined ? {} : { publicKeyPem }),
    })
    const newKey = issued.keyPem ?? keyPem!
    if (issued.keyPem !== undefined) await createFile(paths.key, issued.keyPem, KEY_MODE)
    await createFile(paths.cert, issued.certPem, CERT_MODE)
    changes.push(issued.keyPem !== undefined ? `created ${profile.name} (${paths.cert})` : `created ${paths.cert} for the existing key ${paths.key}`)
    return { certPem: issued.certPem, keyPem: newKey }
  }
  const pair: CheckedPair = checkPair(certPem, keyPem, paths)
  checkSignedBy(pair, paths, ca.cert, ca.path)
  const missing = wanted ? missingNames(pair.cert, wanted) : undefined
  const missingList = missing ? [...missing.dnsNames, ...missing.ipAddresses] : []
  const notAfter = pair.cert.validToDate.getTime()
  const expiring = notAfter - now.getTime() < RENEW_WITHIN_DAYS * DAY_MS && ca.cert.validToDate.getTime() > notAfter
  if (missingList.length === 0 && !expiring) return { certPem, keyPem }
  const renewed = await reissue(ca, pair, now, profile.usages, missing)
  await replaceFile(paths.cert, renewed, CERT_MODE)
  changes.push(
    missingList.length > 0
      ? `renewed ${profile.name} (${paths.cert}): added subject alternative names ${missingList.join(', ')}`
      : `renewed ${profile.name} (${paths.cert}): it expired or was to expire on ${new Date(notAfter).toISOString()}`,
  )
  return { certPem: renewed, keyPem }
}

async function userServingPair(files: UserPkiFiles, now: Date): Promise<CertAndKey> {
  const { tlsCertFile, tlsPrivateKeyFile } = files
  if (!tlsCertFile || !tlsPrivateKeyFile) throw new Error('the TLS certificate file and the TLS private key file go together: give both, or neither')
  const paths = { cert: tlsCertFile, key: tlsPrivateKeyFile }
  const pair = checkPair(await readRequired(tlsCertFile, 'the TLS certificate file'), await readRequired(tlsPrivateKeyFile, 'the TLS private key file'), paths)
  if (pair.cert.validToDate.getTime() <= now.getTime()) throw new Error(`${tlsCertFile} expired on ${pair.cert.validToDate.toISOString()}: renew it where it was issued`)
  return { certPem: pair.certPem, keyPem: pair.keyPem }
}

/** ca.crt followed by every CA certificate of `clientCaFile` (each checked). */
async function clientCaBundle(caPem: string, clientCaFile: string | undefined): Promise<string> {
  if (!clientCaFile) return caPem
  const blocks = decodePemBlocks(await readRequired(clientCaFile, 'the client CA file'), clientCaFile)
  if (blocks.length === 0) throw new Error(`${clientCaFile}: no certificate found`)
  let bundle = caPem
  blocks.forEach((block, i) => {
    if (block.label !== 'CERTIFICATE') throw new Error(`${clientCaFile}: block ${i + 1} is "${block.label}", expected "CERTIFICATE"`)
    let cert: NodeCertificate
    try {
      cert = new NodeCertificate(block.der)
    } catch {
      throw new Error(`${clientCaFile}: certificate ${i + 1} is not a readable X.509 certificate`)
    }
    if (!cert.ca) throw new Error(`${clientCaFile}: certificate ${i + 1} (${cert.subject.replace(/\n/g, ', ')}) is not a CA certificate`)
    bundle += encodePem('CERTIFICATE', block.der)
  })
  return bundle
}

/** Promise.all, but when several fail the error is the first one's in list order (not the quickest). */
async function allInOrder<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises)
  for (const r of settled) if (r.status === 'rejected') throw r.reason
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T
}

function profile(name: LeafName): LeafProfile {
  return leafProfile(name)!
}

/**
 * Makes or reuses the cluster PKI under `dataDir/pki`. Existing files are checked (each
 * certificate matches its key and chains to ca.crt), never overwritten; a weft-issued
 * leaf is renewed with its key when it lacks a needed SAN or nears expiry.
 */
export async function ensureClusterPki(dataDir: string, opts: ClusterPkiOptions): Promise<ClusterPki> {
  const now = opts.now ?? new Date()
  const servingNames = hostsOf(opts)
  const user = opts.userFiles ?? {}
  const dir = pkiDir(dataDir)
  makePrivateDir(dir)
  await chmod(dir, 0o700)
  restrictFiles(...[CA_NAME, MESH_CA_NAME, ...LEAVES.map((l) => l.name)].map((n) => pairPaths(dataDir, n).key), serviceAccountPaths(dataDir).key)

  // Independent parts run together (RSA key generation is the slow one); changes keep a fixed order.
  const log: string[][] = [[], [], [], [], [], []]
  const [ca, serviceAccount, meshCa] = await allInOrder([ensureCA(dataDir, now, log[0]!), ensureServiceAccount(dataDir, log[1]!), ensureCA(dataDir, now, log[5]!, MESH_CA_NAME, MESH_CA_COMMON_NAME)])
  const [serving, kubeletClient, admin] = await allInOrder([
    user.tlsCertFile || user.tlsPrivateKeyFile ? userServingPair(user, now) : ensureLeaf(dataDir, profile('apiserver'), ca, now, log[2]!, servingNames),
    ensureLeaf(dataDir, profile('apiserver-kubelet-client'), ca, now, log[3]!),
    ensureLeaf(dataDir, profile('admin'), ca, now, log[4]!),
  ])
  return {
    dir,
    ca: { certPem: ca.certPem, keyPem: ca.keyPem },
    meshCa: { certPem: meshCa.certPem, keyPem: meshCa.keyPem },
    clientCaBundlePem: await clientCaBundle(ca.certPem, user.clientCaFile),
    serving,
    kubeletClient,
    admin,
    serviceAccount,
    caHash: caCertHash(ca.certPem),
    changes: log.flat(),
  }
}
