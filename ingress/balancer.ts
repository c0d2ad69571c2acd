// Picks an endpoint of a backend per request, with passive health checking (outlier ejection).
//
// round_robin rotates over the usable endpoints in the order given to setEndpoints, starting at
// a random one (so ingress replicas do not all start on the same endpoint); least_request is
// "power of two choices": two distinct random usable endpoints, the one with fewer requests in
// flight wins (the first on a tie).
// Usable = not excluded and not ejected; when every non-excluded endpoint is ejected, the
// ejected ones are used anyway (Envoy's panic mode): better a likely failure than a certain 503.
// Ejection: `ejectAfterFailures` failures in a row eject an endpoint for ejectMs × 2^(n-1),
// at most 8×, where n counts its recent ejections; n decays by one for every ejectMs the
// endpoint spends un-ejected (as Envoy's multiplier does per interval). Failures reported
// while an endpoint is ejected (requests that were already in flight) are ignored.
import type { LoadBalance } from './annotations.ts'
import type { Endpoint } from './endpoints.ts'

export type Policy = LoadBalance

export interface BalancerOptions {
  /** Consecutive failures that eject an endpoint (3). */
  ejectAfterFailures: number
  /** Base ejection time (10 s). */
  ejectMs: number
  now?: () => number
  /** In [0, 1), like Math.random. */
  random?: () => number
}

export interface EndpointStatus {
  endpoint: string
  inFlight: number
  ejectedUntil?: number
  failures: number
}

const maxEjectionFactor = 8

