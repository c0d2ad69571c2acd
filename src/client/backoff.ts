// Delays for retrying: a jittered, capped exponential backoff for reconnect loops and a
// per-key exponential limiter for work queues.

export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  initialMs?: number
  /** Upper bound on any delay. Default 30 s. */
  maxMs?: number
  /** Growth per attempt. Default 2. */
  factor?: number
  /** Fraction of each delay taken away at random (0 = none, 1 = anywhere in [0, d]). Default 0.5. */
  jitter?: number
  random?: () => number
}

export class Backoff {
  readonly initialMs: number
  readonly maxMs: number
  readonly factor: number
  readonly jitter: number
  #random: () => number
  #attempts = 0

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 500
    this.maxMs = opts.maxMs ?? 30_000
    this.factor = opts.factor ?? 2
    this.jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5))
    this.#random = opts.random ?? Math.random
  }

  get attempts(): number {
    return this.#attempts
  }

  /** The delay before the next attempt; each call grows the following one. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.#attempts)
    this.#attempts++
    return Math.round(base * (1 - this.jitter * this.#random()))
  }

  reset(): void {
    this.#attempts = 0
  }
}

/**
 * Waits `ms`, or less when `signal` aborts. Resolves true when the full time passed and
 * false when aborted; the timer never outlives the wait.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export interface RateLimiter<K> {
  /** How long to wait before retrying `key`; counts one more failure for it. */
  when(key: K): number
  forget(key: K): void
  numRequeues(key: K): number
}

export interface ItemBackoffOptions {
  /** Delay after the first failure. Default 5 ms. */
  baseMs?: number
  /** Default 1000 s, as client-go's default controller limiter. */
  maxMs?: number
}

/** Per-key exponential backoff: base·2^failures, capped. */
export class ItemExponentialRateLimiter<K> implements RateLimiter<K> {
  readonly baseMs: number
  readonly maxMs: number
  #failures = new Map<K, number>()

  constructor(opts: ItemBackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 5
    this.maxMs = opts.maxMs ?? 1_000_000
  }

  when(key: K): number {
    const n = this.#failures.get(key) ?? 0
    this.#failures.set(key, n + 1)
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(n, 62))
  }

  forget(key: K): void {
    this.#failures.delete(key)
  }

  numRequeues(key: K): number {
    return this.#failures.get(key) ?? 0
  }
}
