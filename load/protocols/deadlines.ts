// Requests' deadlines, checked by one coarse timer per client instead of a timer per request.
// Every request of a client has the same timeout, so they expire in the order they were sent:
// a FIFO in send order is enough, and each check only looks at its head.
import { Fifo } from './fifo.ts'

export interface Timed {
  /** performance.now() when the client was asked to send it. */
  startMs: number
  /** Ended (answered, failed, timed out): the deadline no longer matters. */
  done: boolean
}

export class Deadlines<T extends Timed> {
  readonly timeoutMs: number
  #fifo = new Fifo<T>()

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs
  }

  add(item: T): void {
    this.#fifo.push(item)
  }

  /** Calls `expire` for every item not done whose deadline is past `now`, oldest first, and forgets done ones. */
  sweep(now: number, expire: (item: T) => void): void {
    const oldest = now - this.timeoutMs
    for (let head = this.#fifo.peek(); head !== undefined; head = this.#fifo.peek()) {
      if (!head.done) {
        if (head.startMs > oldest) return
        expire(head)
      }
      this.#fifo.shift()
    }
  }

  clear(): void {
    this.#fifo.drain()
  }
}

/** How often a client checks deadlines: a twentieth of the timeout, between 5 ms and 250 ms. */
export function sweepIntervalMs(timeoutMs: number): number {
  return Math.min(250, Math.max(5, Math.floor(timeoutMs / 20)))
}
