// policy/v1 PodDisruptionBudget, as upstream's ValidatePodDisruptionBudget and
// ValidatePodDisruptionBudgetStatusUpdate. The spec may change after create; neither
// minAvailable nor maxUnavailable is required (a budget with neither allows no disruption),
// both at once is refused.
import type { FieldCause, Obj } from './field.ts'
import { invalid, nonNegative, notSupported, obj } from './field.ts'
import { validateIntOrPercent } from './apps.ts'
import { validateConditions } from './conditions.ts'
import { validateLabelSelector } from './meta.ts'

export const UNHEALTHY_POD_EVICTION_POLICIES = ['AlwaysAllow', 'IfHealthyBudget']

const present = (v: unknown): boolean => v !== undefined && v !== null

export function validatePodDisruptionBudget(pdb: Obj): FieldCause[] {
  const spec = obj(pdb.spec)
  const errs: FieldCause[] = []
  if (present(spec.minAvailable) && present(spec.maxUnavailable)) {
    errs.push(invalid('spec', { minAvailable: spec.minAvailable, maxUnavailable: spec.maxUnavailable }, 'minAvailable and maxUnavailable cannot be both set'))
  }
  errs.push(...validateIntOrPercent(spec.minAvailable, 'spec.minAvailable', true))
  errs.push(...validateIntOrPercent(spec.maxUnavailable, 'spec.maxUnavailable', true))
  errs.push(...validateLabelSelector(spec.selector, 'spec.selector'))
  const policy = spec.unhealthyPodEvictionPolicy
  if (present(policy) && !UNHEALTHY_POD_EVICTION_POLICIES.includes(String(policy))) {
    errs.push(notSupported('spec.unhealthyPodEvictionPolicy', policy, UNHEALTHY_POD_EVICTION_POLICIES))
  }
  return errs
}

/** A write to `poddisruptionbudgets/status` (the disruption controller's, or an eviction's). */
export function validatePodDisruptionBudgetStatus(pdb: Obj): FieldCause[] {
  const status = obj(pdb.status)
  return [
    ...validateConditions(status.conditions, 'status.conditions'),
    ...nonNegative('status.disruptionsAllowed', status.disruptionsAllowed),
    ...nonNegative('status.currentHealthy', status.currentHealthy),
    ...nonNegative('status.desiredHealthy', status.desiredHealthy),
    ...nonNegative('status.expectedPods', status.expectedPods),
  ]
}
