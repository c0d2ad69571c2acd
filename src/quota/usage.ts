// A quota's usage counted from scratch (quota.CalculateUsage): for each kind that accounts
// for one of its hard limits, the sum over the namespace's objects that match its scopes.
import type { V1ResourceQuota } from '@kubernetes/client-node'
import { zeroQuantity } from '../api/resource-quantity.ts'
import type { Evaluator, QuotaObject } from './evaluator.ts'
import type { QuotaRegistry } from './registry.ts'
import { addLists, mask, type ResourceList } from './resource-list.ts'
import { quotaScopeRequirements } from './scopes.ts'

export interface CountedUsage {
  /** The usage of every hard limit some kind accounts for (others are not in it). */
  used: ResourceList
  /** When the count drops without a write (a deleted pod's grace ends), if it will. */
  recheckAt?: number
}

export function calculateUsage(quota: V1ResourceQuota, hardNames: readonly string[], registry: QuotaRegistry, objectsOf: (ev: Evaluator) => readonly QuotaObject[], now: number): CountedUsage {
  const scopes = quotaScopeRequirements(quota)
  const tracked = new Set<string>()
  let used: ResourceList = new Map()
  let recheckAt: number | undefined
  for (const ev of registry.matching(hardNames)) {
    const names = ev.matchingResources(hardNames)
    for (const n of names) tracked.add(n)
    let sum: ResourceList = new Map(names.map((n) => [n, zeroQuantity()]))
    for (const obj of objectsOf(ev)) {
      if (!scopes.every((req) => ev.matchesScope(req, obj))) continue
      sum = addLists(sum, ev.usage(obj, now))
      const stops = ev.stopsCountingAt(obj)
      if (stops !== undefined && stops >= now && (recheckAt === undefined || stops < recheckAt)) recheckAt = stops
    }
    used = addLists(used, sum)
  }
  return { used: mask(used, tracked), recheckAt }
}
