// Label-selector lookups over an informer's cache without walking a namespace. Objects are
// filed under each of their labels and under their controller's uid; selectors (of Services,
// ReplicaSets…) under a label they pin. "Which pods does this selector pick?" starts from
// the selector's rarest pinned label; "which selectors pick this pod?" starts from the pod's
// own labels. Both end with the full match, so an index only narrows, never decides.
import { labelSelectorFromObject, matchesLabels, nothing, type LabelRequirement, type LabelSelector } from '../api/selectors.ts'
import type { IndexFunc, Indexer } from '../client/indexer.ts'
import type { Informer, KubeObject } from '../client/index.ts'
import type { V1LabelSelector } from '@kubernetes/client-node'

export const LABELS_INDEX = 'labels'
export const CONTROLLER_INDEX = 'controllerUid'
export const SELECTOR_INDEX = 'selector'

// NUL cannot occur in a namespace, label key or value the API server accepts; a hostile
// object that smuggled one in could only widen a candidate set, never pass the final match.
const labelEntry = (ns: string, key: string, value: string): string => `${ns}\u0000${key}\u0000${value}`
// Selectors that pin no label are candidates for every object in their namespace.
const unpinnedEntry = (ns: string): string => `${ns}\u0000`

export function labelIndexValues(obj: KubeObject): string[] {
  const ns = obj.metadata?.namespace ?? ''
  const labels = obj.metadata?.labels
  if (!labels) return []
  return Object.keys(labels).map((k) => labelEntry(ns, k, labels[k]!))
}

export function controllerIndexValues(obj: KubeObject): string[] {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller === true)
  return ref?.uid ? [ref.uid] : []
}

// `in (a, a)` is legal: each value once, or its objects would be listed twice.
const pinnedValues = (r: LabelRequirement): string[] | undefined =>
  r.operator === 'Equals' || r.operator === 'DoubleEquals' || r.operator === 'In' ? [...new Set(r.values)] : undefined

/** Files a selector under the values of its first pinning requirement: a matching object carries one of them. */
export function selectorIndexFunc<T extends KubeObject>(selectorOf: (obj: T) => LabelSelector): IndexFunc<T> {
  return (obj) => {
    const sel = selectorOf(obj)
    if (sel.matchesNothing) return []
    const ns = obj.metadata?.namespace ?? ''
    for (const r of sel.requirements) {
      const values = pinnedValues(r)
      if (values) return values.map((v) => labelEntry(ns, r.key, v))
    }
    return [unpinnedEntry(ns)]
  }
}

/** A selector parser that remembers per object (informers hand out a new object per change) and never throws. */
export function cachedSelector<T extends object>(raw: (obj: T) => V1LabelSelector | null | undefined): (obj: T) => LabelSelector {
  const parsed = new WeakMap<T, LabelSelector>()
  return (obj) => {
    let sel = parsed.get(obj)
    if (!sel) {
      try {
        sel = labelSelectorFromObject(raw(obj))
      } catch {
        sel = nothing()
      }
      parsed.set(obj, sel)
    }
    return sel
  }
}

export function ensureIndex<T extends KubeObject>(informer: Informer<T>, name: string, fn: IndexFunc<T>): void {
  if (!informer.indexer.indexNames().includes(name)) informer.indexer.addIndex(name, fn)
}

/** The objects in `ns` that `sel` matches; needs LABELS_INDEX. */
export function selectedBy<T extends KubeObject>(indexer: Indexer<T>, ns: string, sel: LabelSelector): T[] {
  if (sel.matchesNothing) return []
  let best: string[] | undefined
  let bestCount = Infinity
  for (const r of sel.requirements) {
    const values = pinnedValues(r)
    if (!values) continue
    const entries = values.map((v) => labelEntry(ns, r.key, v))
    const count = entries.reduce((n, e) => n + indexer.countByIndex(LABELS_INDEX, e), 0)
    if (count < bestCount) [best, bestCount] = [entries, count]
  }
  const candidates = best ? best.flatMap((e) => indexer.byIndex(LABELS_INDEX, e)) : indexer.byIndex('namespace', ns)
  return candidates.filter((o) => matchesLabels(sel, o.metadata?.labels))
}

/** What a controller with `sel` and uid `ownerUid` may claim: what it controls, and what its selector matches. */
export function claimCandidates<T extends KubeObject>(indexer: Indexer<T>, ownerUid: string | undefined, ns: string, sel: LabelSelector): T[] {
  const owned = ownerUid ? indexer.byIndex(CONTROLLER_INDEX, ownerUid) : []
  const seen = new Set(owned)
  return [...owned, ...selectedBy(indexer, ns, sel).filter((o) => !seen.has(o))]
}

/** The selector-bearing objects (indexed with SELECTOR_INDEX) whose selector matches `obj`'s labels. */
export function selecting<S extends KubeObject>(selectors: Indexer<S>, selectorOf: (s: S) => LabelSelector, obj: KubeObject): S[] {
  const ns = obj.metadata?.namespace ?? ''
  const labels = obj.metadata?.labels ?? {}
  const found = new Set(selectors.byIndex(SELECTOR_INDEX, unpinnedEntry(ns)))
  for (const k of Object.keys(labels)) for (const s of selectors.byIndex(SELECTOR_INDEX, labelEntry(ns, k, labels[k]!))) found.add(s)
  return [...found].filter((s) => matchesLabels(selectorOf(s), labels))
}
