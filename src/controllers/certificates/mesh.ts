// The weft.dev/mesh signer: workload identities (X.509-SVIDs) for the node proxies of the
// service mesh, signed by the mesh CA (never the cluster CA). Only a node asks, and only for
// a service account one of its own pods runs as; the approver and the signer both check it,
// and the API server's admission checks it once more when the request is created.
//
// A request is (all of it, or it is refused with the reason):
// - from `system:node:<name>` in the group system:nodes;
// - exactly one URI subject alternative name, a mesh SPIFFE ID of the cluster's trust domain
//   (mesh/identity.ts), and no DNS name, IP address or email;
// - subject CN = the service account, O = its namespace (the SPIFFE ID is the identity; the
//   subject only repeats it, so nothing reads a different name there);
// - an ECDSA P-256 key;
// - usages client auth and server auth (a node proxy dials and accepts as the identity), with
//   digital signature and key encipherment at most besides.
// The certificate lives the signer's lifetime (24 h by default, `--mesh-certificate-lifetime`)
// or the request's expirationSeconds when that is shorter.
import type { V1ConfigMap, V1CertificateSigningRequest, V1Pod } from '@kubernetes/client-node'
import type { ResourceInfo } from '../../api/registry.ts'
import { IdentityError, parseSpiffeId, type WorkloadIdentity } from '../../../mesh/identity.ts'
import type { Action } from '../actions.ts'
import { conditionOf, decided, NODE_PREFIX, NODES_GROUP, type ParsedRequest } from './csr.ts'

export const MESH_SIGNER = 'weft.dev/mesh'
export const MESH_USAGES = ['digital signature', 'key encipherment', 'client auth', 'server auth'] as const
export const DEFAULT_MESH_CERT_SECONDS = 24 * 3600
/** Where the mesh root is published for node proxies: kube-system/<name>, key root-cert.pem (Istio's key). */
export const MESH_ROOT_CONFIGMAP = 'weft-mesh-root-cert'
export const MESH_ROOT_NAMESPACE = 'kube-system'
export const MESH_ROOT_KEY = 'root-cert.pem'

export interface MeshRequest {
  /** The requesting node's name. */
  node: string
  identity: WorkloadIdentity
}

/** What a request for a mesh identity asks, or why it is not one weft signs. */
export function meshRequest(csr: V1CertificateSigningRequest, req: ParsedRequest | Error, trustDomain: string): MeshRequest | { problem: string } {
  const username = csr.spec.username ?? ''
  if (!username.startsWith(NODE_PREFIX) || username.length === NODE_PREFIX.length || !(csr.spec.groups ?? []).includes(NODES_GROUP)) return { problem: 'only a node obtains mesh identities (for its own pods)' }
  if (req instanceof Error) return { problem: `the request cannot be parsed: ${req.message}` }
  if (req.uris.length !== 1) return { problem: `a mesh identity has exactly one URI subject alternative name (its SPIFFE ID), not ${req.uris.length}` }
  if (req.dnsNames.length || req.ipAddresses.length || req.emailAddresses.length) return { problem: 'a mesh identity names no DNS name, IP address or email' }
  let identity: WorkloadIdentity
  try {
    identity = parseSpiffeId(req.uris[0]!)
  } catch (err) {
    if (err instanceof IdentityError) return { problem: err.message }
    throw err
  }
  if (identity.trustDomain !== trustDomain) return { problem: `trust domain ${identity.trustDomain} is not the mesh's ${trustDomain}` }
  if (req.commonName !== identity.serviceAccount || req.organizations.length !== 1 || req.organizations[0] !== identity.namespace) {
    return { problem: `the subject must be CN=${identity.serviceAccount}, O=${identity.namespace} (the SPIFFE ID's service account and namespace)` }
  }
  if (req.publicKeyAlgorithm !== undefined && req.publicKeyAlgorithm !== 'ECDSA-P256') return { problem: `the key is ${req.publicKeyAlgorithm}; a mesh identity has an ECDSA P-256 key` }
  const usages = csr.spec.usages ?? []
  if (!usages.includes('client auth') || !usages.includes('server auth') || !usages.every((u) => (MESH_USAGES as readonly string[]).includes(u))) {
    return { problem: 'usages must be client auth and server auth (with digital signature and key encipherment at most)' }
  }
  return { node: username.slice(NODE_PREFIX.length), identity }
}

/** Does one of `pods` (the node's) run as the identity's service account? Finished pods do not count. */
export function runsAs(pods: readonly V1Pod[], node: string, identity: WorkloadIdentity): boolean {
  return pods.some(
    (p) =>
      p.spec?.nodeName === node &&
      p.metadata?.namespace === identity.namespace &&
      (p.spec?.serviceAccountName || 'default') === identity.serviceAccount &&
      p.status?.phase !== 'Succeeded' &&
      p.status?.phase !== 'Failed',
  )
}

function noPod(m: MeshRequest): string {
  return `node ${m.node} has no pod running as service account ${m.identity.namespace}/${m.identity.serviceAccount}`
}

export type MeshVerdict = { approve: string } | { deny: string } | undefined

/** The approver's verdict on a mesh request; `bound`: whether the node runs a pod as it (asked only for a well-formed request). */
export async function judgeMesh(csr: V1CertificateSigningRequest, req: ParsedRequest | Error, trustDomain: string, bound: (m: MeshRequest) => Promise<boolean>): Promise<MeshVerdict> {
  if (csr.spec.signerName !== MESH_SIGNER || decided(csr)) return undefined
  const m = meshRequest(csr, req, trustDomain)
  if ('problem' in m) return { deny: m.problem }
  if (!(await bound(m))) return { deny: noPod(m) }
  return { approve: `Auto approving mesh identity ${m.identity.namespace}/${m.identity.serviceAccount} for node ${m.node}, which runs a pod as it.` }
}

export type MeshSignPlan = { sign: { seconds: number } } | { fail: string } | undefined

/** What the signer does with a mesh request: sign it for how long, fail it, or nothing (not approved, or done). */
export async function planMeshSigning(csr: V1CertificateSigningRequest, req: ParsedRequest | Error, trustDomain: string, maxSeconds: number, bound: (m: MeshRequest) => Promise<boolean>): Promise<MeshSignPlan> {
  if (csr.spec.signerName !== MESH_SIGNER) return undefined
  if (!conditionOf(csr, 'Approved') || conditionOf(csr, 'Denied') || conditionOf(csr, 'Failed') || csr.status?.certificate) return undefined
  const m = meshRequest(csr, req, trustDomain)
  if ('problem' in m) return { fail: m.problem }
  if (!(await bound(m))) return { fail: noPod(m) }
  return { sign: { seconds: Math.min(csr.spec.expirationSeconds ?? maxSeconds, maxSeconds) } }
}

/** kube-system/weft-mesh-root-cert holds the mesh root (and nothing else). */
export function reconcileMeshRoot(existing: V1ConfigMap | undefined, rootPem: string, info: ResourceInfo): Action[] {
  const data = { [MESH_ROOT_KEY]: rootPem }
  if (!existing) return [{ verb: 'create', info, object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: MESH_ROOT_CONFIGMAP, namespace: MESH_ROOT_NAMESPACE }, data } }]
  if (existing.data?.[MESH_ROOT_KEY] === rootPem && Object.keys(existing.data).length === 1 && !existing.binaryData) return []
  return [{ verb: 'update', info, object: { ...existing, data, binaryData: undefined } }]
}