/** 'addr:port', IPv6 as '[addr]:port'. */
export function endpointId(ep: Endpoint): string {
  return ep.address.includes(':') ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`
}

interface Slot {
  id: string
  endpoint: Endpoint
  inFlight: number
  failures: number
  /** 0 when not ejected. */
  ejectedUntil: number
  ejections: number
}

interface Pool {
  slots: Slot[]
  byId: Map<string, Slot>
  /** Index in slots where the next round-robin scan starts. */
  next: number
}

export class Balancer {
  readonly #ejectAfterFailures: number
  readonly #ejectMs: number
  readonly #now: () => number
  readonly #random: () => number
  readonly #pools = new Map<string, Pool>()
  /** The slot #slot found last (a request's started, succeeded and finished ask for the same one), until endpoints change. */
  #lastKey: string | undefined
  #lastEndpoint: Endpoint | undefined
  #lastSlot: Slot | undefined

  constructor(options: Partial<BalancerOptions> = {}) {
    const ejectAfterFailures = options.ejectAfterFailures ?? 3
    const ejectMs = options.ejectMs ?? 10_000
    if (!Number.isInteger(ejectAfterFailures) || ejectAfterFailures < 1) throw new RangeError(`ejectAfterFailures must be an integer >= 1, got ${ejectAfterFailures}`)
    if (!Number.isFinite(ejectMs) || ejectMs < 0) throw new RangeError(`ejectMs must be a finite number >= 0, got ${ejectMs}`)
    this.#ejectAfterFailures = ejectAfterFailures
    this.#ejectMs = ejectMs
    this.#now = options.now ?? Date.now
    this.#random = options.random ?? Math.random
  }

  /** Sets the backend's current endpoints (keeps per-endpoint state of those that stay; drops the rest). */
  setEndpoints(key: string, endpoints: readonly Endpoint[]): void {
    this.#lastSlot = this.#lastEndpoint = this.#lastKey = undefined
    const old = this.#pools.get(key)
    const slots: Slot[] = []
    const byId = new Map<string, Slot>()
    for (const endpoint of endpoints) {
      const id = endpointId(endpoint)
      if (byId.has(id)) continue
      const slot = old?.byId.get(id) ?? { id, endpoint, inFlight: 0, failures: 0, ejectedUntil: 0, ejections: 0 }
      slots.push(slot)
      byId.set(id, slot)
    }
    if (slots.length === 0) {
      this.#pools.delete(key)
      return
    }
    let next: number
    if (!old) {
      next = Math.floor(this.#random() * slots.length) % slots.length
    } else {
      // Continue the rotation where it was: at the endpoint the old rotation would have tried
      // next, or the first kept one after it.
      next = old.next % slots.length
      for (let i = 0; i < old.slots.length; i++) {
        const kept = byId.get(old.slots[(old.next + i) % old.slots.length]!.id)
        if (kept) {
          next = slots.indexOf(kept)
          break
        }
      }
    }
    this.#pools.set(key, { slots, byId, next })
  }

  /**
   * An endpoint for a new request, skipping `exclude` ('addr:port' of endpoints already tried)
   * and ejected ones; when every non-excluded endpoint is ejected, picks among them anyway;
   * undefined when the backend has no endpoint left to try.
   */
  pick(key: string, policy: Policy, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const pool = this.#pools.get(key)
    if (!pool) return undefined
    const now = this.#now()
    if (policy === 'round_robin') {
      return this.#roundRobin(pool, (s) => !exclude?.has(s.id) && !this.#ejected(s, now)) ?? this.#roundRobin(pool, (s) => !exclude?.has(s.id))
    }
    const candidates: Slot[] = []
    const healthy: Slot[] = []
    for (const slot of pool.slots) {
      if (exclude?.has(slot.id)) continue
      candidates.push(slot)
      if (!this.#ejected(slot, now)) healthy.push(slot)
    }
    const usable = healthy.length > 0 ? healthy : candidates
    return usable.length === 0 ? undefined : this.#leastRequest(usable)
  }

  /** Request accounting for least_request: call when a request goes out to `ep`. */
  started(key: string, ep: Endpoint): void {
    const slot = this.#slot(key, ep)
    if (slot) slot.inFlight++
  }

  /** Call when a request to `ep` ends, however it ends. */
  finished(key: string, ep: Endpoint): void {
    const slot = this.#slot(key, ep)
    if (slot && slot.inFlight > 0) slot.inFlight--
  }

  /** A connect failure or a 502/503/504 from `ep`. */
  failed(key: string, ep: Endpoint): void {
    const slot = this.#slot(key, ep)
    if (!slot) return
    const now = this.#now()
    if (this.#ejected(slot, now)) return
    if (++slot.failures < this.#ejectAfterFailures) return
    if (slot.ejectedUntil > 0 && this.#ejectMs > 0) {
      const decay = Math.floor((now - slot.ejectedUntil) / this.#ejectMs)
      slot.ejections = Math.max(0, slot.ejections - decay)
    }
    slot.ejections++
    const factor = Math.min(2 ** (slot.ejections - 1), maxEjectionFactor)
    slot.ejectedUntil = now + this.#ejectMs * factor
    slot.failures = 0
  }

  /** Any other outcome: resets the consecutive failure count. */
  succeeded(key: string, ep: Endpoint): void {
    const slot = this.#slot(key, ep)
    if (slot) slot.failures = 0
  }

  /** Per-endpoint state in endpoint order, for metrics and logs; ejectedUntil only while ejected. */
  state(key: string): EndpointStatus[] {
    const pool = this.#pools.get(key)
    if (!pool) return []
    const now = this.#now()
    return pool.slots.map((s) => {
      const status: EndpointStatus = { endpoint: s.id, inFlight: s.inFlight, failures: s.failures }
      if (this.#ejected(s, now)) status.ejectedUntil = s.ejectedUntil
      return status
    })
  }

  #slot(key: string, ep: Endpoint): Slot | undefined {
    if (ep === this.#lastEndpoint && key === this.#lastKey) return this.#lastSlot
    const slot = this.#pools.get(key)?.byId.get(endpointId(ep))
    if (slot) {
      this.#lastKey = key
      this.#lastEndpoint = ep
      this.#lastSlot = slot
    }
    return slot
  }

  #ejected(slot: Slot, now: number): boolean {
    return slot.ejectedUntil > now
  }

  #roundRobin(pool: Pool, usable: (slot: Slot) => boolean): Endpoint | undefined {
    const n = pool.slots.length
    for (let i = 0; i < n; i++) {
      const index = (pool.next + i) % n
      const slot = pool.slots[index]!
      if (usable(slot)) {
        pool.next = (index + 1) % n
        return slot.endpoint
      }
    }
    return undefined
  }

  #leastRequest(usable: readonly Slot[]): Endpoint {
    if (usable.length === 1) return usable[0]!.endpoint
    const i = this.#index(usable.length)
    let j = this.#index(usable.length - 1)
    if (j >= i) j++
    const a = usable[i]!
    const b = usable[j]!
    return (b.inFlight < a.inFlight ? b : a).endpoint
  }

  #index(n: number): number {
    return Math.min(Math.floor(this.#random() * n), n - 1)
  }
}
