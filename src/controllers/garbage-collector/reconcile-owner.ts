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

/**
 * Every object that can own or be owned, by uid, with the dependents of each owner uid
 * indexed, kept current one change at a time: finding an owner's dependents costs what
 * they are, not what the cluster holds.
 */
export class GcGraph {
  readonly #byUid = new Map<string, GcObject>()
  readonly #dependents = new Map<string, Set<string>>()

  static of(all: GcObject[]): GcGraph {
    const g = new GcGraph()
    for (const o of all) g.set(o)
    return g
  }

  get size(): number {
    return this.#byUid.size
  }

  get(uid: string): GcObject | undefined {
    return this.#byUid.get(uid)
  }

  /** Adds or replaces the object with `o.uid`. */
  set(o: GcObject): void {
    this.remove(o.uid)
    this.#byUid.set(o.uid, o)
    for (const ref of o.ownerReferences ?? []) {
      let set = this.#dependents.get(ref.uid)
      if (!set) this.#dependents.set(ref.uid, (set = new Set()))
      set.add(o.uid)
    }
  }

  remove(uid: string): void {
    const old = this.#byUid.get(uid)
    if (!old) return
    this.#byUid.delete(uid)
    for (const ref of old.ownerReferences ?? []) {
      const set = this.#dependents.get(ref.uid)
      set?.delete(uid)
      if (set?.size === 0) this.#dependents.delete(ref.uid)
    }
  }

  /** Uids of the objects that name `ownerUid` in their ownerReferences (whether or not they can see it). */
  dependentUids(ownerUid: string): string[] {
    return [...(this.#dependents.get(ownerUid) ?? [])]
  }

  /** The dependents of `owner` it can own: those in its namespace, or anywhere for a cluster-scoped owner. */
  dependentsOf(owner: GcObject): GcObject[] {
    const out: GcObject[] = []
    for (const uid of this.#dependents.get(owner.uid) ?? []) {
      const o = this.#byUid.get(uid)
      if (o && o.uid !== owner.uid && (!owner.info.namespaced || o.namespace === owner.namespace)) out.push(o)
    }
    return out
  }

  hasDependents(uid: string): boolean {
    return (this.#dependents.get(uid)?.size ?? 0) > 0
  }
}

/** The owner a reference names, if it exists where the dependent can see it. */
export function resolveOwner(dependent: GcObject, ref: V1OwnerReference, graph: GcGraph): GcObject | undefined {
  const owner = graph.get(ref.uid)
  if (!owner) return undefined
  // Cluster-scoped owners serve everyone; namespaced owners only their own namespace.
  if (owner.info.namespaced && owner.namespace !== dependent.namespace) return undefined
  return owner
}

const deletingDependents = (o: GcObject): boolean => Boolean(o.deletionTimestamp) && (o.finalizers ?? []).includes(FOREGROUND_FINALIZER)

/** What to do about one object's owner references (upstream attemptToDeleteItem). */
export function reconcileDependent(dependent: GcObject, graph: GcGraph): Action[] {
  const refs = dependent.ownerReferences ?? []
  if (!refs.length) return []
  if (dependent.deletionTimestamp && !(dependent.finalizers ?? []).includes(FOREGROUND_FINALIZER)) return []
  const solid: V1OwnerReference[] = []
  const dangling: V1OwnerReference[] = []
  const waiting: V1OwnerReference[] = []
  for (const ref of refs) {
    const owner = resolveOwner(dependent, ref, graph)
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
  const finalizers = dependent.finalizers ?? []
  const policy = waiting.length && graph.hasDependents(dependent.uid) ? 'Foreground'
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
export function reconcileOwner(owner: GcObject, graph: GcGraph): Action[] {
  if (!owner.deletionTimestamp) return []
  const finalizers = owner.finalizers ?? []
  const dependents = graph.dependentsOf(owner)
  const actions: Action[] = []
  if (finalizers.includes(ORPHAN_FINALIZER)) {
    for (const d of dependents) actions.push(ownerRefRemoval(d, [owner.uid]))
    actions.push(finalizerRemoval(owner, ORPHAN_FINALIZER))
    return actions
  }
  if (finalizers.includes(FOREGROUND_FINALIZER)) {
    for (const d of dependents) if (!d.deletionTimestamp) actions.push(...reconcileDependent(d, graph))
    const blocking = dependents.filter((d) => (d.ownerReferences ?? []).some((r) => r.uid === owner.uid && r.blockOwnerDeletion === true))
    if (!blocking.length) actions.push(finalizerRemoval(owner, FOREGROUND_FINALIZER))
  }
  return actions
}

/** Everything to do about one object, as an owner and as a dependent, without duplicates. */
export function reconcileObject(o: GcObject, graph: GcGraph): Action[] {
  return dedupe([...(o.deletionTimestamp && o.finalizers?.length ? reconcileOwner(o, graph) : []), ...(o.ownerReferences?.length ? reconcileDependent(o, graph) : [])])
}

/** Every decision for a whole snapshot (owners' finalizers and orphaned dependents), without duplicates. */
export function collectGarbage(all: GcObject[]): Action[] {
  const graph = GcGraph.of(all)
  const owners = all.filter((o) => o.deletionTimestamp && o.finalizers?.length).flatMap((o) => reconcileOwner(o, graph))
  const dependents = all.filter((o) => o.ownerReferences?.length).flatMap((o) => reconcileDependent(o, graph))
  return dedupe([...owners, ...dependents])
}

function dedupe(list: Action[]): Action[] {
  const seen = new Set<string>()
  return list.filter((a) => {
    const key = JSON.stringify(a.verb === 'delete' || a.verb === 'patch' ? [a.verb, a.info.plural, a.namespace, a.name, a.verb === 'patch' ? a.patch : ''] : a)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
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
