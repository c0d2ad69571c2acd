// The ResourceQuota controller's sync (pkg/controller/resourcequota): status.hard becomes
// spec.hard and status.used is counted again from the namespace's objects. Usage of limits
// no kind accounts for is kept as it was; names no longer limited are dropped. Only a
// change is written, as a compare-and-swap on the quota the count started from.
import type { V1ResourceQuota } from '@kubernetes/client-node'
import type { ResourceInfo } from '../../api/registry.ts'
import type { Evaluator, QuotaObject } from '../../quota/evaluator.ts'
import type { QuotaRegistry } from '../../quota/registry.ts'
import { listsEqual, mask, readResourceList, resourceNames, writeResourceList } from '../../quota/resource-list.ts'
import { calculateUsage } from '../../quota/usage.ts'
import type { Action } from '../actions.ts'

/** Upstream's full recalculation period (--resource-quota-sync-period). */
export const QUOTA_RESYNC_MS = 5 * 60_000

export interface QuotaSyncInputs {
  info: ResourceInfo
  registry: QuotaRegistry
  /** The quota's namespace's objects of the evaluator's kind. */
  objectsOf: (ev: Evaluator) => readonly QuotaObject[]
  now: number
}

export function reconcileResourceQuota(quota: V1ResourceQuota | undefined, inputs: QuotaSyncInputs): { actions: Action[]; requeueAfterMs?: number } {
  if (!quota) return { actions: [] }
  const hard = readResourceList(quota.spec?.hard)
  const hardNames = resourceNames(hard)
  const counted = calculateUsage(quota, hardNames, inputs.registry, inputs.objectsOf, inputs.now)
  const before = readResourceList(quota.status?.used)
  const used = mask(new Map([...before, ...counted.used]), hardNames)
  const requeueAfterMs = counted.recheckAt === undefined ? QUOTA_RESYNC_MS : Math.min(QUOTA_RESYNC_MS, counted.recheckAt - inputs.now + 1000)
  const fresh = quota.status?.hard !== undefined && quota.status?.used !== undefined && listsEqual(hard, readResourceList(quota.status.hard)) && listsEqual(used, before)
  if (fresh) return { actions: [], requeueAfterMs }
  const object = { ...quota, status: { hard: writeResourceList(hard), used: writeResourceList(used) } }
  return { actions: [{ verb: 'updateStatus', info: inputs.info, object }], requeueAfterMs }
}
