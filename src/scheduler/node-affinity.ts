// Node selectors as k8s.io/component-helpers/scheduling/corev1/nodeaffinity: terms are ORed,
// requirements within a term ANDed, an empty term matches nothing, a term that fails to
// parse matches nothing.
import type { V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod, V1PreferredSchedulingTerm } from '@kubernetes/client-node'

export type NodeMatcher = (labels: Record<string, string>, name: string) => boolean

const int64 = /^[+-]?\d+$/

function parseInt64(s: string): bigint | undefined {
  return int64.test(s) ? BigInt(s) : undefined
}

function requirementMatcher(r: V1NodeSelectorRequirement): ((value: string | undefined) => boolean) | undefined {
  const values = r.values ?? []
  switch (r.operator) {
    case 'In': {
      if (values.length === 0) return undefined
      const set = new Set(values)
      return (v) => v !== undefined && set.has(v)
    }
    case 'NotIn': {
      if (values.length === 0) return undefined
      const set = new Set(values)
      return (v) => v === undefined || !set.has(v)
    }
    case 'Exists':
      return values.length === 0 ? (v) => v !== undefined : undefined
    case 'DoesNotExist':
      return values.length === 0 ? (v) => v === undefined : undefined
    case 'Gt':
    case 'Lt': {
      const bound = values.length === 1 ? parseInt64(values[0]) : undefined
      if (bound === undefined) return undefined
      const gt = r.operator === 'Gt'
      return (v) => {
        const n = v === undefined ? undefined : parseInt64(v)
        if (n === undefined) return false
        return gt ? n > bound : n < bound
      }
    }
    default:
      return undefined
  }
}

function termMatcher(term: V1NodeSelectorTerm): NodeMatcher {
  const labelReqs: Array<[string, (v: string | undefined) => boolean]> = []
  const fieldReqs: Array<(v: string | undefined) => boolean> = []
  for (const r of term.matchExpressions ?? []) {
    const m = requirementMatcher(r)
    if (!m) return () => false
    labelReqs.push([r.key, m])
  }
  for (const r of term.matchFields ?? []) {
    // Only metadata.name is a supported node field; In/NotIn take exactly one value.
    if (r.key !== 'metadata.name') return () => false
    if ((r.operator === 'In' || r.operator === 'NotIn') && r.values?.length !== 1) return () => false
    const m = requirementMatcher(r)
    if (!m) return () => false
    fieldReqs.push(m)
  }
  if (labelReqs.length === 0 && fieldReqs.length === 0) return () => false
  return (labels, name) => {
    for (const [key, m] of labelReqs) if (!m(Object.hasOwn(labels, key) ? labels[key] : undefined)) return false
    for (const m of fieldReqs) if (!m(name)) return false
    return true
  }
}

/** Matches nodes by `spec.nodeSelector` AND `requiredDuringSchedulingIgnoredDuringExecution`; undefined if the pod sets neither. */
export function requiredNodeMatcher(pod: V1Pod): NodeMatcher | undefined {
  const selector = pod.spec?.nodeSelector
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
  const selectorEntries = Object.entries(selector ?? {})
  const terms = required ? (required.nodeSelectorTerms ?? []).map(termMatcher) : undefined
  if (selectorEntries.length === 0 && !terms) return undefined
  return (labels, name) => {
    for (const [k, v] of selectorEntries) if (!Object.hasOwn(labels, k) || labels[k] !== v) return false
    if (!terms) return true
    for (const t of terms) if (t(labels, name)) return true
    return false
  }
}

/** The terms of a NodeSelector (a PersistentVolume's required node affinity), ORed. */
export function nodeSelectorMatcher(terms: readonly V1NodeSelectorTerm[]): NodeMatcher {
  const matchers = terms.map(termMatcher)
  return (labels, name) => matchers.some((m) => m(labels, name))
}

export interface PreferredTerm {
  weight: number
  matches: NodeMatcher
}

export function preferredTerms(pod: V1Pod): PreferredTerm[] {
  const terms: V1PreferredSchedulingTerm[] = pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []
  return terms.filter((t) => t.weight !== 0).map((t) => ({ weight: t.weight, matches: termMatcher(t.preference) }))
}
