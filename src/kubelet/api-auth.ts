// Who may call the kubelet API, as a kubeadm node's kubelet decides it (anonymous auth
// off, webhook authentication and authorization): a client certificate from the cluster
// CA or a bearer token the API server vouches for (TokenReview), then a
// SubjectAccessReview per request. Answers are cached with the kubelet's defaults
// (tokens 2 min / 30 s, decisions 5 min / 30 s); cache keys are digests, never tokens.
// A review the API server cannot answer is not cached.
import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { authenticate, type Authentication } from '../apiserver/auth.ts'
import { TokenCache } from '../auth/tokens/token-cache.ts'
import type { Decision, ResourceAttributes, UserInfo } from '../auth/types.ts'
import type { RestClient } from '../client/index.ts'

/** The two questions the kubelet asks the API server. Both throw when it cannot be asked. */
export interface KubeletReviews {
  /** The user a bearer token proves (TokenReview), or undefined. */
  reviewToken(token: string): Promise<UserInfo | undefined>
  /** May this user do this (SubjectAccessReview)? */
  reviewAccess(attributes: ResourceAttributes): Promise<Decision>
}

/** What the kubelet API server asks of each request. */
export interface KubeletRequestAuth {
  authenticate(req: IncomingMessage): Promise<Authentication>
  /** Throws when the authorizer cannot be asked. */
  authorize(attributes: ResourceAttributes): Promise<Decision>
}

export interface KubeletAuthTtls {
  tokenSuccessMs: number
  tokenFailureMs: number
  allowedMs: number
  deniedMs: number
}

/** The kubelet's webhook cache defaults (KubeletConfiguration authentication/authorization.webhook). */
export const KUBELET_AUTH_TTLS: KubeletAuthTtls = { tokenSuccessMs: 120_000, tokenFailureMs: 30_000, allowedMs: 300_000, deniedMs: 30_000 }

const MAX_CACHED = 4096

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

function extraOf(v: unknown): Record<string, string[]> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  return Object.fromEntries(Object.entries(v).map(([k, list]) => [k, strings(list)]))
}

/** The reviews through the agent's client (its node identity may create both kinds). */
export function apiReviews(client: RestClient): KubeletReviews {
  return {
    async reviewToken(token) {
      const review = await client.request<{ status?: { authenticated?: boolean; user?: Record<string, unknown> } }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token },
      })
      const u = review?.status?.user
      if (review?.status?.authenticated !== true || !u || typeof u.username !== 'string' || !u.username) return undefined
      return { username: u.username, uid: typeof u.uid === 'string' && u.uid ? u.uid : undefined, groups: strings(u.groups), extra: extraOf(u.extra) }
    },
    async reviewAccess(a) {
      const review = await client.request<{ status?: { allowed?: boolean; denied?: boolean; reason?: string } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: a.user.username,
          uid: a.user.uid,
          groups: a.user.groups,
          extra: a.user.extra,
          resourceAttributes: { verb: a.verb, group: a.apiGroup, version: a.apiVersion, resource: a.resource, subresource: a.subresource, name: a.name },
        },
      })
      const s = review?.status
      if (typeof s !== 'object' || s === null) throw new Error('the SubjectAccessReview came back without a status')
      const reason = typeof s.reason === 'string' ? s.reason : ''
      return { decision: s.allowed === true ? 'allow' : s.denied === true ? 'deny' : 'noOpinion', reason }
    },
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** The cache key of an authorization question: everything the answer depends on. */
export function accessKey(a: ResourceAttributes): string {
  const u = a.user
  return digest(JSON.stringify([u.username, u.uid ?? '', [...u.groups].sort(), Object.entries(u.extra ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)), a.verb, a.apiGroup, a.apiVersion, a.resource, a.subresource, a.namespace, a.name]))
}

/** Caches each answer and shares one review between concurrent identical questions. */
class ReviewCache<V> {
  readonly #cache = new TokenCache<V>(MAX_CACHED)
  readonly #inflight = new Map<string, Promise<V>>()

  async get(key: string, now: () => number, ask: () => Promise<V>, ttl: (v: V) => number): Promise<V> {
    const hit = this.#cache.get(key, now())
    if (hit !== undefined) return hit
    let pending = this.#inflight.get(key)
    if (!pending) {
      pending = ask()
        .then((v) => {
          this.#cache.set(key, v, now() + ttl(v))
          return v
        })
        .finally(() => this.#inflight.delete(key))
      this.#inflight.set(key, pending)
    }
    return pending
  }

  get size(): number {
    return this.#cache.size
  }
}

export class KubeletAuth implements KubeletRequestAuth {
  readonly #reviews: KubeletReviews
  readonly #ttls: KubeletAuthTtls
  readonly #now: () => number
  readonly #tokens = new ReviewCache<UserInfo | null>()
  readonly #decisions = new ReviewCache<Decision>()
  /** TokenReviews and SubjectAccessReviews sent (tests). */
  readonly sent = { tokenReviews: 0, accessReviews: 0 }

  constructor(reviews: KubeletReviews, opts: { ttls?: Partial<KubeletAuthTtls>; now?: () => number } = {}) {
    this.#reviews = reviews
    this.#ttls = { ...KUBELET_AUTH_TTLS, ...opts.ttls }
    this.#now = opts.now ?? Date.now
  }

  /**
   * A verified client certificate, else a bearer token (a token the API server cannot
   * vouch for just now fails, uncached); no credential is anonymous, which the server refuses.
   */
  authenticate(req: IncomingMessage): Promise<Authentication> {
    return authenticate(req, { authenticate: (token) => this.reviewToken(token), generation: 0 })
  }

  async reviewToken(token: string): Promise<UserInfo | undefined> {
    try {
      const user = await this.#tokens.get(
        digest(token),
        this.#now,
        async () => {
          this.sent.tokenReviews++
          return (await this.#reviews.reviewToken(token)) ?? null
        },
        (u) => (u ? this.#ttls.tokenSuccessMs : this.#ttls.tokenFailureMs),
      )
      return user ?? undefined
    } catch {
      return undefined
    }
  }

  authorize(a: ResourceAttributes): Promise<Decision> {
    return this.#decisions.get(
      accessKey(a),
      this.#now,
      () => {
        this.sent.accessReviews++
        return this.#reviews.reviewAccess(a)
      },
      (d) => (d.decision === 'allow' ? this.#ttls.allowedMs : this.#ttls.deniedMs),
    )
  }
}
