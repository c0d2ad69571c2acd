// The kubelet's serving certificate (kubelet-serving signer, as a kubeadm node's kubelet
// gets with serverTLSBootstrap): CN system:node:<name>, O system:nodes, the node's
// InternalIPs and its name as SANs, kept 0600 as DATA_DIR/pki/kubelet-server.{crt,key}.
import { X509Certificate } from 'node:crypto'
import { validityOf } from './cert-rotation.ts'
import { readFile } from 'node:fs/promises'
import type { RestClient } from '../client/index.ts'
import { certificateInfo, certificateMatchesKey } from '../pki/certificates.ts'
import { checkIpAddress } from '../pki/names.ts'
import { nodePkiPaths, requestCertificate, type NodeCertificateRequest } from './join.ts'
import type { Validity } from './cert-rotation.ts'

export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving'

export interface ServingNames {
  ipAddresses: string[]
  dnsNames: string[]
}

export interface ServingPair {
  certPem: string
  keyPem: string
}

/** The names the node's serving certificate carries: its InternalIPs (canonical) and its name, which is also its Hostname address. */
export function servingNames(nodeName: string, nodeIPs: readonly string[]): ServingNames {
  return { ipAddresses: [...new Set(nodeIPs.map((ip) => checkIpAddress(ip)))], dnsNames: [nodeName] }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a)
  return x.size === new Set(b).size && b.every((v) => x.has(v))
}

/**
 * The stored serving certificate if it is still usable: it matches its key, the cluster
 * CA signed it, it is valid now and it names exactly `names` (a node whose addresses
 * changed asks for a new one).
 */
export async function storedServingCertificate(dataDir: string, names: ServingNames, caPem: string | undefined, now = Date.now()): Promise<(ServingPair & Validity) | undefined> {
  const paths = nodePkiPaths(dataDir)
  const [certPem, keyPem] = await Promise.all([paths.servingCert, paths.servingKey].map((p) => readFile(p, 'utf8').catch(() => undefined)))
  if (!certPem || !keyPem) return undefined
  try {
    if (!certificateMatchesKey(certPem, keyPem)) return undefined
    const cert = new X509Certificate(certPem)
    if (caPem && !cert.verify(new X509Certificate(caPem).publicKey)) return undefined
    const { notBefore, notAfter } = validityOf(certPem)
    if (now >= notAfter || now < notBefore) return undefined
    const info = await certificateInfo(certPem)
    if (!sameSet(info.ipAddresses.map((ip) => checkIpAddress(ip)), names.ipAddresses) || !sameSet(info.dnsNames, names.dnsNames)) return undefined
    return { certPem, keyPem, notBefore, notAfter }
  } catch {
    return undefined
  }
}

/** Requests a serving certificate for `names` through the node's own client and keeps it. */
export function requestServingCertificate(client: RestClient, names: ServingNames, opts: NodeCertificateRequest): Promise<ServingPair> {
  const paths = nodePkiPaths(opts.dataDir)
  return requestCertificate(
    client,
    { signerName: KUBELET_SERVING_SIGNER, usages: ['digital signature', 'server auth'], keyPath: paths.servingKey, certPath: paths.servingCert, namePrefix: 'csr-', ...names },
    opts,
  )
}
