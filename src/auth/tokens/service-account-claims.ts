// The claims of a bound service-account token (pkg/serviceaccount/claims.go upstream): what
// TokenRequest signs, how its times are judged and which user it names.
import type { UserInfo } from '../types.ts'
import { quoteUntrusted } from './compact-jws.ts'

export interface ObjectRef {
  name: string
  uid: string
}

/** The private `kubernetes.io` claim. */
export interface KubernetesClaims {
  namespace: string
  serviceaccount: ObjectRef
  pod?: ObjectRef
  node?: ObjectRef
  secret?: ObjectRef
  /** Only legacy projected tokens carry it; weft never issues it and ignores it. */
  warnafter?: number
}

export interface ServiceAccountClaims {
  iss: string
  sub: string
  aud: string[]
  exp: number
  iat?: number
  nbf?: number
  jti?: string
  'kubernetes.io': KubernetesClaims
}

/** go-jose's DefaultLeeway, which upstream's validator applies to exp, nbf and iat alike. */
export const CLOCK_LEEWAY_SECONDS = 60

export const SERVICE_ACCOUNT_USERNAME_PREFIX = 'system:serviceaccount:'
export const ALL_SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts'
export const SERVICE_ACCOUNT_GROUP_PREFIX = 'system:serviceaccounts:'
export const POD_NAME_KEY = 'authentication.kubernetes.io/pod-name'
export const POD_UID_KEY = 'authentication.kubernetes.io/pod-uid'
export const NODE_NAME_KEY = 'authentication.kubernetes.io/node-name'
export const NODE_UID_KEY = 'authentication.kubernetes.io/node-uid'
export const CREDENTIAL_ID_KEY = 'authentication.kubernetes.io/credential-id'

export function serviceAccountUsername(namespace: string, name: string): string {
  return SERVICE_ACCOUNT_USERNAME_PREFIX + namespace + ':' + name
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== ''
}

function numericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

function objectRef(value: unknown, what: string): ObjectRef | string {
  if (!isObject(value) || !nonEmpty(value.name) || !nonEmpty(value.uid)) return `kubernetes.io.${what} needs a name and a uid`
  return { name: value.name, uid: value.uid }
}

/** The claims of a verified payload, or why they are not a bound service-account token's. */
export function parseServiceAccountClaims(payload: Uint8Array): { claims: ServiceAccountClaims } | { error: string } {
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(payload).toString('utf8'))
  } catch {
    return { error: 'token payload is not JSON' }
  }
  if (!isObject(body)) return { error: 'token payload is not a JSON object' }
  if (typeof body.iss !== 'string') return { error: 'token has no iss claim' }
  if (typeof body.sub !== 'string') return { error: 'token has no sub claim' }
  const aud = typeof body.aud === 'string' ? [body.aud] : body.aud
  if (!Array.isArray(aud) || !aud.every((a) => typeof a === 'string')) return { error: 'token aud claim is not a string or a list of strings' }
  if (!numericDate(body.exp)) return { error: 'token has no exp claim' }
  for (const key of ['iat', 'nbf'] as const) {
    if (body[key] !== undefined && !numericDate(body[key])) return { error: `token ${key} claim is not a number` }
  }
  if (body.jti !== undefined && typeof body.jti !== 'string') return { error: 'token jti claim is not a string' }

  const k8s = body['kubernetes.io']
  if (!isObject(k8s)) return { error: 'token has no kubernetes.io claims' }
  if (!nonEmpty(k8s.namespace)) return { error: 'token kubernetes.io claims have no namespace' }
  const serviceaccount = objectRef(k8s.serviceaccount, 'serviceaccount')
  if (typeof serviceaccount === 'string') return { error: `token ${serviceaccount}` }
  const kubernetes: KubernetesClaims = { namespace: k8s.namespace, serviceaccount }
  for (const key of ['pod', 'node', 'secret'] as const) {
    if (k8s[key] === undefined) continue
    const ref = objectRef(k8s[key], key)
    if (typeof ref === 'string') return { error: `token ${ref}` }
    kubernetes[key] = ref
  }
  if (kubernetes.secret && (kubernetes.pod || kubernetes.node)) return { error: 'token is bound to a secret and to a pod or node' }
  if (numericDate(k8s.warnafter)) kubernetes.warnafter = k8s.warnafter
  if (body.sub !== serviceAccountUsername(kubernetes.namespace, serviceaccount.name)) {
    return { error: `token sub ${quoteUntrusted(body.sub)} does not name the service account of its kubernetes.io claims` }
  }

  const claims: ServiceAccountClaims = { iss: body.iss, sub: body.sub, aud: aud as string[], exp: body.exp, 'kubernetes.io': kubernetes }
  if (body.iat !== undefined) claims.iat = body.iat as number
  if (body.nbf !== undefined) claims.nbf = body.nbf as number
  if (body.jti !== undefined) claims.jti = body.jti
  return { claims }
}

/** Upstream's time checks, in its order and words; `now` in seconds since the epoch. */
export function checkTokenTimes(claims: ServiceAccountClaims, now: number): string | undefined {
  if (claims.nbf !== undefined && now + CLOCK_LEEWAY_SECONDS < claims.nbf) return 'service account token is not valid yet'
  if (now - CLOCK_LEEWAY_SECONDS > claims.exp) return 'service account token has expired'
  if (claims.iat !== undefined && now + CLOCK_LEEWAY_SECONDS < claims.iat) return 'service account token is issued in the future'
  return undefined
}

/** The caller a verified token names (ServiceAccountInfo.UserInfo upstream). */
export function serviceAccountUser(claims: ServiceAccountClaims): UserInfo {
  const k8s = claims['kubernetes.io']
  const user: UserInfo = {
    username: serviceAccountUsername(k8s.namespace, k8s.serviceaccount.name),
    uid: k8s.serviceaccount.uid,
    groups: [ALL_SERVICE_ACCOUNTS_GROUP, SERVICE_ACCOUNT_GROUP_PREFIX + k8s.namespace],
  }
  const extra: Record<string, string[]> = {}
  if (k8s.pod) {
    extra[POD_NAME_KEY] = [k8s.pod.name]
    extra[POD_UID_KEY] = [k8s.pod.uid]
  }
  if (claims.jti) extra[CREDENTIAL_ID_KEY] = ['JTI=' + claims.jti]
  if (k8s.node) {
    extra[NODE_NAME_KEY] = [k8s.node.name]
    extra[NODE_UID_KEY] = [k8s.node.uid]
  }
  if (Object.keys(extra).length > 0) user.extra = extra
  return user
}
