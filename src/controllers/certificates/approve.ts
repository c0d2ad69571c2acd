// The csrapproving controller: approves a kubelet's client certificate request when the
// requester may ask for one (a SubjectAccessReview on certificatesigningrequests/nodeclient,
// or /selfnodeclient for a node renewing its own), as upstream's sarapprove does. weft goes
// one step further on purpose: a kubelet-client request from a bootstrapper or a node that
// asks for anything but its own node identity (system:masters, another node's name) is
// Denied, so it is visibly refused rather than left pending forever.
//
// Kubelet serving certificates: upstream approves none of them (a human or an external
// approver must). weft approves one itself, as the kubelet-csr-approver project does, only
// when every rule below holds; anything else stays pending for a human (never denied, so a
// node whose addresses are not yet in its Node object is approved once they are):
// - the requester is the node itself: `system:node:<name>` in the group system:nodes;
// - the subject is CN=<requester>, O=system:nodes exactly;
// - usages are server auth (with digital signature and key encipherment at most);
// - no email or URI names, and at least one DNS name or IP address;
// - the Node object exists, every IP SAN is one of its InternalIP/ExternalIP addresses and
//   every DNS SAN is its name or one of its Hostname addresses.
import type { V1CertificateSigningRequest, V1Node } from '@kubernetes/client-node'
import type { UserInfo } from '../../auth/types.ts'
import { checkIpAddress } from '../../pki/names.ts'
import { decided, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, NODE_PREFIX, NODES_GROUP, notNodeClient, type ParsedRequest } from './csr.ts'

export type Verdict = { approve: string } | { deny: string } | undefined

/** May `user` create certificatesigningrequests/`subresource` (answered by the authorizer)? */
export type MayRequest = (user: UserInfo, subresource: 'nodeclient' | 'selfnodeclient') => boolean

function requester(csr: V1CertificateSigningRequest): UserInfo {
  return { username: csr.spec.username ?? '', uid: csr.spec.uid, groups: csr.spec.groups ?? [], extra: csr.spec.extra as Record<string, string[]> | undefined }
}

/** The Node object of that name, from the controller's cache. */
export type NodeLookup = (name: string) => V1Node | undefined

export function judge(csr: V1CertificateSigningRequest, req: ParsedRequest | Error, may: MayRequest, nodeOf: NodeLookup = () => undefined): Verdict {
  if (decided(csr)) return undefined
  if (csr.spec.signerName === KUBELET_SERVING_SIGNER) return req instanceof Error || servingRefusal(csr, req, nodeOf) ? undefined : { approve: 'Auto approving self kubelet serving certificate: the node asks for its own name and addresses.' }
  if (csr.spec.signerName !== KUBELET_CLIENT_SIGNER) return undefined
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

function canonicalIp(ip: string): string | undefined {
  try {
    return checkIpAddress(ip)
  } catch {
    return undefined
  }
}

/** Why weft does not approve this kubelet serving request on its own (it stays pending), or undefined. */
export function servingRefusal(csr: V1CertificateSigningRequest, req: ParsedRequest, nodeOf: NodeLookup): string | undefined {
  const user = requester(csr)
  if (!user.username.startsWith(NODE_PREFIX) || user.username.length === NODE_PREFIX.length || !user.groups.includes(NODES_GROUP)) return 'the requester is not a node'
  if (req.commonName !== user.username) return `the common name ${JSON.stringify(req.commonName)} is not the requester ${JSON.stringify(user.username)}`
  if (req.organizations.length !== 1 || req.organizations[0] !== NODES_GROUP) return `the subject's organization must be exactly ${NODES_GROUP}`
  const usages = csr.spec.usages ?? []
  if (!usages.includes('server auth') || !usages.every((u) => ['digital signature', 'key encipherment', 'server auth'].includes(u))) return 'usages must be server auth (with digital signature and key encipherment at most)'
  if (req.emailAddresses.length || req.uris.length) return 'a kubelet serving certificate names only DNS names and IP addresses'
  if (req.dnsNames.length + req.ipAddresses.length === 0) return 'a kubelet serving certificate needs at least one DNS name or IP address'
  const name = user.username.slice(NODE_PREFIX.length)
  const node = nodeOf(name)
  if (!node) return `node ${JSON.stringify(name)} does not exist`
  const addresses = node.status?.addresses ?? []
  const ips = new Set(addresses.filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => canonicalIp(a.address)).filter((ip) => ip !== undefined))
  const hostnames = new Set([name, ...addresses.filter((a) => a.type === 'Hostname').map((a) => a.address)])
  const strayIp = req.ipAddresses.find((ip) => !ips.has(canonicalIp(ip) ?? ''))
  if (strayIp !== undefined) return `the IP address ${strayIp} is not an InternalIP or ExternalIP of node ${JSON.stringify(name)}`
  const strayName = req.dnsNames.find((d) => !hostnames.has(d))
  if (strayName !== undefined) return `the DNS name ${JSON.stringify(strayName)} is neither the name nor a Hostname of node ${JSON.stringify(name)}`
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
