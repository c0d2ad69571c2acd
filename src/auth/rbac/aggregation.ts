// The rules an aggregating ClusterRole should hold, as upstream's clusterroleaggregation
// controller computes them: for each selector in turn, the matching ClusterRoles by name
// (itself excepted), their rules in order, each rule kept once.
import type { V1ClusterRole, V1PolicyRule } from '@kubernetes/client-node'
import { labelSelectorFromObject, matchesLabels } from '../../api/selectors.ts'
import { badRequest } from '../../util/errors.ts'
import { semanticEqual } from './gc-fields.ts'
import { goStringCompare } from './go-format.ts'
import { parsePolicyRules, toV1PolicyRule } from './objects.ts'
import type { PolicyRule } from './rules.ts'

/** Equal keys for exactly the rules upstream's Semantic.DeepEqual finds equal (after parsing, no list is missing). */
function ruleKey(r: PolicyRule): string {
  return JSON.stringify([r.verbs, r.apiGroups, r.resources, r.resourceNames, r.nonResourceURLs])
}

function nameOf(role: V1ClusterRole): string {
  const name = role.metadata?.name
  return typeof name === 'string' ? name : ''
}

/**
 * The rules `clusterRole` should hold, or undefined when it has no aggregationRule (then the
 * controller leaves it alone). Throws a 400 ApiError for a selector it cannot parse or a
 * matching role with malformed rules.
 */
export function aggregatedRules(clusterRole: V1ClusterRole, allClusterRoles: readonly V1ClusterRole[]): V1PolicyRule[] | undefined {
  const aggregation = clusterRole.aggregationRule
  if (aggregation === undefined || aggregation === null) return undefined
  const selectors = aggregation.clusterRoleSelectors ?? []
  if (!Array.isArray(selectors)) throw badRequest('aggregationRule.clusterRoleSelectors must be a list')
  const self = nameOf(clusterRole)
  const rules: PolicyRule[] = []
  const seen = new Set<string>()
  for (const raw of selectors) {
    // A null entry decodes to Go's zero LabelSelector, which selects everything.
    const selector = labelSelectorFromObject(raw ?? {})
    const matching = allClusterRoles
      .filter((r) => matchesLabels(selector, r.metadata?.labels))
      .sort((a, b) => goStringCompare(nameOf(a), nameOf(b)))
    for (const role of matching) {
      const name = nameOf(role)
      if (name === self) continue
      for (const rule of parsePolicyRules(role.rules, `ClusterRole ${name}: rules`)) {
        const key = ruleKey(rule)
        if (seen.has(key)) continue
        seen.add(key)
        rules.push(rule)
      }
    }
  }
  return rules.map(toV1PolicyRule)
}

/** Whether two rule lists are equal as upstream compares them (missing and empty lists alike): no write is needed. */
export function rulesEqual(a: readonly V1PolicyRule[] | undefined, b: readonly V1PolicyRule[] | undefined): boolean {
  return semanticEqual(a ?? [], b ?? [])
}

export type AggregationUpdate = { name: string; rules: V1PolicyRule[] } | { name: string; error: string }

/**
 * One pass of the controller over every ClusterRole: the aggregating roles whose rules differ
 * from what they should hold, with their new rules, or why they cannot be computed.
 */
export function pendingAggregations(allClusterRoles: readonly V1ClusterRole[]): AggregationUpdate[] {
  const updates: AggregationUpdate[] = []
  for (const role of allClusterRoles) {
    if (role.aggregationRule === undefined || role.aggregationRule === null) continue
    let rules: V1PolicyRule[] | undefined
    try {
      rules = aggregatedRules(role, allClusterRoles)
    } catch (err) {
      updates.push({ name: nameOf(role), error: err instanceof Error ? err.message : String(err) })
      continue
    }
    if (rules !== undefined && !rulesEqual(rules, role.rules)) updates.push({ name: nameOf(role), rules })
  }
  return updates
}
