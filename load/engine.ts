// One generator's run. Open loop: requests go at the schedule's intended times whatever the
// target does, and each is timed from its intended time, so a stalled target shows up in the
// latencies instead of slowing the sender (no coordinated omission). Closed loop: a fixed number
// of requests in flight, each timed from its actual send.
import { Recorder } from './recorder.ts'
import { createSchedule, type Schedule } from './schedule.ts'
import { createTicker, preciseNowMs, type Ticker } from './ticker.ts'
import type { ErrorClass, LoadClient, LoadPlan, Phase, Progress, RunOptions, RunSnapshot, WindowSnapshot } from './types.ts'

/** Sending is batched: at high rates one wake-up sends every request due by then. */
const minTickGapMs = 0.2
/** A wake-up sends at most this many requests before letting responses in. */
const maxBatch = 2048
const housekeepingMs = 250
/** A generator that starts later than this after t0 fails: its seconds would not match the others'. */
const maxLateStartMs = 1000
/** Warm-up requests meant more than this before the actual start are skipped. */
const lateWarmupSkipMs = 10
export const maxConnections = 100_000
const maxTimeoutMs = 3_600_000

export class PlanError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PlanError'
  }
}

function checkPlan(plan: LoadPlan): { openLoop: boolean; durationMs: number } {
  if (!Array.isArray(plan.phases) || plan.phases.length === 0) throw new PlanError('the plan has no phases')
  const open = plan.phases.filter((phase) => phase.rate !== undefined).length
  if (open !== 0 && open !== plan.phases.length) throw new PlanError('phases must all have a rate (open loop) or none (closed loop)')
  if (!Number.isSafeInteger(plan.connections) || plan.connections < 1 || plan.connections > maxConnections) {
    throw new PlanError(`connections must be an integer in 1..${maxConnections}, got ${plan.connections}`)
  }
  if (!(plan.timeoutMs > 0 && plan.timeoutMs <= maxTimeoutMs)) throw new PlanError(`timeout must be in (0, ${maxTimeoutMs}] ms, got ${plan.timeoutMs}`)
  if (!(plan.warmupMs >= 0 && Number.isFinite(plan.warmupMs))) throw new PlanError(`warm-up must be a finite number of ms ≥ 0, got ${plan.warmupMs}`)
  if (plan.requests !== undefined && !(Number.isSafeInteger(plan.requests) && plan.requests > 0)) throw new PlanError(`requests must be a positive integer, got ${plan.requests}`)
  let durationMs = 0
  plan.phases.forEach((phase, index) => {
    const last = index === plan.phases.length - 1
    if (!(phase.durationMs > 0) || (phase.durationMs === Infinity && (!last || plan.requests === undefined))) {
      throw new PlanError(`phase ${index + 1} (${phase.name}): duration must be a positive number of ms (unbounded only for the last phase of a run limited by requests), got ${phase.durationMs}`)
    }
    durationMs += phase.durationMs
  })
  return { openLoop: open > 0, durationMs }
}

/** The open-loop schedule from the start of sending: warm-up at the first phase's starting rate, then the phases. */
function sendingSchedule(phases: Phase[], warmupMs: number): Schedule {
  return createSchedule(warmupMs > 0 ? [{ name: 'warm-up', durationMs: warmupMs, rate: phases[0].rate }, ...phases] : phases)
}

