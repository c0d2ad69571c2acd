// The csrsigning controller: signs approved requests for the built-in signers with the
// cluster CA, each held to its signer's rules (upstream's per-signer validation). A
// request that breaks them gets a Failed condition instead of a certificate. weft also
// refuses to sign any client certificate in system:masters: that group is granted only
// to the admin certificate the server issues itself.
import type { V1CertificateSigningRequest } from '@kubernetes/client-node'
import { CLIENT_SIGNER, conditionOf, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, NODE_PREFIX, NODES_GROUP, notNodeClient, type ParsedRequest } from './csr.ts'

export const SIGNERS = [CLIENT_SIGNER, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER] as const
/** kube-controller-manager's --cluster-signing-duration default: one year. */
export const MAX_SIGNING_SECONDS = 365 * 24 * 3600
const MIN_SIGNING_SECONDS = 600

export type SignPlan = { sign: { usages: ('client' | 'server')[]; seconds: number } } | { fail: string } | undefined

function servingProblem(req: ParsedRequest, usages: string[]): string | undefined {
  if (req.organizations.length !== 1 || req.organizations[0] !== NODES_GROUP) return `the subject's organization must be exactly ${NODES_GROUP}`
  if (!req.commonName.startsWith(NODE_PREFIX)) return `the subject's common name must be ${NODE_PREFIX}<node name>`
  if (req.emailAddresses.length || req.uris.length) return 'a kubelet serving certificate names only DNS names and IP addresses'
  if (req.dnsNames.length + req.ipAddresses.length === 0) return 'a kubelet serving certificate needs at least one DNS name or IP address'
  if (!usages.includes('server auth') || !usages.every((u) => ['digital signature', 'key encipherment', 'server auth'].includes(u))) return 'usages must be server auth (with digital signature and key encipherment at most)'
  return undefined
}

/** What to do with a CSR: sign it (with which usages, for how long), fail it, or nothing. */
export function planSigning(csr: V1CertificateSigningRequest, req: ParsedRequest | Error): SignPlan {
  const signer = csr.spec.signerName
  if (!(SIGNERS as readonly string[]).includes(signer)) return undefined
  if (!conditionOf(csr, 'Approved') || conditionOf(csr, 'Denied') || conditionOf(csr, 'Failed') || csr.status?.certificate) return undefined
  if (req instanceof Error) return { fail: `the request cannot be parsed: ${req.message}` }
  const usages = csr.spec.usages ?? []
  if (req.organizations.includes('system:masters')) return { fail: 'weft does not sign certificates for the system:masters group' }
  let problem: string | undefined
  let kind: ('client' | 'server')[]
  if (signer === KUBELET_CLIENT_SIGNER) {
    problem = notNodeClient(csr, req)
    kind = ['client']
  } else if (signer === KUBELET_SERVING_SIGNER) {
    problem = servingProblem(req, usages)
    kind = ['server']
  } else {
    if (!usages.includes('client auth') || usages.some((u) => !['digital signature', 'key encipherment', 'client auth'].includes(u))) problem = 'usages must be client auth (with digital signature and key encipherment at most)'
    if (!req.commonName) problem = 'the subject needs a common name'
    kind = ['client']
  }
  if (problem) return { fail: problem }
  const asked = csr.spec.expirationSeconds ?? MAX_SIGNING_SECONDS
  return { sign: { usages: kind, seconds: Math.max(MIN_SIGNING_SECONDS, Math.min(asked, MAX_SIGNING_SECONDS)) } }
}

export function withFailure(csr: V1CertificateSigningRequest, message: string, now: Date): V1CertificateSigningRequest {
  const condition = { type: 'Failed', status: 'True', reason: 'SignerValidationFailure', message, lastUpdateTime: now, lastTransitionTime: now }
  return { ...csr, status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), condition] } }
}
