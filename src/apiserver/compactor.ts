// Drops store history older than one interval, as kube-apiserver compacts etcd every
// five minutes: each tick compacts to the revision the previous tick saw, so a watcher
// or a paged list always has at least one interval to catch up before it gets 410.
import type { Store } from '../store/store.ts'
import type { Logger } from '../util/log.ts'

export class Compactor {
  private readonly store: Store
  private readonly log: Logger
  readonly intervalMs: number
  private timer: NodeJS.Timeout | undefined
  private previous: number | undefined

  constructor(store: Store, log: Logger, intervalMs: number) {
    this.store = store
    this.log = log
    this.intervalMs = intervalMs
  }

  start(): void {
    if (this.intervalMs <= 0) return
    const tick = () => {
      this.runOnce()
        .catch((err) => this.log.warn({ err }, 'compaction failed; will retry'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.intervalMs).unref()
        })
    }
    this.timer = setTimeout(tick, this.intervalMs).unref()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** One tick: compacts to the revision seen at the previous tick, then remembers the current one. */
  async runOnce(): Promise<number | undefined> {
    const target = this.previous
    this.previous = await this.store.currentRevision()
    if (target === undefined) return undefined
    await this.store.compact(target)
    this.log.debug({ revision: target }, 'compacted store history')
    return target
  }
}
