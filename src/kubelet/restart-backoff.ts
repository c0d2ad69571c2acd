// CrashLoopBackOff: a container that keeps exiting waits 10 s, 20 s, 40 s … up to 5 min
// before each restart; the first restart after a clean stretch is immediate, and the
// delay resets once a container has stayed up for twice the cap (the kubelet's rules).

export interface RestartBackoffOptions {
  initialMs?: number
  maxMs?: number
}

interface Entry {
  delayMs: number
  /** When the wait started: the container's exit. */
  fromMs: number
}

export class RestartBackoff {
  readonly #initial: number
  readonly #max: number
  readonly #entries = new Map<string, Entry>()

  constructor(opts: RestartBackoffOptions = {}) {
    this.#initial = opts.initialMs ?? 10_000
    this.#max = opts.maxMs ?? 300_000
  }

  /** When `key` may restart next, or undefined if it may restart now. */
  until(key: string): number | undefined {
    const e = this.#entries.get(key)
    return e ? e.fromMs + e.delayMs : undefined
  }

  /**
   * Records a restart after an exit at `exitedAtMs` of a run that started at
   * `startedAtMs`: the next exit waits longer, unless this run was long and healthy.
   */
  restarted(key: string, startedAtMs: number, exitedAtMs: number): void {
    const e = this.#entries.get(key)
    if (!e || exitedAtMs - startedAtMs > 2 * this.#max) {
      this.#entries.set(key, { delayMs: this.#initial, fromMs: Number.NEGATIVE_INFINITY })
      return
    }
    e.delayMs = Math.min(e.delayMs * 2, this.#max)
  }

  /** The container exited at `exitedAtMs`: its wait (if it has one) starts now. */
  exited(key: string, exitedAtMs: number): void {
    const e = this.#entries.get(key)
    if (e) e.fromMs = exitedAtMs
  }

  forget(prefix: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key)
  }
}
