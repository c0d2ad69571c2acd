// Bound service-account tokens as TokenRequest issues them and kube-apiserver checks them:
// RS256 JWS only, keys picked by kid, then issuer, audience, times and the live bindings.
// jose signs and verifies (async, off the event loop); the header is read here first so that
// nothing but RS256 ever reaches it.
import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto'
import { CompactSign, compactVerify } from 'jose'
import type { UserInfo } from '../types.ts'
import { parseCompactJws, quoteUntrusted } from './compact-jws.ts'
import { keyIdFromPublicKey } from './key-id.ts'
import {
  checkTokenTimes,
  parseServiceAccountClaims,
  serviceAccountUser,
  serviceAccountUsername,
  type ObjectRef,
  type ServiceAccountClaims,
} from './service-account-claims.ts'
import { checkTokenBinding, type TokenBindingLookup } from './token-binding.ts'

/** TokenRequest's bounds on expirationSeconds, and its default. */
export const MIN_EXPIRATION_SECONDS = 600
export const MAX_EXPIRATION_SECONDS = 2 ** 32
export const DEFAULT_EXPIRATION_SECONDS = 3600
const MIN_RSA_BITS = 2048
const ALGORITHM = 'RS256'

export interface ServiceAccountTokensOptions {
  /** The RSA private key that signs (PKCS#8 PEM; PKCS#1 is read too). */
  signingKeyPem: string
  /** More public keys (SPKI PEM) whose tokens are accepted, e.g. during a key rotation. */
  verificationKeysPem?: string[]
  issuer: string
  /** The audiences of the API server itself: the default of issue() and of verify(). */
  apiAudiences: string[]
  lookup: TokenBindingLookup
}

export interface IssueRequest {
  namespace: string
  serviceAccount: ObjectRef
  pod?: ObjectRef
  node?: ObjectRef
  secret?: ObjectRef
  audiences?: string[]
  expirationSeconds?: number
  now?: Date
}

export interface IssuedToken {
  token: string
  expirationTimestamp: Date
}

export interface VerifyOptions {
  now?: Date
  /** The audiences the token must share one with; the API audiences unless given. */
  audiences?: string[]
}

export type VerifyResult = { user: UserInfo; claims: ServiceAccountClaims } | { error: string }

interface VerificationKey {
  kid: string
  key: KeyObject
}

function checkRsa(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`${what} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; service-account tokens need an RSA key`)
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < MIN_RSA_BITS) throw new Error(`${what} has ${bits} bits; use an RSA key of at least ${MIN_RSA_BITS} bits`)
}

function readKey<T>(read: () => T, what: string): T {
  try {
    return read()
  } catch {
    throw new Error(`${what} is not a PEM key node:crypto can read`)
  }
}

function checkNames(values: string[], what: string): void {
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string' && v !== '')) {
    throw new Error(`${what} must be a non-empty list of non-empty strings`)
  }
}

function checkRef(ref: ObjectRef | undefined, what: string): void {
  if (ref === undefined) return
  if (typeof ref?.name !== 'string' || ref.name === '' || typeof ref.uid !== 'string' || ref.uid === '') {
    throw new Error(`${what} needs a non-empty name and uid`)
  }
}

/** Go's %q of a []string, as upstream's audience error prints it. */
function goQuoted(values: string[]): string {
  return '[' + values.map((v) => quoteUntrusted(v)).join(' ') + ']'
}

export class ServiceAccountTokens {
  readonly issuer: string
  readonly apiAudiences: readonly string[]
  /** The `kid` this issuer signs with. */
  readonly keyId: string
  readonly #signingKey: KeyObject
  readonly #keys: VerificationKey[]
  readonly #keysById: Map<string, VerificationKey>
  readonly #lookup: TokenBindingLookup

