// Whether one RBAC PolicyRule allows one request, with the semantics of upstream's
// pkg/apis/rbac/v1/evaluation_helpers.go and plugin/pkg/auth/authorizer/rbac (RuleAllows).
import type { Attributes } from '../types.ts'

/** A PolicyRule after parsing: every list present (missing lists are empty). */
export interface PolicyRule {
  verbs: string[]
  apiGroups: string[]
  resources: string[]
  resourceNames: string[]
  nonResourceURLs: string[]
}

export const VERB_ALL = '*'
export const API_GROUP_ALL = '*'
export const RESOURCE_ALL = '*'
export const NON_RESOURCE_ALL = '*'

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  for (const v of rule.verbs) if (v === VERB_ALL || v === verb) return true
  return false
}

export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  for (const g of rule.apiGroups) if (g === API_GROUP_ALL || g === group) return true
  return false
}

// `combined` is `resource` or `resource/subresource`. A rule resource matches when it is `*`,
// equal to `combined`, or `*/<subresource>` for a request on that subresource. There is no
// `resource/*` wildcard upstream: `pods/*` only matches a subresource literally named `*`.
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const r of rule.resources) {
    if (r === RESOURCE_ALL || r === combined) return true
    if (subresource === '') continue
    if (r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true
  }
  return false
}

/** An empty list allows every name; otherwise the request's name must be listed (`''` included, as upstream). */
export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  if (rule.resourceNames.length === 0) return true
  return rule.resourceNames.includes(name)
}

/** `*`, an exact path, or a prefix ending in `*` (`/healthz/*`, `/api*`). */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs) {
    if (u === NON_RESOURCE_ALL || u === path) return true
    if (u.endsWith('*') && path.startsWith(trimRightStars(u))) return true
  }
  return false
}

/** Go's strings.TrimRight(s, "*"). */
export function trimRightStars(s: string): string {
  let end = s.length
  while (end > 0 && s.charCodeAt(end - 1) === 42) end--
  return s.slice(0, end)
}

export function ruleAllows(attrs: Attributes, rule: PolicyRule): boolean {
  if (attrs.resourceRequest) {
    const combined = attrs.subresource === '' ? attrs.resource : `${attrs.resource}/${attrs.subresource}`
    return (
      verbMatches(rule, attrs.verb) &&
      apiGroupMatches(rule, attrs.apiGroup) &&
      resourceMatches(rule, combined, attrs.subresource) &&
      resourceNameMatches(rule, attrs.name)
    )
  }
  return verbMatches(rule, attrs.verb) && nonResourceURLMatches(rule, attrs.path)
}

export function rulesAllow(attrs: Attributes, rules: readonly PolicyRule[]): boolean {
  for (const rule of rules) if (ruleAllows(attrs, rule)) return true
  return false
}
