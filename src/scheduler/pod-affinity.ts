// Inter-pod affinity and anti-affinity, and topology spread constraints, as kube-scheduler's
// InterPodAffinity and PodTopologySpread plugins: the terms are parsed once per pod, and
// each scheduling attempt counts the matching pods per topology domain once (the plugins'
// PreFilter/PreScore), so every node is then judged by a lookup.
import type { V1Pod, V1PodAffinityTerm, V1TopologySpreadConstraint } from '@kubernetes/client-node'
import { labelSelectorFromObject, matchesLabels, type LabelSelector } from '../api/selectors.ts'

export const reasonAffinityRules = "node(s) didn't match pod affinity rules"
export const reasonAntiAffinityRules = "node(s) didn't match pod anti-affinity rules"
export const reasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
export const reasonSpreadConstraints = "node(s) didn't match pod topology spread constraints"
export const reasonSpreadMissingLabel = `${reasonSpreadConstraints} (missing required label)`

/** One pod (anti-)affinity term, parsed. */
export interface AffinityTerm {
  selector: LabelSelector
  /** The namespaces it looks in; undefined: every namespace (an empty namespaceSelector). */
  namespaces: Set<string> | undefined
  /** A namespaceSelector that is not empty: namespaces whose labels it matches are added. */
  namespaceSelector: LabelSelector | undefined
  topologyKey: string
  weight: number
}

export interface PodTerms {
  requiredAffinity: AffinityTerm[]
  requiredAntiAffinity: AffinityTerm[]
  preferredAffinity: AffinityTerm[]
  preferredAntiAffinity: AffinityTerm[]
}

export interface SpreadConstraint {
  maxSkew: number
  topologyKey: string
  hard: boolean
  selector: LabelSelector
  minDomains: number
}

export type NamespaceLabels = (namespace: string) => Record<string, string> | undefined

function term(t: V1PodAffinityTerm, ownNamespace: string, weight: number): AffinityTerm {
  const listed = t.namespaces ?? []
  const nsSel = t.namespaceSelector
  const selectorIsEmpty = nsSel !== undefined && nsSel !== null && !nsSel.matchLabels && !(nsSel.matchExpressions?.length)
  let namespaces: Set<string> | undefined = new Set(listed)
  let namespaceSelector: LabelSelector | undefined
  if (nsSel !== undefined && nsSel !== null) {
    if (selectorIsEmpty) namespaces = undefined
    else namespaceSelector = labelSelectorFromObject(nsSel)
  } else if (listed.length === 0) namespaces = new Set([ownNamespace])
  return { selector: labelSelectorFromObject(t.labelSelector), namespaces, namespaceSelector, topologyKey: t.topologyKey, weight }
}

/** The pod's affinity terms; a term that does not parse selects nothing (the API validates them first). */
export function podTerms(pod: V1Pod): PodTerms {
  const ns = pod.metadata?.namespace ?? 'default'
  const a = pod.spec?.affinity
  const safe = <T>(make: () => T[]): T[] => {
    try {
      return make()
    } catch {
      return []
    }
  }
  return {
    requiredAffinity: safe(() => (a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => term(t, ns, 1))),
    requiredAntiAffinity: safe(() => (a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => term(t, ns, 1))),
    preferredAffinity: safe(() => (a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => term(w.podAffinityTerm, ns, w.weight))),
    preferredAntiAffinity: safe(() => (a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => term(w.podAffinityTerm, ns, w.weight))),
  }
}

export function hasTerms(t: PodTerms): boolean {
  return t.requiredAffinity.length + t.requiredAntiAffinity.length + t.preferredAffinity.length + t.preferredAntiAffinity.length > 0
}

/** Does `term` (of a pod in `termNamespace`'s view) select the pod with these labels in `namespace`? */
export function termMatches(t: AffinityTerm, namespace: string, labels: Record<string, string> | undefined, nsLabels: NamespaceLabels): boolean {
  const inNamespaces = t.namespaces === undefined || t.namespaces.has(namespace) || (t.namespaceSelector !== undefined && matchesLabels(t.namespaceSelector, nsLabels(namespace) ?? {}))
  return inNamespaces && matchesLabels(t.selector, labels)
}

export function spreadConstraints(pod: V1Pod): SpreadConstraint[] {
  const labels = pod.metadata?.labels ?? {}
  const out: SpreadConstraint[] = []
  for (const c of (pod.spec?.topologySpreadConstraints ?? []) as V1TopologySpreadConstraint[]) {
    try {
      // matchLabelKeys: the pod's own values for those keys narrow the selector.
      const matchLabels = { ...(c.labelSelector?.matchLabels ?? {}) }
      for (const k of c.matchLabelKeys ?? []) if (labels[k] !== undefined) matchLabels[k] = labels[k]
      const selector = labelSelectorFromObject(c.labelSelector ? { ...c.labelSelector, matchLabels } : Object.keys(matchLabels).length ? { matchLabels } : undefined)
      out.push({ maxSkew: c.maxSkew, topologyKey: c.topologyKey, hard: c.whenUnsatisfiable !== 'ScheduleAnyway', selector, minDomains: c.minDomains ?? 1 })
    } catch {
      // A constraint that does not parse is left out (the API validates them first).
    }
  }
  return out
}

