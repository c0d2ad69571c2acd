// A DaemonSet's rolling update (pkg/controller/daemon/update.go rollingUpdate,
// updatedDesiredNodeCounts, findUpdatedPodsOnNode; util.SurgeCount, UnavailableCount).
//
// Without surge, old pods are deleted within maxUnavailable and manage makes their
// replacements. With maxSurge, a node's new pod is started beside its old one (at most
// maxSurge such nodes at a time, any number where the old pod is unavailable anyway), and
// the old pod goes once the new one is available.
import type { V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node'
import { scaledValue } from '../deployment/rollout-math.ts'
import { isPodAvailable } from '../replicaset/pod-state.ts'
import { isPodUpdated, templateGeneration, type NodeFit } from './daemon-pod.ts'

const isRollingUpdate = (ds: V1DaemonSet): boolean => (ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate'

/** SurgeCount: maxSurge of `desired` rounded up; 0 unless rolling. */
export function surgeCount(ds: V1DaemonSet, desired: number): number {
  const ru = ds.spec?.updateStrategy?.rollingUpdate
  if (!isRollingUpdate(ds) || !ru || ru.maxSurge === undefined) return 0
  return scaledValue(ru.maxSurge, desired, true)
}

/** UnavailableCount: maxUnavailable of `desired` rounded up; 0 unless rolling. */
export function unavailableCount(ds: V1DaemonSet, desired: number): number {
  const ru = ds.spec?.updateStrategy?.rollingUpdate
  if (!isRollingUpdate(ds) || !ru) return 0
  return scaledValue(ru.maxUnavailable, desired, true)
}

/** AllowsSurge: more than one pod may run on a node during an update. */
export function allowsSurge(ds: V1DaemonSet): boolean {
  return surgeCount(ds, 1) > 0
}

/** findUpdatedPodsOnNode: the node's one new and one old live pod; undefined when it has more (manage prunes first). */
export function updatedAndOld(ds: V1DaemonSet, pods: V1Pod[], hash: string): { updated?: V1Pod; old?: V1Pod } | undefined {
  const generation = templateGeneration(ds)
  let updated: V1Pod | undefined
  let old: V1Pod | undefined
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue
    if (isPodUpdated(p, hash, generation)) {
      if (updated) return undefined
      updated = p
    } else {
      if (old) return undefined
      old = p
    }
  }
  return { updated, old }
}

export interface UpdateStep {
  /** Old pods to delete. */
  remove: V1Pod[]
  /** Nodes to start a new pod on beside the old one (surge). */
  createOn: string[]
}

/** rollingUpdate: what to delete (and, surging, where to start new pods) this pass. */
export function rollingUpdate(ds: V1DaemonSet, nodes: V1Node[], fits: Map<string, NodeFit>, byNode: Map<string, V1Pod[]>, hash: string, now: Date): UpdateStep {
  const perNode = new Map(byNode)
  let desired = 0
  for (const n of nodes) {
    const name = n.metadata?.name ?? ''
    if (!fits.get(name)?.shouldRun) continue
    desired++
    if (!perNode.has(name)) perNode.set(name, [])
  }
  let maxUnavailable = unavailableCount(ds, desired)
  const maxSurge = surgeCount(ds, desired)
  if (desired > 0 && maxUnavailable === 0 && maxSurge === 0) maxUnavailable = 1
  const minReady = ds.spec?.minReadySeconds ?? 0
  const available = (p: V1Pod) => isPodAvailable(p, minReady, now)
  const names = [...perNode.keys()].sort()

  if (maxSurge === 0) {
    let unavailable = 0
    const replace: V1Pod[] = []
    const candidates: V1Pod[] = []
    for (const name of names) {
      const found = updatedAndOld(ds, perNode.get(name)!, hash)
      if (!found || (found.updated && found.old) || (!found.updated && !found.old)) unavailable++
      else if (found.updated) {
        if (!available(found.updated)) unavailable++
      } else if (!available(found.old!)) {
        replace.push(found.old!)
        unavailable++
      } else if (unavailable < maxUnavailable) candidates.push(found.old!)
    }
    const room = Math.min(Math.max(maxUnavailable - unavailable, 0), candidates.length)
    return { remove: [...replace, ...candidates.slice(0, room)], createOn: [] }
  }

  const remove: V1Pod[] = []
  const notWanted: V1Pod[] = []
  const allowedNew: string[] = []
  const candidateNew: string[] = []
  let surging = 0
  let availableNodes = 0
  for (const name of names) {
    const found = updatedAndOld(ds, perNode.get(name)!, hash)
    if (!found) {
      surging++
      continue
    }
    const { updated, old } = found
    if (old ? available(old) : updated ? available(updated) : false) availableNodes++
    if (!old) continue
    const shouldRun = fits.get(name)?.shouldRun ?? false
    if (!updated) {
      if (!available(old)) {
        if (shouldRun) allowedNew.push(name)
        else remove.push(old)
      } else if (!shouldRun) notWanted.push(old)
      else if (surging < maxSurge) candidateNew.push(name)
    } else if (!available(updated)) {
      surging++
    } else {
      remove.push(old)
    }
  }
  // Pods on nodes that no longer want one go only as pods elsewhere become available.
  const deletable = Math.min(Math.max(availableNodes - desired, 0), notWanted.length)
  remove.push(...notWanted.slice(0, deletable))
  const room = Math.min(Math.max(maxSurge - surging, 0), candidateNew.length)
  return { remove, createOn: [...allowedNew, ...candidateNew.slice(0, room)] }
}
