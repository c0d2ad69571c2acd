// The ResourceQuota admission decision (k8s.io/apiserver plugin/resourcequota CheckRequest):
// given the namespace's quotas as their status stands, either the new `status.used` of the
// quotas a write charges, or why the write is refused. On create the object's whole usage
// is charged; on update only what grew since the stored object.
import type { V1ResourceQuota } from '@kubernetes/client-node'
import { quotaMatches, statusHard, type Evaluator, type QuotaObject } from './evaluator.ts'
import { addLists, exceeding, listsEqual, mask, negativeNames, prettyPrint, readResourceList, removeZeros, resourceNames, subtractNonNegative, type ResourceList } from './resource-list.ts'

export interface QuotaWrite {
  operation: 'create' | 'update'
  subresource: string | undefined
  obj: QuotaObject
  /** The stored object, on update. */
  old: QuotaObject | undefined
  now: number
}

export type QuotaDecision =
  /** The quotas to write back, by name, with their new `status.used` (none: nothing to charge). */
  | { charge: Map<string, ResourceList> }
  | { refusal: string }

function hasUsage(hard: ResourceList, used: ResourceList, restricted: readonly string[]): boolean {
  return restricted.every((name) => !hard.has(name) || used.has(name))
}

/** Judges a write against `quotas` (the namespace's, in a stable order). */
export function checkRequest(quotas: readonly V1ResourceQuota[], ev: Evaluator, write: QuotaWrite): QuotaDecision {
  const none: QuotaDecision = { charge: new Map() }
  if (!ev.handles(write.operation, write.subresource, write.obj, write.old)) return none
  const interesting: { quota: V1ResourceQuota; hard: ResourceList; used: ResourceList }[] = []
  for (const quota of quotas) {
    const hard = statusHard(quota)
    if (!quotaMatches(ev, quota, hard, write.obj)) continue
    const name = quota.metadata?.name ?? ''
    const restricted = ev.matchingResources(resourceNames(hard))
    const missing = ev.constraints(restricted, write.obj)
    if (missing) return { refusal: `failed quota: ${name}: ${missing}` }
    const used = readResourceList(quota.status?.used)
    if (!hasUsage(hard, used, restricted)) return { refusal: `status unknown for quota: ${name}, resources: ${[...restricted].sort().join(',')}` }
    interesting.push({ quota, hard, used })
  }
  const usage = ev.usage(write.obj, write.now)
  const negative = negativeNames(usage)
  if (negative.length > 0) return { refusal: `quota usage is negative for resource(s): ${negative.sort().join(',')}` }
  if (interesting.length === 0) return none
  const deltas = new Map<V1ResourceQuota, ResourceList>(interesting.map(({ quota }) => [quota, usage]))
  // An update is charged what grew, for the quotas that already counted the stored object.
  if (write.operation === 'update' && write.old?.metadata?.resourceVersion) {
    const grown = subtractNonNegative(usage, ev.usage(write.old, write.now))
    for (const { quota, hard } of interesting) if (quotaMatches(ev, quota, hard, write.old)) deltas.set(quota, grown)
  }
  const charge = new Map<string, ResourceList>()
  for (const { quota, hard, used } of interesting) {
    const requested = mask(removeZeros(deltas.get(quota)!), resourceNames(hard))
    if (requested.size === 0) continue
    const next = addLists(used, requested)
    if (write.subresource !== 'status') {
      const over = exceeding(mask(next, resourceNames(requested)), hard)
      if (over.length > 0) {
        const name = quota.metadata?.name ?? ''
        return { refusal: `exceeded quota: ${name}, requested: ${prettyPrint(mask(requested, over))}, used: ${prettyPrint(mask(used, over))}, limited: ${prettyPrint(mask(hard, over))}` }
      }
    }
    if (!listsEqual(next, used)) charge.set(quota.metadata?.name ?? '', next)
  }
  return { charge }
}
