// The csrapproving controller: approves a kubelet's client certificate request when the
// requester may ask for one (a SubjectAccessReview on certificatesigningrequests/nodeclient,
// or /selfnodeclient for a node renewing its own), as upstream's sarapprove does. weft goes
// one step further on purpose: a kubelet-client request from a bootstrapper or a node that
// asks for anything but its own node identity (system:masters, another node's name) is
// Denied, so it is visibly refused rather than left pending forever.
import type { V1CertificateSigningRequest } from '@kubernetes/client-node'
import type { UserInfo } from '../../auth/types.ts'
import { decided, KUBELET_CLIENT_SIGNER, NODE_PREFIX, notNodeClient, type ParsedRequest } from './csr.ts'

export type Verdict = { approve: string } | { deny: string } | undefined

/** May `user` create certificatesigningrequests/`subresource` (answered by the authorizer)? */
export type MayRequest = (user: UserInfo, subresource: 'nodeclient' | 'selfnodeclient') => boolean

function requester(csr: V1CertificateSigningRequest): UserInfo {
  return { username: csr.spec.username ?? '', uid: csr.spec.uid, groups: csr.spec.groups ?? [], extra: csr.spec.extra as Record<string, string[]> | undefined }
}

export function judge(csr: V1CertificateSigningRequest, req: ParsedRequest | Error, may: MayRequest): Verdict {
  if (decided(csr) || csr.spec.signerName !== KUBELET_CLIENT_SIGNER) return undefined
  const user = requester(csr)
  const fromNode = user.username.startsWith(NODE_PREFIX)
  const fromBootstrapper = user.groups.includes('system:bootstrappers')
  if (req instanceof Error) return fromNode || fromBootstrapper ? { deny: `the request cannot be parsed: ${req.message}` } : undefined
  const wrong = notNodeClient(csr, req)
  if (wrong) return fromNode || fromBootstrapper ? { deny: wrong } : undefined
  if (fromNode && user.username !== req.commonName) return { deny: `node ${JSON.stringify(user.username)} may not request a certificate for ${JSON.stringify(req.commonName)}` }
  if (user.username === req.commonName && may(user, 'selfnodeclient')) return { approve: 'Auto approving self kubelet client certificate after SubjectAccessReview.' }
  if (may(user, 'nodeclient')) return { approve: 'Auto approving kubelet client certificate after SubjectAccessReview.' }
  return undefined
}

/** The CSR with the verdict's condition added, for the /approval subresource. */
export function withVerdict(csr: V1CertificateSigningRequest, verdict: NonNullable<Verdict>, now: Date): V1CertificateSigningRequest {
  const approve = 'approve' in verdict
  const condition = {
    type: approve ? 'Approved' : 'Denied',
    status: 'True',
    reason: approve ? 'AutoApproved' : 'AutoDenied',
    message: approve ? verdict.approve : verdict.deny,
    lastUpdateTime: now,
    lastTransitionTime: now,
  }
  return { ...csr, status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), condition] } }
}
