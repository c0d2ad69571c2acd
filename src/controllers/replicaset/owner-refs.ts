// Controller references: who controls an object, and the patches that adopt or release it
// (pkg/controller ControllerRefManager: ClaimObject semantics).
import type { V1OwnerReference } from '@kubernetes/client-node'
import type { ResourceInfo } from '../../api/registry.ts'
import type { LabelSelector } from '../../api/selectors.ts'
import type { Action } from '../actions.ts'
import { matchesLabels } from '../../api/selectors.ts'

export interface OwnedMeta {
  metadata?: {
    name?: string
    namespace?: string
    uid?: string
    labels?: Record<string, string>
    ownerReferences?: V1OwnerReference[]
    deletionTimestamp?: Date | string
  }
}

export interface OwnerInfo {
  apiVersion: string
  kind: string
  name: string
  uid: string
  deleting: boolean
}

export function controllerRefOf(obj: OwnedMeta): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true)
}

export function newControllerRef(owner: OwnerInfo): V1OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }
}

/** Strategic merge patch adding the controller reference (merge key uid); the object uid is a precondition. */
export function adoptPatch(owner: OwnerInfo, objUid: string | undefined): unknown {
  return { metadata: { ownerReferences: [newControllerRef(owner)], uid: objUid } }
}

/** Strategic merge patch removing the owner's reference. */
export function releasePatch(ownerUid: string, objUid: string | undefined): unknown {
  return { metadata: { ownerReferences: [{ $patch: 'delete', uid: ownerUid }], uid: objUid } }
}

/** The patches that adopt and release what a claim found, each with the object's uid as a precondition. */
export function claimPatches(info: ResourceInfo, owner: OwnerInfo, claimed: Pick<Claim<OwnedMeta>, 'adopt' | 'release'>): Action[] {
  return [
    ...claimed.adopt.map((o): Action => ({ verb: 'patch', info, namespace: o.metadata?.namespace, name: o.metadata?.name ?? '', patch: adoptPatch(owner, o.metadata?.uid), type: 'strategic' })),
    ...claimed.release.map((o): Action => ({ verb: 'patch', info, namespace: o.metadata?.namespace, name: o.metadata?.name ?? '', patch: releasePatch(owner.uid, o.metadata?.uid), type: 'strategic' })),
  ]
}

export interface Claim<T> {
  owned: T[]
  adopt: T[]
  release: T[]
}

/**
 * Splits candidates into the ones `owner` controls (already, or adopted now) and the ones
 * it must release because they no longer match. Objects being deleted are never adopted.
 * `filter`, when given, must also pass for an object to match (ClaimPods' filters).
 */
export function claim<T extends OwnedMeta>(owner: OwnerInfo, selector: LabelSelector, candidates: T[], filter?: (obj: T) => boolean): Claim<T> {
  const result: Claim<T> = { owned: [], adopt: [], release: [] }
  for (const obj of candidates) {
    const ref = controllerRefOf(obj)
    const matches = matchesLabels(selector, obj.metadata?.labels ?? {}) && (filter === undefined || filter(obj))
    if (ref) {
      if (ref.uid !== owner.uid) continue
      if (matches) result.owned.push(obj)
      else if (!owner.deleting) result.release.push(obj)
      continue
    }
    if (owner.deleting || !matches || obj.metadata?.deletionTimestamp) continue
    result.adopt.push(obj)
    result.owned.push(obj)
  }
  return result
}
