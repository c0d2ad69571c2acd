// The 16-bit query ids of one DNS socket. An id is taken while its query is in flight; after
// a timeout it stays taken (quarantined) a while longer, so a late answer to it cannot end the
// next query that would get the same id. At most 65536 queries per socket, then callers queue.
import { Fifo } from './fifo.ts'

export const ID_SPACE = 65536

interface Quarantined<T> {
  id: number
  item: T
  untilMs: number
}

export class QueryIds<T> {
  readonly #byId = new Map<number, T>()
  readonly #quarantine = new Fifo<Quarantined<T>>()
  #next: number

  constructor(first = Math.floor(Math.random() * ID_SPACE)) {
    this.#next = first & 0xffff
  }

  /** Ids taken: in flight or quarantined. */
  get size(): number {
    return this.#byId.size
  }

  get full(): boolean {
    return this.#byId.size >= ID_SPACE
  }

  /** A free id, now taken by `item`; -1 when all 65536 are taken. */
  take(item: T): number {
    if (this.full) return -1
    let id = this.#next
    while (this.#byId.has(id)) id = (id + 1) & 0xffff
    this.#next = (id + 1) & 0xffff
    this.#byId.set(id, item)
    return id
  }

  get(id: number): T | undefined {
    return this.#byId.get(id)
  }

  release(id: number): void {
    this.#byId.delete(id)
  }

  /** Keeps `id` taken until `untilMs`; quarantine in order of `untilMs` (every query of a client has the same timeout). */
  quarantine(id: number, untilMs: number): void {
    const item = this.#byId.get(id)
    if (item !== undefined) this.#quarantine.push({ id, item, untilMs })
  }

  /** Frees the ids whose quarantine ended by `now`. */
  expire(now: number): void {
    for (let head = this.#quarantine.peek(); head !== undefined && head.untilMs <= now; head = this.#quarantine.peek()) {
      this.#quarantine.shift()
      if (this.#byId.get(head.id) === head.item) this.#byId.delete(head.id)
    }
  }

  /** Every item holding an id, quarantined ones included. */
  items(): IterableIterator<T> {
    return this.#byId.values()
  }

  clear(): void {
    this.#byId.clear()
    this.#quarantine.drain()
  }
}
