// The controller work queue (client-go's rate-limited workqueue): a key is queued at most
// once, is never handed to two workers at once, and comes back after `done` when it was
// added again while being processed.
import { ItemExponentialRateLimiter } from './backoff.ts'
import type { RateLimiter } from './backoff.ts'

export interface WorkQueueOptions<K> {
  /** Delays for `addRateLimited`. Default: per-key exponential, 5 ms doubling to 1000 s. */
  rateLimiter?: RateLimiter<K>
  /** Hands out higher values first (ties in the order added), as the scheduler's queue by pod priority. Default: first in, first out. */
  priority?: (key: K) => number
}

interface Ranked<K> {
  key: K
  rank: number
  seq: number
}

export class WorkQueue<K> {
  #queue: K[] = []
  #head = 0
  /** Keys that need processing: queued, or re-added while being processed. */
  #dirty = new Set<K>()
  #processing = new Set<K>()
  #waiters: ((key: K | undefined) => void)[] = []
  #delayed = new Map<K, { at: number; timer: NodeJS.Timeout }>()
  #shuttingDown = false
  #limiter: RateLimiter<K>
  readonly #priority: ((key: K) => number) | undefined
  /** With a priority: a binary max-heap instead of the FIFO array. */
  #heap: Ranked<K>[] = []
  #seq = 0

  constructor(opts: WorkQueueOptions<K> = {}) {
    this.#limiter = opts.rateLimiter ?? new ItemExponentialRateLimiter<K>()
    this.#priority = opts.priority
  }

  /** Keys waiting to be handed out. */
  get length(): number {
    return this.#priority ? this.#heap.length : this.#queue.length - this.#head
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown
  }

  isProcessing(key: K): boolean {
    return this.#processing.has(key)
  }

  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return
    this.#dirty.add(key)
    if (this.#processing.has(key)) return
    this.#enqueue(key)
  }

  /** Adds `key` after `ms`; of several pending delays for one key the earliest wins. */
  addAfter(key: K, ms: number): void {
    if (this.#shuttingDown) return
    if (ms <= 0) return this.add(key)
    const at = Date.now() + ms
    const pending = this.#delayed.get(key)
    if (pending) {
      if (pending.at <= at) return
      clearTimeout(pending.timer)
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(key)
      this.add(key)
    }, ms)
    this.#delayed.set(key, { at, timer })
  }

  /** Adds `key` after its backoff: longer each time until `forget(key)`. */
  addRateLimited(key: K): void {
    this.addAfter(key, this.#limiter.when(key))
  }

  /** Ends the backoff of `key` (call after it was processed successfully). */
  forget(key: K): void {
    this.#limiter.forget(key)
  }

  numRequeues(key: K): number {
    return this.#limiter.numRequeues(key)
  }

  /** The next key to process; undefined once the queue is shut down. Call `done(key)` after. */
  get(): Promise<K | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined)
    if (this.length > 0) return Promise.resolve(this.#take())
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** Marks `key` processed; if it was added meanwhile it is queued again. */
  done(key: K): void {
    this.#processing.delete(key)
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#enqueue(key)
  }

  /**
   * Answers the `get()` calls now waiting with undefined, as at shut-down, but keeps the
   * queue: its workers stop (a leader that lost its lease) and keys added meanwhile wait
   * for the next workers.
   */
  releaseWaiters(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve(undefined)
  }

  /** Stops handing out keys: pending and future `get()` calls answer undefined; delays are cancelled. */
  shutDown(): void {
    if (this.#shuttingDown) return
    this.#shuttingDown = true
    for (const { timer } of this.#delayed.values()) clearTimeout(timer)
    this.#delayed.clear()
    this.#queue = []
    this.#head = 0
    this.#heap = []
    this.#dirty.clear()
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve(undefined)
  }

  #enqueue(key: K): void {
    const waiter = this.#waiters.shift()
    if (waiter) {
      this.#dirty.delete(key)
      this.#processing.add(key)
      waiter(key)
      return
    }
    if (this.#priority) this.#heapPush({ key, rank: this.#priority(key), seq: this.#seq++ })
    else this.#queue.push(key)
  }

  #take(): K {
    if (this.#priority) {
      const key = this.#heapPop()
      this.#dirty.delete(key)
      this.#processing.add(key)
      return key
    }
    const key = this.#queue[this.#head++]
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    this.#dirty.delete(key)
    this.#processing.add(key)
    return key
  }

  #before(a: Ranked<K>, b: Ranked<K>): boolean {
    return a.rank > b.rank || (a.rank === b.rank && a.seq < b.seq)
  }

  #heapPush(item: Ranked<K>): void {
    const h = this.#heap
    h.push(item)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#before(h[i]!, h[parent]!)) break
      ;[h[i], h[parent]] = [h[parent]!, h[i]!]
      i = parent
    }
  }

  #heapPop(): K {
    const h = this.#heap
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let best = i
        if (l < h.length && this.#before(h[l]!, h[best]!)) best = l
        if (r < h.length && this.#before(h[r]!, h[best]!)) best = r
        if (best === i) break
        ;[h[i], h[best]] = [h[best]!, h[i]!]
        i = best
      }
    }
    return top.key
  }
}
