// One pass of the HorizontalPodAutoscaler controller for one autoscaler, as upstream's
// reconcileAutoscaler: the target's scale and pods and the pods' metrics in, the size to
// set, the status (metrics, conditions) and Events out. Pure: the runner fetches and applies.
import type { V1Pod, V2HorizontalPodAutoscaler, V2HorizontalPodAutoscalerCondition, V2HorizontalPodAutoscalerStatus, V2MetricSpec, V2MetricStatus } from '@kubernetes/client-node'
import { parseQuantity } from '../../api/quantity.ts'
import { parseGoDurationNs } from '../../util/go-duration.ts'
import { normalizeLegacy, normalizeWithBehavior, recordScale, type Condition, type History } from './normalize.ts'
import { defaultTuning, resourceReplicas, type PodMetric, type Tuning } from './replicas.ts'

/** A metrics.k8s.io PodMetrics, as the metrics API answers it. */
export interface PodMetricsItem {
  metadata: { name: string }
  timestamp: string
  window: string
  containers: { name: string; usage: Record<string, string> }[]
}

export interface HpaInputs {
  hpa: V2HorizontalPodAutoscaler
  /** The target's scale subresource, or why it could not be read. */
  scale: { replicas: number; selector: string } | { error: string }
  /** The pods the scale's selector picks. */
  pods: V1Pod[]
  /** The metrics API's answer for those pods, or why there was none. */
  podMetrics: PodMetricsItem[] | { error: string }
  history: History
  now: number
  tuning?: Tuning
}

export interface HpaDecision {
  /** Set when the target's replicas are to change. */
  scaleTo?: number
  status: V2HorizontalPodAutoscalerStatus
  events: { type: 'Normal' | 'Warning'; reason: string; message: string }[]
}

type CondType = 'AbleToScale' | 'ScalingActive' | 'ScalingLimited'

