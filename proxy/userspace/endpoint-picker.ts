// Chooses the endpoint of a new connection (or UDP session): round robin over the usable
// endpoints, with ClientIP affinity keeping a client on its endpoint until it has been idle
// for the affinity timeout.
import { isIP } from 'node:net'
import type { Endpoint } from '../model.ts'
import { joinHostPort } from '../../src/util/host-port.ts'

export interface Target {
  ip: string
  port: number
  /** `ip:port`. */
  key: string
}

interface Sticky {
  key: string
  last: number
}

export class EndpointPicker {
  #targets: Target[] = []
  #byKey = new Map<string, Target>()
  #next = 0
  #affinityMs = 0
  readonly #sticky = new Map<string, Sticky>()
  #lastSweep = 0

  constructor(endpoints: readonly Endpoint[] = [], affinitySeconds = 0) {
    this.update(endpoints, affinitySeconds)
  }

  get size(): number {
    return this.#targets.length
  }

  /** Whether ClientIP affinity is on (pick needs the client's address). */
  get affinity(): boolean {
    return this.#affinityMs > 0
  }

  has(key: string): boolean {
    return this.#byKey.has(key)
  }

  /** Replaces the endpoints in place; clients stay on endpoints that remain. Malformed ones are ignored. */
  update(endpoints: readonly Endpoint[], affinitySeconds: number): void {
    const affinityMs = affinitySeconds * 1000
    if (affinityMs !== this.#affinityMs) this.#sticky.clear()
    this.#affinityMs = affinityMs
    this.#targets = endpoints.filter((e) => isIP(e.ip) !== 0 && Number.isInteger(e.port) && e.port > 0 && e.port < 65536).map((e) => ({ ip: e.ip, port: e.port, key: joinHostPort(e.ip, e.port) }))
    this.#byKey = new Map(this.#targets.map((t) => [t.key, t]))
    if (this.#next >= this.#targets.length) this.#next = 0
  }

  /** The endpoint for a new connection from `clientIp`. */
  pick(clientIp: string, now = performance.now()): Target | undefined {
    if (this.#affinityMs > 0) {
      const sticky = this.#sticky.get(clientIp)
      if (sticky !== undefined && now - sticky.last <= this.#affinityMs) {
        const target = this.#byKey.get(sticky.key)
        if (target !== undefined) {
          sticky.last = now
          return target
        }
      }
    }
    return this.#roundRobin(clientIp, undefined, now)
  }

  /** The next endpoint after those in `tried` failed, or undefined when every one was tried. */
  retry(clientIp: string, tried: ReadonlySet<string>, now = performance.now()): Target | undefined {
    return this.#roundRobin(clientIp, tried, now)
  }

  #roundRobin(clientIp: string, tried: ReadonlySet<string> | undefined, now: number): Target | undefined {
    const n = this.#targets.length
    for (let i = 0; i < n; i++) {
      const target = this.#targets[this.#next]!
      this.#next = this.#next + 1 === n ? 0 : this.#next + 1
      if (tried?.has(target.key)) continue
      if (this.#affinityMs > 0) this.#stick(clientIp, target.key, now)
      return target
    }
    return undefined
  }

  #stick(clientIp: string, key: string, now: number): void {
    if (now - this.#lastSweep > this.#affinityMs) {
      this.#lastSweep = now
      for (const [ip, s] of this.#sticky) if (now - s.last > this.#affinityMs) this.#sticky.delete(ip)
    }
    const sticky = this.#sticky.get(clientIp)
    if (sticky === undefined) this.#sticky.set(clientIp, { key, last: now })
    else {
      sticky.key = key
      sticky.last = now
    }
  }
}
