// One etcd watch stream over a key range, resumed from the last seen revision when the
// connection drops. Ends with StoreError 'Compacted' or 'Unavailable'.
import { b64, EtcdResponseError, unb64, type EtcdHttp, type EtcdWatchResponse } from './etcd-http.ts'
import { StoreError, type WatchEvent } from './store.ts'

export interface UpstreamWatchOptions {
  key: Buffer
  rangeEnd: Buffer
  startRevision: number
  /** Maps a stored key back to the store's key. */
  decodeKey: (stored: string) => string
  onEvents: (events: WatchEvent[]) => void
  onEnd: (err: StoreError) => void
  /** Give up reconnecting after this long without a working stream. */
  reconnectTimeoutMs: number
  /**
   * The newest revision written in the watched range, asked of etcd directly. A stream that
   * stays silent while this is ahead of what it delivered is taken for half-open (a peer
   * that vanished without a reset) and replaced, resuming after its last event.
   */
  latestRevision?: () => Promise<number>
  /** How often a silent stream is checked that way (default 10 s: a dead one goes within about 20 s). */
  lagCheckMs?: number
  /** Every event up to `revision` has been delivered (an etcd progress notification). */
  onProgress?: (revision: number) => void
}

export class UpstreamWatch {
  /** Revision of the last event delivered; the stream resumes after it. */
  lastRevision: number
  readonly #http: EtcdHttp
  readonly #options: UpstreamWatchOptions
  readonly #abort = new AbortController()
  #stopped = false

  constructor(http: EtcdHttp, options: UpstreamWatchOptions) {
    this.#http = http
    this.#options = options
    this.lastRevision = options.startRevision - 1
    void this.#run()
  }

  stop(): void {
    this.#stopped = true
    this.#abort.abort()
  }

  async #run(): Promise<void> {
    let failingSince = 0
    let attempt = 0
    while (!this.#stopped) {
      let failure: unknown
      const stream = new AbortController()
      const stopStream = () => stream.abort()
      this.#abort.signal.addEventListener('abort', stopStream, { once: true })
      const watchdog = this.#watchdog(stream)
      try {
        await this.#http.watchStream(
          {
            create_request: {
              key: b64(this.#options.key),
              range_end: b64(this.#options.rangeEnd),
              start_revision: String(this.lastRevision + 1),
              prev_kv: true,
              progress_notify: true,
            },
          },
          stream.signal,
          (res) => {
            watchdog.heard()
            this.#handle(res)
            failingSince = 0
            attempt = 0
          },
        )
      } catch (err) {
        failure = err
      } finally {
        watchdog.stop()
        this.#abort.signal.removeEventListener('abort', stopStream)
      }
      if (this.#stopped) return
      if (watchdog.fired) {
        // A half-open stream: start another at once, from the last event.
        attempt = 0
        continue
      }
      if (failure instanceof StoreError) return this.#end(failure)
      if (failure instanceof EtcdResponseError && failure.compacted) {
        return this.#end(new StoreError('Compacted', `etcd compacted revision ${this.lastRevision + 1}: ${failure.message}`, {
          compactRevision: this.lastRevision + 1,
        }))
      }
      const now = Date.now()
      if (failingSince === 0) failingSince = now
      if (now - failingSince > this.#options.reconnectTimeoutMs) {
        const why = failure instanceof Error ? failure.message : 'the stream ended'
        return this.#end(new StoreError('Unavailable', `etcd watch lost and not re-established: ${why}`))
      }
      attempt++
      await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** attempt, 1000)))
    }
  }

  /** Watches a stream for silence while etcd has moved on; aborts it then. */
  #watchdog(stream: AbortController): { heard(): void; stop(): void; readonly fired: boolean } {
    const every = this.#options.lagCheckMs ?? 10_000
    const latest = this.#options.latestRevision
    let lastHeard = Date.now()
    let behindSince: number | undefined
    let fired = false
    let checking = false
    const timer = latest
      ? setInterval(() => {
          if (checking || Date.now() - lastHeard < every) return
          checking = true
          const seen = this.lastRevision
          latest()
            .then((rev) => {
              if (rev <= seen || Date.now() - lastHeard < every) {
                behindSince = undefined
                return
              }
              behindSince ??= Date.now()
              if (Date.now() - behindSince >= every) {
                fired = true
                stream.abort()
              }
            })
            .catch(() => undefined)
            .finally(() => (checking = false))
        }, Math.max(50, every / 2))
      : undefined
    timer?.unref()
    return {
      heard: () => {
        lastHeard = Date.now()
        behindSince = undefined
      },
      stop: () => clearInterval(timer),
      get fired() {
        return fired
      },
    }
  }

  #handle(res: EtcdWatchResponse): void {
    if (res.canceled) {
      const compactRevision = Number(res.compact_revision ?? 0)
      if (compactRevision > 0) {
        throw new StoreError('Compacted', `revision ${this.lastRevision + 1} has been compacted; the oldest available is ${compactRevision}`, {
          compactRevision,
        })
      }
      throw new Error(`etcd cancelled the watch: ${res.cancel_reason ?? 'no reason given'}`)
    }
    if (res.events === undefined || res.events.length === 0) {
      // A progress notification: every event up to the header's revision has been sent.
      const revision = Number(res.header?.revision ?? 0)
      if (!res.created && revision > this.lastRevision) {
        this.lastRevision = revision
        this.#options.onProgress?.(revision)
      }
      return
    }
    const events: WatchEvent[] = []
    for (const e of res.events) {
      const revision = Number(e.kv.mod_revision)
      const ev: WatchEvent = {
        type: e.type === 'DELETE' ? 'delete' : 'put',
        key: this.#options.decodeKey(unb64(e.kv.key)),
        revision,
        createRevision: Number(e.type === 'DELETE' ? (e.prev_kv?.create_revision ?? 0) : e.kv.create_revision),
      }
      if (ev.type === 'put') ev.value = unb64(e.kv.value)
      if (e.prev_kv !== undefined) ev.prevValue = unb64(e.prev_kv.value)
      events.push(ev)
      if (revision > this.lastRevision) this.lastRevision = revision
    }
    this.#options.onEvents(events)
  }

  #end(err: StoreError): void {
    this.#stopped = true
    this.#abort.abort()
    this.#options.onEnd(err)
  }
}
