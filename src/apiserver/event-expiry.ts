// Events expire (--event-ttl, 1 h by default). kube-apiserver puts each Event on an etcd
// lease renewed at every write; weft sweeps instead, on either store: an Event whose last
// sighting (lastTimestamp, series.lastObservedTime, eventTime, else creationTimestamp) is
// older than the TTL is deleted, conditionally on the revision read, so an Event updated
// meanwhile stays.
import { resources } from '../api/registry.ts'
import { isStoreError } from '../store/store.ts'
import type { Logger } from '../util/log.ts'
import { fromKeyValue, type ObjectStore } from './objects.ts'

const eventInfo = resources.find((r) => r.group === '' && r.kind === 'Event')!
const PAGE = 500

/** When the Event was last written about, in ms; NaN when it names no time at all. */
export function lastSeen(event: Record<string, any>): number {
  const times = [event.lastTimestamp, event.series?.lastObservedTime, event.eventTime, event.metadata?.creationTimestamp]
  return Math.max(...times.filter((t) => typeof t === 'string' && t !== '').map((t) => Date.parse(t)).filter(Number.isFinite))
}

export class EventExpiry {
  readonly ttlMs: number
  readonly #objects: ObjectStore
  readonly #log: Logger
  readonly #intervalMs: number
  #timer: NodeJS.Timeout | undefined

  constructor(objects: ObjectStore, log: Logger, ttlMs: number, intervalMs = Math.min(60_000, Math.max(1000, ttlMs / 10))) {
    this.#objects = objects
    this.#log = log
    this.ttlMs = ttlMs
    this.#intervalMs = intervalMs
  }

  start(): void {
    if (this.ttlMs <= 0) return
    const tick = () => {
      this.runOnce()
        .catch((err) => this.#log.warn({ err }, 'expiring events failed; will retry'))
        .finally(() => {
          if (this.#timer) this.#timer = setTimeout(tick, this.#intervalMs).unref()
        })
    }
    this.#timer = setTimeout(tick, this.#intervalMs).unref()
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** One sweep; the number of Events deleted. */
  async runOnce(now = Date.now()): Promise<number> {
    let deleted = 0
    let startAfter: string | undefined
    for (let pages = 0; ; pages++) {
      // A store read answers at once: without a real yield a sweep of many Events would hold
      // the event loop for the whole of it.
      if (pages > 0) await new Promise((resolve) => setImmediate(resolve))
      const page = await this.#objects.list(eventInfo, undefined, { limit: PAGE, startAfter })
      for (const kv of page.items) {
        let event: ReturnType<typeof fromKeyValue>
        try {
          event = fromKeyValue(kv)
        } catch {
          continue
        }
        const seen = lastSeen(event)
        if (!(now - seen > this.ttlMs)) continue
        try {
          await this.#objects.delete(eventInfo, event, kv.modRevision)
          deleted++
        } catch (err) {
          // Written again meanwhile (a newer sighting), or already gone: either way not ours to delete.
          if (!(isStoreError(err) || (err as { code?: number }).code === 404 || (err as { code?: number }).code === 409)) throw err
        }
      }
      if (!page.more || page.items.length === 0) break
      startAfter = page.items[page.items.length - 1]!.key
    }
    if (deleted > 0) this.#log.debug({ deleted }, 'expired events deleted')
    return deleted
  }
}