  constructor(options: ServiceAccountTokensOptions) {
    if (typeof options.issuer !== 'string' || options.issuer === '') throw new Error('the service-account issuer must be a non-empty string')
    checkNames(options.apiAudiences, 'the API audiences')
    this.issuer = options.issuer
    this.apiAudiences = Object.freeze([...options.apiAudiences])
    this.#lookup = options.lookup

    this.#signingKey = readKey(() => createPrivateKey(options.signingKeyPem), 'the service-account signing key')
    checkRsa(this.#signingKey, 'the service-account signing key')
    const signingPublic = createPublicKey(this.#signingKey)
    this.keyId = keyIdFromPublicKey(signingPublic)

    this.#keys = [{ kid: this.keyId, key: signingPublic }]
    this.#keysById = new Map([[this.keyId, this.#keys[0]!]])
    for (const [i, pem] of (options.verificationKeysPem ?? []).entries()) {
      const what = `service-account verification key ${i + 1}`
      const key = readKey(() => createPublicKey(pem), what)
      checkRsa(key, what)
      const kid = keyIdFromPublicKey(key)
      if (this.#keysById.has(kid)) continue
      const entry = { kid, key }
      this.#keys.push(entry)
      this.#keysById.set(kid, entry)
    }
  }

  async issue(request: IssueRequest): Promise<IssuedToken> {
    const { namespace, serviceAccount, pod, node, secret } = request
    if (typeof namespace !== 'string' || namespace === '') throw new Error('a service-account token needs a namespace')
    if (serviceAccount === undefined) throw new Error('a service-account token needs a service account')
    checkRef(serviceAccount, 'the service account')
    checkRef(pod, 'the bound pod')
    checkRef(node, 'the bound node')
    checkRef(secret, 'the bound secret')
    if (secret && (pod || node)) throw new Error('a service-account token can be bound to a secret or to a pod and node, not both')
    const audiences = request.audiences ?? [...this.apiAudiences]
    checkNames(audiences, 'the token audiences')
    const expirationSeconds = request.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS
    if (!Number.isInteger(expirationSeconds)) throw new Error('expirationSeconds must be an integer')
    if (expirationSeconds < MIN_EXPIRATION_SECONDS) throw new Error('expirationSeconds may not specify a duration less than 10 minutes')
    if (expirationSeconds > MAX_EXPIRATION_SECONDS) throw new Error('expirationSeconds may not specify a duration larger than 2^32 seconds')

    const now = Math.floor((request.now ?? new Date()).getTime() / 1000)
    if (!Number.isFinite(now)) throw new Error('now is not a valid date')
    const exp = now + expirationSeconds
    // Keys in the order upstream's tokens have them (go-jose marshals a map: sorted).
    const kubernetes: Record<string, unknown> = { namespace }
    if (node) kubernetes.node = { name: node.name, uid: node.uid }
    if (pod) kubernetes.pod = { name: pod.name, uid: pod.uid }
    if (secret) kubernetes.secret = { name: secret.name, uid: secret.uid }
    kubernetes.serviceaccount = { name: serviceAccount.name, uid: serviceAccount.uid }
    const payload = {
      aud: audiences,
      exp,
      iat: now,
      iss: this.issuer,
      jti: randomUUID(),
      'kubernetes.io': kubernetes,
      nbf: now,
      sub: serviceAccountUsername(namespace, serviceAccount.name),
    }
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: ALGORITHM, kid: this.keyId, typ: 'JWT' })
      .sign(this.#signingKey)
    return { token, expirationTimestamp: new Date(exp * 1000) }
  }

  /** Why the token is refused, or whom it names. Only a throwing lookup (or an invalid `now`) makes it reject. */
  async verify(token: string, options: VerifyOptions = {}): Promise<VerifyResult> {
    if (typeof token !== 'string') return { error: 'token is not a string' }
    const parsed = parseCompactJws(token)
    if ('error' in parsed) return parsed
    const { alg, kid } = parsed.header
    if (alg !== ALGORITHM) return { error: `token algorithm ${quoteUntrusted(alg)} is not allowed; service-account tokens are ${ALGORITHM}` }

    let candidates = this.#keys
    if (kid !== undefined) {
      const key = this.#keysById.get(kid)
      if (!key) return { error: 'invalid signature, no keys found' }
      candidates = [key]
    }
    let payload: Uint8Array | undefined
    for (const { key } of candidates) {
      try {
        payload = (await compactVerify(token, key, { algorithms: [ALGORITHM] })).payload
        break
      } catch {
        // the next key, if any
      }
    }
    if (!payload) return { error: 'invalid signature' }

    const read = parseServiceAccountClaims(payload)
    if ('error' in read) return read
    const { claims } = read
    if (claims.iss !== this.issuer) return { error: `token issuer ${quoteUntrusted(claims.iss)} is invalid` }
    if (claims.aud.length === 0) return { error: 'token has no audience' }
    const wanted = options.audiences ?? this.apiAudiences
    if (!claims.aud.some((a) => wanted.includes(a))) {
      return { error: `token audiences ${goQuoted(claims.aud)} is invalid for the target audiences ${goQuoted([...wanted])}` }
    }
    const now = Math.floor((options.now ?? new Date()).getTime() / 1000)
    if (!Number.isFinite(now)) throw new Error('verify was given an invalid date as now')
    const timeError = checkTokenTimes(claims, now)
    if (timeError) return { error: timeError }
    const bindingError = await checkTokenBinding(claims, this.#lookup)
    if (bindingError) return { error: bindingError }
    return { user: serviceAccountUser(claims), claims }
  }
}
