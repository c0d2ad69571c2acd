// Wake-ups at sub-millisecond precision. setTimeout rounds to whole milliseconds (and libuv's poll
// waits in milliseconds), which would add up to 1 ms to every open-loop request's latency. A worker
// thread sleeps in Atomics.wait (a futex with a nanosecond timeout), spins the last tens of
// microseconds past the kernel's timer slack, and posts a message that wakes the event loop.
import { Worker } from 'node:worker_threads'

const GENERATION = 0
const STOP = -1

// Plain JavaScript: it runs in the worker by `eval`, without type stripping.
const workerSource = `
const { workerData, parentPort } = require('node:worker_threads')
const control = new Int32Array(workerData, 0, 2)
const target = new Float64Array(workerData, 8, 1)
const spinMs = 0.07
const now = () => performance.timeOrigin + performance.now()
let fired = 0
for (;;) {
  const generation = Atomics.load(control, 0)
  if (generation === ${STOP}) break
  if (generation === fired) { Atomics.wait(control, 0, fired); continue }
  const at = target[0]
  const left = at - now()
  // Woken early (a new target, or a notify meant for the wait above): look again.
  if (left > spinMs) { Atomics.wait(control, 0, generation, left - spinMs); continue }
  while (now() < at) {}
  if (Atomics.load(control, 0) !== generation) continue
  fired = generation
  parentPort.postMessage(generation)
}
`

export interface Ticker {
  /** Calls the callback at `atMs` (performance.timeOrigin + performance.now() clock); replaces any earlier request. */
  wakeAt(atMs: number): void
  cancel(): void
  close(): Promise<void>
}

/** `onError`: the worker failed (it cannot, short of running out of memory); no wake-up will come. */
export function createTicker(onWake: () => void, onError: (err: Error) => void): Ticker {
  const shared = new SharedArrayBuffer(16)
  const control = new Int32Array(shared, 0, 2)
  const target = new Float64Array(shared, 8, 1)
  const worker = new Worker(workerSource, { eval: true, workerData: shared, name: 'weft-load-ticker' })
  let armed = 0
  let closed = false
  worker.on('message', (generation: number) => {
    if (generation !== armed || closed) return
    armed = 0
    worker.unref()
    onWake()
  })
  worker.on('error', (err) => {
    if (!closed) onError(err)
  })
  worker.unref()
  const bump = () => {
    let next = Atomics.load(control, GENERATION) + 1
    if (next >= 2 ** 31 - 1) next = 1
    Atomics.store(control, GENERATION, next)
    Atomics.notify(control, GENERATION)
    return next
  }
  return {
    wakeAt(atMs) {
      if (closed) return
      target[0] = atMs
      armed = bump()
      worker.ref()
    },
    cancel() {
      if (closed || armed === 0) return
      armed = 0
      bump()
      worker.unref()
    },
    async close() {
      if (closed) return
      closed = true
      Atomics.store(control, GENERATION, STOP)
      Atomics.notify(control, GENERATION)
      await worker.terminate()
    },
  }
}

/** The clock the ticker uses: epoch-based milliseconds with microsecond resolution, monotonic. */
export function preciseNowMs(): number {
  return performance.timeOrigin + performance.now()
}
