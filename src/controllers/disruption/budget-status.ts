// The arithmetic of a PodDisruptionBudget's status, as upstream's disruption controller
// does it: how many pods are expected and must stay healthy, which approved evictions still
// hold their pod out of the count, and how many disruptions that leaves.
import { DELETION_TIMEOUT_MS, isPodReady, type Budget, type BudgetPod, type BudgetStatus } from '../../api/disruption-budget.ts'
import { controllerOf, findControllerScale, type WorkloadLookup } from './controller-scale.ts'

/** GetScaledValueFromIntOrPercent: an int as it is, a percentage of `total` rounded as asked. */
export function scaledValue(value: number | string, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value
  if (!value.endsWith('%')) throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`)
  const digits = value.slice(0, -1)
  if (!/^[+-]?\d+$/.test(digits)) throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(value)}`)
  const share = (Number(digits) * total) / 100
  return roundUp ? Math.ceil(share) : Math.floor(share)
}

export interface ExpectedCount {
  expectedPods: number
  desiredHealthy: number
  /** Pods without a controller: a percentage or maxUnavailable cannot count them. */
  unmanagedPods: string[]
}

/** The sum of the scales of the controllers of `pods` (each controller once), and the pods that have none. */
function expectedScale(pods: readonly BudgetPod[], namespace: string, lookup: WorkloadLookup): { total: number; unmanagedPods: string[] } {
  const scales = new Map<string, number>()
  const unmanagedPods: string[] = []
  for (const pod of pods) {
    const ref = controllerOf(pod)
    if (!ref) {
      unmanagedPods.push(pod.metadata?.name ?? '')
      continue
    }
    if (scales.has(ref.uid)) continue
    const scale = findControllerScale(ref, namespace, lookup)
    if (!scale) throw new Error(`found no controllers for pod ${JSON.stringify(pod.metadata?.name ?? '')}`)
    scales.set(scale.uid, scale.replicas)
  }
  let total = 0
  for (const n of scales.values()) total += n
  return { total, unmanagedPods }
}

/** getExpectedPodCount; throws what upstream returns as an error (the budget then fails safe). */
export function expectedPodCount(budget: Budget, pods: readonly BudgetPod[], lookup: WorkloadLookup): ExpectedCount {
  const { minAvailable, maxUnavailable } = budget.spec ?? {}
  const namespace = budget.metadata.namespace
  if (maxUnavailable !== undefined && maxUnavailable !== null) {
    const { total, unmanagedPods } = expectedScale(pods, namespace, lookup)
    const desiredHealthy = Math.max(0, total - scaledValue(maxUnavailable, total, true))
    return { expectedPods: total, desiredHealthy, unmanagedPods }
  }
  if (typeof minAvailable === 'number') return { expectedPods: pods.length, desiredHealthy: minAvailable, unmanagedPods: [] }
  if (typeof minAvailable === 'string') {
    const { total, unmanagedPods } = expectedScale(pods, namespace, lookup)
    return { expectedPods: total, desiredHealthy: scaledValue(minAvailable, total, true), unmanagedPods }
  }
  return { expectedPods: 0, desiredHealthy: 0, unmanagedPods: [] }
}

export interface DisruptedPods {
  /** The approved evictions still pending: pod name → approval time. */
  pending: Record<string, string>
  /** When the earliest pending one runs out, if any is pending. */
  recheckAt?: Date
  /** Pods approved for eviction longer ago than the timeout and still not being deleted. */
  notDeleted: string[]
}

/** buildDisruptedPodMap: entries for pods that are gone or being deleted drop out; so do those past the timeout. */
export function disruptedPods(pods: readonly BudgetPod[], recorded: Record<string, string> | undefined, now: Date): DisruptedPods {
  const pending: Record<string, string> = {}
  const notDeleted: string[] = []
  let recheck: number | undefined
  if (!recorded) return { pending, notDeleted }
  for (const pod of pods) {
    const name = pod.metadata?.name ?? ''
    if (pod.metadata?.deletionTimestamp || !Object.hasOwn(recorded, name)) continue
    const approved = Date.parse(recorded[name])
    const expires = (Number.isNaN(approved) ? 0 : approved) + DELETION_TIMEOUT_MS
    if (expires < now.getTime()) notDeleted.push(name)
    else {
      pending[name] = recorded[name]
      if (recheck === undefined || expires < recheck) recheck = expires
    }
  }
  return { pending, notDeleted, ...(recheck === undefined ? {} : { recheckAt: new Date(recheck) }) }
}

/** countHealthyPods: Ready pods that are neither being deleted nor approved for eviction. */
export function countHealthyPods(pods: readonly BudgetPod[], pending: Record<string, string>, now: Date): number {
  let healthy = 0
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue
    const name = pod.metadata?.name ?? ''
    if (Object.hasOwn(pending, name) && Date.parse(pending[name]) + DELETION_TIMEOUT_MS > now.getTime()) continue
    if (isPodReady(pod)) healthy++
  }
  return healthy
}

/** The counts of a status: no disruption while nothing is expected (a budget whose first pods the controller has not seen yet). */
export function budgetCounts(count: ExpectedCount, currentHealthy: number, pending: Record<string, string>, generation: number | undefined): BudgetStatus {
  const spare = currentHealthy - count.desiredHealthy
  return {
    ...(generation ? { observedGeneration: generation } : {}),
    ...(Object.keys(pending).length > 0 ? { disruptedPods: pending } : {}),
    disruptionsAllowed: count.expectedPods <= 0 || spare <= 0 ? 0 : spare,
    currentHealthy,
    desiredHealthy: count.desiredHealthy,
    expectedPods: count.expectedPods,
  }
}
