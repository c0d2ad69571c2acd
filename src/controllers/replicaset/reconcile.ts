// The ReplicaSet controller's pure reconcile (pkg/controller/replicaset syncReplicaSet):
// claim pods, create or delete pods towards spec.replicas, report status.
//
// Differences from upstream, by design of a pure function:
// - No expectations: the runner must not reconcile a key again until its informer has seen
//   the pods this reconcile created/deleted (or accept duplicates being cleaned up later).
// - Creates are capped at `burstReplicas` per reconcile; upstream's slow start (batches of
//   1, 2, 4, … stopping at the first failure) is the runner's to apply: actions are in order.
import type { V1Pod, V1ReplicaSet, V1ReplicaSetStatus } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import type { LabelSelector } from '../../api/selectors.ts'
import { labelSelectorFromObject } from '../../api/selectors.ts'
import type { Action, KubeObject } from '../actions.ts'
import { adoptPatch, claim, newControllerRef, releasePatch, type OwnerInfo } from './owner-refs.ts'
import { podsToDelete } from './pod-ranking.ts'
import { isPodActive, isPodAvailable, isPodReady, podReadySince } from './pod-state.ts'

export const burstReplicas = 500

const podInfo = resources.find((r) => r.kind === 'Pod')!
const rsInfo = resources.find((r) => r.kind === 'ReplicaSet')!

function ownerOf(rs: V1ReplicaSet): OwnerInfo {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name: rs.metadata?.name ?? '',
    uid: rs.metadata?.uid ?? '',
    deleting: Boolean(rs.metadata?.deletionTimestamp),
  }
}

export function involvedReplicaSet(rs: V1ReplicaSet): KubeObject {
  const m = rs.metadata ?? {}
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }
}

/** The pod a ReplicaSet creates from its template (controller.GetPodFromTemplate). */
export function podFromTemplate(rs: V1ReplicaSet): KubeObject {
  const t = rs.spec?.template
  const metadata: Record<string, unknown> = {
    generateName: `${rs.metadata?.name ?? ''}-`,
    namespace: rs.metadata?.namespace,
    labels: structuredClone(t?.metadata?.labels ?? {}),
    ownerReferences: [newControllerRef(ownerOf(rs))],
  }
  if (t?.metadata?.annotations) metadata.annotations = structuredClone(t.metadata.annotations)
  if (t?.metadata?.finalizers) metadata.finalizers = structuredClone(t.metadata.finalizers)
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: structuredClone(t?.spec ?? {}) }
}

function templateLabelsMatch(rs: V1ReplicaSet, pod: V1Pod): boolean {
  const want = rs.spec?.template?.metadata?.labels ?? {}
  const have = pod.metadata?.labels ?? {}
  return Object.keys(want).every((k) => have[k] === want[k])
}

/** The status a ReplicaSet reports for the pods it owns (replicaset calculateStatus). */
export function replicaSetStatus(rs: V1ReplicaSet, owned: V1Pod[], now: Date): V1ReplicaSetStatus {
  const minReady = rs.spec?.minReadySeconds ?? 0
  const status: V1ReplicaSetStatus = { ...structuredClone(rs.status ?? { replicas: 0 }) }
  status.replicas = owned.length
  status.fullyLabeledReplicas = owned.filter((p) => templateLabelsMatch(rs, p)).length
  status.readyReplicas = owned.filter(isPodReady).length
  status.availableReplicas = owned.filter((p) => isPodAvailable(p, minReady, now)).length
  if (rs.metadata?.generation !== undefined) status.observedGeneration = rs.metadata.generation
  return status
}

function selectorOf(rs: V1ReplicaSet): LabelSelector | undefined {
  try {
    return labelSelectorFromObject(rs.spec?.selector)
  } catch {
    return undefined
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical)
  if (v instanceof Date) return v.toISOString()
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k]
      if (x !== undefined) out[k] = canonical(x)
    }
    return out
  }
  return v
}

export function reconcileReplicaSet(rs: V1ReplicaSet | undefined, pods: V1Pod[], now: Date): Action[] {
  if (!rs) return []
  const actions: Action[] = []
  const involved = involvedReplicaSet(rs)
  const selector = selectorOf(rs)
  if (!selector) {
    return [{ verb: 'event', event: { involved, type: 'Warning', reason: 'SelectorParsingFailed', message: 'invalid spec.selector' } }]
  }
  const owner = ownerOf(rs)
  const ns = rs.metadata?.namespace
  const active = pods.filter((p) => isPodActive(p) && (ns === undefined || p.metadata?.namespace === ns))
  const claimed = claim(owner, selector, active)
  for (const p of claimed.adopt) {
    actions.push({ verb: 'patch', info: podInfo, namespace: p.metadata?.namespace, name: p.metadata?.name ?? '', patch: adoptPatch(owner, p.metadata?.uid), type: 'strategic' })
  }
  for (const p of claimed.release) {
    actions.push({ verb: 'patch', info: podInfo, namespace: p.metadata?.namespace, name: p.metadata?.name ?? '', patch: releasePatch(owner.uid, p.metadata?.uid), type: 'strategic' })
  }
  const owned = claimed.owned

  if (!owner.deleting) {
    const diff = owned.length - (rs.spec?.replicas ?? 1)
    if (diff < 0) {
      const n = Math.min(-diff, burstReplicas)
      for (let i = 0; i < n; i++) {
        actions.push({
          verb: 'create',
          info: podInfo,
          object: podFromTemplate(rs),
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
    object.apiVersion = 'apps/v1'
    object.kind = 'ReplicaSet'
    object.status = status
    actions.push({ verb: 'updateStatus', info: rsInfo, object })
  }
  return actions
}

/**
 * When the runner should reconcile again because a Ready pod becomes available
 * (upstream requeues after minReadySeconds); undefined when nothing is pending.
 */
export function availabilityRecheckAt(rs: V1ReplicaSet | undefined, pods: V1Pod[], now: Date): Date | undefined {
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
