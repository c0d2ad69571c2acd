// The default Score plugins (with their NormalizeScore) over the feasible nodes; each
// returns one 0–100 score per node, in the order given. Integer maths as upstream.
import type { PodInfo } from './pod-info.ts'
import type { NodeInfo } from './snapshot.ts'
import type { AffinityCycle } from './pod-affinity.ts'
import { placedNode } from './filters.ts'
import { findUntoleratedTaint, isPreferNoSchedule } from './taints.ts'

export const maxNodeScore = 100

/** Upstream default plugin weights (v1 KubeSchedulerConfiguration); spreading stands in for PodTopologySpread. */
export const defaultWeights = {
  TaintToleration: 3,
  NodeAffinity: 2,
  NodeResourcesFit: 1,
  NodeResourcesBalancedAllocation: 1,
  PodTopologySpread: 2,
  InterPodAffinity: 2,
} as const

export type ScorePlugin = keyof typeof defaultWeights

/** helper.DefaultNormalizeScore */
export function defaultNormalize(scores: number[], reverse: boolean): number[] {
  let max = 0
  for (const s of scores) if (s > max) max = s
  if (max === 0) return reverse ? scores.map(() => maxNodeScore) : scores
  return scores.map((s) => {
    const n = Math.trunc((maxNodeScore * s) / max)
    return reverse ? maxNodeScore - n : n
  })
}

export function taintTolerationScores(pod: PodInfo, nodes: readonly NodeInfo[]): number[] {
  const tolerations = pod.tolerations.filter((t) => !t.effect || t.effect === 'PreferNoSchedule')
  const raw = nodes.map((n) => {
    let count = 0
    for (const taint of n.preferNoScheduleTaints) if (findUntoleratedTaint([taint], tolerations, isPreferNoSchedule)) count++
    return count
  })
  return defaultNormalize(raw, true)
}

export function nodeAffinityScores(pod: PodInfo, nodes: readonly NodeInfo[]): number[] {
  if (pod.preferred.length === 0) return nodes.map(() => 0)
  const raw = nodes.map((n) => {
    let sum = 0
    for (const t of pod.preferred) if (t.matches(n.labels, n.name)) sum += t.weight
    return sum
  })
  return defaultNormalize(raw, false)
}

function leastRequested(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0
  return Math.trunc(((capacity - requested) * maxNodeScore) / capacity)
}

/** NodeResourcesFit with the LeastAllocated strategy over cpu and memory (weight 1 each). */
export function leastAllocatedScores(pod: PodInfo, nodes: readonly NodeInfo[]): number[] {
  return nodes.map((n) => {
    let sum = 0
    let weights = 0
    if (n.allocatable.milliCPU !== 0) {
      sum += leastRequested(n.nonZeroMilliCPU + pod.nonZeroMilliCPU, n.allocatable.milliCPU)
      weights++
    }
    if (n.allocatable.memory !== 0) {
      sum += leastRequested(n.nonZeroMemory + pod.nonZeroMemory, n.allocatable.memory)
      weights++
    }
    return weights === 0 ? 0 : Math.trunc(sum / weights)
  })
}

/** NodeResourcesBalancedAllocation over cpu and memory, on actual requests; skipped for pods requesting nothing. */
export function balancedAllocationScores(pod: PodInfo, nodes: readonly NodeInfo[]): number[] {
  if (pod.requestsZero) return nodes.map(() => 0)
  return nodes.map((n) => {
    const fractions: number[] = []
    if (n.allocatable.milliCPU !== 0) {
      fractions.push(Math.min(1, (n.requested.milliCPU + pod.requests.milliCPU) / n.allocatable.milliCPU))
    }
    if (n.allocatable.memory !== 0) {
      fractions.push(Math.min(1, (n.requested.memory + pod.requests.memory) / n.allocatable.memory))
    }
    const std = fractions.length === 2 ? Math.abs((fractions[0] - fractions[1]) / 2) : 0
    return Math.trunc((1 - std) * maxNodeScore)
  })
}

/**
 * PodTopologySpread's scoring for the system-default hostname constraint (maxSkew 3), with
 * "same pods" meaning pods of the same controller (ownerReference uid) rather than the
 * selectors of the pod's Services/ReplicaSets. Fewer such pods on a node → higher score.
 */
export function spreadScores(pod: PodInfo, nodes: readonly NodeInfo[], cycle?: AffinityCycle): number[] {
  if (cycle && cycle.softSpread.length > 0) return constraintSpreadScores(pod, nodes, cycle)
  const owner = pod.ownerUid
  if (owner === undefined) return nodes.map(() => 0)
  const weight = Math.log(nodes.length + 2)
  const maxSkew = 3
  const raw = nodes.map((n) => Math.round((n.ownerCounts.get(owner) ?? 0) * weight + (maxSkew - 1)))
  let min = Infinity
  let max = 0
  for (const s of raw) {
    if (s < min) min = s
    if (s > max) max = s
  }
  return raw.map((s) => (max === 0 ? maxNodeScore : Math.trunc((maxNodeScore * (max + min - s)) / max)))
}

/** PodTopologySpread's scoring of the pod's ScheduleAnyway constraints: fewer matching pods in the node's domains, higher score. */
function constraintSpreadScores(pod: PodInfo, nodes: readonly NodeInfo[], cycle: AffinityCycle): number[] {
  const domains = cycle.spread.map((c) => new Set(nodes.map((n) => n.labels[c.topologyKey]).filter((v) => v !== undefined)).size)
  const raw = nodes.map((n) => cycle.spreadScore(placedNode(pod, n), domains))
  const known = raw.filter((s): s is number => s !== undefined).map((s) => Math.round(s))
  if (known.length === 0) return nodes.map(() => 0)
  const min = Math.min(...known)
  const max = Math.max(...known)
  return raw.map((s) => (s === undefined ? 0 : max === 0 ? maxNodeScore : Math.trunc((maxNodeScore * (max + min - Math.round(s))) / max)))
}

/** InterPodAffinity's scoring: preferred terms both ways, normalized over the nodes' range. */
export function interPodAffinityScores(pod: PodInfo, nodes: readonly NodeInfo[], cycle?: AffinityCycle): number[] {
  if (!cycle || !cycle.scoresAffinity) return nodes.map(() => 0)
  const raw = nodes.map((n) => cycle.affinityScore(placedNode(pod, n)))
  const min = Math.min(...raw)
  const max = Math.max(...raw)
  return raw.map((s) => (max === min ? 0 : Math.trunc(((s - min) * maxNodeScore) / (max - min))))
}

export const scorePlugins: ReadonlyArray<[ScorePlugin, (pod: PodInfo, nodes: readonly NodeInfo[], cycle?: AffinityCycle) => number[]]> = [
  ['TaintToleration', taintTolerationScores],
  ['NodeAffinity', nodeAffinityScores],
  ['NodeResourcesFit', leastAllocatedScores],
  ['NodeResourcesBalancedAllocation', balancedAllocationScores],
  ['PodTopologySpread', spreadScores],
  ['InterPodAffinity', interPodAffinityScores],
]
