// Runs a scenario's actions during the load: each starts at t0 + at, concurrently with the
// others (one may still be waiting for its completion when the next starts), and is marked on
// the timeline when it starts and when it completes. A failing action is recorded and the load
// goes on. Aborting (Ctrl-C) starts nothing more and stops every wait.
import { isValidLabelValue } from '../../src/api/names.ts'
import type { RestClient } from '../../src/client/index.ts'
import { sleep } from '../../src/client/index.ts'
import { isNotFound } from '../../src/util/errors.ts'
import type { ActionRecord } from '../types.ts'
import { executeAction } from './actions.ts'
import { FIELD_MANAGER, kinds, newLedger, type LabHandle, type ScenarioLedger } from './context.ts'
import type { ScenarioAction } from './model.ts'
import { patchGate } from './readiness.ts'
import { removeRunServices } from './services.ts'
import { StoppedWaiting } from './wait.ts'

export interface ScenarioRunOptions {
  client: RestClient
  /** For objects the scenario names without a namespace. */
  namespace: string
  /** Labels the Services the run adds; a label value (letters, digits, -_., at most 63). */
  runId: string
  /** Epoch ms of the timeline's second 0 (the end of warm-up). */
  t0Ms: number
  signal?: AbortSignal
  /** The lab made by weft up, for restartAgent and restartProxy. */
  lab?: LabHandle
  /** Called when an action starts (no completedSecond yet) and when it completes. */
  onMark?(record: ActionRecord): void
  /** The longest wait for an action's completion when it names no timeout. Default 5 min. */
  defaultTimeoutMs?: number
  /** Epoch ms after which no action waits any more (the run's end plus a grace period). */
  deadlineMs?: number
  /** Collects what cleanupScenario undoes; give one to clean up after the run. */
  ledger?: ScenarioLedger
  pollMs?: number
  evictionRetryMs?: number
}

export const DEFAULT_ACTION_TIMEOUT_MS = 5 * 60_000

/** Seconds from t0, to the millisecond. */
function secondsSince(t0Ms: number, ms: number): number {
  return Math.round(ms - t0Ms) / 1000
}

export function checkRunId(runId: string): void {
  const problems = isValidLabelValue(runId)
  if (runId === '' || problems.length > 0) throw new Error(`the run id "${runId}" cannot label Services: ${problems.join('; ') || 'it is empty'}`)
}

/** Runs every action at its time; resolves once each has completed, failed or been stopped. The records are in the actions' order; those never started are left out. */
export async function runScenarioActions(actions: readonly ScenarioAction[], opts: ScenarioRunOptions): Promise<ActionRecord[]> {
  checkRunId(opts.runId)
  const signal = opts.signal ?? new AbortController().signal
  const ledger = opts.ledger ?? newLedger()
  const records: (ActionRecord | undefined)[] = []
  const mark = (record: ActionRecord) => opts.onMark?.({ ...record })

  await Promise.all(
    actions.map(async (action, i) => {
      if (!(await sleepUntil(opts.t0Ms + action.atMs, signal))) return
      const startedMs = Date.now()
      const record: ActionRecord = { name: action.name, kind: action.kind, atSecond: secondsSince(opts.t0Ms, startedMs), ok: true, message: 'started' }
      records[i] = record
      mark(record)

      const timeoutMs = action.timeoutMs ?? opts.defaultTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS
      const endMs = Math.min(startedMs + timeoutMs, opts.deadlineMs ?? Infinity)
      const stop = new AbortController()
      const timer = setTimeout(() => stop.abort('timeout'), Math.max(0, endMs - Date.now()))
      const interrupted = () => stop.abort('interrupted')
      signal.addEventListener('abort', interrupted, { once: true })
      try {
        record.message = printable(await executeAction(
          { client: opts.client, namespace: opts.namespace, runId: opts.runId, signal: stop.signal, lab: opts.lab, ledger, pollMs: opts.pollMs ?? 250, evictionRetryMs: opts.evictionRetryMs ?? 2000 },
          action,
        ))
      } catch (err) {
        record.ok = false
        record.message = printable(failureMessage(err, stop.signal, endMs - startedMs))
      } finally {
        clearTimeout(timer)
        signal.removeEventListener('abort', interrupted)
      }
      record.completedSecond = secondsSince(opts.t0Ms, Date.now())
      mark(record)
    }),
  )
  return records.filter((r): r is ActionRecord => r !== undefined)
}

/** Messages carry what the API server said: no control characters reach a terminal or the report. */
function printable(message: string): string {
  return message.replace(/[\p{Cc}\p{Cf}]+/gu, ' ')
}

/** Timers may fire a millisecond early by the wall clock: sleeps until `atMs` has truly come. False when aborted. */
async function sleepUntil(atMs: number, signal: AbortSignal): Promise<boolean> {
  for (let left = atMs - Date.now(); left > 0; left = atMs - Date.now()) {
    if (!(await sleep(left, signal))) return false
  }
  return !signal.aborted
}

function failureMessage(err: unknown, signal: AbortSignal, allowedMs: number): string {
  const message = err instanceof Error ? err.message : String(err)
  if (!signal.aborted) return message
  const waiting = err instanceof StoppedWaiting ? err.waiting : message
  if (signal.reason === 'interrupted') return `interrupted while waiting for ${waiting}`
  return `not complete after ${formatSeconds(allowedMs)}: still waiting for ${waiting}`
}

function formatSeconds(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`
}

export interface CleanupOptions {
  client: RestClient
  runId: string
  ledger: ScenarioLedger
  signal?: AbortSignal
}

/**
 * Undoes what a run changed in the cluster's routing, best effort: deletes every Service it added
 * (by its run label, in any namespace), uncordons the nodes it cordoned that were schedulable
 * before, and sets back to True the readiness gates it set False. Scaling, rollouts, deleted pods
 * and restarts are not undone. Answers what it did and what failed; never throws.
 */
export async function cleanupScenario(opts: CleanupOptions): Promise<{ done: string[]; failed: string[] }> {
  checkRunId(opts.runId)
  const signal = opts.signal ?? new AbortController().signal
  const done: string[] = []
  const failed: string[] = []
  try {
    const services = await removeRunServices({ client: opts.client, runId: opts.runId, signal })
    if (services.removed > 0) done.push(`removed ${services.removed} Services the run added`)
    failed.push(...services.failures)
  } catch (err) {
    failed.push(`Services labelled weft.dev/load-run=${opts.runId}: ${(err as Error).message}`)
  }
  for (const node of opts.ledger.cordoned) {
    try {
      await opts.client.patch(kinds.node, node, undefined, { spec: { unschedulable: null } }, 'merge', { signal, fieldManager: FIELD_MANAGER })
      opts.ledger.cordoned.delete(node)
      done.push(`uncordoned node ${node}`)
    } catch (err) {
      if (!isNotFound(err)) failed.push(`uncordon node ${node}: ${(err as Error).message}`)
    }
  }
  for (const [key, pod] of opts.ledger.unready) {
    try {
      const current = await opts.client.get(kinds.pod, pod.name, pod.namespace, { signal })
      if (current.metadata?.uid === pod.uid) {
        await patchGate({ client: opts.client, runId: opts.runId, signal }, pod, pod.conditionType, true)
        done.push(`set readiness gate ${pod.conditionType} of pod ${key} back to True`)
      }
      opts.ledger.unready.delete(key)
    } catch (err) {
      if (isNotFound(err)) opts.ledger.unready.delete(key)
      else failed.push(`readiness gate of pod ${key}: ${(err as Error).message}`)
    }
  }
  return { done, failed }
}
