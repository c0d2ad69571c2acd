// Whose replicas a pod counts towards (upstream's disruption controller finders): the
// controller its controllerRef names, followed up the ownership chain to the object that
// holds the scale. The first finder that answers wins, in upstream's order.
export interface OwnerRef {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
}

/** The fields of a workload (ReplicaSet, Deployment, StatefulSet…) a budget reads. */
export interface Workload {
  metadata?: { uid?: string; ownerReferences?: OwnerRef[] }
  spec?: { replicas?: number }
}

/** The cached workload of `kind` named `name` in `namespace`, if there is one. */
export type WorkloadLookup = (kind: string, namespace: string, name: string) => Workload | undefined

export interface ControllerScale {
  uid: string
  replicas: number
}

interface Finder {
  /** The kinds this finder looks up: the caller keeps informers for those it serves. */
  reads: readonly string[]
  find(ref: OwnerRef, namespace: string, lookup: WorkloadLookup): ControllerScale | undefined
}

export function controllerOf(obj: { metadata?: { ownerReferences?: OwnerRef[] } }): OwnerRef | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true)
}

/** verifyGroupKind: the reference names `kind` in one of `groups` (`''` is the core group). */
function refers(ref: OwnerRef, kind: string, groups: readonly string[]): boolean {
  const slash = ref.apiVersion.indexOf('/')
  const group = slash < 0 ? '' : ref.apiVersion.slice(0, slash)
  return ref.kind === kind && groups.includes(group)
}

/** The referenced object, if the cache has it with the referenced uid. */
function resolve(ref: OwnerRef, kind: string, groups: readonly string[], namespace: string, lookup: WorkloadLookup): Workload | undefined {
  if (!refers(ref, kind, groups)) return undefined
  const obj = lookup(kind, namespace, ref.name)
  return obj?.metadata?.uid === ref.uid ? obj : undefined
}

const scaleOf = (w: Workload): ControllerScale => ({ uid: w.metadata!.uid!, replicas: w.spec?.replicas ?? 1 })

/** A kind that owns its pods and holds their scale itself. */
function direct(kind: string, groups: readonly string[]): Finder {
  return {
    reads: [kind],
    find: (ref, namespace, lookup) => {
      const w = resolve(ref, kind, groups, namespace, lookup)
      return w ? scaleOf(w) : undefined
    },
  }
}

const replicaSetGroups = ['apps', 'extensions']

/** A ReplicaSet under a Deployment counts the Deployment's replicas. */
const deploymentOfReplicaSet: Finder = {
  reads: ['ReplicaSet', 'Deployment'],
  find: (ref, namespace, lookup) => {
    const rs = resolve(ref, 'ReplicaSet', replicaSetGroups, namespace, lookup)
    const owner = rs && controllerOf(rs)
    const deployment = owner && resolve(owner, 'Deployment', replicaSetGroups, namespace, lookup)
    return deployment ? scaleOf(deployment) : undefined
  },
}

/** A ReplicaSet on its own; one under a Deployment is the finder above's. */
const replicaSetAlone: Finder = {
  reads: ['ReplicaSet'],
  find: (ref, namespace, lookup) => {
    const rs = resolve(ref, 'ReplicaSet', replicaSetGroups, namespace, lookup)
    if (!rs || controllerOf(rs)?.kind === 'Deployment') return undefined
    return scaleOf(rs)
  },
}

const finders: readonly Finder[] = [
  direct('ReplicationController', ['']),
  deploymentOfReplicaSet,
  replicaSetAlone,
  direct('StatefulSet', ['apps']),
]

/** Every kind a finder may look up. */
export const WORKLOAD_KINDS: readonly string[] = [...new Set(finders.flatMap((f) => f.reads))]

/** The scale the pod's controller (named by `ref`) answers for, or undefined when no finder knows it. */
export function findControllerScale(ref: OwnerRef, namespace: string, lookup: WorkloadLookup): ControllerScale | undefined {
  for (const f of finders) {
    const found = f.find(ref, namespace, lookup)
    if (found) return found
  }
  return undefined
}
