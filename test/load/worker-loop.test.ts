// The worker's line protocol in process: ready, the start line, windows, done; stop lines,
// aborts, bad or missing input and heartbeats. The run itself is a stand-in here that emits
// a window every 20 ms (worker.test.ts runs the real program against a real server).
import t from 'tap'
import { PassThrough } from 'node:stream'
import { runWorker, type WorkerTimings } from '../../load/worker.ts'
import type { LoadJob } from '../../load/job.ts'
import type { RunOptions, RunSnapshot, WindowSnapshot } from '../../load/types.ts'
import { parseWorkerLine, type WorkerMessage } from '../../load/worker-protocol.ts'
import { createHistogram, encodeHistogram, recordMs } from '../../load/histogram.ts'

const tenLatencies = (() => {
  const h = createHistogram()
  for (let i = 1; i <= 10; i++) recordMs(h, i)
  return encodeHistogram(h)
})()

const job: LoadJob = {
  generator: 'gen-1',
  target: { protocol: 'http1', tls: false, endpoints: [{ host: '127.0.0.1', port: 1 }], authority: 'x', insecure: false, path: '/', method: 'GET', headers: [], description: 'd', spec: 's' },
  plan: { phases: [{ name: 'main', durationMs: 1000, rate: 10 }], connections: 1, keepAlive: true, warmupMs: 0, timeoutMs: 1000, identifyEndpoints: false },
}

function window(second: number): WindowSnapshot {
  return { second, sent: 10, ok: 10, errors: {}, histogram: tenLatencies }
}

/** A run of `seconds` windows, 20 ms apart, that stops early when aborted. */
function fakeRun(seconds: number, seen: RunOptions[] = []) {
  return async (options: RunOptions): Promise<RunSnapshot> => {
    seen.push(options)
    const windows: WindowSnapshot[] = []
    for (let s = 0; s < seconds && !options.signal?.aborted; s++) {
      await new Promise((r) => setTimeout(r, 20))
      windows.push(window(s))
      options.onWindow?.(window(s))
      options.onProgress?.({ elapsedMs: (s + 1) * 1000, totalMs: seconds * 1000, sent: 10 * (s + 1), done: 10 * (s + 1), errors: 0, rate: 10, p50: 1, p99: 2 })
    }
    return { startedAtMs: options.startAtMs ?? 0, windows, endpoints: { e: windows.length * 10 } }
  }
}

function harness(run: (o: RunOptions) => Promise<RunSnapshot>, timings: WorkerTimings = {}, signal?: AbortSignal) {
  const input = new PassThrough()
  const messages: WorkerMessage[] = []
  const waiters: Array<() => void> = []
  const outcome = runWorker(job, {
    input,
    write: (line) => {
      t.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'one line at a time')
      messages.push(parseWorkerLine(line.trimEnd()))
      for (const w of waiters.splice(0)) w()
    },
    signal,
  }, { runLoad: run, createClient: () => { throw new Error('not used by the stand-in') } }, timings)
  const waitFor = async (type: WorkerMessage['type']): Promise<void> => {
    while (!messages.some((m) => m.type === type)) await new Promise<void>((r) => waiters.push(r))
  }
  return { input, messages, outcome, waitFor, types: () => messages.map((m) => m.type).filter((x) => x !== 'heartbeat' && x !== 'progress') }
}

t.test('ready, then the start line, then each window and the snapshot', async (t) => {
  const seen: RunOptions[] = []
  const h = harness(fakeRun(3, seen))
  await h.waitFor('ready')
  t.same(h.messages[0], { type: 'ready', generator: 'gen-1' })
  const atMs = Date.now() + 200
  h.input.write(`{"type":"start","atMs":${atMs}}\n`)
  t.equal(await h.outcome, 'done')
  t.same(h.types(), ['ready', 'window', 'window', 'window', 'done'])
  t.equal(seen[0]!.startAtMs, atMs, 'the run starts at the agreed moment')
  t.same(seen[0]!.plan, job.plan)
  t.same(seen[0]!.target, job.target)
  const done = h.messages.at(-1) as Extract<WorkerMessage, { type: 'done' }>
  t.notOk('stopped' in done, 'a run that ran its course')
  t.same(done.snapshot, { startedAtMs: atMs, windows: [window(0), window(1), window(2)], endpoints: { e: 30 } })
  t.ok(h.messages.some((m) => m.type === 'progress'), 'progress once a second')
})

