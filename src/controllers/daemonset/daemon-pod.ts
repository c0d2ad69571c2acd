// Which nodes a DaemonSet's pod belongs on and the pod it creates there
// (pkg/controller/daemon: NodeShouldRunDaemonPod, util.AddOrUpdateDaemonPodTolerations,
// util.ReplaceDaemonSetPodNodeNameNodeAffinity, util.GetTargetNodeName).
import type { V1Affinity, V1DaemonSet, V1Node, V1Pod, V1PodSpec, V1Toleration } from '@kubernetes/client-node'
import type { KubeObject } from '../actions.ts'
import { podFromTemplate } from '../replicaset/reconcile.ts'
import { newControllerRef, type OwnerInfo } from '../replicaset/owner-refs.ts'
import { requiredNodeMatcher } from '../../scheduler/node-affinity.ts'
import { findUntoleratedTaint, isDoNotSchedule } from '../../scheduler/taints.ts'

export const revisionHashLabel = 'controller-revision-hash'
export const templateGenerationLabel = 'pod-template-generation'
export const templateGenerationAnnotation = 'deprecated.daemonset.template.generation'

function exists(key: string, effect: 'NoSchedule' | 'NoExecute'): V1Toleration {
  return { key, operator: 'Exists', effect }
}

/** The tolerations every daemon pod gets, whatever its template says. */
export function daemonPodTolerations(hostNetwork: boolean): V1Toleration[] {
  const list = [
    exists('node.kubernetes.io/not-ready', 'NoExecute'),
    exists('node.kubernetes.io/unreachable', 'NoExecute'),
    exists('node.kubernetes.io/disk-pressure', 'NoSchedule'),
    exists('node.kubernetes.io/memory-pressure', 'NoSchedule'),
    exists('node.kubernetes.io/pid-pressure', 'NoSchedule'),
    exists('node.kubernetes.io/unschedulable', 'NoSchedule'),
  ]
  if (hostNetwork) list.push(exists('node.kubernetes.io/network-unavailable', 'NoSchedule'))
  return list
}

function sameToleration(a: V1Toleration, b: V1Toleration): boolean {
  return (a.key ?? '') === (b.key ?? '') && (a.operator ?? 'Equal') === (b.operator ?? 'Equal') && (a.value ?? '') === (b.value ?? '') && (a.effect ?? '') === (b.effect ?? '')
}

/** The template's tolerations plus the automatic ones it does not already list. */
export function withDaemonTolerations(spec: V1PodSpec | undefined): V1Toleration[] {
  const out = [...(spec?.tolerations ?? [])]
  for (const t of daemonPodTolerations(spec?.hostNetwork === true)) if (!out.some((o) => sameToleration(o, t))) out.push(t)
  return out
}

export interface NodeFit {
  /** A new daemon pod should be created here. */
  shouldRun: boolean
  /** An existing daemon pod may stay (only NoSchedule taints are untolerated). */
  shouldContinueRunning: boolean
}

export function nodeShouldRunDaemonPod(node: V1Node, ds: V1DaemonSet): NodeFit {
  const spec = ds.spec?.template?.spec
  const name = node.metadata?.name ?? ''
  if (spec?.nodeName && spec.nodeName !== name) return { shouldRun: false, shouldContinueRunning: false }
  const matcher = requiredNodeMatcher({ spec: { containers: [], nodeSelector: spec?.nodeSelector, affinity: spec?.affinity } })
  if (matcher && !matcher(node.metadata?.labels ?? {}, name)) return { shouldRun: false, shouldContinueRunning: false }
  const taints = node.spec?.taints ?? []
  const tolerations = withDaemonTolerations(spec)
  if (!findUntoleratedTaint(taints, tolerations, isDoNotSchedule)) return { shouldRun: true, shouldContinueRunning: true }
  const noExecute = findUntoleratedTaint(taints, tolerations, (t) => t.effect === 'NoExecute')
  return { shouldRun: false, shouldContinueRunning: noExecute === undefined }
}

/** The node a daemon pod is for: spec.nodeName, or the single `metadata.name In` of its required node affinity. */
export function targetNodeName(pod: V1Pod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []
  for (const term of terms) {
    for (const r of term.matchFields ?? []) {
      if (r.key === 'metadata.name' && r.operator === 'In') return r.values?.length === 1 ? r.values[0] : undefined
    }
  }
  return undefined
}

/** Required node affinity replaced by `metadata.name In [node]`; preferred terms and pod (anti-)affinity kept. */
export function pinnedAffinity(affinity: V1Affinity | undefined, node: string): V1Affinity {
  const out = structuredClone(affinity ?? {})
  out.nodeAffinity = {
    ...(out.nodeAffinity ?? {}),
    requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] },
  }
  return out
}

/** The template generation (the deprecated annotation, else metadata.generation). */
export function templateGeneration(ds: V1DaemonSet): number | undefined {
  const a = ds.metadata?.annotations?.[templateGenerationAnnotation]
  if (a !== undefined && /^\d+$/.test(a)) return Number(a)
  return ds.metadata?.generation
}

/** Hash label matches, or (for pods from before hashes) the template generation label does. */
export function isPodUpdated(pod: V1Pod, hash: string, generation: number | undefined): boolean {
  const labels = pod.metadata?.labels ?? {}
  return (hash !== '' && labels[revisionHashLabel] === hash) || (generation !== undefined && labels[templateGenerationLabel] === String(generation))
}

export function daemonSetOwner(ds: V1DaemonSet): OwnerInfo {
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', name: ds.metadata?.name ?? '', uid: ds.metadata?.uid ?? '', deleting: Boolean(ds.metadata?.deletionTimestamp) }
}

/** The pod created for `node`: template + labels + automatic tolerations, pinned to the node by affinity. */
export function newDaemonPod(ds: V1DaemonSet, node: string, hash: string): KubeObject {
  const template = structuredClone(ds.spec?.template ?? {})
  const labels: Record<string, string> = { ...(template.metadata?.labels ?? {}) }
  const generation = templateGeneration(ds)
  if (generation !== undefined) labels[templateGenerationLabel] = String(generation)
  if (hash !== '') labels[revisionHashLabel] = hash
  template.metadata = { ...(template.metadata ?? {}), labels }
  const spec: V1PodSpec = template.spec ?? { containers: [] }
  spec.tolerations = withDaemonTolerations(spec)
  spec.affinity = pinnedAffinity(spec.affinity, node)
  template.spec = spec
  const pod = podFromTemplate({ metadata: ds.metadata, spec: { selector: ds.spec?.selector ?? {}, template } })
  pod.metadata = { ...pod.metadata, ownerReferences: [newControllerRef(daemonSetOwner(ds))] }
  return pod
}
