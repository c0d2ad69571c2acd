// The scheduling decision: filter (sampling like percentageOfNodesToScore), score, select.
// Pure except that it advances `snapshot.nextStartNodeIndex`, as kube-scheduler does.
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { filterNode, placedNode } from './filters.ts'
import { AffinityCycle, hasTerms } from './pod-affinity.ts'
import { fitErrorMessage, noNodesAvailableMessage } from './fit-error.ts'
import { podInfo, type PodInfo } from './pod-info.ts'
import { defaultWeights, type ScorePlugin, scorePlugins } from './scores.ts'
import { ClusterSnapshot, type NodeInfo, type SnapshotOptions } from './snapshot.ts'

export interface ScheduleOptions {
  /**
   * Percentage of nodes to find feasible before scoring (1–100); 0 or unset is upstream's
   * adaptive default: 50% minus 1% per 125 nodes, at least 5%, and never fewer than 100 nodes.
   */
  percentageOfNodesToScore?: number
  /** Breaks ties between top-scoring nodes by reservoir sampling (like upstream); without it the smallest name wins. */
  random?: () => number
  /** Return the per-node, per-plugin scores. */
  withScores?: boolean
}

export interface NodeScore {
  name: string
  total: number
  plugins: Record<ScorePlugin, number>
}

export type ScheduleResult =
  | { node: string; feasibleNodes: number; evaluatedNodes: number; scores?: NodeScore[] }
  | { unschedulable: true; reasons: Map<string, string[]>; message: string }

const minFeasibleNodesToFind = 100
const minFeasibleNodesPercentageToFind = 5

/** Upstream numFeasibleNodesToFind. */
export function numFeasibleNodesToFind(numAllNodes: number, percentage = 0): number {
  if (numAllNodes < minFeasibleNodesToFind) return numAllNodes
  let p = percentage
  if (p <= 0) p = Math.max(minFeasibleNodesPercentageToFind, 50 - Math.trunc(numAllNodes / 125))
  if (p >= 100) return numAllNodes
  const n = Math.trunc((numAllNodes * p) / 100)
  return n < minFeasibleNodesToFind ? minFeasibleNodesToFind : n
}

/**
 * The Filter plugins with room left for the pods nominated to the node ahead of this one
 * (upstream's RunFilterPluginsWithNominatedPods): with them counted in, and, when there are
 * any, without them too, since a pod that wanted their company cannot count on it yet.
 */
export function filterWithNominated(pi: PodInfo, info: NodeInfo, snapshot: ClusterSnapshot, cycle?: AffinityCycle): string[] | undefined {
  const ahead = snapshot.nominatedAhead(pi, info.name)
  if (ahead.length === 0) return filterNode(pi, info, cycle, snapshot.namespaceLabels)
  for (const b of ahead) info.account(b, 1)
  let withThem: string[] | undefined
  try {
    withThem = filterNode(pi, info, cycle, snapshot.namespaceLabels)
  } finally {
    for (const b of ahead) info.account(b, -1)
  }
  return withThem ?? filterNode(pi, info, cycle, snapshot.namespaceLabels)
}

/** Schedules against a snapshot the caller keeps up to date (ClusterSnapshot.upsertPod after binding). */
export function scheduleOnSnapshot(pod: V1Pod | PodInfo, snapshot: ClusterSnapshot, opts: ScheduleOptions = {}): ScheduleResult {
  const pi = 'key' in pod && 'requests' in pod ? pod : podInfo(pod as V1Pod)
  const all = snapshot.list
  const n = all.length
  if (n === 0) return { unschedulable: true, reasons: new Map(), message: noNodesAvailableMessage }

  // Inter-pod affinity and topology spread count matching pods per domain once per attempt.
  const needsCycle = hasTerms(pi.terms) || pi.spreads || snapshot.podsWithTerms > 0
  const cycle = needsCycle ? new AffinityCycle(pi.pod, pi.terms, all.map((info) => placedNode(pi, info)), snapshot.namespaceLabels) : undefined
  // A preemptor goes back to the node it made room on when it fits there (evaluateNominatedNode).
  const nominated = pi.pod.status?.nominatedNodeName ? snapshot.get(pi.pod.status.nominatedNodeName) : undefined
  if (nominated && !opts.withScores && !filterWithNominated(pi, nominated, snapshot, cycle)) {
    return { node: nominated.name, feasibleNodes: 1, evaluatedNodes: 1 }
  }
  const want = numFeasibleNodesToFind(n, opts.percentageOfNodesToScore)
  const feasible: NodeInfo[] = []
  const reasons = new Map<string, string[]>()
  const start = snapshot.nextStartNodeIndex % n
  let processed = 0
  while (processed < n && feasible.length < want) {
    const info = all[(start + processed) % n]
    processed++
    const r = filterWithNominated(pi, info, snapshot, cycle)
    if (r) reasons.set(info.name, r)
    else feasible.push(info)
  }
  snapshot.nextStartNodeIndex = (start + processed) % n

  if (feasible.length === 0) return { unschedulable: true, reasons, message: fitErrorMessage(n, reasons) }
  if (feasible.length === 1 && !opts.withScores) {
    return { node: feasible[0].name, feasibleNodes: 1, evaluatedNodes: processed }
  }

  const totals = new Array<number>(feasible.length).fill(0)
  const perPlugin: Array<[ScorePlugin, number[]]> = []
  for (const [name, score] of scorePlugins) {
    const s = score(pi, feasible, cycle)
    const w = defaultWeights[name]
    for (let i = 0; i < s.length; i++) totals[i] += w * s[i]
    if (opts.withScores) perPlugin.push([name, s])
  }

  let best = 0
  let ties = 1
  for (let i = 1; i < feasible.length; i++) {
    if (totals[i] > totals[best]) {
      best = i
      ties = 1
    } else if (totals[i] === totals[best]) {
      ties++
      if (opts.random ? opts.random() * ties < 1 : feasible[i].name < feasible[best].name) best = i
    }
  }

  const result: ScheduleResult = { node: feasible[best].name, feasibleNodes: feasible.length, evaluatedNodes: processed }
  if (opts.withScores) {
    result.scores = feasible.map((info, i) => ({
      name: info.name,
      total: totals[i],
      plugins: Object.fromEntries(perPlugin.map(([p, s]) => [p, s[i]])) as Record<ScorePlugin, number>,
    }))
  }
  return result
}

/** Convenience form: builds a snapshot from the nodes and the pods bound to them. */
export function schedule(
  pod: V1Pod,
  nodes: readonly V1Node[],
  boundPods: readonly V1Pod[],
  opts: ScheduleOptions & SnapshotOptions = {},
): ScheduleResult {
  return scheduleOnSnapshot(pod, new ClusterSnapshot(nodes, boundPods, opts), opts)
}

/** For a pod pinned with spec.nodeName: why that node cannot run it (undefined if it can). */
export function checkNode(pod: V1Pod, snapshot: ClusterSnapshot, nodeName: string): string[] | undefined {
  const info = snapshot.get(nodeName)
  if (!info) return [`node "${nodeName}" not found`]
  const pi = podInfo(pod)
  const cycle = hasTerms(pi.terms) || pi.spreads || snapshot.podsWithTerms > 0 ? new AffinityCycle(pod, pi.terms, snapshot.list.map((n) => placedNode(pi, n)), snapshot.namespaceLabels) : undefined
  return filterNode(pi, info, cycle, snapshot.namespaceLabels)
}
