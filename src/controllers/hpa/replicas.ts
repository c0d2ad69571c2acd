// How many replicas one resource metric asks for, as upstream's replica calculator works it
// out (pkg/controller/podautoscaler/replica_calculator.go): usage against requests over
// the pods that count, a 10% tolerance, and missing or unready pods assumed to use what
// would make the decision least hasty.
import type { V1Pod } from '@kubernetes/client-node'
import { parseQuantity } from '../../api/quantity.ts'

export interface PodMetric {
  /** Milli-units: millicores for cpu, milli-bytes for memory (Quantity.MilliValue). */
  value: number
  timestamp: Date
  windowMs: number
}

export interface ResourceTarget {
  /** `cpu`, `memory`, … */
  resource: string
  /** Only this container's usage and request (a ContainerResource metric). */
  container?: string
  utilization?: number
  /** Milli-units per pod (an AverageValue target). */
  averageValueMilli?: number
}

export interface Tuning {
  tolerance: number
  /** A pod started this recently has its CPU sample ignored unless it was ready for a whole window (upstream default 5 min). */
  cpuInitializationMs: number
  /** A pod unready this soon after it started has never been ready (upstream default 30 s). */
  initialReadinessDelayMs: number
}

export const defaultTuning: Tuning = { tolerance: 0.1, cpuInitializationMs: 5 * 60_000, initialReadinessDelayMs: 30_000 }

export type Proposal =
  | { ok: true; replicas: number; utilization?: number; averageValueMilli: number }
  | { ok: false; reason: string; message: string }

const readyCondition = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === 'Ready')

function time(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined
  const ms = v instanceof Date ? v.getTime() : Date.parse(String(v))
  return Number.isNaN(ms) ? undefined : ms
}

/** upstream's groupPods: the pods that count, those ignored (pending, or unready for CPU), those without a sample. */
function groupPods(pods: V1Pod[], metrics: Map<string, PodMetric>, resource: string, now: number, tuning: Tuning) {
  let ready = 0
  const ignored = new Set<string>()
  const missing = new Set<string>()
  for (const pod of pods) {
    const name = pod.metadata?.name ?? ''
    if (pod.metadata?.deletionTimestamp || pod.status?.phase === 'Failed') continue
    if (pod.status?.phase === 'Pending') {
      ignored.add(name)
      continue
    }
    const metric = metrics.get(name)
    if (!metric) {
      missing.add(name)
      continue
    }
    if (resource === 'cpu') {
      const condition = readyCondition(pod)
      const started = time(pod.status?.startTime)
      const transition = time(condition?.lastTransitionTime)
      let ignore: boolean
      if (!condition || started === undefined) ignore = true
      else if (started + tuning.cpuInitializationMs > now) {
        ignore = condition.status === 'False' || transition === undefined || metric.timestamp.getTime() < transition + metric.windowMs
      } else {
        ignore = condition.status === 'False' && transition !== undefined && started + tuning.initialReadinessDelayMs > transition
      }
      if (ignore) {
        ignored.add(name)
        continue
      }
    }
    ready++
  }
  return { ready, ignored, missing }
}

/** The sum of the pods' requests for the resource, in milli-units; undefined names the container without one. */
function podRequests(pods: V1Pod[], target: ResourceTarget): { requests: Map<string, number> } | { missingIn: string } {
  const requests = new Map<string, number>()
  for (const pod of pods) {
    let sum = 0
    for (const c of pod.spec?.containers ?? []) {
      if (target.container !== undefined && c.name !== target.container) continue
      const request = c.resources?.requests?.[target.resource]
      if (request === undefined) return { missingIn: c.name }
      sum += Math.round(parseQuantity(request as string) * 1000)
    }
    requests.set(pod.metadata?.name ?? '', sum)
  }
  return { requests }
}

function utilizationRatio(metrics: Map<string, PodMetric>, requests: Map<string, number>, target: number) {
  let used = 0
  let requested = 0
  let counted = 0
  for (const [name, m] of metrics) {
    const request = requests.get(name)
    if (request === undefined) continue
    used += m.value
    requested += request
    counted++
  }
  if (requested === 0) return undefined
  const utilization = Math.trunc((used * 100) / requested)
  return { ratio: utilization / target, utilization, average: Math.trunc(used / counted) }
}

