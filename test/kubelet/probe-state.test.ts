import t from 'tap'
import { initialResult, probeTimings, ProbeState, ProbeWorker, type Clock, type ProbeOutcome, type ProbeResult } from '../../src/kubelet/probes/index.ts'

class FakeClock implements Clock {
  time = 0
  private next = 0
  private timers = new Map<number, { at: number; fn: () => void }>()
  now(): number {
    return this.time
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.next
    this.timers.set(id, { at: this.time + ms, fn })
    return id
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }
  /** Moves time forward, firing due timers in order and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms
    for (;;) {
      await new Promise((r) => setImmediate(r))
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
      if (due === undefined) break
      this.timers.delete(due[0])
      this.time = due[1].at
      due[1].fn()
    }
    this.time = end
    await new Promise((r) => setImmediate(r))
  }
}

t.test('defaults and initial results', async (t) => {
  t.same(probeTimings({}, 'readiness'), { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 })
  t.equal(probeTimings({ successThreshold: 3 }, 'liveness').successThreshold, 1)
  t.equal(probeTimings({ successThreshold: 3 }, 'readiness').successThreshold, 3)
  t.equal(initialResult('readiness'), 'failure')
  t.equal(initialResult('liveness'), 'success')
  t.equal(initialResult('startup'), undefined)
})

t.test('thresholds: the result flips only after enough of the same in a row', async (t) => {
  const s = new ProbeState('readiness', { successThreshold: 2, failureThreshold: 3 }, 0)
  const seq: Array<[ProbeResult, boolean, ProbeResult]> = [
    ['success', false, 'failure'],
    ['success', true, 'success'],
    ['failure', false, 'success'],
    ['failure', false, 'success'],
    ['success', false, 'success'],
    ['failure', false, 'success'],
    ['failure', false, 'success'],
    ['failure', true, 'failure'],
    ['failure', false, 'failure'],
  ]
  for (const [result, changed, reported] of seq) {
    t.equal(s.record(result), changed)
    t.equal(s.result, reported)
  }
  t.notOk(s.onHold, 'readiness keeps probing after failing')
})

t.test('liveness failure holds until the container restarts; startup stops after success', async (t) => {
  const live = new ProbeState('liveness', { failureThreshold: 2, initialDelaySeconds: 5, periodSeconds: 3 }, 1000)
  t.equal(live.nextAttemptAt(), 6000)
  live.attempt(6000)
  t.equal(live.nextAttemptAt(), 9000)
  live.record('failure')
  t.equal(live.record('failure'), true)
  t.equal(live.result, 'failure')
  t.ok(live.onHold)
  t.equal(live.nextAttemptAt(), undefined)
  t.equal(live.record('success'), false, 'results while on hold are ignored')
  live.reset(20_000)
  t.equal(live.result, 'success')
  t.equal(live.nextAttemptAt(), 25_000)
  t.equal(live.record('failure'), false, 'the run starts over after a restart')

  const startup = new ProbeState('startup', {}, 0)
  t.equal(startup.record('success'), true)
  t.equal(startup.result, 'success')
  t.equal(startup.nextAttemptAt(), undefined)
})

t.test('ProbeWorker: initial delay, period, thresholds, restart, with a fake clock', async (t) => {
  const clock = new FakeClock()
  clock.time = 1000
  const attempts: number[] = []
  const results: ProbeResult[] = ['failure', 'success', 'success', 'failure', 'failure']
  const changes: Array<[number, ProbeResult, string]> = []
  const worker = new ProbeWorker({
    kind: 'readiness',
    probe: { initialDelaySeconds: 10, periodSeconds: 5, successThreshold: 2, failureThreshold: 2 },
    startedAt: 1000,
    clock,
    run: async (): Promise<ProbeOutcome> => {
      attempts.push(clock.now())
      const result = results.shift() ?? 'failure'
      return { result, message: `attempt ${attempts.length}` }
    },
    onChange: (result, message) => changes.push([clock.now(), result, message]),
  })
  t.equal(worker.result, 'failure')
  worker.start()
  await clock.advance(9_999)
  t.same(attempts, [], 'nothing before initialDelaySeconds')
  await clock.advance(1)
  t.same(attempts, [11_000])
  await clock.advance(10_000)
  t.same(attempts, [11_000, 16_000, 21_000])
  t.same(changes, [[21_000, 'success', 'attempt 3']])
  await clock.advance(10_000)
  t.same(changes.at(-1), [31_000, 'failure', 'attempt 5'])
  worker.stop()
  clock.time = 40_000
  worker.restart(40_000)
  t.equal(worker.result, 'failure')
  await clock.advance(8_999)
  t.equal(attempts.length, 5, 'a restarted container waits for the initial delay again')
  await clock.advance(1_001)
  t.same(attempts.at(-1), 50_000)
  worker.stop()
  await clock.advance(60_000)
  t.equal(attempts.length, 6, 'stopped')
})

t.test('ProbeWorker: a slow attempt delays the next one, a result from before restart is dropped', async (t) => {
  const clock = new FakeClock()
  let release!: (o: ProbeOutcome) => void
  let calls = 0
  const changes: ProbeResult[] = []
  const worker = new ProbeWorker({
    kind: 'liveness',
    probe: { periodSeconds: 1, failureThreshold: 1 },
    startedAt: 0,
    clock,
    run: () => {
      calls++
      return new Promise<ProbeOutcome>((resolve) => (release = resolve))
    },
    onChange: (r) => changes.push(r),
  })
  worker.start()
  await clock.advance(5_000)
  t.equal(calls, 1, 'no overlapping attempts')
  worker.restart(5_000)
  release({ result: 'failure', message: 'old' })
  await clock.advance(0)
  t.same(changes, [], 'the old container result is dropped')
  t.equal(calls, 2, 'the restarted container is probed')
  release({ result: 'failure', message: 'new' })
  await clock.advance(0)
  t.same(changes, ['failure'])
  t.ok(worker.state.onHold)
  worker.stop()
})
