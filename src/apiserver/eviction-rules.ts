// The decisions of `pods/eviction`, as upstream's EvictionREST makes them: which pods go
// without asking their budget, which budget guards a pod, whether that budget can give one
// more disruption (and its status after giving it), and the errors a refused eviction gets.
import {
  budgetSelects,
  isPodReady,
  rfc3339,
  withDisruptionAllowedCondition,
  type Budget,
  type BudgetPod,
} from '../api/disruption-budget.ts'
import { ApiError, badRequest, forbidden } from '../util/errors.ts'

/** Upstream's MaxDisruptedPodSize: approvals the disruption controller has not caught up with. */
export const MAX_DISRUPTED_POD_SIZE = 2000
export const EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."

type Obj = Record<string, any>

export interface DeleteOptions extends Obj {
  dryRun?: string[]
  preconditions?: { uid?: string; resourceVersion?: string }
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The Eviction body's DeleteOptions, with the request's `?dryRun` carried in (upstream's
 * propagateDryRun). The Eviction must name the pod of the URL, in its namespace.
 */
export function evictionDeleteOptions(body: unknown, name: string, namespace: string, queryDryRun: string[]): DeleteOptions {
  if (!isObject(body)) throw badRequest('the request body must be a policy/v1 Eviction object')
  if (body.kind !== undefined && body.kind !== 'Eviction') throw badRequest(`the body must be an Eviction, not ${JSON.stringify(body.kind)}`)
  if (body.apiVersion !== undefined && body.apiVersion !== 'policy/v1' && body.apiVersion !== 'policy/v1beta1') {
    throw badRequest(`an Eviction's apiVersion is policy/v1 (or policy/v1beta1), not ${JSON.stringify(body.apiVersion)}`)
  }
  const meta = isObject(body.metadata) ? body.metadata : {}
  if (meta.name !== name) throw badRequest('name in URL does not match name in Eviction object')
  if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
  }
  const given = body.deleteOptions
  if (given !== undefined && given !== null && !isObject(given)) throw badRequest('deleteOptions of an Eviction must be an object (DeleteOptions)')
  const options: DeleteOptions = isObject(given) ? structuredClone(given) : {}
  const bodyDryRun = Array.isArray(options.dryRun) ? options.dryRun : []
  if (bodyDryRun.length === 0) {
    if (queryDryRun.length > 0) options.dryRun = [...queryDryRun]
  } else if (queryDryRun.length > 0 && JSON.stringify(bodyDryRun) !== JSON.stringify(queryDryRun)) {
    throw badRequest(`Non-matching dry-run options in request and content: ${JSON.stringify(queryDryRun)} and ${JSON.stringify(bodyDryRun)}`)
  }
  for (const v of options.dryRun ?? []) if (v !== 'All') throw badRequest(`Invalid dryRun value: ${JSON.stringify(v)}: supported values: "All"`)
  return options
}

export function isDryRun(options: DeleteOptions): boolean {
  return (options.dryRun ?? []).length > 0
}

export function resourceVersionIsUnset(options: DeleteOptions): boolean {
  return !options.preconditions?.resourceVersion
}

/** The options with the pod's resourceVersion as precondition: the pod must not have changed (become Ready) since it was judged. */
export function withResourceVersion(options: DeleteOptions, resourceVersion: string): DeleteOptions {
  return { ...options, preconditions: { ...(options.preconditions ?? {}), resourceVersion } }
}

/** canIgnorePDB: terminal, Pending and terminating pods are deleted without asking a budget. */
export function canIgnoreBudget(pod: BudgetPod): boolean {
  const phase = pod.status?.phase
  return phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || Boolean(pod.metadata?.deletionTimestamp)
}

/** shouldEnforceResourceVersion: all but terminal and terminating pods, which can no longer become Ready. */
export function shouldEnforceResourceVersion(pod: BudgetPod): boolean {
  const phase = pod.status?.phase
  return !(phase === 'Succeeded' || phase === 'Failed' || pod.metadata?.deletionTimestamp)
}

export function budgetsFor(budgets: readonly Budget[], pod: BudgetPod): Budget[] {
  return budgets.filter((b) => budgetSelects(b, pod))
}

/**
 * An unready pod may go without spending the budget when its budget's policy is AlwaysAllow,
 * or (IfHealthyBudget, the default) when the application is at its desired health anyway.
 */
export function unhealthyPodMayGo(budget: Budget, pod: BudgetPod): boolean {
  if (isPodReady(pod)) return false
  if (budget.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow') return true
  const status = budget.status
  return !!status && status.currentHealthy >= status.desiredHealthy && status.desiredHealthy > 0
}

/** 429 for a budget the controller has not caught up with (clients retry after 10 s). */
export function budgetNotReady(budgetName: string): ApiError {
  return new ApiError(429, 'TooManyRequests', EVICTION_REFUSED, {
    causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${budgetName} is still being processed by the server.` }],
    retryAfterSeconds: 10,
  })
}

const pdbRef = { group: 'policy', resource: 'poddisruptionbudget' }

/**
 * checkAndDecrement: the budget after it gave one disruption to `podName` (recorded in
 * disruptedPods unless this is a dry run), or the error that refuses the eviction.
 */
export function checkAndDecrement(budget: Budget, podName: string, now: Date, dryRun: boolean): Budget {
  const status = budget.status ?? { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 }
  const name = budget.metadata.name
  if ((status.observedGeneration ?? 0) < (budget.metadata.generation ?? 0)) throw budgetNotReady(name)
  if (status.disruptionsAllowed < 0) throw forbidden(pdbRef, name, 'pdb disruptions allowed is negative')
  if (Object.keys(status.disruptedPods ?? {}).length > MAX_DISRUPTED_POD_SIZE) {
    throw forbidden(pdbRef, name, 'DisruptedPods map too big - too many evictions not confirmed by PDB controller')
  }
  if (status.disruptionsAllowed === 0) {
    throw new ApiError(429, 'TooManyRequests', EVICTION_REFUSED, {
      causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${name} needs ${status.desiredHealthy} healthy pods and has ${status.currentHealthy} currently` }],
    })
  }
  let next = { ...status, disruptionsAllowed: status.disruptionsAllowed - 1 }
  if (next.disruptionsAllowed === 0) next = withDisruptionAllowedCondition(next, now)
  if (!dryRun) next.disruptedPods = { ...(status.disruptedPods ?? {}), [podName]: rfc3339(now) }
  return { ...budget, status: next }
}
