// Garbage collection over slim objects: dependents whose owners are all gone are deleted,
// foreground deletion waits for blocking dependents, orphaning strips owner references.
import type { V1OwnerReference } from '@kubernetes/client-node'
import type { Action, KubeObject } from '../actions.ts'
import type { ResourceInfo } from '../../api/registry.ts'

export const FOREGROUND_FINALIZER = 'foregroundDeletion'
export const ORPHAN_FINALIZER = 'orphan'

export interface GcObject {
  info: ResourceInfo
  namespace?: string
  name: string
  uid: string
  ownerReferences?: V1OwnerReference[]
  finalizers?: string[]
  deletionTimestamp?: string
}

export function toGcObject(info: ResourceInfo, obj: KubeObject): GcObject {
  const m = obj.metadata ?? {}
  return {
    info,
    namespace: info.namespaced ? m.namespace : undefined,
    name: m.name ?? '',
    uid: m.uid ?? '',
    ownerReferences: m.ownerReferences,
    finalizers: m.finalizers,
    deletionTimestamp: m.deletionTimestamp,
  }
}

export type UidIndex = Map<string, GcObject>

export function indexByUid(all: GcObject[]): UidIndex {
  return new Map(all.map((o) => [o.uid, o]))
}

/** The owner a reference names, if it exists where the dependent can see it. */
export function resolveOwner(dependent: GcObject, ref: V1OwnerReference, index: UidIndex): GcObject | undefined {
  const owner = index.get(ref.uid)
  if (!owner) return undefined
  // Cluster-scoped owners serve everyone; namespaced owners only their own namespace.
  if (owner.info.namespaced && owner.namespace !== dependent.namespace) return undefined
  return owner
}

export function findDependents(owner: GcObject, all: GcObject[]): GcObject[] {
  return all.filter((o) => o.uid !== owner.uid && (o.ownerReferences ?? []).some((r) => r.uid === owner.uid) &&
    (!owner.info.namespaced || o.namespace === owner.namespace))
}

const deletingDependents = (o: GcObject): boolean => Boolean(o.deletionTimestamp) && (o.finalizers ?? []).includes(FOREGROUND_FINALIZER)

/** What to do about one object's owner references (upstream attemptToDeleteItem). */
export function reconcileDependent(dependent: GcObject, index: UidIndex, all: GcObject[]): Action[] {
  const refs = dependent.ownerReferences ?? []
  if (!refs.length) return []
  if (dependent.deletionTimestamp && !(dependent.finalizers ?? []).includes(FOREGROUND_FINALIZER)) return []
  const solid: V1OwnerReference[] = []
  const dangling: V1OwnerReference[] = []
  const waiting: V1OwnerReference[] = []
  for (const ref of refs) {
    const owner = resolveOwner(dependent, ref, index)
    if (!owner) dangling.push(ref)
    else if (deletingDependents(owner)) waiting.push(ref)
    else solid.push(ref)
  }
  if (solid.length) {
    // Still owned: drop references to owners that are gone or waiting on their dependents.
    const drop = [...dangling, ...waiting]
    if (!drop.length) return []
    return [ownerRefRemoval(dependent, drop.map((r) => r.uid))]
  }
  if (dependent.deletionTimestamp) return []
  const hasDependents = all.some((o) => (o.ownerReferences ?? []).some((r) => r.uid === dependent.uid))
  const finalizers = dependent.finalizers ?? []
  const policy = waiting.length && hasDependents ? 'Foreground'
    : finalizers.includes(ORPHAN_FINALIZER) ? 'Orphan'
    : finalizers.includes(FOREGROUND_FINALIZER) ? 'Foreground'
    : 'Background'
  return [{ verb: 'delete', info: dependent.info, namespace: dependent.namespace, name: dependent.name, uid: dependent.uid, propagationPolicy: policy }]
}

/**
 * The owner side: an owner being deleted with `foregroundDeletion` has its dependents
 * deleted and keeps the finalizer while a dependent with blockOwnerDeletion remains;
 * one with `orphan` has its references removed from every dependent, then the finalizer.
 * Actions are ordered: the runner must stop at the first one that fails.
 */
export function reconcileOwner(owner: GcObject, all: GcObject[], index: UidIndex = indexByUid(all)): Action[] {
  if (!owner.deletionTimestamp) return []
  const finalizers = owner.finalizers ?? []
  const dependents = findDependents(owner, all)
  const actions: Action[] = []
  if (finalizers.includes(ORPHAN_FINALIZER)) {
    for (const d of dependents) actions.push(ownerRefRemoval(d, [owner.uid]))
    actions.push(finalizerRemoval(owner, ORPHAN_FINALIZER))
    return actions
  }
  if (finalizers.includes(FOREGROUND_FINALIZER)) {
    for (const d of dependents) if (!d.deletionTimestamp) actions.push(...reconcileDependent(d, index, all))
    const blocking = dependents.filter((d) => (d.ownerReferences ?? []).some((r) => r.uid === owner.uid && r.blockOwnerDeletion === true))
    if (!blocking.length) actions.push(finalizerRemoval(owner, FOREGROUND_FINALIZER))
  }
  return actions
}

/** Every decision for a whole snapshot (owners' finalizers and orphaned dependents), without duplicates. */
export function collectGarbage(all: GcObject[]): Action[] {
  const index = indexByUid(all)
  const actions: Action[] = []
  const seen = new Set<string>()
  const add = (list: Action[]): void => {
    for (const a of list) {
      const key = JSON.stringify(a.verb === 'delete' || a.verb === 'patch' ? [a.verb, a.info.plural, a.namespace, a.name, a.verb === 'patch' ? a.patch : ''] : a)
      if (seen.has(key)) continue
      seen.add(key)
      actions.push(a)
    }
  }
  for (const o of all) if (o.deletionTimestamp && o.finalizers?.length) add(reconcileOwner(o, all, index))
  for (const o of all) if (o.ownerReferences?.length) add(reconcileDependent(o, index, all))
  return actions
}

function ownerRefRemoval(dependent: GcObject, uids: string[]): Action {
  return {
    verb: 'patch', info: dependent.info, namespace: dependent.namespace, name: dependent.name, type: 'strategic',
    patch: { metadata: { uid: dependent.uid, ownerReferences: uids.map((uid) => ({ $patch: 'delete', uid })) } },
  }
}

function finalizerRemoval(owner: GcObject, finalizer: string): Action {
  return {
    verb: 'patch', info: owner.info, namespace: owner.namespace, name: owner.name, type: 'strategic',
    patch: { metadata: { uid: owner.uid, ['$deleteFromPrimitiveList/finalizers']: [finalizer] } },
  }
}
