// Live merging of several generators' seconds: second S is merged and passed on once every
// generator has sent its window for S, or has already sent a later one (windows arrive in
// order, so it had nothing for S). Seconds still open at the end come from the final merge.
import type { RunSnapshot, WindowSnapshot } from './types.ts'

/** Windows of one second from several generators as one (the recorder's mergeWindows). */
export type MergeWindows = (windows: WindowSnapshot[]) => WindowSnapshot

export class WindowMerger {
  readonly #pending: Array<Map<number, WindowSnapshot>>
  readonly #last: number[]
  readonly #merge: MergeWindows
  readonly #emit: (window: WindowSnapshot) => void
  #next = 0

  constructor(generators: number, merge: MergeWindows, emit: (window: WindowSnapshot) => void) {
    this.#pending = Array.from({ length: generators }, () => new Map())
    this.#last = Array.from({ length: generators }, () => -1)
    this.#merge = merge
    this.#emit = emit
  }

  /** The next second not passed on yet. */
  get next(): number {
    return this.#next
  }

  add(generator: number, window: WindowSnapshot): void {
    // A repeated or out-of-order second from one generator is a broken stream: ignored.
    if (window.second <= this.#last[generator]! || window.second < this.#next) return
    this.#last[generator] = window.second
    this.#pending[generator]!.set(window.second, window)
    while (this.#last.every((last) => last >= this.#next)) {
      const windows = this.#pending.map((p) => p.get(this.#next)).filter((w): w is WindowSnapshot => w !== undefined)
      for (const p of this.#pending) p.delete(this.#next)
      this.#passOn(windows)
      this.#next++
    }
  }

  /** Passes on what is left of `final` (every generator's merged snapshot) from the next second on. */
  finish(final: RunSnapshot): void {
    for (const window of final.windows) {
      if (window.second < this.#next) continue
      this.#emit(window)
      this.#next = window.second + 1
    }
    for (const p of this.#pending) p.clear()
  }

  #passOn(windows: WindowSnapshot[]): void {
    if (windows.length === 0) return
    this.#emit(windows.length === 1 ? windows[0]! : this.#merge(windows))
  }
}
