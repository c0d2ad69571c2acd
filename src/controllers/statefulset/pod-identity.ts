// A StatefulSet pod's identity (stateful_set_utils.go): its name `<set>-<ordinal>`, the
// ordinal range `ordinals.start` … start+replicas-1, the pod-name and pod-index labels, and
// hostname = pod name with subdomain = serviceName, so that the headless Service's DNS
// answers `<pod>.<service>.<namespace>.svc.<domain>`.
import type { V1PodTemplateSpec, V1Pod, V1StatefulSet } from '@kubernetes/client-node'
import type { KubeObject } from '../actions.ts'
import { newControllerRef, type OwnerInfo } from '../replicaset/owner-refs.ts'
import { podFromTemplate } from '../replicaset/reconcile.ts'
import { withClaimVolumes } from './volume-claims.ts'

export const podNameLabel = 'statefulset.kubernetes.io/pod-name'
export const podIndexLabel = 'apps.kubernetes.io/pod-index'
/** The pod's revision: the full ControllerRevision name (for DaemonSets it is the bare hash). */
export const revisionLabel = 'controller-revision-hash'

const statefulPodName = /^(.*)-([0-9]+)$/
const maxInt32 = 2 ** 31 - 1

/** getParentNameAndOrdinal: the set a pod's name says it belongs to, and its ordinal (-1 when none). */
export function parentAndOrdinal(name: string): { parent: string; ordinal: number } {
  const m = statefulPodName.exec(name)
  if (!m) return { parent: '', ordinal: -1 }
  const ordinal = Number(m[2])
  return { parent: m[1], ordinal: ordinal <= maxInt32 ? ordinal : -1 }
}

export function ordinalOf(pod: V1Pod): number {
  return parentAndOrdinal(pod.metadata?.name ?? '').ordinal
}

export function isMemberOf(set: V1StatefulSet, pod: V1Pod): boolean {
  return parentAndOrdinal(pod.metadata?.name ?? '').parent === set.metadata?.name
}

export function startOrdinal(set: V1StatefulSet): number {
  return set.spec?.ordinals?.start ?? 0
}

export function replicasOf(set: V1StatefulSet): number {
  return set.spec?.replicas ?? 1
}

export function inOrdinalRange(pod: V1Pod, set: V1StatefulSet): boolean {
  const ordinal = ordinalOf(pod)
  const start = startOrdinal(set)
  return ordinal >= start && ordinal < start + replicasOf(set)
}

export function podName(set: V1StatefulSet, ordinal: number): string {
  return `${set.metadata?.name ?? ''}-${ordinal}`
}

export function revisionOf(pod: V1Pod): string {
  return pod.metadata?.labels?.[revisionLabel] ?? ''
}

/** identityMatches: the right name in the right namespace, labelled with it (the index label is not checked, as upstream). */
export function identityMatches(set: V1StatefulSet, pod: V1Pod): boolean {
  const { parent, ordinal } = parentAndOrdinal(pod.metadata?.name ?? '')
  return (
    ordinal >= 0 &&
    parent === set.metadata?.name &&
    pod.metadata?.namespace === set.metadata?.namespace &&
    pod.metadata?.labels?.[podNameLabel] === pod.metadata?.name
  )
}

/** updateIdentity: the identity labels set on a copy of `pod`. */
export function withIdentity(pod: V1Pod): V1Pod {
  const copy = structuredClone(pod)
  const name = copy.metadata?.name ?? ''
  copy.metadata = { ...copy.metadata, labels: { ...(copy.metadata?.labels ?? {}), [podNameLabel]: name, [podIndexLabel]: String(ordinalOf(copy)) } }
  return copy
}

export function statefulSetOwner(set: V1StatefulSet): OwnerInfo {
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata?.name ?? '', uid: set.metadata?.uid ?? '', deleting: Boolean(set.metadata?.deletionTimestamp) }
}

/**
 * newStatefulSetPod + setPodRevision: the pod for `ordinal` from `template` (the template
 * of the revision it is made at), with its identity, storage and revision label.
 */
export function newStatefulSetPod(set: V1StatefulSet, template: V1PodTemplateSpec, ordinal: number, revision: string): KubeObject {
  const pod = podFromTemplate({ metadata: set.metadata, spec: { selector: set.spec?.selector ?? {}, template } })
  const name = podName(set, ordinal)
  pod.metadata = {
    ...pod.metadata,
    name,
    ownerReferences: [newControllerRef(statefulSetOwner(set))],
    labels: { ...(pod.metadata?.labels ?? {}), [podNameLabel]: name, [podIndexLabel]: String(ordinal), [revisionLabel]: revision },
  }
  pod.spec = { ...pod.spec, hostname: name }
  if (set.spec?.serviceName) pod.spec.subdomain = set.spec.serviceName
  return withClaimVolumes(set, pod as V1Pod) as KubeObject
}
