// How a node agent gets and keeps its identity, as kubeadm join and the kubelet's TLS
// bootstrap do: trust the cluster CA only if it matches the pinned hash, authenticate once
// with a bootstrap token to send a CertificateSigningRequest for `system:node:<name>`,
// keep the signed certificate and its key (0600), and renew with the node's own identity
// before the certificate expires.
import { X509Certificate } from 'node:crypto'
import { validityOf } from './cert-rotation.ts'
import { connect as netConnect } from 'node:net'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls'
import { resources } from '../api/registry.ts'
import type { V1CertificateSigningRequest } from '@kubernetes/client-node'
import { RestClient, type ClientConfig, type Credentials, type ServerAddress } from '../client/index.ts'
import { caCertHash } from '../pki/certificates.ts'
import { createCertificateRequest } from '../pki/csr.ts'
import { generateKeyPair } from '../pki/keys.ts'

export const NODE_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet'

/** The files under the agent's data dir. */
export function nodePkiPaths(dataDir: string) {
  const dir = join(dataDir, 'pki')
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'kubelet-client.crt'),
    key: join(dir, 'kubelet-client.key'),
    servingCert: join(dir, 'kubelet-server.crt'),
    servingKey: join(dir, 'kubelet-server.key'),
  }
}

export type ApiEndpoint = { server: string } | { socketPath: string }

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`
}

/**
 * Connects without trusting anyone yet, and takes the CA from the chain the server shows
 * only if its public key matches `pin` (kubeadm's `sha256:<hex of the SPKI>`) and it
 * signed the server's certificate. Nothing is sent over this connection.
 */
export async function discoverPinnedCA(endpoint: ApiEndpoint, pin: string, timeoutMs = 10_000): Promise<string> {
  if (!/^sha256:[0-9a-f]{64}$/.test(pin)) throw new Error(`--ca-cert-hash "${pin}" must be sha256: and 64 hex digits (as \`weft token create\` prints it)`)
  const socket: TLSSocket = await new Promise((resolve, reject) => {
    const opts = { rejectUnauthorized: false, servername: 'kubernetes', timeout: timeoutMs }
    let s: TLSSocket
    if ('socketPath' in endpoint) {
      s = tlsConnect({ ...opts, socket: netConnect(endpoint.socketPath) })
    } else {
      const url = new URL(endpoint.server)
      if (url.protocol !== 'https:') throw new Error(`the server ${endpoint.server} must be an https:// URL to join it`)
      s = tlsConnect({ ...opts, host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443) })
    }
    s.once('secureConnect', () => resolve(s))
    s.once('error', reject)
    s.once('timeout', () => reject(new Error('timed out connecting to the API server')))
  })
  try {
    const leaf = socket.getPeerCertificate(true)
    if (!leaf?.raw) throw new Error('the API server showed no certificate')
    const server = new X509Certificate(leaf.raw)
    const seen = new Set<DetailedPeerCertificate>()
    for (let c: DetailedPeerCertificate | undefined = leaf; c?.raw && !seen.has(c); c = c.issuerCertificate) {
      seen.add(c)
      const pem = toPem(c.raw)
      if (caCertHash(pem) !== pin) continue
      const ca = new X509Certificate(c.raw)
      if (!ca.ca || !server.checkIssued(ca) || !server.verify(ca.publicKey)) throw new Error('the certificate matching --ca-cert-hash did not sign the API server\'s certificate')
      return pem
    }
    throw new Error(`no certificate the API server showed matches --ca-cert-hash ${pin}: check the hash (\`weft token create\` prints it) and that you reach the right server`)
  } finally {
    socket.destroy()
  }
}

