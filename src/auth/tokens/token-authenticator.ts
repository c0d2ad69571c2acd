// The bearer-token chain: bootstrap tokens by their shape, else service-account JWTs, with
// results cached under the token's SHA-256 so that a repeat request is a hash and a lookup.
import { createHash } from 'node:crypto'
import type { UserInfo } from '../types.ts'
import type { BootstrapTokenAuthenticator } from './bootstrap-authenticator.ts'
import { parseBootstrapToken } from './bootstrap-token.ts'
import { MAX_TOKEN_LENGTH } from './compact-jws.ts'
import type { ServiceAccountTokens } from './service-account-tokens.ts'
import { TokenCache } from './token-cache.ts'

/** Whom a token names, or why it names no one (never the token itself). */
export type TokenReview = { user: UserInfo } | { error: string }

export interface TokenAuthenticatorOptions {
  bootstrap?: BootstrapTokenAuthenticator
  serviceAccounts?: ServiceAccountTokens
  /** Most results kept; default 10 000. */
  cacheSize?: number
  /** How long a success is kept, capped by the token's own expiry; default 10 s. */
  successTtlMs?: number
  /** How long a refusal is kept; default 2 s. */
  failureTtlMs?: number
  /** Milliseconds since the epoch; Date.now unless a test drives time. */
  clock?: () => number
}

export const DEFAULT_TOKEN_CACHE_SIZE = 10_000
export const DEFAULT_SUCCESS_TTL_MS = 10_000
export const DEFAULT_FAILURE_TTL_MS = 2_000

type Outcome = { review: TokenReview; expiresAt?: number; transient?: true }

function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

function dotCount(token: string): number {
  let n = 0
  for (let i = token.indexOf('.'); i !== -1; i = token.indexOf('.', i + 1)) n++
  return n
}

function frozenUser(user: UserInfo): UserInfo {
  Object.freeze(user.groups)
  if (user.extra) {
    for (const values of Object.values(user.extra)) Object.freeze(values)
    Object.freeze(user.extra)
  }
  return Object.freeze(user)
}

export class TokenAuthenticator {
  /** Exposed so that tests (and metrics) can see its size and keys. */
  readonly cache: TokenCache<TokenReview>
  readonly #bootstrap: BootstrapTokenAuthenticator | undefined
  readonly #serviceAccounts: ServiceAccountTokens | undefined
  readonly #successTtl: number
  readonly #failureTtl: number
  readonly #clock: () => number
  readonly #inFlight = new Map<string, Promise<TokenReview>>()
  #generation = 0

  constructor(options: TokenAuthenticatorOptions) {
    this.#bootstrap = options.bootstrap
    this.#serviceAccounts = options.serviceAccounts
    this.cache = new TokenCache(options.cacheSize ?? DEFAULT_TOKEN_CACHE_SIZE)
    this.#successTtl = options.successTtlMs ?? DEFAULT_SUCCESS_TTL_MS
    this.#failureTtl = options.failureTtlMs ?? DEFAULT_FAILURE_TTL_MS
    this.#clock = options.clock ?? Date.now
  }

  async authenticate(token: string): Promise<UserInfo | undefined> {
    const review = await this.review(token)
    return 'user' in review ? review.user : undefined
  }

  /** Never rejects: a lookup that throws is a refusal that is not cached. */
  review(token: string): Promise<TokenReview> {
    if (typeof token !== 'string' || token === '') return Promise.resolve({ error: 'no bearer token' })
    if (token.length > MAX_TOKEN_LENGTH) return Promise.resolve({ error: `token is longer than ${MAX_TOKEN_LENGTH} bytes` })
    const key = tokenKey(token)
    const cached = this.cache.get(key, this.#clock())
    if (cached) return Promise.resolve(cached)
    const pending = this.#inFlight.get(key)
    if (pending) return pending
    const generation = this.#generation
    const work = this.#check(token).then(
      (outcome) => this.#settle(key, generation, outcome),
      () => this.#settle(key, generation, { review: { error: 'token could not be checked: its authenticator failed' }, transient: true }),
    )
    this.#inFlight.set(key, work)
    return work
  }

  /** Bumped by every invalidate(): a result remembered elsewhere is good only while this stays. */
  get generation(): number {
    return this.#generation
  }

  /** Forgets every cached result; call it when a bootstrap Secret, ServiceAccount, Pod or key changes. */
  invalidate(): void {
    this.#generation++
    this.cache.clear()
    this.#inFlight.clear()
  }

  #settle(key: string, generation: number, outcome: Outcome): TokenReview {
    if (generation !== this.#generation) return outcome.review
    this.#inFlight.delete(key)
    if (outcome.transient) return outcome.review
    const now = this.#clock()
    Object.freeze(outcome.review)
    if ('user' in outcome.review) {
      frozenUser(outcome.review.user)
      const until = Math.min(now + this.#successTtl, outcome.expiresAt ?? Infinity)
      if (until > now) this.cache.set(key, outcome.review, until)
    } else {
      this.cache.set(key, outcome.review, now + this.#failureTtl)
    }
    return outcome.review
  }

  async #check(token: string): Promise<Outcome> {
    const now = new Date(this.#clock())
    if (parseBootstrapToken(token)) {
      if (!this.#bootstrap) return { review: { error: 'bootstrap tokens are not accepted here' } }
      const result = await this.#bootstrap.authenticate(token, now)
      if ('error' in result) return { review: result }
      return { review: { user: result.user }, expiresAt: result.expiresAt?.getTime() }
    }
    if (dotCount(token) === 2) {
      if (!this.#serviceAccounts) return { review: { error: 'service-account tokens are not accepted here' } }
      const result = await this.#serviceAccounts.verify(token, { now })
      if ('error' in result) return { review: result }
      return { review: { user: result.user }, expiresAt: result.claims.exp * 1000 }
    }
    return { review: { error: 'token is neither a bootstrap token nor a service-account JWT' } }
  }
}
