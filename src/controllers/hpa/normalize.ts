// From what the metrics ask for to what the autoscaler sets, as upstream's horizontal.go
// normalizes it: a stabilization window over recent recommendations, the scaling
// policies' rate limits over recent scale events, and minReplicas/maxReplicas, each named
// in the AbleToScale and ScalingLimited conditions.
import type { V2HPAScalingRules, V2HorizontalPodAutoscalerBehavior } from '@kubernetes/client-node'

export interface Recommendation {
  at: number
  replicas: number
}

export interface ScaleEvent {
  at: number
  /** Replicas added (scale-up events) or removed (scale-down events). */
  change: number
}

/** What the controller remembers of one autoscaler between passes (upstream keeps it in memory too). */
export interface History {
  recommendations: Recommendation[]
  scaleUps: ScaleEvent[]
  scaleDowns: ScaleEvent[]
}

export interface Condition {
  type: 'AbleToScale' | 'ScalingLimited'
  status: 'True' | 'False'
  reason: string
  message: string
}

export interface Normalized {
  replicas: number
  conditions: Condition[]
}

/** upstream's GenerateHPAScaleUpRules / GenerateHPAScaleDownRules: the defaults of an unset behavior. */
export function scaleUpRules(rules: V2HPAScalingRules | undefined): Required<Pick<V2HPAScalingRules, 'stabilizationWindowSeconds' | 'selectPolicy' | 'policies'>> {
  return {
    stabilizationWindowSeconds: rules?.stabilizationWindowSeconds ?? 0,
    selectPolicy: rules?.selectPolicy ?? 'Max',
    policies: rules?.policies ?? [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  }
}

export function scaleDownRules(rules: V2HPAScalingRules | undefined): Required<Pick<V2HPAScalingRules, 'stabilizationWindowSeconds' | 'selectPolicy' | 'policies'>> {
  return {
    stabilizationWindowSeconds: rules?.stabilizationWindowSeconds ?? 300,
    selectPolicy: rules?.selectPolicy ?? 'Max',
    policies: rules?.policies ?? [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  }
}

function changeWithin(events: ScaleEvent[], periodSeconds: number, now: number): number {
  let sum = 0
  for (const e of events) if (e.at > now - periodSeconds * 1000) sum += e.change
  return sum
}

/** The most a scale-up may reach now under the rules' policies. */
export function scaleUpLimit(current: number, events: ScaleEvent[], rules: ReturnType<typeof scaleUpRules>, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max
  let result = rules.selectPolicy === 'Min' ? Infinity : -Infinity
  for (const p of rules.policies) {
    const start = current - changeWithin(events, p.periodSeconds, now)
    // Percent rounds up, or a small set could never grow.
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100))
    result = pick(result, proposed)
  }
  return result
}

/** The least a scale-down may reach now under the rules' policies. */
export function scaleDownLimit(current: number, events: ScaleEvent[], rules: ReturnType<typeof scaleDownRules>, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current
  // For scaling down the smallest change is the largest count.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min
  let result = rules.selectPolicy === 'Min' ? -Infinity : Infinity
  for (const p of rules.policies) {
    const start = current + changeWithin(events, p.periodSeconds, now)
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100))
    result = pick(result, proposed)
  }
  return result
}

