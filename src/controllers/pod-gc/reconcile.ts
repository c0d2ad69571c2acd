// Pod garbage collection, as upstream's podgc does for orphaned pods: a pod bound to a
// node that no longer exists (for longer than a short quarantine, so a node being
// re-registered is not mistaken for gone) is force-deleted, so its controller replaces it
// and its endpoints go.
import type { V1Pod } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import type { Action } from '../actions.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!

export interface PodGCResult {
  actions: Action[]
  /** When to look again for pods whose node is still in quarantine. */
  requeueAfterMs?: number
}

/**
 * `missingSince(node)`: when the node was first seen missing (ms), or undefined if it exists.
 */
export function reconcileOrphanedPods(pods: readonly V1Pod[], missingSince: (node: string) => number | undefined, now: Date, quarantineMs = 40_000): PodGCResult {
  const actions: Action[] = []
  let next: number | undefined
  for (const pod of pods) {
    const node = pod.spec?.nodeName
    if (!node) continue
    const since = missingSince(node)
    if (since === undefined) continue
    const due = since + quarantineMs
    if (due > now.getTime()) {
      next = next === undefined ? due : Math.min(next, due)
      continue
    }
    const meta = pod.metadata!
    actions.push(
      { verb: 'event', event: { involved: { apiVersion: 'v1', kind: 'Pod', metadata: meta }, type: 'Normal', reason: 'PodGCOrphaned', message: `Deleting pod ${meta.namespace}/${meta.name}: its node ${node} is gone` } },
      { verb: 'delete', info: podInfo, namespace: meta.namespace, name: meta.name!, uid: meta.uid, gracePeriodSeconds: 0 },
    )
  }
  return { actions, requeueAfterMs: next === undefined ? undefined : next - now.getTime() }
}
