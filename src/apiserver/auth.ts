// Who is calling and may they: the API server's one authentication step (client
// certificate, bearer token, anonymous for a few public paths) and one authorization step
// (the authorizer chain), with upstream's 401 and 403 answers.
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { parseFieldSelector } from '../api/field-selectors.ts'
import type { ResourceInfo } from '../api/registry.ts'
import type { Attributes, AuthorizeContext, Authorizer, Decision, UserInfo } from '../auth/types.ts'
import { ApiError, forbidden as forbiddenObject } from '../util/errors.ts'
import type { ResourceRequest } from './request-info.ts'

export interface TokenAuthenticator {
  /** The caller a bearer token proves, or undefined when the token proves nothing. */
  authenticate(token: string): Promise<UserInfo | undefined>
  /** Changes whenever earlier answers may no longer hold (a revoked token, a deleted account). */
  readonly generation: number
}

export type Authentication = { user: UserInfo } | { anonymous: true } | { failed: string }

export const ANONYMOUS: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] }

/** The only paths an unauthenticated caller may reach (AnonymousAuthConfigurableEndpoints, as kubeadm configures it). */
const anonymousPaths = new Set(['/healthz', '/livez', '/readyz', '/version'])

export function anonymousAllowed(pathname: string): boolean {
  return anonymousPaths.has(pathname.replace(/\/+$/, '') || '/')
}

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2'

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v]
}

/** Upstream's CommonNameUserConversion: CN is the user name, each O a group. */
function userFromSocket(socket: TLSSocket): Authentication | undefined {
  if (typeof socket.getPeerCertificate !== 'function') return undefined
  const cert = socket.getPeerCertificate()
  if (!cert || Object.keys(cert).length === 0) return undefined
  if (!socket.authorized) return { failed: `x509: ${String(socket.authorizationError)}` }
  if (cert.ext_key_usage && !cert.ext_key_usage.includes(CLIENT_AUTH_OID)) return { failed: 'x509: certificate specifies an incompatible key usage' }
  const username = asList(cert.subject?.CN)[0]
  if (!username) return { failed: 'x509: the certificate has no common name' }
  return { user: { username, groups: asList(cert.subject?.O) } }
}

function bearerToken(req: IncomingMessage): string | undefined | null {
  const header = req.headers.authorization
  if (header === undefined) return undefined
  const parts = header.trim().split(' ')
  if (parts.length < 2 || parts[0].toLowerCase() !== 'bearer') return undefined
  return parts.length === 2 && parts[1] ? parts[1] : null
}

function withAuthenticated(user: UserInfo): UserInfo {
  return user.groups.includes('system:authenticated') ? user : { ...user, groups: [...user.groups, 'system:authenticated'] }
}

/** The per-connection result of the certificate check: one TLS handshake, one verdict. */
const byConnection = new WeakMap<object, Authentication | null>()

/**
 * The last token a connection sent and whom it proved, reused for the next requests on
 * that connection that send the same token (a string compare instead of hashing ~1 KB),
 * for at most a second and only while the authenticator has not been invalidated.
 */
const tokenByConnection = new WeakMap<object, { token: string; user: UserInfo; until: number; generation: number }>()
const CONNECTION_TOKEN_MS = 1000

/**
 * Authenticates a request as kube-apiserver's union authenticator does: a valid client
 * certificate, else a valid bearer token; a presented credential that proves nothing is
 * a failure (401) unless the other one succeeds; no credential at all is anonymous.
 */
