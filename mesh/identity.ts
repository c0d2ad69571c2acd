// Workload identities of the mesh: SPIFFE IDs of the form
// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>` (the trust domain is the
// cluster domain), and the X.509 SVIDs that carry them: leaf certificates signed by the mesh
// CA whose one URI subject alternative name is the SPIFFE ID.
//
// Parsing follows the SPIFFE ID specification: scheme `spiffe`, a trust domain of lowercase
// letters, digits, `.`, `-` and `_` (no port, no user info), path segments of letters,
// digits, `.`, `-` and `_` that are neither empty nor `.` or `..`, no query or fragment, no
// percent-encoding, at most 2,048 bytes. A mesh identity has exactly the four segments above,
// with Kubernetes names in them. The X.509-SVID checks: one URI SAN and no other URI, not a
// CA, an ECDSA P-256 key (the mesh's), within its validity, signed by the mesh root, and of
// the expected trust domain.
import { X509Certificate as NodeCertificate } from 'node:crypto'

export interface WorkloadIdentity {
  trustDomain: string
  namespace: string
  serviceAccount: string
}

/** A SPIFFE ID or X.509-SVID that is not a valid mesh identity, and why. */
export class IdentityError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'IdentityError'
  }
}

const MAX_ID_BYTES = 2048
const MAX_TRUST_DOMAIN = 255
const TRUST_DOMAIN = /^[a-z0-9._-]+$/
const SEGMENT = /^[A-Za-z0-9._-]+$/
/** A namespace: a DNS-1123 label. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
/** A service account: a DNS-1123 subdomain. */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

function checkTrustDomain(td: string, what: string): string {
  if (td === '') throw new IdentityError(`${what}: the trust domain is empty`)
  if (td.length > MAX_TRUST_DOMAIN) throw new IdentityError(`${what}: the trust domain is longer than ${MAX_TRUST_DOMAIN} characters`)
  if (!TRUST_DOMAIN.test(td)) throw new IdentityError(`${what}: the trust domain ${JSON.stringify(td)} has characters other than lowercase letters, digits, '.', '-' and '_'`)
  return td
}

function checkNames(namespace: string, serviceAccount: string, what: string): void {
  if (!NAMESPACE.test(namespace)) throw new IdentityError(`${what}: ${JSON.stringify(namespace)} is not a namespace name`)
  if (serviceAccount.length > 253 || !SUBDOMAIN.test(serviceAccount)) throw new IdentityError(`${what}: ${JSON.stringify(serviceAccount)} is not a service account name`)
}

/** The SPIFFE ID of a workload identity; its parts are checked. */
export function spiffeId(id: WorkloadIdentity): string {
  checkTrustDomain(id.trustDomain, 'SPIFFE ID')
  checkNames(id.namespace, id.serviceAccount, 'SPIFFE ID')
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`
}

/** A mesh identity's SPIFFE ID read back; anything else is an IdentityError that says why. */
export function parseSpiffeId(uri: string): WorkloadIdentity {
  const what = `SPIFFE ID ${JSON.stringify(uri.length > 100 ? `${uri.slice(0, 100)}…` : uri)}`
  if (Buffer.byteLength(uri) > MAX_ID_BYTES) throw new IdentityError(`${what}: longer than ${MAX_ID_BYTES} bytes`)
  if (!uri.startsWith('spiffe://')) throw new IdentityError(`${what}: the scheme must be spiffe (lowercase)`)
  const rest = uri.slice('spiffe://'.length)
  if (/[?#]/.test(rest)) throw new IdentityError(`${what}: a query or fragment is not allowed`)
  if (rest.includes('%')) throw new IdentityError(`${what}: percent-encoding is not allowed`)
  const slash = rest.indexOf('/')
  const authority = slash < 0 ? rest : rest.slice(0, slash)
  if (authority.includes('@')) throw new IdentityError(`${what}: user info is not allowed`)
  if (authority.includes(':')) throw new IdentityError(`${what}: a port is not allowed`)
  const trustDomain = checkTrustDomain(authority, what)
  if (slash < 0) throw new IdentityError(`${what}: a trust domain alone names no workload`)
  const segments = rest.slice(slash + 1).split('/')
  for (const s of segments) {
    if (s === '') throw new IdentityError(`${what}: empty path segment`)
    if (s === '.' || s === '..') throw new IdentityError(`${what}: the path segment ${s} is not allowed`)
    if (!SEGMENT.test(s)) throw new IdentityError(`${what}: the path segment ${JSON.stringify(s)} has characters other than letters, digits, '.', '-' and '_'`)
  }
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa') throw new IdentityError(`${what}: a mesh identity's path is /ns/<namespace>/sa/<service account>`)
  const [, namespace, , serviceAccount] = segments as [string, string, string, string]
  checkNames(namespace, serviceAccount, what)
  return { trustDomain, namespace, serviceAccount }
}

