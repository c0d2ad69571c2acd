// The cadence of a controller that keeps kernel state in step with its informers: the service
// proxy and the NetworkPolicy enforcer (kube-proxy's BoundedFrequencyRunner, with its healthz
// rules). A change schedules a sync, at most one per minSyncMs; changes that come during a
// sync go together in the next. A failed sync is retried after a backoff that doubles up to
// a cap. Every fullSyncMs the owner is asked to make the next sync a full one.
//
// Health, as kube-proxy's: healthy once a sync has succeeded, while no change has waited
// longer than healthTimeoutMs for a successful sync, and while full syncs keep succeeding.
import type { Logger } from './log.ts'

export interface SyncLoopOptions {
  /** At most one sync per this many ms (0: at once). */
  minSyncMs: number
  /** The owner's periodic full sync: `fullDue` is called this often. */
  fullSyncMs: number
  /** Unhealthy when a change has waited longer than this for a successful sync (default 60 s). */
  healthTimeoutMs?: number
  /** The wait before retrying a failed sync, doubling up to maxMs (default 1 s to 30 s). */
  retry?: { initialMs: number; maxMs: number }
  /** One sync: resolves whether it succeeded and whether it was a full one; never rejects on purpose. */
  sync: () => Promise<{ ok: boolean; full: boolean }>
  /** The periodic full sync is due: mark the next sync full. */
  fullDue: () => void
  /** Names the owner in the log line of a sync that threw. */
  what: string
  log: Logger
}

export interface SyncLoopHealth {
  healthy: boolean
  /** Why not, when not healthy. */
  reason?: string
  lastUpdated?: string
  currentTime: string
}

export class SyncLoop {
  readonly #o: SyncLoopOptions
  #timer: NodeJS.Timeout | undefined
  #fullTimer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #again = false
  /** When the first change not yet synced came (undefined: none waits). */
  #pendingSince: number | undefined
  /** When the first change that came during the running sync came. */
  #pendingDuringSync: number | undefined
  #lastSyncStart = 0
  #retryAt = 0
  #failures = 0
  #lastSuccess: number | undefined
  #lastFullSuccess: number | undefined
  #started = false
  #stopped = false

  constructor(options: SyncLoopOptions) {
    this.#o = options
  }

  /** Consecutive failed syncs. */
  get failures(): number {
    return this.#failures
  }

  get lastSuccess(): number | undefined {
    return this.#lastSuccess
  }

  /** Runs the first sync and starts the periodic full syncs; changes schedule syncs from now on. */
  async start(): Promise<void> {
    this.#started = true
    await this.syncNow()
    this.#scheduleFull()
  }

  /** No more syncs; resolves when the one in flight has ended. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    clearTimeout(this.#fullTimer)
    await this.#running
  }

  /** Something the next sync must take in has changed. */
  changed(): void {
    const now = Date.now()
    if (this.#running) this.#pendingDuringSync ??= now
    this.#pendingSince ??= now
    this.#schedule()
  }

  /** Runs a sync now (after any in flight) and resolves when it is done. */
  async syncNow(): Promise<void> {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    while (this.#running) await this.#running
    this.#running = this.#sync().finally(() => {
      this.#running = undefined
      if (this.#again) this.#schedule()
    })
    await this.#running
  }

  health(now = Date.now()): SyncLoopHealth {
    const timeout = this.#o.healthTimeoutMs ?? 60_000
    const waitedTooLong = this.#pendingSince !== undefined && now - this.#pendingSince > timeout
    const fullTooOld = this.#lastFullSuccess === undefined ? waitedTooLong : now - this.#lastFullSuccess > this.#o.fullSyncMs + timeout
    const healthy = this.#lastSuccess !== undefined && !waitedTooLong && !fullTooOld
    const reason = this.#lastSuccess === undefined ? 'not synced yet' : this.#failures ? `the last ${this.#failures} sync(s) failed` : 'changes have waited too long for a sync'
    return {
      healthy,
      ...(healthy ? {} : { reason }),
      lastUpdated: this.#lastSuccess === undefined ? undefined : new Date(this.#lastSuccess).toISOString(),
      currentTime: new Date(now).toISOString(),
    }
  }

  #schedule(): void {
    if (this.#stopped || !this.#started) return
    if (this.#running) {
      this.#again = true
      return
    }
    if (this.#timer) return
    const now = Date.now()
    const wait = Math.max(0, this.#lastSyncStart + this.#o.minSyncMs - now, this.#retryAt - now)
    this.#timer = setTimeout(() => void this.syncNow().catch((err: unknown) => this.#o.log.error({ err }, `${this.#o.what} sync crashed`)), wait)
  }

  #scheduleFull(): void {
    if (this.#stopped) return
    this.#fullTimer = setTimeout(() => {
      this.#o.fullDue()
      this.changed()
      this.#scheduleFull()
    }, this.#o.fullSyncMs)
    this.#fullTimer.unref()
  }

  async #sync(): Promise<void> {
    this.#again = false
    this.#pendingDuringSync = undefined
    this.#lastSyncStart = Date.now()
    const { ok, full } = await this.#o.sync()
    if (!ok) {
      this.#failures++
      const retry = this.#o.retry ?? { initialMs: 1000, maxMs: 30_000 }
      this.#retryAt = Date.now() + Math.min(retry.maxMs, retry.initialMs * 2 ** (this.#failures - 1))
      this.#again = true
      return
    }
    this.#failures = 0
    this.#retryAt = 0
    this.#lastSuccess = Date.now()
    if (full) this.#lastFullSuccess = this.#lastSuccess
    // Changes that came during the sync wait from when they came.
    this.#pendingSince = this.#pendingDuringSync
  }
}
