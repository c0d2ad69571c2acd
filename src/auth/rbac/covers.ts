// Whether one set of rules grants everything another does: upstream's Covers
// (k8s.io/component-helpers/auth/rbac/validation), with the breakdown into single
// verb/group/resource/name rules, and the compaction and text used in escalation messages.
import { goQuoteList } from './go-format.ts'
import { API_GROUP_ALL, type PolicyRule, RESOURCE_ALL, VERB_ALL, trimRightStars } from './rules.ts'

export interface CoversResult {
  covered: boolean
  /** The single-verb, single-resource (or URL), single-name rules no owner rule covers. */
  missing: PolicyRule[]
}

function rule(partial: Partial<PolicyRule>): PolicyRule {
  return { verbs: [], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: [], ...partial }
}

/** One rule as the equivalent list of rules with at most one group, resource, verb and name each. */
export function breakdownRule(r: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = []
  for (const group of r.apiGroups) {
    for (const resource of r.resources) {
      for (const verb of r.verbs) {
        if (r.resourceNames.length > 0) {
          for (const name of r.resourceNames) {
            out.push(rule({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [name] }))
          }
        } else {
          out.push(rule({ apiGroups: [group], resources: [resource], verbs: [verb] }))
        }
      }
    }
  }
  for (const url of r.nonResourceURLs) {
    for (const verb of r.verbs) out.push(rule({ nonResourceURLs: [url], verbs: [verb] }))
  }
  return out
}

function hasAll(set: readonly string[], wanted: readonly string[]): boolean {
  if (wanted.length === 0) return true
  const owning = new Set(set)
  return wanted.every((w) => owning.has(w))
}

function resourceCoversAll(owner: readonly string[], wanted: readonly string[]): boolean {
  if (owner.includes(RESOURCE_ALL) || hasAll(owner, wanted)) return true
  for (const path of wanted) {
    if (owner.includes(path)) continue
    const slash = path.indexOf('/')
    if (slash < 0) return false
    if (!owner.includes(`*/${path.slice(slash + 1)}`)) return false
  }
  return true
}

function nonResourceURLCovers(owner: string, path: string): boolean {
  if (owner === path) return true
  return owner.endsWith('*') && path.startsWith(trimRightStars(owner))
}

function nonResourceURLsCoverAll(owner: readonly string[], wanted: readonly string[]): boolean {
  return wanted.every((path) => owner.some((o) => nonResourceURLCovers(o, path)))
}

/** upstream ruleCovers: `sub` has at most one verb, group, resource and name. */
export function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const verbs = owner.verbs.includes(VERB_ALL) || hasAll(owner.verbs, sub.verbs)
  const groups = owner.apiGroups.includes(API_GROUP_ALL) || hasAll(owner.apiGroups, sub.apiGroups)
  const resources = resourceCoversAll(owner.resources, sub.resources)
  const urls = nonResourceURLsCoverAll(owner.nonResourceURLs, sub.nonResourceURLs)
  const names =
    sub.resourceNames.length === 0
      ? owner.resourceNames.length === 0
      : owner.resourceNames.length === 0 || hasAll(owner.resourceNames, sub.resourceNames)
  return verbs && groups && resources && names && urls
}

/** Whether `owner` grants everything `requested` does, and what it does not. */
export function covers(owner: readonly PolicyRule[], requested: readonly PolicyRule[]): CoversResult {
  const missing: PolicyRule[] = []
  for (const r of requested) {
    for (const sub of breakdownRule(r)) {
      if (!owner.some((o) => ruleCovers(o, sub))) missing.push(sub)
    }
  }
  return { covered: missing.length === 0, missing }
}

function simpleKey(r: PolicyRule): string | undefined {
  if (r.resourceNames.length > 0 || r.nonResourceURLs.length > 0) return undefined
  if (r.apiGroups.length !== 1 || r.resources.length !== 1) return undefined
  return JSON.stringify([r.apiGroups[0], r.resources[0]])
}

/** upstream CompactRules: rules on one group and resource with nothing else are merged into one rule with all their verbs. */
export function compactRules(rules: readonly PolicyRule[]): PolicyRule[] {
  const compacted: PolicyRule[] = []
  const simple = new Map<string, PolicyRule>()
  for (const r of rules) {
    const key = simpleKey(r)
    if (key === undefined) {
      compacted.push(r)
      continue
    }
    const existing = simple.get(key)
    if (existing) existing.verbs.push(...r.verbs)
    else simple.set(key, rule({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] }))
  }
  compacted.push(...simple.values())
  return compacted
}

/** upstream rbacv1helpers.CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = []
  if (r.apiGroups.length) parts.push(`APIGroups:${goQuoteList(r.apiGroups)}`)
  if (r.resources.length) parts.push(`Resources:${goQuoteList(r.resources)}`)
  if (r.nonResourceURLs.length) parts.push(`NonResourceURLs:${goQuoteList(r.nonResourceURLs)}`)
  if (r.resourceNames.length) parts.push(`ResourceNames:${goQuoteList(r.resourceNames)}`)
  if (r.verbs.length) parts.push(`Verbs:${goQuoteList(r.verbs)}`)
  return `{${parts.join(', ')}}`
}