export interface SvidCheck {
  /** The mesh's trust domain (the cluster domain). */
  trustDomain: string
  /** The mesh root certificate (PEM) the SVID must be signed by. */
  rootPem: string
  /** Default: now. */
  now?: Date
}

/**
 * The identity an X.509-SVID (its first certificate, PEM) proves, once it passes every
 * check above; an IdentityError names the first it fails.
 */
export async function verifySvid(svidPem: string, check: SvidCheck): Promise<WorkloadIdentity> {
  let leaf: NodeCertificate
  try {
    leaf = new NodeCertificate(svidPem)
  } catch {
    throw new IdentityError('SVID: not a readable X.509 certificate')
  }
  let root: NodeCertificate
  try {
    root = new NodeCertificate(check.rootPem)
  } catch {
    throw new IdentityError('mesh root: not a readable X.509 certificate')
  }
  return verifySvidCertificate(leaf, root, check.trustDomain, check.now)
}

/**
 * The same checks on parsed certificates, synchronously: what a node proxy runs on a peer's
 * certificate once per TLS session.
 */
export function verifySvidCertificate(leaf: NodeCertificate, root: NodeCertificate, trustDomain: string, now: Date = new Date()): WorkloadIdentity {
  if (!leaf.checkIssued(root) || !leaf.verify(root.publicKey)) throw new IdentityError('SVID: not signed by the mesh root')
  if (leaf.ca) throw new IdentityError('SVID: it is a CA certificate')
  const key = leaf.publicKey
  const algorithm = key.asymmetricKeyType === 'ec' ? (key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ECDSA-P256' : `ECDSA ${key.asymmetricKeyDetails?.namedCurve}`) : (key.asymmetricKeyType ?? 'unknown').toUpperCase()
  if (algorithm !== 'ECDSA-P256') throw new IdentityError(`SVID: its key is ${algorithm}, not ECDSA P-256`)
  const notBefore = new Date(leaf.validFrom)
  const notAfter = new Date(leaf.validTo)
  if (now < notBefore) throw new IdentityError(`SVID: not valid before ${notBefore.toISOString()}`)
  if (now >= notAfter) throw new IdentityError(`SVID: expired at ${notAfter.toISOString()}`)
  const uris = uriNames(leaf.subjectAltName)
  if (uris.length !== 1) throw new IdentityError(`SVID: ${uris.length} URI subject alternative names; an SVID has exactly one, its SPIFFE ID`)
  const id = parseSpiffeId(uris[0]!)
  if (id.trustDomain !== trustDomain) throw new IdentityError(`SVID: trust domain ${id.trustDomain}, not the mesh's ${trustDomain}`)
  return id
}

/**
 * The URIs of Node's subjectAltName text (`DNS:a, URI:spiffe://…`). Node quotes a name that
 * holds a comma, quote or other special character (`URI:"…"`); a SPIFFE ID never does, so a
 * quoted URI counts as one that is not a mesh identity.
 */
function uriNames(text: string | undefined): string[] {
  if (!text) return []
  return text
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4))
}
