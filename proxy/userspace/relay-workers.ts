// Relay worker threads: with `workers` > 1 the userspace proxier relays TCP on that many
// threads (itself included). Every TCP listener is bound with SO_REUSEPORT, and each worker
// thread binds the same Service ports, so the kernel hands each new connection to one of the
// threads' accept queues; a thread relays its connections to the end. This spreads the cost
// that grows with connections (accept, connect, each side's reads and writes, and the
// network stack work those system calls carry) over the CPUs.
//
// What stays on the main thread: UDP, Service ports with ClientIP affinity (their sticky
// table is one per port) and everything when a connection policy (NetworkPolicy) is set, as
// it is judged by the main thread's enforcer. A sync returns once every thread applied it;
// a worker's listen failures fail the sync like the main thread's. Sockets count against one
// set of limits; refusals and idle closes reach the main thread's hooks (the metrics).
//
// Each thread holds a listening socket per Service address and port: with many Services that
// multiplies file descriptors. The listeners of all threads must fit in what the relays'
// share of the open-file limit leaves (limits.ts: a fifth of RLIMIT_NOFILE, at least 256);
// past that the worker threads close theirs and the main thread serves alone (logged), until
// the Services fit again or `ulimit -n` is raised.
import { Worker } from 'node:worker_threads'
import type { Logger } from '../../src/util/log.ts'
import type { Family, ProxyState, ServiceEntry } from '../model.ts'
import { openFileLimit, type LimitReason, type UserspaceLimits } from './limits.ts'
import { listenSpecs } from './listen-plan.ts'
import type { ListenFailure } from './proxier.ts'

export interface WorkerData {
  family: Family
  shared: SharedArrayBuffer
  socketLimit: number
  udpSessionLimit: number
  connectTimeoutMs: number
  tcpIdleTimeoutMs: number
}

export type WorkerRequest = { type: 'sync'; seq: number; state: ProxyState; changed: ReadonlySet<string> | 'all' } | { type: 'close' }

export interface WireFailure {
  id: string
  listen: string
  message: string
  code?: string | undefined
}

export type WorkerReply =
  | { type: 'synced'; seq: number; failures: WireFailure[] }
  | { type: 'closed' }
  | { type: 'refused'; protocol: 'TCP' | 'UDP'; reason: LimitReason }
  | { type: 'sourceRefused'; protocol: 'TCP' | 'UDP' }
  | { type: 'idleClosed' }

const WORKER = new URL('./relay-worker.ts', import.meta.url)

/** The Service ports the worker threads serve too: TCP without ClientIP affinity. */
export function workerState(state: ProxyState): ProxyState {
  const services = new Map<string, ServiceEntry>()
  for (const [id, e] of state.services) if (e.port.protocol === 'TCP' && e.port.affinitySeconds === 0) services.set(id, e)
  return { ...state, services }
}

interface Thread {
  worker: Worker
  pending: Map<number, (failures: WireFailure[]) => void>
  closed: Promise<void>
  exited: boolean
}

export class RelayWorkers {
  readonly #threads: Thread[] = []
  readonly #log: Logger
  /** File descriptors the listeners of every thread may take together. */
  readonly #listenerBudget: number
  /** Whether the worker threads serve (their listeners fit the budget). */
  #serving = true
  #seq = 0

  /** Starts `count` threads. */
  constructor(count: number, data: Omit<WorkerData, 'shared' | 'socketLimit' | 'udpSessionLimit'>, limits: UserspaceLimits, log: Logger) {
    this.#log = log
    this.#listenerBudget = (openFileLimit() ?? Number.POSITIVE_INFINITY) - limits.socketLimit
    const workerData: WorkerData = { ...data, shared: limits.shared, socketLimit: limits.socketLimit, udpSessionLimit: limits.udpSessionLimit }
    for (let i = 0; i < count; i++) {
      const worker = new Worker(WORKER, { workerData, name: `weft-relay-${i + 1}` })
      let onClosed = (): void => {}
      const thread: Thread = { worker, pending: new Map(), closed: new Promise((resolve) => (onClosed = resolve)), exited: false }
      worker.on('message', (m: WorkerReply) => {
        if (m.type === 'synced') {
          thread.pending.get(m.seq)?.(m.failures)
          thread.pending.delete(m.seq)
        } else if (m.type === 'closed') onClosed()
        else if (m.type === 'refused') limits.onRefuse?.(m.protocol, m.reason)
        else if (m.type === 'sourceRefused') limits.onSourceRangeRefused?.(m.protocol)
        else limits.onTcpIdleClosed?.()
      })
      worker.on('error', (err) => log.error({ worker: i + 1, err: err.message }, 'userspace relay worker failed; the other threads go on serving its ports'))
      worker.on('exit', () => {
        thread.exited = true
        onClosed()
        for (const done of thread.pending.values()) done([])
        thread.pending.clear()
      })
      this.#threads.push(thread)
    }
  }

  /** Applies the workers' share of `state` on every worker thread; the listen failures of all. */
  async sync(full: ProxyState, changed: ReadonlySet<string> | 'all'): Promise<ListenFailure[]> {
    let state = workerState(full)
    let listeners = 0
    for (const e of state.services.values()) listeners += listenSpecs(e.port, state.family).length
    const threads = this.#threads.length + 1
    const fits = listeners * threads <= this.#listenerBudget
    if (fits !== this.#serving) {
      this.#serving = fits
      changed = 'all'
      if (fits) this.#log.info({ listeners, threads }, 'userspace relay worker threads serve again: their listeners fit the open-file limit')
      else this.#log.warn({ listeners, threads, budget: this.#listenerBudget }, `userspace proxy: ${listeners} TCP listeners on each of ${threads} threads would not fit the open-file limit; TCP is relayed on the main thread only; raise the agent's RLIMIT_NOFILE (ulimit -n)`)
    }
    if (!fits) state = { ...state, services: new Map() }
    const seq = ++this.#seq
    const replies = await Promise.all(
      this.#threads
        .filter((t) => !t.exited)
        .map(
          (t) =>
            new Promise<WireFailure[]>((resolve) => {
              t.pending.set(seq, resolve)
              t.worker.postMessage({ type: 'sync', seq, state, changed } satisfies WorkerRequest)
            }),
        ),
    )
    return replies.flat().map((f) => ({ id: f.id, listen: f.listen, error: Object.assign(new Error(f.message), f.code === undefined ? {} : { code: f.code }) }))
  }

  /** Closes every thread's listeners and connections, then ends the threads. */
  async close(): Promise<void> {
    await Promise.all(
      this.#threads.map(async (t) => {
        if (t.exited) return
        t.worker.postMessage({ type: 'close' } satisfies WorkerRequest)
        await t.closed
        await t.worker.terminate()
      }),
    )
    this.#log.debug({ threads: this.#threads.length }, 'userspace relay workers stopped')
  }
}
