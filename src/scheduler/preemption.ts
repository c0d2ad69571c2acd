// DefaultPreemption (kube-scheduler's PostFilter): a pod that fits nowhere may evict pods
// of lower priority from one node. A node is a candidate when its refusal could go away
// with pods removed (resources, pod count, host ports); on it every lower-priority pod is
// a would-be victim, then as many as possible are reprieved, highest priority first, while
// the pod still fits. Of the candidates, upstream's order picks one: the lowest highest
// victim priority, then the lowest sum of priorities, then the fewest victims.
import { reasonNodePorts, reasonTooManyPods } from './filters.ts'
import type { PodInfo } from './pod-info.ts'
import { filterWithNominated } from './schedule.ts'
import type { BoundPod, ClusterSnapshot, NodeInfo } from './snapshot.ts'

export interface Preemption {
  node: string
  victims: BoundPod[]
}

/** Reasons that removing pods can lift; any other reason rules a node out. */
function resolvable(reasons: string[]): boolean {
  return reasons.every((r) => r.startsWith('Insufficient ') || r === reasonTooManyPods || r === reasonNodePorts)
}

/** Where the pod could run by evicting lower-priority pods, and which; undefined when nowhere. */
export function findPreemption(pod: PodInfo, snapshot: ClusterSnapshot, reasons: Map<string, string[]>): Preemption | undefined {
  if (pod.pod.spec?.preemptionPolicy === 'Never') return undefined
  const priority = pod.priority
  // Upstream's PodEligibleToPreemptOthers: victims of an earlier round still going on the
  // nominated node mean room is on its way; evicting more would be one round too many.
  const nominated = pod.pod.status?.nominatedNodeName
  if (nominated && [...(snapshot.get(nominated)?.pods.values() ?? [])].some((b) => b.terminating && b.priority < priority)) return undefined
  let best: (Preemption & { highest: number; sum: number }) | undefined
  for (const [name, why] of reasons) {
    if (!resolvable(why)) continue
    const info = snapshot.get(name)
    if (!info) continue
    const victims = victimsOn(pod, info, snapshot)
    if (!victims) continue
    const highest = victims.length ? Math.max(...victims.map((v) => v.priority)) : -Infinity
    const sum = victims.reduce((n, v) => n + v.priority, 0)
    const better =
      !best ||
      highest < best.highest ||
      (highest === best.highest && (sum < best.sum || (sum === best.sum && victims.length < best.victims.length)))
    if (better) best = { node: name, victims, highest, sum }
  }
  return best && best.victims.length > 0 ? { node: best.node, victims: best.victims } : undefined
}

/** The fewest lower-priority pods whose removal lets `pod` fit on `info` (beside the pods nominated there ahead of it); undefined if even all of them do not. */
function victimsOn(pod: PodInfo, info: NodeInfo, snapshot: ClusterSnapshot): BoundPod[] | undefined {
  const lower = [...info.pods.values()].filter((b) => b.priority < pod.priority && !b.terminating)
  if (lower.length === 0) return undefined
  // Simulated on the node itself and always put back: nothing else runs in between.
  for (const b of lower) info.account(b, -1)
  try {
    if (filterWithNominated(pod, info, snapshot)) return undefined
    // Reprieve, most important first: back on the node if the pod still fits.
    const victims: BoundPod[] = []
    for (const b of [...lower].sort((x, y) => y.priority - x.priority)) {
      info.account(b, 1)
      if (filterWithNominated(pod, info, snapshot)) {
        info.account(b, -1)
        victims.push(b)
      }
    }
    for (const b of lower) if (!victims.includes(b)) info.account(b, -1)
    return victims
  } finally {
    for (const b of lower) info.account(b, 1)
  }
}