/** The node's stored credentials, if it has a certificate that is still good for a while. */
export async function storedNodeCredentials(dataDir: string, now = Date.now()): Promise<(Credentials & { notAfter: number; notBefore: number }) | undefined> {
  const paths = nodePkiPaths(dataDir)
  const [caPem, certPem, keyPem] = await Promise.all([paths.ca, paths.cert, paths.key].map((p) => readFile(p, 'utf8').catch(() => undefined)))
  if (!caPem || !certPem || !keyPem) return undefined
  const { notBefore, notAfter } = validityOf(certPem)
  if (now >= notAfter) return undefined
  return { caPem, certPem, keyPem, notAfter, notBefore }
}

export async function writePrivate(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp`
  await writeFile(tmp, content, { mode: 0o600 })
  await rename(tmp, path)
}

const csrInfo = () => resources.find((r) => r.kind === 'CertificateSigningRequest')!

export interface NodeCertificateKind {
  signerName: string
  usages: string[]
  /** Where the key and the certificate are kept (0600). */
  keyPath: string
  certPath: string
  dnsNames?: string[]
  ipAddresses?: string[]
  /** metadata.generateName of the CSR. */
  namePrefix: string
}

export interface NodeCertificateRequest {
  nodeName: string
  dataDir: string
  signal?: AbortSignal
  timeoutMs?: number
  log?: (msg: string) => void
}

export interface CertificateExchange {
  signerName: string
  usages: string[]
  subject: { commonName: string; organizations: string[] }
  dnsNames?: string[]
  ipAddresses?: string[]
  uris?: string[]
  /** metadata.generateName of the CSR. */
  namePrefix: string
  /** spec.expirationSeconds; default: the signer's. */
  expirationSeconds?: number
  signal?: AbortSignal
  timeoutMs?: number
  log?: (msg: string) => void
}

/**
 * Sends a CSR (a new ECDSA P-256 key) through `client`, waits for it to be signed and returns
 * the certificate with its key. A Denied or Failed request, or none signed in time, throws.
 */
export async function exchangeCertificate(client: RestClient, x: CertificateExchange): Promise<{ certPem: string; keyPem: string }> {
  const key = await generateKeyPair('ecdsa-p256')
  const request = await createCertificateRequest(key.privateKeyPem, { ...x.subject, dnsNames: x.dnsNames, ipAddresses: x.ipAddresses, uris: x.uris })
  const info = csrInfo()
  const created = await client.create<V1CertificateSigningRequest>(info, {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { generateName: x.namePrefix },
    spec: { request: Buffer.from(request).toString('base64'), signerName: x.signerName, usages: x.usages, ...(x.expirationSeconds === undefined ? {} : { expirationSeconds: x.expirationSeconds }) },
  })
  const name = created.metadata?.name ?? ''
  x.log?.(`sent CertificateSigningRequest ${name} (${x.signerName}); waiting for it to be approved and signed`)
  // One request, waited on (the kubelet does the same): a new one per timeout would pile
  // pending requests up in front of whoever approves them by hand.
  const deadline = Date.now() + (x.timeoutMs ?? Infinity)
  let pause = 250
  let remindAt = Date.now() + 5 * 60_000
  for (;;) {
    x.signal?.throwIfAborted()
    const csr = await client.get<V1CertificateSigningRequest>(info, name)
    const refused = csr.status?.conditions?.find((c) => (c.type === 'Denied' || c.type === 'Failed') && c.status === 'True')
    if (refused) throw new Error(`CertificateSigningRequest ${name} was ${refused.type.toLowerCase()}: ${refused.message ?? ''}`)
    if (csr.status?.certificate) return { certPem: Buffer.from(csr.status.certificate, 'base64').toString('utf8'), keyPem: key.privateKeyPem }
    const waiting = `CertificateSigningRequest ${name} is not signed yet: approve it with \`kubectl certificate approve ${name}\``
    if (Date.now() > deadline) throw new Error(waiting)
    if (Date.now() > remindAt) {
      x.log?.(waiting)
      remindAt = Date.now() + 5 * 60_000
    }
    pause = Math.min(pause * 2, 10_000)
    await new Promise((r) => setTimeout(r, pause))
  }
}