function milliQuantity(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`
}

/** Each pod's sample of the resource (the sum of its containers', or one container's), in milli-units. */
function samples(items: PodMetricsItem[], resource: string, container: string | undefined): Map<string, PodMetric> {
  const out = new Map<string, PodMetric>()
  for (const item of items) {
    let value = 0
    let seen = false
    for (const c of item.containers) {
      if (container !== undefined && c.name !== container) continue
      const usage = c.usage[resource]
      if (usage === undefined) continue
      value += Math.round(parseQuantity(usage) * 1000)
      seen = true
    }
    if (!seen) continue
    out.set(item.metadata.name, { value, timestamp: new Date(item.timestamp), windowMs: (parseGoDurationNs(item.window) ?? 0) / 1e6 })
  }
  return out
}

interface MetricResult {
  replicas?: number
  status?: V2MetricStatus
  error?: { reason: string; message: string }
  describe: string
}

function metricResult(spec: V2MetricSpec, current: number, pods: V1Pod[], metrics: PodMetricsItem[] | { error: string }, now: number, tuning: Tuning): MetricResult {
  const source = spec.type === 'Resource' ? spec.resource : spec.type === 'ContainerResource' ? spec.containerResource : undefined
  if (!source) {
    const api = spec.type === 'External' ? 'external.metrics.k8s.io' : 'custom.metrics.k8s.io'
    return { describe: spec.type, error: { reason: `FailedGet${spec.type}Metric`, message: `unable to get metric for ${spec.type} metric: no ${api} API is served (weft serves resource metrics only)` } }
  }
  const container = spec.type === 'ContainerResource' ? (source as { container: string }).container : undefined
  const name = source.name
  const target = source.target
  const describe = target.type === 'Utilization' ? `${name} resource utilization (percentage of request)` : `${name} resource`
  const failed = (message: string): MetricResult => ({ describe, error: { reason: `FailedGet${spec.type}Metric`, message } })
  if ('error' in metrics) return failed(`unable to get metrics for resource ${name}: ${metrics.error}`)
  const averageValueMilli = target.averageValue !== undefined ? Math.round(parseQuantity(target.averageValue) * 1000) : undefined
  const proposal = resourceReplicas(current, { resource: name, container, utilization: target.type === 'Utilization' ? target.averageUtilization : undefined, averageValueMilli }, pods, samples(metrics, name, container), now, tuning)
  if (!proposal.ok) return failed(`failed to get ${name} utilization: ${proposal.message}`)
  const currentValue = { ...(proposal.utilization !== undefined ? { averageUtilization: proposal.utilization } : {}), averageValue: milliQuantity(proposal.averageValueMilli) }
  const status: V2MetricStatus =
    spec.type === 'Resource'
      ? { type: 'Resource', resource: { name, current: currentValue } }
      : { type: 'ContainerResource', containerResource: { name, container: container!, current: currentValue } }
  return { replicas: proposal.replicas, status, describe }
}

/** Keeps a condition's lastTransitionTime while its status stays the same. */
function setConditions(previous: V2HorizontalPodAutoscalerCondition[] | undefined, set: Map<CondType, Omit<Condition, 'type'>>, now: string): V2HorizontalPodAutoscalerCondition[] {
  const out: V2HorizontalPodAutoscalerCondition[] = []
  const order: CondType[] = ['AbleToScale', 'ScalingActive', 'ScalingLimited']
  for (const type of order) {
    const c = set.get(type)
    const before = previous?.find((p) => p.type === type)
    if (!c) {
      if (before) out.push(before)
      continue
    }
    const changed = !before || before.status !== c.status
    out.push({ type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: (changed ? now : before.lastTransitionTime) as never })
  }
  return out
}

export function reconcileHpa(input: HpaInputs): HpaDecision {
  const { hpa, now } = input
  const tuning = input.tuning ?? defaultTuning
  const nowText = new Date(Math.floor(now / 1000) * 1000).toISOString().replace('.000Z', 'Z')
  const spec = hpa.spec!
  const previous = hpa.status
  const conditions = new Map<CondType, Omit<Condition, 'type'>>()
  const events: HpaDecision['events'] = []
  const status = (current: number, desired: number, metrics: V2MetricStatus[] | undefined, rescaled: boolean): V2HorizontalPodAutoscalerStatus => ({
    ...(hpa.metadata?.generation !== undefined ? { observedGeneration: hpa.metadata.generation } : {}),
    ...(rescaled ? { lastScaleTime: nowText as never } : previous?.lastScaleTime ? { lastScaleTime: previous.lastScaleTime } : {}),
    currentReplicas: current,
    desiredReplicas: desired,
    ...(metrics?.length ? { currentMetrics: metrics } : {}),
    conditions: setConditions(previous?.conditions, conditions, nowText),
  })

  if ('error' in input.scale) {
    const message = `the HPA controller was unable to get the target's current scale: ${input.scale.error}`
    conditions.set('AbleToScale', { status: 'False', reason: 'FailedGetScale', message })
    events.push({ type: 'Warning', reason: 'FailedGetScale', message: input.scale.error })
    return { status: status(previous?.currentReplicas ?? 0, previous?.desiredReplicas ?? 0, previous?.currentMetrics, false), events }
  }
  const current = input.scale.replicas
  const min = spec.minReplicas ?? 1
  const max = spec.maxReplicas
  let desired = 0
  let reason = ''
  let metricStatuses: V2MetricStatus[] | undefined

  if (current === 0 && min !== 0) {
    conditions.set('ScalingActive', { status: 'False', reason: 'ScalingDisabled', message: 'scaling is disabled since the replica count of the target is zero' })
    return { status: status(0, 0, undefined, false), events }
  }
  if (current > max) {
    desired = max
    reason = 'Current number of replicas above Spec.MaxReplicas'
  } else if (current < min) {
    desired = min
    reason = 'Current number of replicas below Spec.MinReplicas'
  } else {
    const specs = spec.metrics?.length ? spec.metrics : [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } } as V2MetricSpec]
    const results = specs.map((m) => metricResult(m, current, input.pods, input.podMetrics, now, tuning))
    metricStatuses = results.flatMap((r) => (r.status ? [r.status] : []))
    const invalid = results.filter((r) => r.error)
    let best: MetricResult | undefined
    for (const r of results) if (r.replicas !== undefined && (!best || r.replicas > best.replicas!)) best = r
    // Any invalid metric stops a scale-down, as upstream: what it would say is unknown.
    if (!best || (invalid.length > 0 && best.replicas! < current)) {
      const first = invalid[0]!.error!
      conditions.set('ScalingActive', { status: 'False', reason: first.reason, message: `the HPA was unable to compute the replica count: ${first.message}` })
      events.push({ type: 'Warning', reason: first.reason, message: first.message })
      events.push({ type: 'Warning', reason: 'FailedComputeMetricsReplicas', message: `invalid metrics (${invalid.length} invalid out of ${results.length}), first error is: ${first.message}` })
      return { status: status(current, previous?.desiredReplicas ?? current, metricStatuses, false), events }
    }
    conditions.set('ScalingActive', { status: 'True', reason: 'ValidMetricFound', message: `the HPA was able to successfully calculate a replica count from ${best.describe}` })
    const proposed = best.replicas!
    reason = proposed > current ? `${best.describe} above target` : proposed < current ? 'All metrics below target' : ''
    const normalized = spec.behavior
      ? normalizeWithBehavior(proposed, current, min, max, spec.behavior, input.history, now)
      : normalizeLegacy(proposed, current, min, max, input.history, now)
    for (const c of normalized.conditions) conditions.set(c.type, c)
    desired = normalized.replicas
  }

  const rescale = desired !== current
  if (!rescale) return { status: status(current, desired, metricStatuses, false), events }
  conditions.set('AbleToScale', { status: 'True', reason: 'SucceededRescale', message: `the HPA controller was able to update the target scale to ${desired}` })
  events.push({ type: 'Normal', reason: 'SuccessfulRescale', message: `New size: ${desired}; reason: ${reason}` })
  recordScale(input.history, current, desired, spec.behavior, now)
  return { scaleTo: desired, status: status(current, desired, metricStatuses, true), events }
}
