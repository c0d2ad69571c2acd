// Waiting for an action's completion: look, and look again every pollMs, until done, failed,
// or the action's signal ends the wait (then the last thing waited for is what is reported).
import { sleep } from '../../src/client/index.ts'
import type { ActionContext } from './context.ts'

export type Progress = { done: string } | { waiting: string }

/** Ends the action at once: waiting longer would not help. */
export class ActionFailed extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ActionFailed'
  }
}

/** The action's signal ended its wait; `waiting` says for what. */
export class StoppedWaiting extends Error {
  readonly waiting: string
  constructor(waiting: string) {
    super(`stopped waiting for ${waiting}`)
    this.name = 'StoppedWaiting'
    this.waiting = waiting
  }
}

/**
 * Calls `check` until it says done. Errors other than ActionFailed count as "not yet" (an API
 * server restarting under a scenario is to be expected) and are reported if the wait ends.
 */
export async function waitUntil(ctx: Pick<ActionContext, 'signal' | 'pollMs'>, what: string, check: () => Promise<Progress>): Promise<string> {
  let waiting = what
  for (;;) {
    if (ctx.signal.aborted) throw new StoppedWaiting(waiting)
    try {
      const progress = await check()
      if ('done' in progress) return progress.done
      waiting = progress.waiting
    } catch (err) {
      if (err instanceof ActionFailed) throw err
      if (ctx.signal.aborted) throw new StoppedWaiting(waiting)
      waiting = `${what} (last error: ${(err as Error).message})`
    }
    await sleep(ctx.pollMs, ctx.signal)
  }
}

/** Runs `work` over `items`, at most `limit` at once; stops starting new ones once `signal` aborts. */
export async function eachLimited<T>(items: readonly T[], limit: number, signal: AbortSignal, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length && !signal.aborted) await work(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** Up to `limit` names, then how many more. */
export function listNames(names: readonly string[], limit = 5): string {
  if (names.length <= limit) return names.join(', ')
  return `${names.slice(0, limit).join(', ')} and ${names.length - limit} more`
}

/** `count` items picked at random. */
export function pickRandom<T>(items: readonly T[], count: number): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy.slice(0, count)
}