t.test('a start a little late keeps the agreed moment; one long past or far ahead is refused', async (t) => {
  const seen: RunOptions[] = []
  const h = harness(fakeRun(1, seen))
  const atMs = Date.now() - 2000
  h.input.write(`{"type":"start","atMs":${atMs}}\n`)
  t.equal(await h.outcome, 'done')
  t.equal(seen[0]!.startAtMs, atMs, 'the same t0 as the other generators: their seconds line up')
  const old = harness(fakeRun(1))
  old.input.write(`{"type":"start","atMs":${Date.now() - 60_000}}\n`)
  t.equal(await old.outcome, 'error')
  t.match(old.messages.at(-1), { type: 'error', message: /the start line came 60\.\d s after the start time/ })
  const far = harness(fakeRun(1), { maxStartAheadMs: 10_000 })
  far.input.write(`{"type":"start","atMs":${Date.now() + 60_000}}\n`)
  t.equal(await far.outcome, 'error')
  t.match(far.messages.at(-1), { type: 'error', message: /more than 10 s ahead/ })
})

t.test('a stop line mid-run ends it with what was recorded', async (t) => {
  const h = harness(fakeRun(1000))
  h.input.write(`{"type":"start","atMs":${Date.now()}}\n`)
  await h.waitFor('window')
  h.input.write('{"type":"stop"}\n')
  t.equal(await h.outcome, 'done')
  const done = h.messages.at(-1) as Extract<WorkerMessage, { type: 'done' }>
  t.ok(done.snapshot.windows.length >= 1 && done.snapshot.windows.length < 1000, `stopped after ${done.snapshot.windows.length} windows`)
  t.equal(done.stopped, true, 'the result says it was cut short')
})

t.test('the abort signal (SIGTERM) ends a run, or the wait for the start', async (t) => {
  const during = new AbortController()
  const h = harness(fakeRun(1000), {}, during.signal)
  h.input.write(`{"type":"start","atMs":${Date.now()}}\n`)
  await h.waitFor('window')
  during.abort()
  t.equal(await h.outcome, 'done')
  t.match(h.messages.at(-1), { type: 'done', stopped: true })
  const before = new AbortController()
  const w = harness(fakeRun(1), {}, before.signal)
  await w.waitFor('ready')
  before.abort()
  t.equal(await w.outcome, 'error')
  t.same(w.messages.at(-1), { type: 'error', message: 'stopped before the start line' })
})

t.test('bad or missing input ends with an error line', async (t) => {
  const bad = harness(fakeRun(1))
  bad.input.write('{"type":"start","atMs":"soon"}\n')
  t.equal(await bad.outcome, 'error')
  t.match(bad.messages.at(-1), { type: 'error', message: /start\.atMs: expected a number/ })
  const long = harness(fakeRun(1))
  long.input.write('x'.repeat(5000))
  t.equal(await long.outcome, 'error')
  t.match(long.messages.at(-1), { type: 'error', message: /a line longer than 1024 bytes/ })
  const closed = harness(fakeRun(1))
  closed.input.end('\n\n')
  t.equal(await closed.outcome, 'error')
  t.match(closed.messages.at(-1), { type: 'error', message: 'stdin closed before the start line' })
  const stop = harness(fakeRun(1))
  stop.input.write('{"type":"stop"}\n')
  t.equal(await stop.outcome, 'error')
  t.match(stop.messages.at(-1), { type: 'error', message: 'stopped before the start line' })
  const late = harness(fakeRun(1), { startTimeoutMs: 100 })
  t.equal(await late.outcome, 'error')
  t.match(late.messages.at(-1), { type: 'error', message: /no start line within/ })
  const failing = harness(async () => {
    throw new Error('cannot connect anywhere')
  })
  failing.input.write(`{"type":"start","atMs":${Date.now()}}\n`)
  t.equal(await failing.outcome, 'error')
  t.same(failing.messages.at(-1), { type: 'error', message: 'cannot connect anywhere' })
})

t.test('a heartbeat when nothing else was printed for a while', async (t) => {
  const h = harness(fakeRun(1), { heartbeatMs: 100 })
  await h.waitFor('heartbeat')
  t.same(h.messages.slice(0, 2).map((m) => m.type), ['ready', 'heartbeat'])
  h.input.write(`{"type":"start","atMs":${Date.now()}}\n`)
  t.equal(await h.outcome, 'done')
})
