// One load generator inside a pod (the program of the image weft/load): says it is ready,
// waits for the start line on stdin, runs its share of the load from the agreed moment, and
// prints each completed second and the final snapshot as JSON lines (worker-protocol.ts).
// Aborting (SIGTERM, or a stop line) ends the run early; what was recorded is still printed.
import type { LoadJob } from './job.ts'
import type { ClientFactory, RunOptions, RunSnapshot } from './types.ts'
import { formatLine, LineError, parseControlLine, type WorkerMessage } from './worker-protocol.ts'

export interface WorkerIO {
  /** Control lines (the container's stdin). */
  input: AsyncIterable<Buffer | string>
  /** Writes one line of output (the container's stdout). */
  write(line: string): void
  /** Aborted: end the run (SIGTERM). */
  signal?: AbortSignal
}

export interface WorkerDeps {
  runLoad(options: RunOptions): Promise<RunSnapshot>
  createClient: ClientFactory
  now?(): number
}

export interface WorkerTimings {
  /** How long to wait for the start line (default 10 min). */
  startTimeoutMs?: number
  /** A heartbeat line after this long with nothing printed (default 5 s): keeps the log stream that reads it alive. */
  heartbeatMs?: number
  /** How far in the future a start may be (default 5 min). */
  maxStartAheadMs?: number
  /**
   * How late the start line may come (default 5 s). A late start keeps the agreed moment, so
   * every generator's seconds line up: the engine sends what was due at once, timed from when it was due.
   */
  maxStartLateMs?: number
}

export type WorkerOutcome = 'done' | 'error'

const maxControlLine = 1024

/** Splits the input into lines; a line longer than maxControlLine is an error. */
async function* lines(input: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let pending = ''
  for await (const chunk of input) {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    let nl: number
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, '')
      pending = pending.slice(nl + 1)
      if (line.trim() !== '') yield line
    }
    if (pending.length > maxControlLine) throw new LineError(`stdin: a line longer than ${maxControlLine} bytes`)
  }
  if (pending.trim() !== '') yield pending
}

export async function runWorker(job: LoadJob, io: WorkerIO, deps: WorkerDeps, timings: WorkerTimings = {}): Promise<WorkerOutcome> {
  const now = deps.now ?? Date.now
  const heartbeatMs = timings.heartbeatMs ?? 5000
  let lastWrite = now()
  const emit = (message: WorkerMessage): void => {
    lastWrite = now()
    io.write(formatLine(message))
  }
  const heartbeat = setInterval(() => {
    if (now() - lastWrite >= heartbeatMs) emit({ type: 'heartbeat' })
  }, Math.max(50, Math.floor(heartbeatMs / 2)))
  const run = new AbortController()
  const abortRun = (): void => run.abort()
  io.signal?.addEventListener('abort', abortRun, { once: true })
  const control = lines(io.input)[Symbol.asyncIterator]()
  try {
    emit({ type: 'ready', generator: job.generator })
    const start = await waitForStart(control, io.signal, timings.startTimeoutMs ?? 600_000)
    if (start === 'aborted') {
      emit({ type: 'error', message: 'stopped before the start line' })
      return 'error'
    }
    const maxAhead = timings.maxStartAheadMs ?? 300_000
    const maxLate = timings.maxStartLateMs ?? 5000
    if (start - now() > maxAhead) throw new LineError(`start.atMs is more than ${maxAhead / 1000} s ahead of this node's clock`)
    if (now() - start > maxLate) throw new LineError(`the start line came ${((now() - start) / 1000).toFixed(1)} s after the start time (more than ${maxLate / 1000} s: clocks apart, or the node overloaded)`)
    // Further control lines (stop) arrive while the load runs.
    void watchForStop(control, run)
    const snapshot = await deps.runLoad({
      plan: job.plan,
      target: job.target,
      createClient: deps.createClient,
      startAtMs: start,
      signal: run.signal,
      onProgress: (progress) => emit({ type: 'progress', ...progress }),
      onWindow: (window) => emit({ type: 'window', ...window }),
    })
    emit(run.signal.aborted ? { type: 'done', snapshot, stopped: true } : { type: 'done', snapshot })
    return 'done'
  } catch (err) {
    emit({ type: 'error', message: (err as Error).message })
    return 'error'
  } finally {
    clearInterval(heartbeat)
    io.signal?.removeEventListener('abort', abortRun)
    void control.return?.(undefined)
  }
}

async function waitForStart(control: AsyncIterator<string>, signal: AbortSignal | undefined, timeoutMs: number): Promise<number | 'aborted'> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const stopped = new Promise<'aborted'>((resolve) => {
    if (signal?.aborted) return resolve('aborted')
    onAbort = () => resolve('aborted')
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LineError(`no start line within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs)
  })
  const read = (async (): Promise<number | 'aborted'> => {
    const next = await control.next()
    if (next.done) throw new LineError('stdin closed before the start line')
    const message = parseControlLine(next.value)
    return message.type === 'start' ? message.atMs : 'aborted'
  })()
  // Whichever loses the race below may still settle; its result is of no interest then.
  read.catch(() => undefined)
  try {
    return await Promise.race([read, stopped, timedOut])
  } finally {
    clearTimeout(timer)
    if (onAbort) signal?.removeEventListener('abort', onAbort)
  }
}

async function watchForStop(control: AsyncIterator<string>, run: AbortController): Promise<void> {
  try {
    for (;;) {
      const next = await control.next()
      if (next.done) return
      let message
      try {
        message = parseControlLine(next.value)
      } catch {
        // A bad line mid-run is ignored: the run goes on, and the controller deletes the pod if it must.
        continue
      }
      if (message.type === 'stop') return run.abort()
    }
  } catch {
    // stdin failed: the run goes on; SIGTERM still ends it.
  }
}