export async function runLoad(options: RunOptions): Promise<RunSnapshot> {
  const { plan, signal } = options
  const { openLoop, durationMs } = checkPlan(plan)
  const schedule = openLoop ? sendingSchedule(plan.phases, plan.warmupMs) : undefined

  // Times below are on the precise clock (epoch-based, monotonic); startAtMs is wall-clock epoch.
  const wallToPrecise = preciseNowMs() - Date.now()
  const startAtMs = options.startAtMs ?? Date.now()
  if (!Number.isFinite(startAtMs)) throw new PlanError(`startAtMs must be epoch ms, got ${startAtMs}`)
  const start = startAtMs + wallToPrecise
  const t0 = start + plan.warmupMs
  const end = t0 + durationMs
  const late = preciseNowMs() - t0
  if (options.startAtMs !== undefined && late > maxLateStartMs) {
    throw new PlanError(`this generator is ${Math.round(late)} ms late: the run's start time ${new Date(startAtMs + plan.warmupMs).toISOString()} has passed (clock skew, or a slow start)`)
  }

  const recorder = new Recorder(startAtMs + plan.warmupMs)
  const fromT0 = (at: number) => at - t0

  return new Promise<RunSnapshot>((resolve, reject) => {
    let client: LoadClient
    let ticker: Ticker | undefined
    let housekeeping: NodeJS.Timeout | undefined
    let drainTimer: NodeJS.Timeout | undefined
    let startTimer: NodeJS.Timeout | undefined
    let sending = false
    let finished = false
    let sendingEndedAt: number | undefined
    let outstanding = 0
    let recordedSent = 0
    let completions = 0
    let lastProgress = { at: 0, completions: 0 }
    let housekeepingRound = 0

    // Open loop: token n is request n; its intended time is recomputed from the schedule.
    let next = 0
    // Closed loop: token = a slot, one per request in flight, holding its send time.
    const slotSentAt = openLoop ? undefined : new Float64Array(plan.connections)
    const slotBusy = openLoop ? undefined : new Uint8Array(plan.connections)
    const freeSlots: number[] = []
    let refillScheduled = false
    let refilling = false
    let failure: { error: unknown } | undefined

    const intendedAt = (token: number): number => (openLoop ? start + schedule!.sendTimeMs(token) : slotSentAt![token])

    const sink = {
      done(token: number, error: ErrorClass | undefined, endpoint: string | undefined) {
        if (finished) return
        // A token the client was not given, or one it already answered, is ignored.
        if (openLoop ? !(token >= 0 && token < next) : slotBusy![token] !== 1) return
        const now = preciseNowMs()
        outstanding--
        completions++
        recorder.done(fromT0(intendedAt(token)), fromT0(now), error, endpoint)
        if (!openLoop) {
          slotBusy![token] = 0
          freeSlots.push(token)
          // Refill after the client's callback returns (never inside it), once per batch of answers.
          if (sending && !refillScheduled && !refilling) {
            refillScheduled = true
            queueMicrotask(refill)
          }
        }
        if (!sending && outstanding === 0) void finish()
      },
    }

    try {
      client = options.createClient({
        target: options.target,
        connections: plan.connections,
        keepAlive: plan.keepAlive,
        timeoutMs: plan.timeoutMs,
        identifyEndpoints: plan.identifyEndpoints,
        sink,
      })
    } catch (err) {
      reject(err)
      return
    }

    const fail = (error: unknown) => {
      failure ??= { error }
      void finish()
    }

    const send = (token: number, intended: number) => {
      const relative = fromT0(intended)
      if (relative >= 0) {
        recordedSent++
        recorder.sent(relative)
      }
      outstanding++
      client.send(token)
    }

    const limitReached = () => plan.requests !== undefined && recordedSent >= plan.requests

    const stopSending = (at: number) => {
      if (!sending) return
      sending = false
      sendingEndedAt = at
      ticker?.cancel()
      if (outstanding === 0) {
        void finish()
        return
      }
      drainTimer = setTimeout(() => void finish(), plan.timeoutMs)
    }

    const tick = () => {
      if (!sending) return
      try {
        const now = preciseNowMs()
        const due = schedule!.dueBy(now - start)
        let batch = 0
        while (next < due && batch < maxBatch) {
          const intended = start + schedule!.sendTimeMs(next)
          if (intended >= t0 && limitReached()) break
          send(next, intended)
          next++
          batch++
        }
        if (next >= schedule!.total) {
          stopSending(end)
        } else if (limitReached()) {
          // N requests at rate r take N / r: sending ends when the next one would have gone.
          stopSending(start + schedule!.sendTimeMs(next))
        } else if (batch === maxBatch) {
          setImmediate(tick)
        } else {
          ticker!.wakeAt(Math.max(start + schedule!.sendTimeMs(next), now + minTickGapMs))
        }
      } catch (err) {
        fail(err)
      }
    }

    const refill = () => {
      refillScheduled = false
      if (!sending) return
      try {
        const now = preciseNowMs()
        if (now >= end) {
          stopSending(end)
          return
        }
        // A client that answers inside send() would otherwise keep this loop going: one round per call.
        refilling = true
        let budget = plan.connections
        while (freeSlots.length > 0 && budget-- > 0 && !limitReached()) {
          const slot = freeSlots.pop()!
          slotSentAt![slot] = now
          slotBusy![slot] = 1
          send(slot, now)
        }
        refilling = false
        if (limitReached()) stopSending(now)
        else if (freeSlots.length > 0 && !refillScheduled) {
          refillScheduled = true
          setImmediate(refill)
        }
      } catch (err) {
        refilling = false
        fail(err)
      }
    }

    const windowHorizon = (now: number): number => {
      if (!sending) return fromT0(sendingEndedAt ?? now)
      if (openLoop) return next < schedule!.total ? fromT0(start + schedule!.sendTimeMs(next)) : fromT0(now)
      return fromT0(now)
    }

    const emitWindows = (windows: WindowSnapshot[]) => {
      if (options.onWindow) for (const window of windows) options.onWindow(window)
    }

    const progress = (now: number): Progress => {
      const interval = now - lastProgress.at
      const rate = interval > 0 ? ((completions - lastProgress.completions) * 1000) / interval : 0
      lastProgress = { at: now, completions }
      return {
        elapsedMs: Math.max(0, now - start),
        totalMs: durationMs === Infinity ? undefined : plan.warmupMs + durationMs,
        sent: recorder.totals.sent,
        done: recorder.totals.ended,
        errors: recorder.totals.errors,
        rate,
        p50: recorder.lastWindowLatency.p50,
        p99: recorder.lastWindowLatency.p99,
      }
    }

    const housekeep = () => {
      try {
        const now = preciseNowMs()
        emitWindows(recorder.takeComplete(windowHorizon(now)))
        housekeepingRound++
        if (options.onProgress && housekeepingRound % (1000 / housekeepingMs) === 0) options.onProgress(progress(now))
      } catch (err) {
        fail(err)
      }
    }

    async function finish(): Promise<void> {
      if (finished) return
      finished = true
      const now = preciseNowMs()
      sending = false
      sendingEndedAt ??= now
      clearTimeout(drainTimer)
      clearTimeout(startTimer)
      clearInterval(housekeeping)
      signal?.removeEventListener('abort', onAbort)
      try {
        await Promise.all([client.close(), ticker?.close()])
        emitWindows(recorder.finish(fromT0(Math.max(t0, sendingEndedAt))))
        if (options.onProgress && lastProgress.at > 0) options.onProgress(progress(preciseNowMs()))
      } catch (err) {
        failure ??= { error: err }
      }
      if (failure) reject(failure.error)
      else resolve(recorder.snapshot())
    }

    const onAbort = () => void finish()

    function begin() {
      if (finished) return
      onWake = tick
      sending = true
      const now = preciseNowMs()
      lastProgress = { at: now, completions: 0 }
      housekeeping = setInterval(housekeep, housekeepingMs)
      if (openLoop) {
        // Started late within the warm-up: its requests already past are skipped, not sent in a burst.
        const dueNow = schedule!.dueBy(now - start)
        while (next < dueNow && start + schedule!.sendTimeMs(next) < Math.min(now - lateWarmupSkipMs, t0)) next++
        tick()
      } else {
        for (let slot = plan.connections - 1; slot >= 0; slot--) freeSlots.push(slot)
        if (Number.isFinite(end)) startTimer = setTimeout(() => stopSending(end), Math.max(0, end - now))
        refill()
      }
    }

    if (signal?.aborted) {
      void finish()
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    // The first wake-up (at the start time) begins the run; later ones send what is due.
    let onWake = begin
    try {
      ticker = createTicker(() => onWake(), fail)
    } catch (err) {
      fail(err)
      return
    }
    if (start > preciseNowMs()) ticker.wakeAt(start)
    else begin()
  })
}
