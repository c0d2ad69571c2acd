// Namespace deletion: delete everything in a terminating namespace, report progress in
// status conditions, and once it is empty drop the `kubernetes` finalizer through the
// namespace's finalize subresource.
import type { V1Namespace } from '@kubernetes/client-node'
import type { Action, KubeObject } from '../actions.ts'
import { resources, type ResourceInfo } from '../../api/registry.ts'

export const NAMESPACE_FINALIZER = 'kubernetes'

/** Proposed addition to the action contract: `update` of the namespace's finalize subresource. */

export interface NamespaceContent {
  info: ResourceInfo
  items: KubeObject[]
}

const namespaceInfo = resources.find((r) => r.kind === 'Namespace') as ResourceInfo

interface Condition {
  type: string
  status: 'True' | 'False'
  reason: string
  message: string
}

export function reconcileNamespace(ns: V1Namespace | undefined, contents: NamespaceContent[], now: Date): Action[] {
  if (!ns?.metadata?.name || !ns.metadata.deletionTimestamp) return []
  if (!(ns.spec?.finalizers ?? []).includes(NAMESPACE_FINALIZER)) return []
  const name = ns.metadata.name
  const actions: Action[] = []

  const remaining: string[] = []
  const finalizerCounts = new Map<string, number>()
  let total = 0
  for (const { info, items } of contents) {
    const inNs = items.filter((o) => o.metadata?.namespace === name && o.metadata?.name)
    if (!inNs.length) continue
    total += inNs.length
    remaining.push(`${info.plural}.${info.group} has ${inNs.length} resource instances`)
    for (const o of inNs) {
      for (const f of (o.metadata?.finalizers ?? []) as string[]) finalizerCounts.set(f, (finalizerCounts.get(f) ?? 0) + 1)
      if (o.metadata?.deletionTimestamp) continue
      actions.push({ verb: 'delete', info, namespace: name, name: o.metadata!.name!, uid: o.metadata!.uid, propagationPolicy: 'Background' })
    }
  }

  const conditions: Condition[] = [
    { type: 'NamespaceDeletionDiscoveryFailure', status: 'False', reason: 'ResourcesDiscovered', message: 'All resources successfully discovered' },
    { type: 'NamespaceDeletionGroupVersionParsingFailure', status: 'False', reason: 'ParsedGroupVersions', message: 'All legacy kube types successfully parsed' },
    { type: 'NamespaceDeletionContentFailure', status: 'False', reason: 'ContentDeleted', message: 'All content successfully deleted, may be waiting on finalization' },
    total
      ? { type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${remaining.sort().join(', ')}` }
      : { type: 'NamespaceContentRemaining', status: 'False', reason: 'ContentRemoved', message: 'All content successfully removed' },
    finalizerCounts.size
      ? {
          type: 'NamespaceFinalizersRemaining', status: 'True', reason: 'SomeFinalizersRemain',
          message: `Some content in the namespace has finalizers remaining: ${[...finalizerCounts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([f, n]) => `${f} in ${n} resource instances`).join(', ')}`,
        }
      : { type: 'NamespaceFinalizersRemaining', status: 'False', reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' },
  ]
  const existing = (ns.status?.conditions ?? []) as unknown as (Condition & { lastTransitionTime?: unknown })[]
  const changed = conditions
    .filter((c) => {
      const old = existing.find((e) => e.type === c.type)
      return !old || old.status !== c.status || old.reason !== c.reason || old.message !== c.message
    })
    .map((c) => {
      const old = existing.find((e) => e.type === c.type)
      const since = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z')
      return { ...c, lastTransitionTime: since }
    })
  if (changed.length) {
    actions.push({ verb: 'patch', info: namespaceInfo, namespace: undefined, name, type: 'strategic', subresource: 'status', patch: { status: { conditions: changed } } })
  }

  if (total === 0) {
    const object = structuredClone(ns) as unknown as KubeObject
    object.spec = { ...(object.spec ?? {}), finalizers: (ns.spec?.finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER) }
    actions.push({ verb: 'update', info: namespaceInfo, object, subresource: 'finalize' })
  }
  return actions
}
