// The ReplicaSet controller's pure reconcile (pkg/controller/replicaset syncReplicaSet):
// claim pods, create or delete pods towards spec.replicas, report status. It serves
// ReplicationControllers too, as upstream's replication controller is the ReplicaSet
// controller behind a conversion: only the owner's kind and the shape of its selector differ.
//
// Differences from upstream, by design of a pure function:
// - No expectations: the runner must not reconcile a key again until its informer has seen
//   the pods this reconcile created/deleted (or accept duplicates being cleaned up later).
// - Creates are capped at `burstReplicas` per reconcile; upstream's slow start (batches of
//   1, 2, 4, … stopping at the first failure) is the runner's to apply: actions are in order.
import type { V1LabelSelector, V1Pod, V1ReplicaSet, V1ReplicaSetStatus, V1ReplicationController } from '@kubernetes/client-node'
import { resources, type ResourceInfo } from '../../api/registry.ts'
import type { LabelSelector } from '../../api/selectors.ts'
import { labelSelectorFromObject } from '../../api/selectors.ts'
import type { Action, KubeObject } from '../actions.ts'
import { claim, claimPatches, newControllerRef, type OwnerInfo } from './owner-refs.ts'
import { podsToDelete } from './pod-ranking.ts'
import { isPodActive, isPodAvailable, isPodReady, podReadySince } from './pod-state.ts'
import { sameJson } from '../same-json.ts'

export const burstReplicas = 500

const podInfo = resources.find((r) => r.kind === 'Pod')!

/** A set of identical pods: a ReplicaSet, or a ReplicationController (whose selector is a label map). */
export type PodSet = Omit<V1ReplicaSet, 'spec'> & { spec?: Omit<NonNullable<V1ReplicaSet['spec']>, 'selector'> & { selector?: unknown } }

export interface PodSetKind {
  info: ResourceInfo
  apiVersion: string
  kind: string
  selector(set: PodSet): V1LabelSelector | undefined
}

export const replicaSetKind: PodSetKind = {
  info: resources.find((r) => r.kind === 'ReplicaSet')!,
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  selector: (rs) => rs.spec?.selector as V1LabelSelector | undefined,
}

export const replicationControllerKind: PodSetKind = {
  info: resources.find((r) => r.kind === 'ReplicationController')!,
  apiVersion: 'v1',
  kind: 'ReplicationController',
  selector: (rc) => {
    const labels = (rc as V1ReplicationController).spec?.selector
    return labels ? { matchLabels: labels } : undefined
  },
}

function ownerOf(rs: PodSet, kind: PodSetKind): OwnerInfo {
  return {
    apiVersion: kind.apiVersion,
    kind: kind.kind,
    name: rs.metadata?.name ?? '',
    uid: rs.metadata?.uid ?? '',
    deleting: Boolean(rs.metadata?.deletionTimestamp),
  }
}

function involvedSet(rs: PodSet, kind: PodSetKind): KubeObject {
  const m = rs.metadata ?? {}
  return { apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }
}

/** The pod a ReplicaSet (or ReplicationController) creates from its template (controller.GetPodFromTemplate). */
export function podFromTemplate(rs: PodSet, kind: PodSetKind = replicaSetKind): KubeObject {
  const t = rs.spec?.template
  const metadata: Record<string, unknown> = {
    generateName: `${rs.metadata?.name ?? ''}-`,
    namespace: rs.metadata?.namespace,
    labels: structuredClone(t?.metadata?.labels ?? {}),
    ownerReferences: [newControllerRef(ownerOf(rs, kind))],
  }
  if (t?.metadata?.annotations) metadata.annotations = structuredClone(t.metadata.annotations)
  if (t?.metadata?.finalizers) metadata.finalizers = structuredClone(t.metadata.finalizers)
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: structuredClone(t?.spec ?? {}) }
}

function templateLabelsMatch(rs: PodSet, pod: V1Pod): boolean {
  const want = rs.spec?.template?.metadata?.labels ?? {}
  const have = pod.metadata?.labels ?? {}
  return Object.keys(want).every((k) => have[k] === want[k])
}