/** A pod already bound, as these plugins see it. */
export interface PlacedPod {
  namespace: string
  labels: Record<string, string> | undefined
  terms: PodTerms
  terminating: boolean
}

/** A node as these plugins see it: its labels and the pods on it. */
export interface PlacedNode {
  name: string
  labels: Record<string, string>
  pods: Iterable<PlacedPod>
  /** The pods with affinity terms of their own: all a pod without terms or spread constraints need look at. */
  podsWithTerms: Iterable<PlacedPod>
  /** Whether the incoming pod's node affinity/selector allows it (topology spread counts only such nodes). */
  matchesPodNodeAffinity: boolean
}

/** Per-attempt state: matching pods counted per topology domain, once. */
export class AffinityCycle {
  readonly terms: PodTerms
  readonly spread: SpreadConstraint[]
  readonly #ns: string
  readonly #labels: Record<string, string> | undefined
  /** Per required-affinity term: topology value → matching pods. */
  readonly #affinityCounts: Map<string, number>[]
  #anyAffinityMatch = false
  /** topologyKey → values where the incoming pod's required anti-affinity finds a pod. */
  readonly #antiDomains = new Map<string, Set<string>>()
  /** topologyKey → values where an existing pod's required anti-affinity rejects the incoming pod. */
  readonly #existingAnti = new Map<string, Set<string>>()
  /** topologyKey → value → preferred score. */
  readonly #scores = new Map<string, Map<string, number>>()
  /** Per spread constraint: value → matching pods, over nodes that qualify. */
  readonly #spreadCounts: Map<string, number>[]
  readonly #spreadMin: number[]