export async function authenticate(req: IncomingMessage, tokens: TokenAuthenticator | undefined): Promise<Authentication> {
  let byCert = byConnection.get(req.socket)
  if (byCert === undefined) {
    byCert = userFromSocket(req.socket as TLSSocket) ?? null
    byConnection.set(req.socket, byCert)
  }
  if (byCert && 'user' in byCert) return { user: withAuthenticated(byCert.user) }
  const token = bearerToken(req)
  if (token === null) return { failed: 'invalid bearer token' }
  if (token !== undefined) {
    if (!tokens) return { failed: 'invalid bearer token' }
    const last = tokenByConnection.get(req.socket)
    const now = Date.now()
    if (last && last.token === token && now < last.until && last.generation === tokens.generation) return { user: last.user }
    const generation = tokens.generation
    const proved = await tokens.authenticate(token)
    if (!proved) return { failed: 'invalid bearer token' }
    const user = withAuthenticated(proved)
    tokenByConnection.set(req.socket, { token, user, until: now + CONNECTION_TOKEN_MS, generation })
    return { user }
  }
  return byCert ?? { anonymous: true }
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized', {})
}

/**
 * The name a list or watch asks for by `fieldSelector=metadata.name=<name>`: upstream's
 * RequestInfoFactory sets it as the request's name, so RBAC's resourceNames cover such a list
 * or watch of one object (an informer on one ConfigMap).
 */
function selectedName(r: ResourceRequest, query: URLSearchParams | undefined): string | undefined {
  const text = query?.get('fieldSelector')
  if (!text || (r.verb !== 'list' && r.verb !== 'watch')) return undefined
  try {
    const name = parseFieldSelector(text, r.info).requirements.find((q) => q.field === 'metadata.name' && q.operator === 'Equals')?.value
    return name && name !== '.' && name !== '..' && !/[/%]/.test(name) ? name : undefined
  } catch {
    return undefined
  }
}

/** The authorization question a resource request asks. */
export function resourceAttributes(user: UserInfo, r: ResourceRequest, query?: URLSearchParams): Attributes {
  return {
    resourceRequest: true,
    user,
    verb: r.verb,
    namespace: r.namespace ?? '',
    apiGroup: r.info.group,
    apiVersion: r.info.version,
    resource: r.info.plural,
    subresource: r.subresource ?? '',
    name: r.name ?? selectedName(r, query) ?? '',
  }
}

export function nonResourceAttributes(user: UserInfo, method: string, pathname: string): Attributes {
  return { resourceRequest: false, user, verb: method.toLowerCase(), path: pathname }
}

/** Upstream's forbiddenMessage. */
export function forbiddenMessage(a: Attributes): string {
  const who = JSON.stringify(a.user.username)
  if (!a.resourceRequest) return `User ${who} cannot ${a.verb} path ${JSON.stringify(a.path)}`
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  if (a.namespace) return `User ${who} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} in the namespace ${JSON.stringify(a.namespace)}`
  return `User ${who} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} at the cluster scope`
}

/** The 403 Status kube-apiserver answers when no authorizer allows the request. */
export function forbidden(a: Attributes, decision: Decision, info?: ResourceInfo): ApiError {
  const why = forbiddenMessage(a) + (decision.reason ? `: ${decision.reason}` : '')
  if (!a.resourceRequest) return new ApiError(403, 'Forbidden', `forbidden: ${why}`, {})
  return forbiddenObject({ group: a.apiGroup, resource: a.resource }, a.name, why)
}

/** Members of these groups may do anything (kube-apiserver's privileged-groups authorizer). */
const SUPERUSER_GROUP = 'system:masters'

/** The authorizer chain: the first allow or deny wins; nobody's opinion is a deny. */
export class AuthorizerChain implements Authorizer {
  readonly #authorizers: Authorizer[]

  constructor(authorizers: Authorizer[]) {
    this.#authorizers = authorizers
  }

  authorize(a: Attributes, context?: AuthorizeContext): Decision {
    if (a.user.groups.includes(SUPERUSER_GROUP)) return { decision: 'allow', reason: '' }
    const reasons: string[] = []
    for (const authorizer of this.#authorizers) {
      const d = authorizer.authorize(a, context)
      if (d.decision !== 'noOpinion') return d
      if (d.reason) reasons.push(d.reason)
    }
    return { decision: 'noOpinion', reason: reasons.join(', ') }
  }
}
