// Requests waiting for a free connection, first in first out: a growable ring of (token, time
// queued) pairs in one Float64Array, so queueing allocates nothing per request.

/** How often a client looks for requests past their timeout: a twentieth of it, 5..100 ms. */
export function timeoutScanMs(timeoutMs: number): number {
  return Math.min(100, Math.max(5, timeoutMs / 20))
}

export class RequestQueue {
  private ring = new Float64Array(2 * 1024)
  private head = 0
  private count = 0

  get length(): number {
    return this.count
  }

  push(token: number, queuedAt: number): void {
    const capacity = this.ring.length / 2
    if (this.count === capacity) this.grow()
    const slot = ((this.head + this.count) % (this.ring.length / 2)) * 2
    this.ring[slot] = token
    this.ring[slot + 1] = queuedAt
    this.count++
  }

  /** The oldest entry's time; call only when length > 0. */
  peekTime(): number {
    return this.ring[this.head * 2 + 1]
  }

  /** Removes the oldest entry and returns its token (its time: peekTime() before). */
  shift(): number {
    const token = this.ring[this.head * 2]
    this.head = (this.head + 1) % (this.ring.length / 2)
    this.count--
    return token
  }

  clear(): void {
    this.head = 0
    this.count = 0
  }

  private grow(): void {
    const capacity = this.ring.length / 2
    const bigger = new Float64Array(this.ring.length * 2)
    for (let i = 0; i < this.count; i++) {
      const from = ((this.head + i) % capacity) * 2
      bigger[i * 2] = this.ring[from]
      bigger[i * 2 + 1] = this.ring[from + 1]
    }
    this.ring = bigger
    this.head = 0
  }
}
