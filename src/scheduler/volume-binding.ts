// kube-scheduler's VolumeBinding plugin, pure. PreFilter sorts a pod's claims into bound ones
// and WaitForFirstConsumer ones still to bind (any other unbound claim, or one missing, Lost
// or being deleted, makes the pod unschedulable anywhere). Filter: a bound claim's volume
// must fit the node (its node affinity); a claim to bind needs, on that node, a free volume
// that matches or a class whose provisioner can make one there (allowedTopologies). For the
// node chosen, the writes that start binding: a matched volume pre-bound to its claim, or the
// claim annotated with the node for its provisioner. The pod is bound to the node only once
// every claim is bound (the scheduler waits for that, as upstream's PreBind does).
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1StorageClass, V1TopologySelectorTerm } from '@kubernetes/client-node'
import { ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, claimClass, isDelayBinding, NO_PROVISIONER, requestedBytes } from '../api/storage.ts'
import type { Action, KubeObject } from '../controllers/actions.ts'
import { infoOf } from '../controllers/apply-actions.ts'
import { findMatchingVolume, volumeFitsNode, type NodeView } from '../controllers/persistentvolume/match.ts'

export const reasonVolumeNodeConflict = 'node(s) had volume node affinity conflict'
export const reasonVolumeBindConflict = "node(s) didn't find available persistent volumes to bind"
export const reasonVolumeMissing = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)'

export interface VolumeLookups {
  claim(namespace: string, name: string): V1PersistentVolumeClaim | undefined
  volume(name: string): V1PersistentVolume | undefined
  storageClass(name: string): V1StorageClass | undefined
  /** The volumes a claim could bind: those of its class and those pre-bound to it. */
  candidates(pvc: V1PersistentVolumeClaim): V1PersistentVolume[]
}

export interface PodClaims {
  bound: { claim: V1PersistentVolumeClaim; volume: V1PersistentVolume | undefined }[]
  /** WaitForFirstConsumer claims to bind, smallest request first (upstream's byPVCSize). */
  toBind: V1PersistentVolumeClaim[]
}

export type PreFilterResult = { none: true } | { unresolvable: string } | PodClaims

/** What binding the pod's claims on one node takes. */
export interface NodeVolumes {
  staticBindings: { claim: V1PersistentVolumeClaim; volume: V1PersistentVolume }[]
  provisions: V1PersistentVolumeClaim[]
}

const fullyBound = (pvc: V1PersistentVolumeClaim): boolean => Boolean(pvc.spec?.volumeName) && pvc.metadata?.annotations?.[ANN_BIND_COMPLETED] !== undefined

/** PreFilter (podHasPVCs and GetPodVolumeClaims). */
export function podVolumeClaims(pod: V1Pod, lookups: VolumeLookups): PreFilterResult {
  const ns = pod.metadata?.namespace ?? ''
  const names = (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []))
  if (names.length === 0) return { none: true }
  const bound: PodClaims['bound'] = []
  const toBind: V1PersistentVolumeClaim[] = []
  let immediate = false
  for (const name of names) {
    const pvc = lookups.claim(ns, name)
    if (!pvc) return { unresolvable: `persistentvolumeclaim "${name}" not found` }
    if (pvc.status?.phase === 'Lost') return { unresolvable: `persistentvolumeclaim "${name}" bound to non-existent persistentvolume "${pvc.spec?.volumeName ?? ''}"` }
    if (pvc.metadata?.deletionTimestamp) return { unresolvable: `persistentvolumeclaim "${name}" is being deleted` }
    if (fullyBound(pvc)) bound.push({ claim: pvc, volume: lookups.volume(pvc.spec!.volumeName!) })
    else if (!pvc.spec?.volumeName && isDelayBinding(pvc, (c) => lookups.storageClass(c))) toBind.push(pvc)
    else immediate = true
  }
  if (immediate) return { unresolvable: 'pod has unbound immediate PersistentVolumeClaims' }
  toBind.sort((a, b) => requestedBytes(a) - requestedBytes(b))
  return { bound, toBind }
}

/** MatchTopologySelectorTerms: no terms match every node; a term needs every expression's key with one of its values. */
function topologyAllows(terms: readonly V1TopologySelectorTerm[] | undefined, labels: Record<string, string>): boolean {
  if (!terms || terms.length === 0) return true
  return terms.some((t) => (t.matchLabelExpressions ?? []).every((e) => Object.hasOwn(labels, e.key) && (e.values ?? []).includes(labels[e.key])))
}

/** Filter (FindPodVolumes): the reasons the node cannot take the pod's claims, or how it would bind them. */
export function findPodVolumes(claims: PodClaims, node: NodeView, lookups: VolumeLookups): { reasons: string[] } | NodeVolumes {
  const reasons: string[] = []
  let boundFit = true
  let volumesExist = true
  for (const { volume } of claims.bound) {
    if (!volume) volumesExist = false
    else if (!volumeFitsNode(volume, node)) boundFit = false
  }
  if (!boundFit) reasons.push(reasonVolumeNodeConflict)
  const result: NodeVolumes = { staticBindings: [], provisions: [] }
  let unboundFit = true
  const chosen = new Set<string>()
  for (const pvc of claims.toBind) {
    const selected = pvc.metadata?.annotations?.[ANN_SELECTED_NODE]
    if (selected !== undefined) {
      // Provisioning was started for a node already: only that node will do.
      if (selected !== node.name) unboundFit = false
      else result.provisions.push(pvc)
      continue
    }
    const volume = findMatchingVolume(pvc, lookups.candidates(pvc), { node, excluded: chosen, delayBinding: true })
    if (volume) {
      chosen.add(volume.metadata!.name!)
      result.staticBindings.push({ claim: pvc, volume })
      continue
    }
    const cls = lookups.storageClass(claimClass(pvc))
    if (!cls?.provisioner || cls.provisioner === NO_PROVISIONER || !topologyAllows(cls.allowedTopologies, node.labels)) unboundFit = false
    else result.provisions.push(pvc)
  }
  if (!unboundFit) reasons.push(reasonVolumeBindConflict)
  if (!volumesExist) reasons.push(reasonVolumeMissing)
  return reasons.length > 0 ? { reasons } : result
}

/** Reserve and PreBind's API writes for the chosen node; none when the claims only wait for their binder. */
export function volumeBindingActions(volumes: NodeVolumes, nodeName: string): Action[] {
  const actions: Action[] = []
  for (const { claim, volume } of volumes.staticBindings) {
    if (volume.spec?.claimRef?.uid === claim.metadata?.uid) continue
    const next = structuredClone(volume) as KubeObject
    next.spec.claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: claim.metadata!.namespace, name: claim.metadata!.name, uid: claim.metadata!.uid, resourceVersion: claim.metadata!.resourceVersion }
    next.metadata!.annotations = { ...next.metadata!.annotations, [ANN_BOUND_BY_CONTROLLER]: 'yes' }
    actions.push({ verb: 'update', info: infoOf('PersistentVolume'), object: next })
  }
  for (const claim of volumes.provisions) {
    if (claim.metadata?.annotations?.[ANN_SELECTED_NODE] === nodeName) continue
    const next = structuredClone(claim) as KubeObject
    next.metadata!.annotations = { ...next.metadata!.annotations, [ANN_SELECTED_NODE]: nodeName }
    actions.push({ verb: 'update', info: infoOf('PersistentVolumeClaim'), object: next })
  }
  return actions
}
