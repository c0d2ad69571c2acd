// What the certificate controllers need to know of a CertificateSigningRequest: its
// decoded request, its state, and the shape of a kubelet's client certificate request.
import type { V1CertificateSigningRequest } from '@kubernetes/client-node'
import type { CertificateRequestInfo } from '../../pki/csr.ts'

/** The parts of a PKCS#10 request the controllers judge (from the PKI's parser; the key's algorithm only matters to the mesh signer). */
export type ParsedRequest = Pick<CertificateRequestInfo, 'commonName' | 'organizations' | 'dnsNames' | 'ipAddresses' | 'emailAddresses' | 'uris'> & Partial<Pick<CertificateRequestInfo, 'publicKeyAlgorithm'>>

export const KUBELET_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet'
export const CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client'
export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving'
export const NODE_PREFIX = 'system:node:'
export const NODES_GROUP = 'system:nodes'

export function conditionOf(csr: V1CertificateSigningRequest, type: string): boolean {
  return (csr.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True')
}

export function decided(csr: V1CertificateSigningRequest): boolean {
  return conditionOf(csr, 'Approved') || conditionOf(csr, 'Denied')
}

export function requestPem(csr: V1CertificateSigningRequest): string {
  return Buffer.from(csr.spec.request, 'base64').toString('utf8')
}

function subset(have: readonly string[], allowed: readonly string[]): boolean {
  return have.every((u) => allowed.includes(u))
}

/** Upstream's isNodeClientCert: why the request is not a kubelet client certificate, or undefined. */
export function notNodeClient(csr: V1CertificateSigningRequest, req: ParsedRequest): string | undefined {
  if (csr.spec.signerName !== KUBELET_CLIENT_SIGNER) return `signer is ${csr.spec.signerName}, not ${KUBELET_CLIENT_SIGNER}`
  if (req.organizations.length !== 1 || req.organizations[0] !== NODES_GROUP) return `the subject's organization must be exactly ${NODES_GROUP}`
  if (!req.commonName.startsWith(NODE_PREFIX) || req.commonName.length === NODE_PREFIX.length) return `the subject's common name must be ${NODE_PREFIX}<node name>`
  if (req.dnsNames.length || req.ipAddresses.length || req.emailAddresses.length || req.uris.length) return 'a kubelet client certificate has no subject alternative names'
  const usages = csr.spec.usages ?? []
  if (!usages.includes('client auth') || !subset(usages, ['digital signature', 'key encipherment', 'client auth'])) return 'usages must be client auth (with digital signature and key encipherment at most)'
  return undefined
}
