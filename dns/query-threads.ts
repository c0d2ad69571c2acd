// The main thread's side of the query threads: starts them, sends each new zone snapshot,
// gathers their metrics for /metrics, and starts a thread again if one dies.
import { Worker } from 'node:worker_threads'
import type { Logger } from '../src/util/log.ts'
import { stopThread } from '../src/util/threads.ts'
import { errorReply } from './forwarder.ts'
import type { Forwarding } from './forwarding.ts'
import { Rcode } from './records.ts'
import type { FromThread, QueryThreadData, ToThread } from './query-thread.ts'
import { parseQuery } from './wire.ts'
import type { ZoneSnapshot } from './zone-source.ts'

const threadMain = new URL('./query-thread.ts', import.meta.url)

export class QueryThreads {
  readonly count: number
  #data: QueryThreadData
  #forwarding: Forwarding | undefined
  #log: Logger
  #workers = new Set<Worker>()
  #snapshot: ZoneSnapshot | undefined
  #pending = new Map<number, (json: unknown) => void>()
  #nextId = 1
  #stopped = false

  /** `forwarding`: the main thread's forwarder and cache, which answer the threads' names outside the zone. */
  constructor(count: number, data: QueryThreadData, forwarding: Forwarding | undefined, log: Logger) {
    this.count = count
    this.#data = data
    this.#forwarding = forwarding
    this.#log = log
  }

  /** Starts every thread with this zone; resolves once each has bound its socket. */
  async start(snapshot: ZoneSnapshot): Promise<void> {
    this.#snapshot = snapshot
    await Promise.all(Array.from({ length: this.count }, () => this.#spawn()))
  }

  update(snapshot: ZoneSnapshot): void {
    this.#snapshot = snapshot
    for (const w of this.#workers) w.postMessage({ type: 'zone', snapshot } satisfies ToThread)
  }

  /** Each thread's metrics (prom-client's getMetricsAsJSON), for AggregatorRegistry.aggregate. */
  metrics(): Promise<unknown[]> {
    return Promise.all(
      [...this.#workers].map(
        (w) =>
          new Promise<unknown>((resolve) => {
            const id = this.#nextId++
            const timer = setTimeout(() => {
              this.#pending.delete(id)
              resolve([])
            }, 2000)
            this.#pending.set(id, (json) => {
              clearTimeout(timer)
              resolve(json)
            })
            w.postMessage({ type: 'metrics', id } satisfies ToThread)
          }),
      ),
    )
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await Promise.all([...this.#workers].map((w) => stopThread(w, { type: 'stop' } satisfies ToThread, 2000)))
    this.#workers.clear()
  }

  #forward(worker: Worker, id: number, bytes: Uint8Array): void {
    // A thread forwards only when the server has upstreams, and then this side has them too.
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    const query = parseQuery(buf)
    this.#forwarding!.resolve(buf, query)
      .catch(() => ({ reply: errorReply(query, Rcode.SERVFAIL), cached: false }))
      .then(({ reply, cached }) => worker.postMessage({ type: 'forwarded', id, reply, cached } satisfies ToThread))
  }

  #spawn(): Promise<void> {
    const worker = new Worker(threadMain, { workerData: this.#data })
    worker.postMessage({ type: 'zone', snapshot: this.#snapshot! } satisfies ToThread)
    this.#workers.add(worker)
    return new Promise((resolve, reject) => {
      let started = false
      worker.on('message', (m: FromThread) => {
        if (m.type === 'ready') {
          started = true
          resolve()
        } else if (m.type === 'failed') {
          reject(new Error(`a DNS query thread could not start: ${m.message}`))
        } else if (m.type === 'forward') {
          this.#forward(worker, m.id, m.bytes)
        } else {
          if (m.error) this.#log.warn({ error: m.error }, 'a DNS query thread could not report its metrics')
          this.#pending.get(m.id)?.(m.json)
          this.#pending.delete(m.id)
        }
      })
      worker.on('error', (err) => this.#log.error({ err }, 'DNS query thread failed'))
      worker.on('exit', (code) => {
        this.#workers.delete(worker)
        if (!started) return reject(new Error(`a DNS query thread exited (${code}) before it was ready`))
        if (this.#stopped) return
        this.#log.error({ code }, 'DNS query thread exited; starting another')
        setTimeout(() => void this.#spawn().catch((err: Error) => this.#log.error({ err }, 'DNS query thread did not start again')), 1000)
      })
    })
  }
}
