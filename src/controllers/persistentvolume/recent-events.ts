// The storage controllers reconcile a waiting claim again and again (on every change and on
// their resync), and say the same thing each time; the event recorder of upstream folds
// repeats into one Event with a count. This keeps the first and drops repeats of the same
// reason and message about the same object for a while.
import type { Action } from '../actions.ts'

export class RecentEvents {
  readonly #seen = new Map<string, number>()
  readonly #ttlMs: number

  constructor(ttlMs = 10 * 60_000) {
    this.#ttlMs = ttlMs
  }

  /** The actions without the events said within the last ttl. */
  filter(actions: Action[], now = Date.now()): Action[] {
    if (this.#seen.size > 10_000) for (const [k, at] of this.#seen) if (now - at > this.#ttlMs) this.#seen.delete(k)
    return actions.filter((a) => {
      if (a.verb !== 'event') return true
      const e = a.event
      const key = JSON.stringify([e.involved.metadata?.uid, e.reason, e.message])
      const at = this.#seen.get(key)
      if (at !== undefined && now - at < this.#ttlMs) return false
      this.#seen.set(key, now)
      return true
    })
  }
}
