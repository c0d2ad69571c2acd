// The default Filter plugins, in kube-scheduler's order; a node fails at the first plugin
// that rejects it, with that plugin's reasons (NodeResourcesFit may give several).
import type { PodInfo } from './pod-info.ts'
import type { AffinityCycle, NamespaceLabels, PlacedNode } from './pod-affinity.ts'
import type { NodeInfo } from './snapshot.ts'
import { taintNodeUnschedulable } from './snapshot.ts'
import { findUntoleratedTaint, taintText, toleratesAny } from './taints.ts'

export const reasonUnschedulable = 'node(s) were unschedulable'
export const reasonNodeName = "node(s) didn't match the requested node name"
export const reasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"
export const reasonNodePorts = "node(s) didn't have free ports for the requested pod ports"
export const reasonTooManyPods = 'Too many pods'

export function untoleratedTaintReason(key: string, value: string | undefined): string {
  return `node(s) had untolerated taint ${taintText({ key, value, effect: 'NoSchedule' })}`
}

const unschedulableTaint = { key: taintNodeUnschedulable, effect: 'NoSchedule' }

export function nodeUnschedulable(pod: PodInfo, node: NodeInfo): string[] | undefined {
  if (!node.unschedulable || toleratesAny(pod.tolerations, unschedulableTaint)) return undefined
  return [reasonUnschedulable]
}

export function nodeName(pod: PodInfo, node: NodeInfo): string[] | undefined {
  const want = pod.pod.spec?.nodeName
  return want && want !== node.name ? [reasonNodeName] : undefined
}

export function taintToleration(pod: PodInfo, node: NodeInfo): string[] | undefined {
  if (node.doNotScheduleTaints.length === 0) return undefined
  const taint = findUntoleratedTaint(node.doNotScheduleTaints, pod.tolerations, () => true)
  return taint ? [untoleratedTaintReason(taint.key, taint.value)] : undefined
}

export function nodeAffinity(pod: PodInfo, node: NodeInfo): string[] | undefined {
  if (!pod.nodeMatcher || pod.nodeMatcher(node.labels, node.name)) return undefined
  return [reasonNodeAffinity]
}

export function nodePorts(pod: PodInfo, node: NodeInfo): string[] | undefined {
  if (pod.hostPorts.length === 0 || !node.hasPortConflict(pod.hostPorts)) return undefined
  return [reasonNodePorts]
}

export function nodeResourcesFit(pod: PodInfo, node: NodeInfo): string[] | undefined {
  let reasons: string[] | undefined
  const add = (r: string): void => {
    ;(reasons ??= []).push(r)
  }
  if (node.podCount + 1 > node.allocatablePods) add(reasonTooManyPods)
  if (pod.requestsZero) return reasons
  const req = pod.requests
  const alloc = node.allocatable
  const used = node.requested
  if (req.milliCPU > 0 && req.milliCPU > alloc.milliCPU - used.milliCPU) add('Insufficient cpu')
  if (req.memory > 0 && req.memory > alloc.memory - used.memory) add('Insufficient memory')
  if (req.ephemeralStorage > 0 && req.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage) {
    add('Insufficient ephemeral-storage')
  }
  for (const [name, v] of req.scalar) {
    if (v > 0 && v > (alloc.scalar.get(name) ?? 0) - (used.scalar.get(name) ?? 0)) add(`Insufficient ${name}`)
  }
  return reasons
}

/** VolumeBinding: the pod's claims on this node (volume-binding.ts). */
export function volumeBinding(pod: PodInfo, node: NodeInfo): string[] | undefined {
  return pod.volumes?.(node)
}

export type Filter = (pod: PodInfo, node: NodeInfo) => string[] | undefined

export const defaultFilters: readonly Filter[] = [
  nodeUnschedulable,
  nodeName,
  taintToleration,
  nodeAffinity,
  nodePorts,
  nodeResourcesFit,
  volumeBinding,
]

/**
 * Reasons the node cannot run the pod, or undefined if it fits. With `cycle` (a pod with
 * topology spread or inter-pod affinity, or existing pods with affinity terms), the
 * PodTopologySpread and InterPodAffinity filters run last, as upstream orders them.
 */
export function filterNode(pod: PodInfo, node: NodeInfo, cycle?: AffinityCycle, nsLabels: NamespaceLabels = () => undefined): string[] | undefined {
  for (const f of defaultFilters) {
    const reasons = f(pod, node)
    if (reasons) return reasons
  }
  if (cycle) {
    const placed = placedNode(pod, node)
    return cycle.filterSpread(placed) ?? cycle.filterAffinity(placed, nsLabels)
  }
  return undefined
}

/** A node as the affinity and spread plugins see it, for this pod. */
export function placedNode(pod: PodInfo, node: NodeInfo): PlacedNode {
  return { name: node.name, labels: node.labels, pods: node.pods.values(), podsWithTerms: node.podsWithTerms, matchesPodNodeAffinity: !pod.nodeMatcher || pod.nodeMatcher(node.labels, node.name) }
}
