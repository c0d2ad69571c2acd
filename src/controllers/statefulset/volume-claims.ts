// A StatefulSet's volumeClaimTemplates (stateful_set_utils.go, stateful_pod_control.go): each
// pod gets one PersistentVolumeClaim per template, named `<claim>-<set>-<ordinal>`, mounted
// as the template's volume name; the retention policy decides which owner references a
// claim carries, so the garbage collector deletes it with the set (whenDeleted: Delete) or
// with its scaled-down pod (whenScaled: Delete).
//
// weft does not serve persistentvolumeclaims yet: the pod wiring below always applies, but
// the reconcile emits claim creates and owner-reference updates only when the caller passes
// a claim view (the manager does once the kind is served). Until then a pod's claim volumes
// name claims nobody creates, and the node agent refuses to start such a pod.
import type { V1OwnerReference, V1PersistentVolumeClaim, V1Pod, V1StatefulSet, V1Volume } from '@kubernetes/client-node'
import type { ResourceInfo } from '../../api/registry.ts'
import type { Action, KubeObject } from '../actions.ts'
import { inOrdinalRange, ordinalOf } from './pod-identity.ts'

export function claimName(template: string, set: string, ordinal: number): string {
  return `${template}-${set}-${ordinal}`
}

/** getPersistentVolumeClaims: by template name, the claims `pod` should have. */
export function claimsForPod(set: V1StatefulSet, pod: V1Pod): Map<string, V1PersistentVolumeClaim> {
  const ordinal = ordinalOf(pod)
  const out = new Map<string, V1PersistentVolumeClaim>()
  for (const template of set.spec?.volumeClaimTemplates ?? []) {
    const claim = structuredClone(template)
    const name = template.metadata?.name ?? ''
    claim.apiVersion = 'v1'
    claim.kind = 'PersistentVolumeClaim'
    claim.metadata = {
      ...claim.metadata,
      name: claimName(name, set.metadata?.name ?? '', ordinal),
      namespace: set.metadata?.namespace,
      labels: { ...(claim.metadata?.labels ?? {}), ...(set.spec?.selector?.matchLabels ?? {}) },
    }
    delete claim.status
    out.set(name, claim)
  }
  return out
}

/** updateStorage: the claim volumes first (in template order), then the pod's other volumes. */
export function withClaimVolumes(set: V1StatefulSet, pod: V1Pod): V1Pod {
  const claims = claimsForPod(set, pod)
  if (claims.size === 0) return pod
  const volumes: V1Volume[] = [...claims].map(([name, claim]) => ({ name, persistentVolumeClaim: { claimName: claim.metadata!.name! } }))
  for (const v of pod.spec?.volumes ?? []) if (!claims.has(v.name)) volumes.push(v)
  return { ...pod, spec: { ...pod.spec!, volumes } }
}

/** storageMatches: every claim template is mounted from this pod's own claim. */
export function storageMatches(set: V1StatefulSet, pod: V1Pod): boolean {
  if (ordinalOf(pod) < 0) return false
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]))
  for (const [name, claim] of claimsForPod(set, pod)) {
    if (volumes.get(name)?.persistentVolumeClaim?.claimName !== claim.metadata?.name) return false
  }
  return true
}

export type RetentionType = 'Retain' | 'Delete'

export function retentionPolicy(set: V1StatefulSet): { whenDeleted: RetentionType; whenScaled: RetentionType } {
  const p = set.spec?.persistentVolumeClaimRetentionPolicy
  return { whenDeleted: p?.whenDeleted === 'Delete' ? 'Delete' : 'Retain', whenScaled: p?.whenScaled === 'Delete' ? 'Delete' : 'Retain' }
}

interface Named {
  apiVersion: string
  kind: string
  name: string
  uid: string
}

const refTo = (o: Named): V1OwnerReference => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: true, blockOwnerDeletion: true })
const matchesRef = (ref: V1OwnerReference, o: Named): boolean => ref.apiVersion === o.apiVersion && ref.kind === o.kind && ref.name === o.name
const hasRef = (claim: V1PersistentVolumeClaim, uid: string): boolean => (claim.metadata?.ownerReferences ?? []).some((r) => r.uid === uid)
const hasStaleRef = (claim: V1PersistentVolumeClaim, o: Named): boolean => {
  const ref = (claim.metadata?.ownerReferences ?? []).find((r) => matchesRef(r, o))
  return ref !== undefined && ref.uid !== o.uid
}

function owners(set: V1StatefulSet, pod: V1Pod): { set: Named; pod: Named } {
  return {
    set: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata?.name ?? '', uid: set.metadata?.uid ?? '' },
    pod: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
  }
}

