// --workers: the main thread's side of the Ingress worker threads. The main thread watches
// the API, builds the route table and serves on its own listeners; each worker thread
// (worker-thread.ts) serves too, on listeners of its own bound to the same ports with
// SO_REUSEPORT (the kernel spreads new connections over them), with its own route table,
// certificates, balancer and upstream pools, built from what the main thread sends: the
// served Ingresses, their TLS Secrets and the backends' endpoints, after the first time only
// what changed. /metrics adds up every thread's; Ingress status is written by the main
// thread alone. A thread that dies is started again (with the whole state) after a second,
// counted in weft_ingress_worker_restarts_total and logged; meanwhile the others serve (the
// connections the dead one held, or had not yet accepted, are lost).
import { Worker } from 'node:worker_threads'
import type { V1Ingress, V1Secret } from '@kubernetes/client-node'
import { objectKey } from '../src/client/index.ts'
import type { Logger } from '../src/util/log.ts'
import { stopThread } from '../src/util/threads.ts'
import type { Endpoint } from './endpoints.ts'
import type { ServedState } from './ingress-source.ts'
import type { IngressMetrics } from './metrics.ts'
import type { FromWorker, StateDelta, ToWorker, WorkerData } from './worker-thread.ts'

const workerMain = new URL('./worker-thread.ts', import.meta.url)
const RESTART_DELAY_MS = 1000
const METRICS_TIMEOUT_MS = 2000

/** What one thread was sent, so that the next message holds only what changed. */
export interface SentState {
  ingresses: Map<string, V1Ingress>
  secrets: Map<string, V1Secret>
  /** Endpoints by backend key, as JSON (compared by text: a new table brings new arrays). */
  endpoints: Map<string, string>
}

export function emptySent(): SentState {
  return { ingresses: new Map(), secrets: new Map(), endpoints: new Map() }
}

/** The kubernetes.io/tls Secrets the served Ingresses name ('namespace/name'): a thread is sent no others. */
function boundSecrets(state: ServedState): Map<string, V1Secret> {
  const out = new Map<string, V1Secret>()
  for (const ing of state.served) {
    for (const tls of ing.spec?.tls ?? []) {
      if (!tls.secretName) continue
      const id = `${ing.metadata?.namespace}/${tls.secretName}`
      const secret = state.secrets.get(id)
      if (secret) out.set(id, secret)
    }
  }
  return out
}

/**
 * What a thread that was sent `sent` needs to hold `state`: the Ingresses and Secrets that are
 * new or another object than the one sent (informers hand over a new object per version), the
 * endpoint lists whose content changed, and what went away. `sent` is updated to `state`.
 */
export function stateDelta(sent: SentState, state: ServedState, seq: number): StateDelta {
  const delta: StateDelta = { seq, ingresses: [], removedIngresses: [], secrets: [], removedSecrets: [], endpoints: [], removedEndpoints: [] }
  const ingresses = new Map<string, V1Ingress>()
  for (const ing of state.served) {
    const key = objectKey(ing)
    ingresses.set(key, ing)
    if (sent.ingresses.get(key) !== ing) delta.ingresses.push(ing)
  }
  for (const key of sent.ingresses.keys()) if (!ingresses.has(key)) delta.removedIngresses.push(key)
  sent.ingresses = ingresses
  const secrets = boundSecrets(state)
  for (const [id, secret] of secrets) if (sent.secrets.get(id) !== secret) delta.secrets.push([id, secret])
  for (const id of sent.secrets.keys()) if (!secrets.has(id)) delta.removedSecrets.push(id)
  sent.secrets = secrets
  const endpoints = new Map<string, string>()
  for (const [key, eps] of state.endpoints) {
    const json = JSON.stringify(eps)
    endpoints.set(key, json)
    if (sent.endpoints.get(key) !== json) delta.endpoints.push([key, eps as Endpoint[]])
  }
  for (const key of sent.endpoints.keys()) if (!endpoints.has(key)) delta.removedEndpoints.push(key)
  sent.endpoints = endpoints
  return delta
}

interface Thread {
  worker: Worker
  sent: SentState
  /** The last state (seq) it applied. */
  applied: number
  ready: boolean
}

