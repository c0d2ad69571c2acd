// A pod marked DisruptionTarget=True (by an eviction, a preemption, the taint manager) that
// is still not being deleted two minutes later was not disrupted after all: the disruption
// controller turns the condition False, as upstream's syncStalePodDisruption. The kubelet's
// own mark (TerminationByKubelet) and terminal pods are left alone.
import { rfc3339, type BudgetPod } from '../../api/disruption-budget.ts'
import { resources } from '../../api/registry.ts'
import type { Action, KubeObject } from '../actions.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!

export const STALE_POD_DISRUPTION_TIMEOUT_MS = 2 * 60_000
export const DISRUPTION_TARGET = 'DisruptionTarget'

type ConditionJson = { type: string; status: string; reason?: string; lastTransitionTime?: string }

function disruptionCondition(pod: BudgetPod): ConditionJson | undefined {
  return (pod.status?.conditions as ConditionJson[] | undefined)?.find((c) => c.type === DISRUPTION_TARGET)
}

/** How long until the pod's DisruptionTarget condition is stale (0: it is); undefined when it has none to clear. */
export function staleDisruptionWaitMs(pod: BudgetPod, now: Date): number | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined
  const c = disruptionCondition(pod)
  const phase = pod.status?.phase
  if (!c || c.status !== 'True' || c.reason === 'TerminationByKubelet' || phase === 'Succeeded' || phase === 'Failed') return undefined
  const since = Date.parse(c.lastTransitionTime ?? '')
  return Math.max(0, (Number.isNaN(since) ? 0 : since) + STALE_POD_DISRUPTION_TIMEOUT_MS - now.getTime())
}

export function reconcileStaleDisruption(pod: BudgetPod | undefined, now: Date): { actions: Action[]; recheckAt?: Date } {
  if (!pod) return { actions: [] }
  const wait = staleDisruptionWaitMs(pod, now)
  if (wait === undefined) return { actions: [] }
  if (wait > 0) return { actions: [], recheckAt: new Date(now.getTime() + wait) }
  const conditions = (pod.status?.conditions ?? []).map((c) => (c.type === DISRUPTION_TARGET ? { type: DISRUPTION_TARGET, status: 'False', lastTransitionTime: rfc3339(now) } : c))
  return { actions: [{ verb: 'updateStatus', info: podInfo, object: { ...(pod as KubeObject), status: { ...pod.status, conditions } } }] }
}
