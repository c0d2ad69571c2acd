// Load shapes: a closed loop (N operations, C in flight) and an open loop (a fixed
// rate, sent on schedule whether or not earlier calls have answered).
import { nowMs, sleep } from './clock.ts'
import { Samples } from './stats.ts'

export interface LoadResult {
  /** Operations that completed without throwing. */
  ok: number
  errors: number
  firstError: unknown
  elapsedMs: number
  /** Operations per second over the whole run (successful ones). */
  rate: number
  latency: Samples
}

/** Runs `op(0..total-1)` with `concurrency` calls in flight; latency per call in ms. */
export async function closedLoop(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  const latency = new Samples()
  let next = 0
  let ok = 0
  let errors = 0
  let firstError: unknown
  const started = nowMs()
  const worker = async () => {
    while (next < total) {
      const i = next++
      const t0 = nowMs()
      try {
        await op(i)
        latency.add(nowMs() - t0)
        ok++
      } catch (err) {
        errors++
        firstError ??= err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker))
  const elapsedMs = nowMs() - started
  return { ok, errors, firstError, elapsedMs, rate: (ok / elapsedMs) * 1000, latency }
}

/** Starts `op(i)` at `ratePerSecond` for `durationMs`, not waiting for answers; resolves when all have settled. */
export async function openLoop(ratePerSecond: number, durationMs: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  const latency = new Samples()
  const total = Math.round((ratePerSecond * durationMs) / 1000)
  const interval = 1000 / ratePerSecond
  const pending: Promise<void>[] = []
  let ok = 0
  let errors = 0
  let firstError: unknown
  const started = nowMs()
  let sent = 0
  while (sent < total) {
    const due = Math.min(total, Math.floor((nowMs() - started) / interval) + 1)
    while (sent < due) {
      const i = sent++
      const t0 = nowMs()
      pending.push(
        op(i).then(
          () => {
            latency.add(nowMs() - t0)
            ok++
          },
          (err: unknown) => {
            errors++
            firstError ??= err
          },
        ),
      )
    }
    const wait = started + sent * interval - nowMs()
    await sleep(Math.max(0, Math.min(wait, interval)))
  }
  await Promise.all(pending)
  const elapsedMs = nowMs() - started
  return { ok, errors, firstError, elapsedMs, rate: (ok / elapsedMs) * 1000, latency }
}