export class IngressWorkers {
  readonly count: number
  /** Threads started again after they died. */
  restarts = 0
  #data: WorkerData
  #log: Logger
  #metrics: IngressMetrics
  #threads = new Set<Thread>()
  #state: ServedState | undefined
  #seq = 0
  #waiting = new Set<() => void>()
  #pending = new Map<number, (json: unknown) => void>()
  #nextId = 1
  #stopped = false

  constructor(count: number, data: WorkerData, log: Logger, metrics: IngressMetrics) {
    this.count = count
    this.#data = data
    this.#log = log
    this.#metrics = metrics
  }

  /** The worker threads now (a test may terminate one). */
  get workers(): Worker[] {
    return [...this.#threads].map((t) => t.worker)
  }

  /** Every thread is serving. */
  get ready(): boolean {
    return this.#threads.size === this.count && [...this.#threads].every((t) => t.ready)
  }

  /** Starts the threads with `state`; resolves once each one serves. */
  async start(state: ServedState): Promise<void> {
    this.#state = state
    this.#seq++
    await Promise.all(Array.from({ length: this.count }, () => this.#spawn()))
  }

  update(state: ServedState): void {
    this.#state = state
    const seq = ++this.#seq
    for (const t of this.#threads) t.worker.postMessage({ type: 'state', delta: stateDelta(t.sent, state, seq) } satisfies ToWorker)
  }

  /** Resolves once every running thread has applied the latest state. */
  applied(): Promise<void> {
    if (this.#caughtUp()) return Promise.resolve()
    return new Promise((resolve) => {
      const check = () => {
        if (!this.#caughtUp()) return
        this.#waiting.delete(check)
        resolve()
      }
      this.#waiting.add(check)
    })
  }

  #caughtUp(): boolean {
    return [...this.#threads].every((t) => t.applied === this.#seq)
  }

  /** Each thread's metrics (prom-client's getMetricsAsJSON), for AggregatorRegistry.aggregate. */
  metrics(): Promise<unknown[]> {
    return Promise.all(
      [...this.#threads].map(
        (t) =>
          new Promise<unknown>((resolve) => {
            const id = this.#nextId++
            const timer = setTimeout(() => {
              this.#pending.delete(id)
              resolve([])
            }, METRICS_TIMEOUT_MS)
            this.#pending.set(id, (json) => {
              clearTimeout(timer)
              resolve(json)
            })
            t.worker.postMessage({ type: 'metrics', id } satisfies ToWorker)
          }),
      ),
    )
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await Promise.all([...this.#threads].map(({ worker }) => stopThread(worker, { type: 'stop' } satisfies ToWorker, 5000)))
    this.#threads.clear()
  }

  #spawn(): Promise<void> {
    const worker = new Worker(workerMain, { workerData: this.#data })
    const thread: Thread = { worker, sent: emptySent(), applied: 0, ready: false }
    worker.postMessage({ type: 'state', delta: stateDelta(thread.sent, this.#state!, this.#seq) } satisfies ToWorker)
    this.#threads.add(thread)
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          thread.ready = true
          resolve()
        } else if (m.type === 'failed') reject(new Error(`an Ingress worker thread could not start: ${m.message}`))
        else if (m.type === 'applied') {
          thread.applied = m.seq
          for (const check of [...this.#waiting]) check()
        } else {
          if (m.error) this.#log.warn({ error: m.error }, 'an Ingress worker thread could not report its metrics')
          this.#pending.get(m.id)?.(m.json)
          this.#pending.delete(m.id)
        }
      })
      worker.on('error', (err) => this.#log.error({ err }, 'Ingress worker thread failed'))
      worker.on('exit', (code) => {
        this.#threads.delete(thread)
        for (const check of [...this.#waiting]) check()
        if (!thread.ready) return reject(new Error(`an Ingress worker thread exited (code ${code}) before it served`))
        if (this.#stopped) return
        this.restarts++
        this.#metrics.workerRestarted()
        this.#log.error({ code }, `an Ingress worker thread exited (code ${code}); starting another in ${RESTART_DELAY_MS} ms`)
        setTimeout(() => {
          if (!this.#stopped) void this.#spawn().catch((err: Error) => this.#log.error({ err }, 'an Ingress worker thread did not start again'))
        }, RESTART_DELAY_MS)
      })
    })
  }
}
