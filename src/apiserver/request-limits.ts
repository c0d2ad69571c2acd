// kube-apiserver's request protection: at most N read-only and M mutating requests at once
// (--max-requests-inflight, --max-mutating-requests-inflight; long-running requests and
// system:masters are not held to it), a deadline for every request that is not long-running
// (--request-timeout, or the client's shorter ?timeout=), and caps on open watches, in all
// and per user. Refusals are 429 with Retry-After, as upstream's MaxInFlightLimit filter.
import type { UserInfo } from '../auth/types.ts'
import { parseGoDuration } from '../util/go-duration.ts'
import { ApiError, badRequest } from '../util/errors.ts'

export interface RequestLimitOptions {
  /** Read-only requests (GET, HEAD) in flight at once; 0: no limit. Upstream default 400. */
  maxRequestsInflight: number
  /** Mutating requests in flight at once; 0: no limit. Upstream default 200. */
  maxMutatingRequestsInflight: number
  /** The deadline of a request that is not long-running; 0: none. Upstream default 60 s. */
  requestTimeoutMs: number
  /** Watches open at once, in all; 0: no limit. */
  maxWatches: number
  /** Watches open at once by one user; 0: no limit. */
  maxWatchesPerUser: number
}

export const defaultRequestLimits: RequestLimitOptions = {
  maxRequestsInflight: 400,
  maxMutatingRequestsInflight: 200,
  requestTimeoutMs: 60_000,
  maxWatches: 100_000,
  maxWatchesPerUser: 1_000,
}

const longRunningSubresources = new Set(['attach', 'exec', 'proxy', 'log', 'portforward'])

/** Upstream's BasicLongRunningRequestCheck: watches and proxies, and the streaming subresources. */
export function isLongRunning(verb: string, subresource: string | undefined): boolean {
  return verb === 'watch' || verb === 'proxy' || (subresource !== undefined && longRunningSubresources.has(subresource))
}

export function tooManyRequests(message: string): ApiError {
  return new ApiError(429, 'TooManyRequests', message, { retryAfterSeconds: 1 })
}

export function requestTimedOut(): ApiError {
  return new ApiError(504, 'Timeout', 'Timeout: request did not complete within requested timeout - context deadline exceeded', { retryAfterSeconds: 1 })
}

const privileged = (user: UserInfo) => user.groups.includes('system:masters')

export class RequestLimits {
  readonly options: RequestLimitOptions
  #readOnly = 0
  #mutating = 0
  #watches = 0
  readonly #watchesByUser = new Map<string, number>()

  constructor(options: Partial<RequestLimitOptions> = {}) {
    this.options = { ...defaultRequestLimits, ...options }
  }

  get inFlight(): { readOnly: number; mutating: number; watches: number } {
    return { readOnly: this.#readOnly, mutating: this.#mutating, watches: this.#watches }
  }

  /** A slot for a request that is not long-running; the function returned frees it (once). */
  admit(mutating: boolean, user: UserInfo): () => void {
    const limit = mutating ? this.options.maxMutatingRequestsInflight : this.options.maxRequestsInflight
    const current = mutating ? this.#mutating : this.#readOnly
    if (limit > 0 && current >= limit && !privileged(user)) throw tooManyRequests('Too many requests, please try again later.')
    if (mutating) this.#mutating++
    else this.#readOnly++
    return once(() => {
      if (mutating) this.#mutating--
      else this.#readOnly--
    })
  }

  /** A slot for a watch, in all and for its user; the function returned frees it (once). */
  admitWatch(user: UserInfo): () => void {
    const mine = this.#watchesByUser.get(user.username) ?? 0
    if (!privileged(user)) {
      const { maxWatches, maxWatchesPerUser } = this.options
      if (maxWatches > 0 && this.#watches >= maxWatches) throw tooManyRequests(`too many watches are open (${maxWatches}), please try again later`)
      if (maxWatchesPerUser > 0 && mine >= maxWatchesPerUser) throw tooManyRequests(`user "${user.username}" has too many watches open (${maxWatchesPerUser}); close some, or try again later`)
    }
    this.#watches++
    this.#watchesByUser.set(user.username, mine + 1)
    return once(() => {
      this.#watches--
      const left = (this.#watchesByUser.get(user.username) ?? 1) - 1
      if (left > 0) this.#watchesByUser.set(user.username, left)
      else this.#watchesByUser.delete(user.username)
    })
  }

  /** The deadline for a request: the server's, or the client's `?timeout=` when shorter; 0: none. */
  timeoutMs(query: URLSearchParams): number {
    const server = this.options.requestTimeoutMs
    const asked = query.get('timeout')
    if (asked === null || asked === '') return server
    const ms = parseGoDuration(asked)
    if (ms === undefined || ms < 0) throw badRequest(`invalid timeout specified in the request URL: "${asked.slice(0, 50)}" is not a duration like 30s`)
    if (ms === 0) return server
    return server > 0 ? Math.min(ms, server) : ms
  }
}

function once(fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}
