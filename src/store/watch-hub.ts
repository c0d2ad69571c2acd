// In-process fan-out of store events to watchers. Each subscriber has its own queue;
// queues are drained together on a later turn of the event loop, so events are never
// delivered synchronously inside the write that caused them.
import type { Watch, WatchEvent, WatchHandlers } from './store.ts'

export class Subscriber implements Watch {
  readonly prefix: string
  /** Only events with a revision above this are queued; raised as events are queued. */
  after: number
  readonly handlers: WatchHandlers
  queue: WatchEvent[] = []
  ended = false
  error: Error | undefined
  /** Called once when the subscriber ends (cancel or error), to release upstream resources. */
  onEnd: (() => void) | undefined
  readonly #hub: WatchHub

  constructor(hub: WatchHub, prefix: string, after: number, handlers: WatchHandlers) {
    this.#hub = hub
    this.prefix = prefix
    this.after = after
    this.handlers = handlers
  }

  cancel(): void {
    this.queue = []
    this.error = undefined
    if (!this.ended) this.#hub.end(this, undefined)
  }

  progress(): number | undefined {
    return !this.ended && this.queue.length === 0 && this.#hub.isLive(this) ? Math.max(this.after, this.#hub.progress) : undefined
  }
}

export class WatchHub {
  readonly #live = new Set<Subscriber>()
  /** Every event up to this revision has been published (the store's revision, or its stream's). */
  #progress = 0
  #dirty = new Set<Subscriber>()
  #scheduled = false

  subscribe(prefix: string, after: number, handlers: WatchHandlers): Subscriber {
    return new Subscriber(this, prefix, after, handlers)
  }

  /** Starts feeding `sub` from `publish`. */
  attach(sub: Subscriber): void {
    if (!sub.ended) this.#live.add(sub)
  }

  detach(sub: Subscriber): void {
    this.#live.delete(sub)
  }

  get size(): number {
    return this.#live.size
  }

  get progress(): number {
    return this.#progress
  }

  isLive(sub: Subscriber): boolean {
    return this.#live.has(sub)
  }

  /** Every event up to `revision` has been published (a commit, a stream's progress notice). */
  noteProgress(revision: number): void {
    if (revision > this.#progress) this.#progress = revision
  }

  /** Queues, for every attached subscriber, the events it wants. Events must come in revision order. */
  publish(events: readonly WatchEvent[]): void {
    for (const sub of this.#live) this.enqueue(sub, events)
    if (events.length > 0) this.noteProgress(events[events.length - 1]!.revision)
  }

  /** Queues the events `sub` wants (its prefix, above its revision). */
  enqueue(sub: Subscriber, events: readonly WatchEvent[]): void {
    if (sub.ended) return
    let added = false
    for (const ev of events) {
      if (ev.revision > sub.after && ev.key.startsWith(sub.prefix)) {
        sub.queue.push(ev)
        added = true
      }
    }
    if (added) {
      sub.after = sub.queue[sub.queue.length - 1].revision
      this.#markDirty(sub)
    }
  }

  /** Ends `sub`: queued events are still delivered, then `err` (if any) through onError. */
  end(sub: Subscriber, err: Error | undefined): void {
    if (sub.ended) return
    sub.ended = true
    sub.error = err
    this.#live.delete(sub)
    sub.onEnd?.()
    if (err !== undefined) this.#markDirty(sub)
  }

  endAll(err: Error): void {
    this.endWhere(() => true, err)
  }

  endWhere(pred: (sub: Subscriber) => boolean, err: Error): void {
    for (const sub of [...this.#live]) if (pred(sub)) this.end(sub, err)
  }

  #markDirty(sub: Subscriber): void {
    this.#dirty.add(sub)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#flush())
    }
  }

  #flush(): void {
    this.#scheduled = false
    const dirty = this.#dirty
    this.#dirty = new Set()
    for (const sub of dirty) {
      const events = sub.queue
      sub.queue = []
      for (const ev of events) {
        // A cancel() from an earlier handler call stops delivery; an error end still drains.
        if (sub.ended && sub.error === undefined) break
        try {
          sub.handlers.onEvent(ev)
        } catch (err) {
          sub.queue = []
          this.end(sub, err instanceof Error ? err : new Error(String(err)))
          break
        }
      }
      if (sub.ended && sub.error !== undefined && sub.queue.length === 0) {
        const err = sub.error
        sub.error = undefined
        sub.handlers.onError(err)
      }
    }
  }
}