/** hasUnexpectedController: another controller owns the claim while the policy wants to delete it. */
function hasUnexpectedController(claim: V1PersistentVolumeClaim, set: V1StatefulSet, pod: V1Pod): boolean {
  const policy = retentionPolicy(set)
  if (policy.whenScaled === 'Retain' && policy.whenDeleted === 'Retain') return false
  const o = owners(set, pod)
  for (const ref of claim.metadata?.ownerReferences ?? []) {
    if (matchesRef(ref, o.set)) {
      if (ref.uid !== o.set.uid) return true
      continue
    }
    if (matchesRef(ref, o.pod)) {
      if (ref.uid !== o.pod.uid) return true
      continue
    }
    if (ref.controller === true) return true
  }
  return false
}

/** Which of set and pod should own the claim: the policy's answer (isClaimOwnerUpToDate's table). */
function wantedOwners(set: V1StatefulSet, pod: V1Pod): { set: boolean; pod: boolean } {
  const policy = retentionPolicy(set)
  const scaledDown = !inOrdinalRange(pod, set)
  return {
    set: policy.whenDeleted === 'Delete' && (policy.whenScaled === 'Retain' || !scaledDown),
    pod: policy.whenScaled === 'Delete' && scaledDown,
  }
}

/** isClaimOwnerUpToDate: a claim in an unknown state (stale references, another controller) is left alone. */
export function claimOwnersUpToDate(claim: V1PersistentVolumeClaim, set: V1StatefulSet, pod: V1Pod): boolean {
  const o = owners(set, pod)
  if (hasStaleRef(claim, o.set) || hasStaleRef(claim, o.pod)) return true
  if (hasUnexpectedController(claim, set, pod)) return !(hasRef(claim, o.set.uid) || hasRef(claim, o.pod.uid))
  const refs = claim.metadata?.ownerReferences ?? []
  if (refs.some((r) => (r.uid === o.set.uid || r.uid === o.pod.uid) && r.controller !== true)) return false
  const want = wantedOwners(set, pod)
  return want.set === hasRef(claim, o.set.uid) && want.pod === hasRef(claim, o.pod.uid)
}

/** updateClaimOwnerRefForSetAndPod: the claim's owner references as the policy wants them. */
export function claimOwnerReferences(claim: V1PersistentVolumeClaim, set: V1StatefulSet, pod: V1Pod): V1OwnerReference[] {
  const o = owners(set, pod)
  const unexpected = hasUnexpectedController(claim, set, pod)
  const refs = (claim.metadata?.ownerReferences ?? []).filter((r) => !matchesRef(r, o.set) && !matchesRef(r, o.pod))
  if (unexpected) return refs
  const want = wantedOwners(set, pod)
  if (want.set) refs.push(refTo(o.set))
  if (want.pod) refs.push(refTo(o.pod))
  return refs
}

/** PodClaimIsStale: with whenScaled Delete, a claim still owned by an earlier pod of this name blocks the new one. */
export function podClaimIsStale(set: V1StatefulSet, pod: V1Pod, existing: (name: string) => V1PersistentVolumeClaim | undefined): boolean {
  if (retentionPolicy(set).whenScaled === 'Retain') return false
  const o = owners(set, pod).pod
  for (const claim of claimsForPod(set, pod).values()) {
    const found = existing(claim.metadata!.name!)
    if (found && hasStaleRef(found, o)) return true
  }
  return false
}

/** What the reconcile reads of claims when the kind is served. */
export interface ClaimView {
  info: ResourceInfo
  get(name: string): V1PersistentVolumeClaim | undefined
}

/** createPersistentVolumeClaims: the missing claims of `pod`, or a refusal when one is being deleted. */
export function missingClaims(set: V1StatefulSet, pod: V1Pod, view: ClaimView, involved: KubeObject): { actions: Action[]; blocked?: string } {
  const actions: Action[] = []
  for (const claim of claimsForPod(set, pod).values()) {
    const name = claim.metadata!.name!
    const found = view.get(name)
    if (found?.metadata?.deletionTimestamp) return { actions, blocked: `pvc ${name} is being deleted` }
    if (found) continue
    const message = `create Claim ${name} Pod ${pod.metadata?.name} in StatefulSet ${set.metadata?.name} success`
    actions.push({ verb: 'create', info: view.info, object: claim as KubeObject, event: { involved, type: 'Normal', reason: 'SuccessfulCreate', message } })
  }
  return { actions }
}

/** The owner-reference patches that bring `pod`'s existing claims in line with the retention policy. */
export function retentionUpdates(set: V1StatefulSet, pod: V1Pod, view: ClaimView): Action[] {
  const actions: Action[] = []
  for (const claim of claimsForPod(set, pod).values()) {
    const found = view.get(claim.metadata!.name!)
    if (!found || claimOwnersUpToDate(found, set, pod)) continue
    const object = structuredClone(found) as KubeObject
    object.metadata = { ...object.metadata, ownerReferences: claimOwnerReferences(found, set, pod) }
    actions.push({ verb: 'update', info: view.info, object })
  }
  return actions
}