  constructor(pod: V1Pod, terms: PodTerms, nodes: Iterable<PlacedNode>, nsLabels: NamespaceLabels) {
    this.terms = terms
    this.spread = spreadConstraints(pod)
    this.#ns = pod.metadata?.namespace ?? 'default'
    this.#labels = pod.metadata?.labels
    this.#affinityCounts = terms.requiredAffinity.map(() => new Map())
    this.#spreadCounts = this.spread.map(() => new Map())
    const add = (m: Map<string, Set<string>>, key: string, value: string) => {
      let s = m.get(key)
      if (!s) m.set(key, (s = new Set()))
      s.add(value)
    }
    const score = (key: string, value: string, w: number) => {
      let m = this.#scores.get(key)
      if (!m) this.#scores.set(key, (m = new Map()))
      m.set(value, (m.get(value) ?? 0) + w)
    }
    const spreadKeys = this.spread.map((c) => c.topologyKey)
    // Only a pod with terms or constraints of its own counts other pods; otherwise just the
    // existing pods' terms toward it matter (upstream's PodsWithAffinity).
    const ownTerms = hasTerms(terms) || this.spread.length > 0
    for (const node of nodes) {
      const qualifies = node.matchesPodNodeAffinity && spreadKeys.every((k) => node.labels[k] !== undefined)
      if (qualifies) this.spread.forEach((c, i) => this.#spreadCounts[i]!.set(node.labels[c.topologyKey]!, this.#spreadCounts[i]!.get(node.labels[c.topologyKey]!) ?? 0))
      for (const p of ownTerms ? node.pods : node.podsWithTerms) {
        const value = (key: string) => node.labels[key]
        terms.requiredAffinity.forEach((t, i) => {
          const v = value(t.topologyKey)
          if (v !== undefined && termMatches(t, p.namespace, p.labels, nsLabels)) {
            this.#affinityCounts[i]!.set(v, (this.#affinityCounts[i]!.get(v) ?? 0) + 1)
            this.#anyAffinityMatch = true
          }
        })
        for (const t of terms.requiredAntiAffinity) {
          const v = value(t.topologyKey)
          if (v !== undefined && termMatches(t, p.namespace, p.labels, nsLabels)) add(this.#antiDomains, t.topologyKey, v)
        }
        for (const t of p.terms.requiredAntiAffinity) {
          const v = value(t.topologyKey)
          if (v !== undefined && termMatches(t, this.#ns, this.#labels, nsLabels)) add(this.#existingAnti, t.topologyKey, v)
        }
        for (const t of terms.preferredAffinity) if (value(t.topologyKey) !== undefined && termMatches(t, p.namespace, p.labels, nsLabels)) score(t.topologyKey, value(t.topologyKey)!, t.weight)
        for (const t of terms.preferredAntiAffinity) if (value(t.topologyKey) !== undefined && termMatches(t, p.namespace, p.labels, nsLabels)) score(t.topologyKey, value(t.topologyKey)!, -t.weight)
        // Existing pods' terms toward the incoming pod (symmetry): preferred ones, and required affinity at weight 1.
        for (const t of [...p.terms.preferredAffinity, ...p.terms.requiredAffinity]) if (value(t.topologyKey) !== undefined && termMatches(t, this.#ns, this.#labels, nsLabels)) score(t.topologyKey, value(t.topologyKey)!, t.weight)
        for (const t of p.terms.preferredAntiAffinity) if (value(t.topologyKey) !== undefined && termMatches(t, this.#ns, this.#labels, nsLabels)) score(t.topologyKey, value(t.topologyKey)!, -t.weight)
        if (qualifies && !p.terminating && p.namespace === this.#ns) {
          this.spread.forEach((c, i) => {
            if (matchesLabels(c.selector, p.labels)) {
              const v = node.labels[c.topologyKey]!
              this.#spreadCounts[i]!.set(v, (this.#spreadCounts[i]!.get(v) ?? 0) + 1)
            }
          })
        }
      }
    }
    this.#spreadMin = this.spread.map((c, i) => {
      const counts = [...this.#spreadCounts[i]!.values()]
      if (counts.length < c.minDomains) return 0
      return counts.length ? Math.min(...counts) : 0
    })
  }

  /** InterPodAffinity's Filter: the pod's affinity, its anti-affinity, then existing pods' anti-affinity, in upstream's order. */
  filterAffinity(node: PlacedNode, nsLabels: NamespaceLabels): string[] | undefined {
    if (this.terms.requiredAffinity.length > 0) {
      const satisfied = this.terms.requiredAffinity.every((t, i) => {
        const v = node.labels[t.topologyKey]
        return v !== undefined && (this.#affinityCounts[i]!.get(v) ?? 0) > 0
      })
      if (!satisfied) {
        // The first pod of a group that wants to be together: nothing matches anywhere yet,
        // and the pod matches its own terms.
        const selfMatch = this.terms.requiredAffinity.every((t) => termMatches(t, this.#ns, this.#labels, nsLabels))
        const labelled = this.terms.requiredAffinity.every((t) => node.labels[t.topologyKey] !== undefined)
        if (!(this.#anyAffinityMatch === false && selfMatch && labelled)) return [reasonAffinityRules]
      }
    }
    for (const t of this.terms.requiredAntiAffinity) {
      const v = node.labels[t.topologyKey]
      if (v !== undefined && this.#antiDomains.get(t.topologyKey)?.has(v)) return [reasonAntiAffinityRules]
    }
    for (const [key, values] of this.#existingAnti) if (node.labels[key] !== undefined && values.has(node.labels[key]!)) return [reasonExistingAntiAffinity]
    return undefined
  }

  /** PodTopologySpread's Filter (DoNotSchedule constraints). */
  filterSpread(node: PlacedNode): string[] | undefined {
    for (let i = 0; i < this.spread.length; i++) {
      const c = this.spread[i]!
      if (!c.hard) continue
      const v = node.labels[c.topologyKey]
      if (v === undefined) return [reasonSpreadMissingLabel]
      const self = matchesLabels(c.selector, this.#labels) ? 1 : 0
      const skew = (this.#spreadCounts[i]!.get(v) ?? 0) + self - this.#spreadMin[i]!
      if (skew > c.maxSkew) return [reasonSpreadConstraints]
    }
    return undefined
  }

  /** InterPodAffinity's raw score for a node (normalized over the feasible nodes by the caller). */
  affinityScore(node: PlacedNode): number {
    let sum = 0
    for (const [key, values] of this.#scores) {
      const v = node.labels[key]
      if (v !== undefined) sum += values.get(v) ?? 0
    }
    return sum
  }

  get scoresAffinity(): boolean {
    return this.#scores.size > 0
  }

  get softSpread(): SpreadConstraint[] {
    return this.spread.filter((c) => !c.hard)
  }

  /** PodTopologySpread's raw score for ScheduleAnyway constraints (lower is better), or undefined for a node without the keys. */
  spreadScore(node: PlacedNode, domainsPerConstraint: number[]): number | undefined {
    let sum = 0
    for (let i = 0; i < this.spread.length; i++) {
      const c = this.spread[i]!
      if (c.hard) continue
      const v = node.labels[c.topologyKey]
      if (v === undefined) return undefined
      sum += (this.#spreadCounts[i]!.get(v) ?? 0) * Math.log((domainsPerConstraint[i] ?? 0) + 2) + (c.maxSkew - 1)
    }
    return sum
  }
}
