// What the quota system knows about one kind (k8s.io/apiserver quota.Evaluator): which
// quota resources it accounts for, what one object uses, which scopes it can match, and
// which writes change usage.
import type { V1ResourceQuota } from '@kubernetes/client-node'
import type { ResourceInfo } from '../api/registry.ts'
import { countQuantity } from '../api/resource-quantity.ts'
import { readResourceList, resourceNames, type ResourceList } from './resource-list.ts'
import { quotaScopeRequirements, type ScopeRequirement } from './scopes.ts'

export type QuotaObject = Record<string, any>

export interface Evaluator {
  info: ResourceInfo
  /** The names among `names` this kind accounts for. */
  matchingResources(names: readonly string[]): string[]
  /** Whether the object matches a scope requirement; kinds without scopes match none. */
  matchesScope(req: ScopeRequirement, obj: QuotaObject): boolean
  /** What a quota limiting `required` demands of the object and it lacks (`must specify …`), or undefined. */
  constraints(required: readonly string[], obj: QuotaObject): string | undefined
  /** Whether a write (create or update, of the object or a subresource) can change usage. */
  handles(operation: 'create' | 'update', subresource: string | undefined, obj: QuotaObject, old: QuotaObject | undefined): boolean
  /** What the object uses at `now` (ms since the epoch). */
  usage(obj: QuotaObject, now: number): ResourceList
  /** Whether an update changed usage without a write the admission charged (a pod turned terminal). */
  replenishes(old: QuotaObject, cur: QuotaObject, now: number): boolean
  /** When, if ever, the object stops counting without another write (a deleted pod's grace ends). */
  stopsCountingAt(obj: QuotaObject): number | undefined
}

/** `count/<resource>` for the core group, else `count/<resource>.<group>`. */
export function objectCountName(info: ResourceInfo): string {
  return info.group ? `count/${info.plural}.${info.group}` : `count/${info.plural}`
}

export function intersect(names: readonly string[], known: readonly string[]): string[] {
  return names.filter((n) => known.includes(n))
}

/** The quota's hard limits as its status records them: what admission enforces. */
export function statusHard(quota: V1ResourceQuota): ResourceList {
  return readResourceList(quota.status?.hard)
}

/** Whether `quota` counts `obj`: it limits something the kind accounts for, and every scope matches. */
export function quotaMatches(ev: Evaluator, quota: V1ResourceQuota, hard: ResourceList, obj: QuotaObject): boolean {
  if (ev.matchingResources(resourceNames(hard)).length === 0) return false
  return quotaScopeRequirements(quota).every((req) => ev.matchesScope(req, obj))
}

/** Upstream's legacy names that count objects of a kind as `count/<kind>` does. */
const legacyCountNames: Record<string, string> = { configmaps: 'configmaps', resourcequotas: 'resourcequotas', replicationcontrollers: 'replicationcontrollers', secrets: 'secrets' }

/** The generic evaluator: one object, one count; charged on create only. */
export function objectCountEvaluator(info: ResourceInfo): Evaluator {
  const names = [objectCountName(info)]
  const legacy = info.group === '' ? legacyCountNames[info.plural] : undefined
  if (legacy) names.push(legacy)
  return {
    info,
    matchingResources: (input) => intersect(input, names),
    matchesScope: () => false,
    constraints: () => undefined,
    handles: (operation, subresource) => operation === 'create' && !subresource,
    usage: () => new Map(names.map((n) => [n, countQuantity(1)])),
    replenishes: () => false,
    stopsCountingAt: () => undefined,
  }
}