/** The status a ReplicaSet reports for the pods it owns (replicaset calculateStatus). */
export function replicaSetStatus(rs: PodSet, owned: V1Pod[], now: Date): V1ReplicaSetStatus {
  const minReady = rs.spec?.minReadySeconds ?? 0
  const status: V1ReplicaSetStatus = { ...structuredClone(rs.status ?? { replicas: 0 }) }
  status.replicas = owned.length
  status.fullyLabeledReplicas = owned.filter((p) => templateLabelsMatch(rs, p)).length
  status.readyReplicas = owned.filter(isPodReady).length
  status.availableReplicas = owned.filter((p) => isPodAvailable(p, minReady, now)).length
  if (rs.metadata?.generation !== undefined) status.observedGeneration = rs.metadata.generation
  return status
}

function selectorOf(rs: PodSet, kind: PodSetKind): LabelSelector | undefined {
  try {
    return labelSelectorFromObject(kind.selector(rs))
  } catch {
    return undefined
  }
}

export function reconcileReplicaSet(rs: PodSet | undefined, pods: V1Pod[], now: Date, kind: PodSetKind = replicaSetKind): Action[] {
  if (!rs) return []
  const actions: Action[] = []
  const involved = involvedSet(rs, kind)
  const selector = selectorOf(rs, kind)
  if (!selector) {
    return [{ verb: 'event', event: { involved, type: 'Warning', reason: 'SelectorParsingFailed', message: 'invalid spec.selector' } }]
  }
  const owner = ownerOf(rs, kind)
  const ns = rs.metadata?.namespace
  const active = pods.filter((p) => isPodActive(p) && (ns === undefined || p.metadata?.namespace === ns))
  const claimed = claim(owner, selector, active)
  actions.push(...claimPatches(podInfo, owner, claimed))
  const owned = claimed.owned

  if (!owner.deleting) {
    const diff = owned.length - (rs.spec?.replicas ?? 1)
    if (diff < 0) {
      const n = Math.min(-diff, burstReplicas)
      for (let i = 0; i < n; i++) {
        actions.push({
          verb: 'create',
          info: podInfo,
          object: podFromTemplate(rs, kind),
          event: { involved, type: 'Normal', reason: 'SuccessfulCreate', message: 'Created pod: {name}' },
        })
      }
    } else if (diff > 0) {
      for (const p of podsToDelete(owned, Math.min(diff, burstReplicas))) {
        const name = p.metadata?.name ?? ''
        actions.push({ verb: 'delete', info: podInfo, namespace: p.metadata?.namespace, name, uid: p.metadata?.uid })
        actions.push({ verb: 'event', event: { involved, type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${name}` } })
      }
    }
  }

  const status = replicaSetStatus(rs, owned, now)
  if (!sameJson(status, rs.status ?? {})) {
    const object = structuredClone(rs) as KubeObject
    object.apiVersion = kind.apiVersion
    object.kind = kind.kind
    object.status = status
    actions.push({ verb: 'updateStatus', info: kind.info, object })
  }
  return actions
}

/**
 * When the runner should reconcile again because a Ready pod becomes available
 * (upstream requeues after minReadySeconds); undefined when nothing is pending.
 */
export function availabilityRecheckAt(rs: PodSet | undefined, pods: V1Pod[], now: Date): Date | undefined {
  const minReady = rs?.spec?.minReadySeconds ?? 0
  if (!rs || minReady <= 0) return undefined
  let earliest: number | undefined
  for (const p of pods) {
    if (!isPodActive(p) || !p.metadata?.ownerReferences?.some((r) => r.controller === true && r.uid === rs.metadata?.uid)) continue
    if (!isPodReady(p) || isPodAvailable(p, minReady, now)) continue
    const since = podReadySince(p)
    if (since === undefined) continue
    const at = since + minReady * 1000 + 1
    if (earliest === undefined || at < earliest) earliest = at
  }
  return earliest === undefined ? undefined : new Date(earliest)
}