function averageRatio(metrics: Map<string, PodMetric>, target: number) {
  let used = 0
  for (const m of metrics.values()) used += m.value
  const average = Math.trunc(used / metrics.size)
  return { ratio: average / target, average }
}

/** The replicas one resource metric asks for, or why it cannot say. */
export function resourceReplicas(currentReplicas: number, target: ResourceTarget, pods: V1Pod[], podMetrics: Map<string, PodMetric>, now: number, tuning: Tuning = defaultTuning): Proposal {
  if (pods.length === 0) return { ok: false, reason: 'FailedGetResourceMetric', message: 'no pods returned by selector while calculating replica count' }
  const metrics = new Map(podMetrics)
  const { ready, ignored, missing } = groupPods(pods, metrics, target.resource, now, tuning)
  for (const name of ignored) metrics.delete(name)
  // Samples of pods the selector no longer picks do not count.
  const names = new Set(pods.map((p) => p.metadata?.name ?? ''))
  for (const name of metrics.keys()) if (!names.has(name)) metrics.delete(name)
  if (metrics.size === 0) return { ok: false, reason: 'FailedGetResourceMetric', message: `did not receive metrics for targeted pods (pods might be unready)` }

  if (target.utilization !== undefined) {
    const req = podRequests(pods, target)
    if ('missingIn' in req) return { ok: false, reason: 'FailedGetResourceMetric', message: `missing request for ${target.resource} in container ${req.missingIn}` }
    const first = utilizationRatio(metrics, req.requests, target.utilization)
    if (!first) return { ok: false, reason: 'FailedGetResourceMetric', message: 'no metrics returned matched known pods' }
    const result = (replicas: number): Proposal => ({ ok: true, replicas, utilization: first.utilization, averageValueMilli: first.average })
    const rebalanceIgnored = ignored.size > 0 && first.ratio > 1
    if (!rebalanceIgnored && missing.size === 0) {
      if (Math.abs(1 - first.ratio) <= tuning.tolerance) return result(currentReplicas)
      return result(Math.ceil(first.ratio * ready))
    }
    // On a scale-down a missing pod is taken to use its whole request; on a scale-up, nothing.
    for (const name of missing) metrics.set(name, { value: first.ratio < 1 ? (req.requests.get(name) ?? 0) : 0, timestamp: new Date(now), windowMs: 0 })
    if (rebalanceIgnored) for (const name of ignored) metrics.set(name, { value: 0, timestamp: new Date(now), windowMs: 0 })
    const second = utilizationRatio(metrics, req.requests, target.utilization)!
    if (Math.abs(1 - second.ratio) <= tuning.tolerance || (first.ratio < 1 && second.ratio > 1) || (first.ratio > 1 && second.ratio < 1)) return result(currentReplicas)
    const replicas = Math.ceil(second.ratio * metrics.size)
    if ((second.ratio < 1 && replicas > currentReplicas) || (second.ratio > 1 && replicas < currentReplicas)) return result(currentReplicas)
    return result(replicas)
  }

  const targetValue = target.averageValueMilli ?? 0
  if (targetValue <= 0) return { ok: false, reason: 'InvalidMetricSourceType', message: 'the target has neither an averageUtilization nor an averageValue' }
  const first = averageRatio(metrics, targetValue)
  const result = (replicas: number): Proposal => ({ ok: true, replicas, averageValueMilli: first.average })
  const rebalanceIgnored = ignored.size > 0 && first.ratio > 1
  if (!rebalanceIgnored && missing.size === 0) {
    if (Math.abs(1 - first.ratio) <= tuning.tolerance) return result(currentReplicas)
    return result(Math.ceil(first.ratio * ready))
  }
  for (const name of missing) metrics.set(name, { value: first.ratio < 1 ? targetValue : 0, timestamp: new Date(now), windowMs: 0 })
  if (rebalanceIgnored) for (const name of ignored) metrics.set(name, { value: 0, timestamp: new Date(now), windowMs: 0 })
  const second = averageRatio(metrics, targetValue)
  if (Math.abs(1 - second.ratio) <= tuning.tolerance || (first.ratio < 1 && second.ratio > 1) || (first.ratio > 1 && second.ratio < 1)) return result(currentReplicas)
  return result(Math.ceil(second.ratio * metrics.size))
}
