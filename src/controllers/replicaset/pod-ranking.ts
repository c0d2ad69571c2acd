// Which surplus pods a ReplicaSet deletes first (pkg/controller ActivePodsWithRanks.Less,
// without the LogarithmicScaleDown bucketing of timestamps).
import type { V1Pod } from '@kubernetes/client-node'
import { isPodReady, podReadySince, toMillis } from './pod-state.ts'

const phaseOrder: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 }
const deletionCostAnnotation = 'controller.kubernetes.io/pod-deletion-cost'

function restarts(pod: V1Pod): number {
  let max = 0
  for (const s of pod.status?.containerStatuses ?? []) max = Math.max(max, s.restartCount ?? 0)
  return max
}

function deletionCost(pod: V1Pod): number {
  const v = pod.metadata?.annotations?.[deletionCostAnnotation]
  if (v === undefined || !/^-?\d+$/.test(v)) return 0
  return Number(v)
}

/** Negative when `a` should be deleted before `b`. `rank` counts related pods on the same node. */
export function compareForDeletion(a: V1Pod, b: V1Pod, rank: (p: V1Pod) => number): number {
  const aNode = a.spec?.nodeName ?? ''
  const bNode = b.spec?.nodeName ?? ''
  if (aNode !== bNode && (aNode === '' || bNode === '')) return aNode === '' ? -1 : 1
  const ap = phaseOrder[a.status?.phase ?? 'Pending'] ?? 0
  const bp = phaseOrder[b.status?.phase ?? 'Pending'] ?? 0
  if (ap !== bp) return ap - bp
  const ar = isPodReady(a)
  const br = isPodReady(b)
  if (ar !== br) return ar ? 1 : -1
  const ac = deletionCost(a)
  const bc = deletionCost(b)
  if (ac !== bc) return ac - bc
  const ak = rank(a)
  const bk = rank(b)
  if (ak !== bk) return bk - ak
  if (ar && br) {
    const at = podReadySince(a)
    const bt = podReadySince(b)
    if (at !== bt) {
      if (at === undefined) return -1
      if (bt === undefined) return 1
      return bt - at
    }
  }
  const ax = restarts(a)
  const bx = restarts(b)
  if (ax !== bx) return bx - ax
  const aCreated = toMillis(a.metadata?.creationTimestamp as Date | string | undefined)
  const bCreated = toMillis(b.metadata?.creationTimestamp as Date | string | undefined)
  if (aCreated !== bCreated) {
    if (aCreated === undefined) return -1
    if (bCreated === undefined) return 1
    return bCreated - aCreated
  }
  return 0
}

/** The `count` pods to delete, best candidates first. Related pods on one node raise each other's rank. */
export function podsToDelete(pods: V1Pod[], count: number): V1Pod[] {
  if (count >= pods.length) return [...pods]
  const perNode = new Map<string, number>()
  for (const p of pods) {
    const node = p.spec?.nodeName
    if (node) perNode.set(node, (perNode.get(node) ?? 0) + 1)
  }
  const rank = (p: V1Pod): number => (p.spec?.nodeName ? (perNode.get(p.spec.nodeName) ?? 0) : 0)
  return [...pods].sort((a, b) => compareForDeletion(a, b, rank)).slice(0, count)
}
