// Whether static PolicyRules allow a resource request: RBAC's rule matching
// (plugin/pkg/auth/authorizer/rbac RulesAllow) for the few rules the node authorizer holds.
import type { V1PolicyRule } from '@kubernetes/client-node'
import type { ResourceAttributes } from '../types.ts'

function has(list: string[] | undefined, value: string): boolean {
  return !!list && (list.includes('*') || list.includes(value))
}

function resourceMatches(rule: V1PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource === '' ? resource : `${resource}/${subresource}`
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true
    if (subresource !== '' && r === `*/${subresource}`) return true
  }
  return false
}

export function ruleAllows(rule: V1PolicyRule, attrs: ResourceAttributes): boolean {
  if (!has(rule.verbs, attrs.verb) || !has(rule.apiGroups, attrs.apiGroup) || !resourceMatches(rule, attrs.resource, attrs.subresource)) return false
  if (!rule.resourceNames?.length) return true
  return attrs.name !== '' && rule.resourceNames.includes(attrs.name)
}

export function rulesAllow(rules: readonly V1PolicyRule[], attrs: ResourceAttributes): boolean {
  return rules.some((r) => ruleAllows(r, attrs))
}