const stabilized = (desired: number, current: number): Condition =>
  desired >= current
    ? { type: 'AbleToScale', status: 'True', reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' }
    : { type: 'AbleToScale', status: 'True', reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' }

const ready: Condition = { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'recommended size matches current size' }

const withinRange = { reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' }

/**
 * With a behavior (autoscaling/v2's spec.behavior, defaulted): stabilize over both
 * windows, then limit by the policies and by min/max. Records this pass's recommendation in `history`.
 */
export function normalizeWithBehavior(
  desired: number,
  current: number,
  min: number,
  max: number,
  behavior: V2HorizontalPodAutoscalerBehavior,
  history: History,
  now: number,
): Normalized {
  const up = scaleUpRules(behavior.scaleUp)
  const down = scaleDownRules(behavior.scaleDown)
  const upCutoff = now - up.stabilizationWindowSeconds * 1000
  const downCutoff = now - down.stabilizationWindowSeconds * 1000
  let upRecommendation = desired
  let downRecommendation = desired
  let oldest = -1
  history.recommendations.forEach((r, i) => {
    if (r.at > upCutoff) upRecommendation = Math.min(upRecommendation, r.replicas)
    if (r.at > downCutoff) downRecommendation = Math.max(downRecommendation, r.replicas)
    if (r.at < upCutoff && r.at < downCutoff) oldest = i
  })
  let recommendation = current
  if (recommendation < upRecommendation) recommendation = upRecommendation
  if (recommendation > downRecommendation) recommendation = downRecommendation
  if (oldest >= 0) history.recommendations[oldest] = { at: now, replicas: desired }
  else history.recommendations.push({ at: now, replicas: desired })

  const conditions: Condition[] = [recommendation !== desired ? stabilized(desired, current) : ready]
  let limited: { replicas: number; reason: string; message: string } = { replicas: recommendation, ...withinRange }
  if (recommendation > current) {
    const limit = Math.max(scaleUpLimit(current, history.scaleUps, up, now), current)
    const ceiling = Math.min(max, limit)
    const why = max > limit ? { reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' } : { reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' }
    if (recommendation > ceiling) limited = { replicas: ceiling, ...why }
  } else if (recommendation < current) {
    const limit = Math.min(scaleDownLimit(current, history.scaleDowns, down, now), current)
    const floor = Math.max(min, limit)
    const why = min < limit ? { reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' } : { reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' }
    if (recommendation < floor) limited = { replicas: floor, ...why }
  }
  conditions.push({ type: 'ScalingLimited', status: limited.replicas === recommendation ? 'False' : 'True', reason: limited.reason, message: limited.message })
  return { replicas: limited.replicas, conditions }
}

/** Upstream's --horizontal-pod-autoscaler-downscale-stabilization (5 min): the window without a behavior. */
export const legacyDownscaleWindowMs = 5 * 60_000

/**
 * Without a behavior (upstream's normalizeDesiredReplicas): scale down no lower than the
 * highest recommendation of the last 5 minutes, scale up at most to max(2 × current, 4).
 */
export function normalizeLegacy(desired: number, current: number, min: number, max: number, history: History, now: number): Normalized {
  let recommendation = desired
  let oldest = -1
  history.recommendations.forEach((r, i) => {
    if (r.at > now - legacyDownscaleWindowMs) recommendation = Math.max(recommendation, r.replicas)
    else oldest = i
  })
  if (oldest >= 0) history.recommendations[oldest] = { at: now, replicas: desired }
  else history.recommendations.push({ at: now, replicas: desired })
  const conditions: Condition[] = [recommendation !== desired ? stabilized(desired, current) : ready]
  const upLimit = Math.max(2 * current, 4)
  const [ceiling, ceilingWhy] = max > upLimit
    ? [upLimit, { reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' }]
    : [max, { reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' }]
  let limited: { replicas: number; reason: string; message: string } = { replicas: recommendation, ...withinRange }
  if (recommendation < min) limited = { replicas: min, reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' }
  else if (recommendation > ceiling) limited = { replicas: ceiling, ...ceilingWhy }
  conditions.push({ type: 'ScalingLimited', status: limited.replicas === recommendation ? 'False' : 'True', reason: limited.reason, message: limited.message })
  return { replicas: limited.replicas, conditions }
}

/** Forgets scale events older than the longest policy period (upstream's markScaleEventsOutdated). */
export function recordScale(history: History, from: number, to: number, behavior: V2HorizontalPodAutoscalerBehavior | undefined, now: number): void {
  const keepMs = (rules: { policies: { periodSeconds: number }[] }) => Math.max(0, ...rules.policies.map((p) => p.periodSeconds)) * 1000
  history.scaleUps = history.scaleUps.filter((e) => e.at > now - keepMs(scaleUpRules(behavior?.scaleUp)))
  history.scaleDowns = history.scaleDowns.filter((e) => e.at > now - keepMs(scaleDownRules(behavior?.scaleDown)))
  if (to > from) history.scaleUps.push({ at: now, change: to - from })
  else if (to < from) history.scaleDowns.push({ at: now, change: from - to })
}