/**
 * Sends a CSR for one of the node's certificates (CN system:node:<name>, O system:nodes)
 * through `client` (authenticated as a bootstrapper or as the node), waits for it to be
 * signed and keeps key and certificate (0600).
 */
export async function requestCertificate(client: RestClient, kind: NodeCertificateKind, opts: NodeCertificateRequest): Promise<{ certPem: string; keyPem: string }> {
  await mkdir(nodePkiPaths(opts.dataDir).dir, { recursive: true, mode: 0o700 })
  const pair = await exchangeCertificate(client, {
    signerName: kind.signerName,
    usages: kind.usages,
    subject: { commonName: `system:node:${opts.nodeName}`, organizations: ['system:nodes'] },
    dnsNames: kind.dnsNames,
    ipAddresses: kind.ipAddresses,
    namePrefix: kind.namePrefix,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    log: opts.log,
  })
  await writePrivate(kind.keyPath, pair.keyPem)
  await writePrivate(kind.certPath, pair.certPem)
  return pair
}

/** Requests the node's client certificate (kube-apiserver-client-kubelet) and keeps it with the CA. */
export async function requestNodeCertificate(client: RestClient, opts: NodeCertificateRequest & { caPem: string }): Promise<Credentials> {
  const paths = nodePkiPaths(opts.dataDir)
  const kind = { signerName: NODE_CLIENT_SIGNER, usages: ['digital signature', 'client auth'], keyPath: paths.key, certPath: paths.cert, namePrefix: 'node-csr-' }
  const { certPem, keyPem } = await requestCertificate(client, kind, opts)
  await writePrivate(paths.ca, opts.caPem)
  return { caPem: opts.caPem, certPem, keyPem }
}

export interface NodeCredentialOptions {
  endpoint: ApiEndpoint
  nodeName: string
  dataDir: string
  /** A kubeconfig with the node's credentials (kubelet --kubeconfig); its server is used unless `endpoint` came from --socket. */
  kubeconfig?: ClientConfig
  token?: string
  caCertHash?: string
  log?: (msg: string) => void
  signal?: AbortSignal
}

export interface NodeCredentials {
  address: ServerAddress
  /** When the agent renews its client certificate itself (joined nodes); unset for a given kubeconfig. */
  renewal?: { notBefore: number; notAfter: number }
}

/**
 * Where and as whom the agent talks to the API: a kubeconfig given; else the certificate
 * a previous join stored; else a join with the bootstrap token (the CA pinned by hash).
 */
export async function nodeCredentials(o: NodeCredentialOptions): Promise<NodeCredentials> {
  const at = (credentials: Credentials): ServerAddress => ({ ...o.endpoint, credentials })
  if (o.kubeconfig) return { address: 'socketPath' in o.endpoint ? at(o.kubeconfig.credentials) : { server: o.kubeconfig.server, credentials: o.kubeconfig.credentials } }
  const stored = await storedNodeCredentials(o.dataDir)
  if (stored) {
    const { notBefore, notAfter, ...credentials } = stored
    return { address: at(credentials), renewal: { notBefore, notAfter } }
  }
  if (!o.token || !o.caCertHash) {
    throw new Error(`node ${o.nodeName} has no credentials in ${nodePkiPaths(o.dataDir).dir}: join with --token and --ca-cert-hash (\`weft token create\` on the server prints both), or give --kubeconfig`)
  }
  const caPem = await discoverPinnedCA(o.endpoint, o.caCertHash)
  o.log?.('the API server\'s CA matches --ca-cert-hash; joining with the bootstrap token')
  const bootstrap = new RestClient(at({ caPem, token: o.token }), { userAgent: `weft-agent/${o.nodeName} (bootstrap)` })
  try {
    const credentials = await requestNodeCertificate(bootstrap, { nodeName: o.nodeName, dataDir: o.dataDir, caPem, signal: o.signal, log: o.log })
    return { address: at(credentials), renewal: validityOf(credentials.certPem!) }
  } finally {
    await bootstrap.close()
  }
}
