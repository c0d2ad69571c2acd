// The disruption controller's reconcile: a PodDisruptionBudget, the pods its selector
// matches and the cached controllers of those pods in; the status write, if the status
// changed, out. A budget whose expected count cannot be worked out fails safe: no
// disruption allowed, condition DisruptionAllowed=False/SyncFailed saying why.
//
// Upstream records its events on every sync; here they go with a status write only, so a
// budget resynced by each pod update does not repeat the same event.
import { resources } from '../../api/registry.ts'
import { labelSelectorFromObject, selectorToString } from '../../api/selectors.ts'
import { conditionsAreUpToDate, DISRUPTION_ALLOWED, setCondition, withDisruptionAllowedCondition, type Budget, type BudgetPod, type BudgetStatus } from '../../api/disruption-budget.ts'
import type { Action, KubeObject } from '../actions.ts'
import { budgetCounts, countHealthyPods, disruptedPods, expectedPodCount } from './budget-status.ts'
import type { WorkloadLookup } from './controller-scale.ts'

const pdbInfo = resources.find((r) => r.kind === 'PodDisruptionBudget')!

/** How soon a budget that failed safe is worked out again (a controller its pods name may reach the cache later). */
export const SYNC_FAILED_RETRY_MS = 15_000

export interface BudgetResult {
  actions: Action[]
  /** Reconcile again at this time: an approved eviction runs out then. */
  recheckAt?: Date
}

const zeroStatus: BudgetStatus = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 }

function sameRecords(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {})
  return ka.length === Object.keys(b ?? {}).length && ka.every((k) => Object.hasOwn(b ?? {}, k) && b![k] === a![k])
}

function unchanged(budget: Budget, next: BudgetStatus): boolean {
  const s = budget.status ?? zeroStatus
  return (
    s.currentHealthy === next.currentHealthy &&
    s.desiredHealthy === next.desiredHealthy &&
    s.expectedPods === next.expectedPods &&
    s.disruptionsAllowed === next.disruptionsAllowed &&
    sameRecords(s.disruptedPods, next.disruptedPods) &&
    (s.observedGeneration ?? 0) === (budget.metadata.generation ?? 0) &&
    conditionsAreUpToDate(budget)
  )
}

function involved(budget: Budget): KubeObject {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: budget.metadata as KubeObject['metadata'] }
}

function selectorText(budget: Budget): string {
  try {
    return selectorToString(labelSelectorFromObject(budget.spec?.selector as never)) || '<none>'
  } catch {
    return '<error>'
  }
}

function failSafe(budget: Budget, why: string, now: Date): BudgetResult {
  const old = budget.status ?? zeroStatus
  const condition = { type: DISRUPTION_ALLOWED, status: 'False' as const, reason: 'SyncFailed', message: why, observedGeneration: old.observedGeneration }
  const status: BudgetStatus = { ...old, disruptionsAllowed: 0, conditions: setCondition(old.conditions, condition, now) }
  if (JSON.stringify(status) === JSON.stringify(old)) return { actions: [], recheckAt: new Date(now.getTime() + SYNC_FAILED_RETRY_MS) }
  return {
    actions: [
      { verb: 'updateStatus', info: pdbInfo, object: { ...(budget as unknown as KubeObject), status } },
      { verb: 'event', event: { involved: involved(budget), type: 'Warning', reason: 'CalculateExpectedPodCountFailed', message: `Failed to calculate the number of expected pods: ${why}` } },
    ],
    recheckAt: new Date(now.getTime() + SYNC_FAILED_RETRY_MS),
  }
}

export function reconcileDisruptionBudget(budget: Budget | undefined, pods: readonly BudgetPod[], lookup: WorkloadLookup, now: Date): BudgetResult {
  if (!budget) return { actions: [] }
  let count: ReturnType<typeof expectedPodCount>
  try {
    count = expectedPodCount(budget, pods, lookup)
  } catch (err) {
    return failSafe(budget, (err as Error).message, now)
  }
  const { pending, recheckAt, notDeleted } = disruptedPods(pods, budget.status?.disruptedPods, now)
  const counts = budgetCounts(count, countHealthyPods(pods, pending, now), pending, budget.metadata.generation)
  const result = (actions: Action[]): BudgetResult => (recheckAt ? { actions, recheckAt } : { actions })
  if (unchanged(budget, counts)) return result([])
  const status = withDisruptionAllowedCondition({ ...counts, conditions: budget.status?.conditions }, now)
  const actions: Action[] = [{ verb: 'updateStatus', info: pdbInfo, object: { ...(budget as unknown as KubeObject), status } }]
  const ns = budget.metadata.namespace
  if (pods.length === 0) actions.push({ verb: 'event', event: { involved: involved(budget), type: 'Normal', reason: 'NoPods', message: 'No matching pods found' } })
  if (count.unmanagedPods.length > 0) {
    actions.push({
      verb: 'event',
      event: {
        involved: involved(budget),
        type: 'Warning',
        reason: 'UnmanagedPods',
        message: `Pods selected by this PodDisruptionBudget (selector: ${selectorText(budget)}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`,
      },
    })
  }
  for (const name of notDeleted) {
    const pod = pods.find((p) => p.metadata?.name === name)!
    actions.push({ verb: 'event', event: { involved: { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata as KubeObject['metadata'] }, type: 'Warning', reason: 'NotDeleted', message: `Pod was expected by PDB ${ns}/${budget.metadata.name} to be deleted but it wasn't` } })
  }
  return result(actions)
}
