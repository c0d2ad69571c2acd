// Polling with a deadline, an abort signal, and a check that what we wait on is still alive.
import { setTimeout as sleep } from 'node:timers/promises'

export class LabAbortedError extends Error {
  constructor() {
    super('interrupted')
    this.name = 'LabAbortedError'
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LabAbortedError()
}

export interface WaitOptions {
  timeoutMs: number
  signal?: AbortSignal
  intervalMs?: number
  /** A reason to give up at once (a process we wait on has exited), or undefined. */
  failed?: () => string | undefined
}

/** Calls `check` until it answers a value; its errors count as "not yet" (the last one is reported on timeout). */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  let last: unknown
  for (;;) {
    throwIfAborted(opts.signal)
    const failure = opts.failed?.()
    if (failure) throw new Error(`${what}: ${failure}`)
    try {
      const value = await check()
      if (value !== undefined) return value
      last = undefined
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : ''
      throw new Error(`timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${what}${why}`)
    }
    try {
      await sleep(opts.intervalMs ?? 250, undefined, { signal: opts.signal })
    } catch {
      throw new LabAbortedError()
    }
  }
}
