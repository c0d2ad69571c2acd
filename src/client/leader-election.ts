// Leader election on a coordination.k8s.io Lease, as client-go's tools/leaderelection does
// it for kube-scheduler and kube-controller-manager: candidates read the Lease, the holder
// renews it every retry period, and a candidate takes it over only after it has watched the
// record stay unchanged for the lease's duration by its own clock (never the holder's
// renewTime, which another machine's clock wrote). Every write is an update on the
// resourceVersion that was read, so two candidates never both win.
import type { V1Lease } from '@kubernetes/client-node'
import { findByKind } from '../api/registry.ts'
import { ApiError } from '../util/errors.ts'
import type { Logger } from '../util/log.ts'
import type { RestClient } from './rest-client.ts'

const leaseInfo = findByKind('coordination.k8s.io/v1', 'Lease')!

export interface LeaderElectionTimings {
  /** How long a candidate waits on an unchanged record before taking it over (upstream 15 s). */
  leaseDurationMs: number
  /** How long the leader keeps trying to renew before it gives up leading (upstream 10 s). */
  renewDeadlineMs: number
  /** Time between tries (upstream 2 s). */
  retryPeriodMs: number
}

export const defaultLeaderElectionTimings: LeaderElectionTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }

/** Upstream's rules: renewDeadline < leaseDuration, and retryPeriod × 1.2 < renewDeadline. */
export function checkTimings(t: LeaderElectionTimings): void {
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) throw new Error(`the lease duration (${t.leaseDurationMs} ms) must be longer than the renew deadline (${t.renewDeadlineMs} ms)`)
  if (!(t.renewDeadlineMs > t.retryPeriodMs * 1.2)) throw new Error(`the renew deadline (${t.renewDeadlineMs} ms) must be longer than 1.2 × the retry period (${t.retryPeriodMs} ms)`)
  if (!(t.retryPeriodMs > 0) || t.leaseDurationMs < 1000) throw new Error('the retry period must be positive and the lease duration at least 1 s')
}

/** The Lease's spec as MicroTime text: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

/** What a candidate remembers of the record it last saw, and when it first saw it (its own clock). */
export interface Observation {
  record: string
  atMs: number
}

export type ElectionStep =
  | { kind: 'create'; lease: V1Lease }
  | { kind: 'update'; lease: V1Lease }
  | { kind: 'held'; holder: string; expiresInMs: number }

function recordText(spec: V1Lease['spec']): string {
  return JSON.stringify([spec?.holderIdentity ?? '', spec?.leaseDurationSeconds ?? 0, String(spec?.acquireTime ?? ''), String(spec?.renewTime ?? ''), spec?.leaseTransitions ?? 0])
}

/**
 * One try of client-go's tryAcquireOrRenew, without the I/O: what to write given the Lease
 * read (`current`, undefined when there is none) and what this candidate saw before. The
 * returned observation is to be kept whether or not the write happens.
 */
export function electionStep(
  current: V1Lease | undefined,
  seen: Observation | undefined,
  identity: string,
  nowMs: number,
  leaseDurationSeconds: number,
  where: { namespace: string; name: string },
): { step: ElectionStep; seen: Observation | undefined } {
  const now = microTime(nowMs)
  if (!current) {
    const lease: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { namespace: where.namespace, name: where.name },
      spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now as unknown as Date, renewTime: now as unknown as Date, leaseTransitions: 0 },
    }
    return { step: { kind: 'create', lease }, seen }
  }
  const spec = current.spec ?? {}
  const text = recordText(spec)
  const observed = seen && seen.record === text ? seen : { record: text, atMs: nowMs }
  const holder = spec.holderIdentity ?? ''
  const mine = holder === identity
  const heldForMs = (spec.leaseDurationSeconds ?? 0) * 1000
  if (holder !== '' && !mine && observed.atMs + heldForMs > nowMs) {
    return { step: { kind: 'held', holder, expiresInMs: observed.atMs + heldForMs - nowMs }, seen: observed }
  }
  const lease: V1Lease = {
    ...current,
    spec: {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now as unknown as Date,
      acquireTime: (mine ? spec.acquireTime : now) as Date,
      leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
    },
  }
  return { step: { kind: 'update', lease }, seen: observed }
}

export interface LeaderElectorOptions extends Partial<LeaderElectionTimings> {
  client: RestClient
  namespace?: string
  /** The Lease's name: kube-scheduler, kube-controller-manager. */
  name: string
  /** Unique per process (upstream: hostname_uuid). */
  identity: string
  log: Logger
  now?: () => number
}

export interface LeaderCallbacks {
  /** Became leader: start the work. */
  onStartedLeading: () => void | Promise<void>
  /** Stopped leading (lost the Lease, or `stop()`): stop the work before anything else writes. */
  onStoppedLeading: () => void | Promise<void>
  onNewLeader?: (identity: string) => void
}

type TryResult = 'ours' | 'held' | 'failed'

