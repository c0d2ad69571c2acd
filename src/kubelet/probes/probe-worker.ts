// Runs one probe of one container on a timer and reports changes of its result.
import type { V1Probe } from '@kubernetes/client-node'
import { ProbeState, type ProbeKind } from './probe-state.ts'
import type { ProbeOutcome, ProbeResult } from './run-probe.ts'

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export interface ProbeWorkerOptions {
  kind: ProbeKind
  probe: V1Probe
  /** When the container started (ms on the clock). */
  startedAt: number
  /** One attempt, e.g. `() => runProbe(probe, target)`; must not throw. */
  run: () => Promise<ProbeOutcome>
  /** Called when the reported result changes (not for the initial result). */
  onChange: (result: ProbeResult, message: string) => void
  clock?: Clock
}

export class ProbeWorker {
  readonly state: ProbeState
  private readonly opts: ProbeWorkerOptions
  private readonly clock: Clock
  private timer: unknown
  private running = false
  private stopped = true
  private generation = 0

  constructor(opts: ProbeWorkerOptions) {
    this.opts = opts
    this.clock = opts.clock ?? systemClock
    this.state = new ProbeState(opts.kind, opts.probe, opts.startedAt)
  }

  get result(): ProbeResult | undefined {
    return this.state.result
  }

  start(): void {
    this.stopped = false
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    this.generation++
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  /** The container restarted: initial result again, probing resumes after the delay. */
  restart(startedAt: number): void {
    this.stop()
    this.state.reset(startedAt)
    this.start()
  }

  private schedule(): void {
    if (this.stopped || this.running) return
    const at = this.state.nextAttemptAt()
    if (at === undefined) return
    const generation = this.generation
    this.timer = this.clock.setTimeout(() => void this.tick(generation), Math.max(0, at - this.clock.now()))
  }

  private async tick(generation: number): Promise<void> {
    this.timer = undefined
    if (this.stopped || generation !== this.generation) return
    this.running = true
    this.state.attempt(this.clock.now())
    let outcome: ProbeOutcome
    try {
      outcome = await this.opts.run()
    } catch (err) {
      outcome = { result: 'failure', message: (err as Error).message }
    }
    this.running = false
    // A result from before stop/restart belongs to an old container: drop it.
    if (this.stopped || generation !== this.generation) {
      this.schedule()
      return
    }
    if (this.state.record(outcome.result)) this.opts.onChange(outcome.result, outcome.message)
    this.schedule()
  }
}
