// What the eviction API and the disruption controller agree on about a PodDisruptionBudget
// (upstream's component-helpers/apps/poddisruptionbudget, IsPodReady, and the budget's
// pod selection): plain JSON in, plain JSON out.
import { labelSelectorFromObject, matchesLabels } from './selectors.ts'

export const DISRUPTION_ALLOWED = 'DisruptionAllowed'
export type DisruptionAllowedReason = 'SufficientPods' | 'InsufficientPods' | 'SyncFailed'

/** How long an approved eviction keeps its pod out of the healthy count (upstream's DeletionTimeout). */
export const DELETION_TIMEOUT_MS = 2 * 60_000

/** A metav1.Condition as it travels in JSON. */
export interface Condition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  observedGeneration?: number
  lastTransitionTime: string
  reason: string
  message: string
}

export interface BudgetStatus {
  observedGeneration?: number
  /** Pod name → when its eviction was approved (RFC 3339). */
  disruptedPods?: Record<string, string>
  disruptionsAllowed: number
  currentHealthy: number
  desiredHealthy: number
  expectedPods: number
  conditions?: Condition[]
}

export interface LabelSelectorJson {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: string; values?: string[] }[]
}

export interface Budget {
  apiVersion?: string
  kind?: string
  metadata: { name: string; namespace: string; uid?: string; generation?: number; resourceVersion?: string; [k: string]: unknown }
  spec: {
    minAvailable?: number | string | null
    maxUnavailable?: number | string | null
    selector?: LabelSelectorJson | null
    unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow' | null
  }
  status?: BudgetStatus
}

/** The pod fields a budget looks at. */
export interface BudgetPod {
  metadata?: {
    name?: string
    namespace?: string
    uid?: string
    labels?: Record<string, string>
    deletionTimestamp?: unknown
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[]
  }
  status?: { phase?: string; conditions?: { type: string; status: string }[] }
}

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function isPodReady(pod: BudgetPod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
}

/** Whether the budget covers the pod: a null selector covers nothing, an empty one every pod of the namespace, a broken one nothing. */
export function budgetSelects(budget: Budget, pod: BudgetPod): boolean {
  if (budget.metadata.namespace !== pod.metadata?.namespace) return false
  try {
    return matchesLabels(labelSelectorFromObject(budget.spec?.selector as never), pod.metadata?.labels)
  } catch {
    return false
  }
}

/** apimachinery's SetStatusCondition: the transition time moves only when the status does. */
export function setCondition(conditions: readonly Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition[] {
  const out = (conditions ?? []).map((c) => ({ ...c }))
  const existing = out.find((c) => c.type === next.type)
  const { observedGeneration, ...rest } = next
  const generation = observedGeneration ? { observedGeneration } : {}
  if (!existing) {
    out.push({ type: rest.type, status: rest.status, ...generation, lastTransitionTime: rfc3339(now), reason: rest.reason, message: rest.message })
    return out
  }
  if (existing.status !== next.status) {
    existing.status = next.status
    existing.lastTransitionTime = rfc3339(now)
  }
  existing.reason = next.reason
  existing.message = next.message
  if (observedGeneration) existing.observedGeneration = observedGeneration
  else delete existing.observedGeneration
  return out
}

/** UpdateDisruptionAllowedCondition: True/SufficientPods while disruptions are allowed, else False/InsufficientPods. */
export function withDisruptionAllowedCondition(status: BudgetStatus, now: Date): BudgetStatus {
  const allowed = status.disruptionsAllowed > 0
  const condition = {
    type: DISRUPTION_ALLOWED,
    status: allowed ? ('True' as const) : ('False' as const),
    reason: allowed ? 'SufficientPods' : 'InsufficientPods',
    message: '',
    observedGeneration: status.observedGeneration,
  }
  return { ...status, conditions: setCondition(status.conditions, condition, now) }
}

/** ConditionsAreUpToDate: the DisruptionAllowed condition says what disruptionsAllowed says, for the current generation. */
export function conditionsAreUpToDate(budget: Budget): boolean {
  const status = budget.status
  const c = status?.conditions?.find((x) => x.type === DISRUPTION_ALLOWED)
  if (!c || !status) return false
  if ((status.observedGeneration ?? 0) !== (budget.metadata.generation ?? 0)) return false
  if (status.disruptionsAllowed > 0) return c.status === 'True' && c.reason === 'SufficientPods'
  return c.status === 'False' && c.reason === 'InsufficientPods'
}