/** Campaigns for one Lease until stopped; leads while it can renew, then campaigns again. */
export class LeaderElector {
  readonly name: string
  readonly namespace: string
  readonly identity: string
  readonly #o: LeaderElectorOptions
  readonly #timings: LeaderElectionTimings
  readonly #now: () => number
  readonly #abort = new AbortController()
  #seen: Observation | undefined
  #leading = false
  #leader = ''
  #loop: Promise<void> | undefined

  constructor(options: LeaderElectorOptions) {
    this.#o = options
    this.name = options.name
    this.namespace = options.namespace ?? 'kube-system'
    this.identity = options.identity
    this.#timings = {
      leaseDurationMs: options.leaseDurationMs ?? defaultLeaderElectionTimings.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? defaultLeaderElectionTimings.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? defaultLeaderElectionTimings.retryPeriodMs,
    }
    checkTimings(this.#timings)
    this.#now = options.now ?? Date.now
  }

  get leading(): boolean {
    return this.#leading
  }

  /** The holder last seen ('' before the first read). */
  get leader(): string {
    return this.#leader
  }

  run(callbacks: LeaderCallbacks): void {
    this.#loop ??= this.#campaign(callbacks)
  }

  /** Stops campaigning; a leader stops its work, then releases the Lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#loop
  }

  async #campaign(cb: LeaderCallbacks): Promise<void> {
    const signal = this.#abort.signal
    const { retryPeriodMs, renewDeadlineMs } = this.#timings
    while (!signal.aborted) {
      // Acquire: a try every retry period (with upstream's 1.2 jitter factor).
      if ((await this.#tryAcquireOrRenew(renewDeadlineMs, cb)) !== 'ours') {
        await this.#sleep(retryPeriodMs * (1 + Math.random() * 0.2))
        continue
      }
      this.#leading = true
      this.#o.log.info({ lease: `${this.namespace}/${this.name}`, identity: this.identity }, 'became leader')
      await cb.onStartedLeading()
      // Renew: within each renew deadline one try must succeed, or leadership is given up.
      while (!signal.aborted) {
        await this.#sleep(retryPeriodMs)
        if (signal.aborted) break
        const deadline = this.#now() + renewDeadlineMs
        let result: TryResult = 'failed'
        while (!signal.aborted && this.#now() < deadline) {
          result = await this.#tryAcquireOrRenew(deadline - this.#now(), cb)
          // Another holder means this one's lease lapsed already: stop at once, not at the deadline.
          if (result !== 'failed') break
          await this.#sleep(Math.min(retryPeriodMs, Math.max(0, deadline - this.#now())))
        }
        if (result !== 'ours') break
      }
      this.#leading = false
      await cb.onStoppedLeading()
      if (signal.aborted) {
        await this.#release()
        return
      }
      this.#o.log.warn({ lease: `${this.namespace}/${this.name}`, identity: this.identity }, 'leader election lost: could not renew the lease within the renew deadline')
    }
  }

  async #tryAcquireOrRenew(timeoutMs: number, cb: LeaderCallbacks): Promise<TryResult> {
    const { client, log } = this.#o
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(Math.max(1, timeoutMs))])
    try {
      let current: V1Lease | undefined
      try {
        current = await client.get<V1Lease>(leaseInfo, this.name, this.namespace, { signal })
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err
      }
      const { step, seen } = electionStep(current, this.#seen, this.identity, this.#now(), Math.ceil(this.#timings.leaseDurationMs / 1000), this)
      this.#seen = seen
      if (step.kind === 'held') {
        this.#noteLeader(step.holder, cb)
        return 'held'
      }
      const written = step.kind === 'create' ? await client.create(leaseInfo, step.lease, { signal }) : await client.update(leaseInfo, step.lease, { signal })
      this.#seen = { record: recordText(written.spec), atMs: this.#now() }
      this.#noteLeader(this.identity, cb)
      return 'ours'
    } catch (err) {
      // A conflict is another candidate's write winning; anything else is logged and retried.
      if (!(err instanceof ApiError && (err.code === 409 || err.code === 404)) && !signal.aborted) log.debug({ err, lease: `${this.namespace}/${this.name}` }, 'leader election: try failed')
      return 'failed'
    }
  }

  #noteLeader(identity: string, cb: LeaderCallbacks): void {
    if (identity === this.#leader) return
    this.#leader = identity
    cb.onNewLeader?.(identity)
  }

  /** As client-go's ReleaseOnCancel: an empty holder with a 1 s duration. */
  async #release(): Promise<void> {
    const { client, log } = this.#o
    const signal = AbortSignal.timeout(this.#timings.renewDeadlineMs)
    try {
      const current = await client.get<V1Lease>(leaseInfo, this.name, this.namespace, { signal })
      if (current.spec?.holderIdentity !== this.identity) return
      const now = microTime(this.#now())
      await client.update(
        leaseInfo,
        { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now as unknown as Date, renewTime: now as unknown as Date } },
        { signal },
      )
    } catch (err) {
      log.debug({ err, lease: `${this.namespace}/${this.name}` }, 'leader election: could not release the lease')
    }
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#abort.signal
    if (signal.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, { once: true })
    })
  }
}
