// autoscaling/v1 HorizontalPodAutoscaler ⇄ autoscaling/v2 (stored), as upstream converts
// them: v1 knows only a CPU utilization target; whatever else v2 holds (other metrics, the
// behavior, current metrics, conditions) rides along in annotations, so a round trip
// through v1 loses nothing.
type Obj = Record<string, any>

export const METRICS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/metrics'
export const CURRENT_METRICS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/current-metrics'
export const CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions'
export const BEHAVIOR_ANNOTATION = 'autoscaling.alpha.kubernetes.io/behavior'

const isCpuUtilization = (m: Obj) => m?.type === 'Resource' && m.resource?.name === 'cpu' && m.resource?.target?.type === 'Utilization'

function parsed(annotations: Obj, key: string): unknown {
  const text = annotations[key]
  if (typeof text !== 'string') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export function hpaToV2(v1: Obj): Obj {
  const annotations: Obj = { ...(v1.metadata?.annotations ?? {}) }
  const extraMetrics = parsed(annotations, METRICS_ANNOTATION)
  const currentMetrics = parsed(annotations, CURRENT_METRICS_ANNOTATION)
  const conditions = parsed(annotations, CONDITIONS_ANNOTATION)
  const behavior = parsed(annotations, BEHAVIOR_ANNOTATION)
  for (const key of [METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION]) delete annotations[key]
  const metadata = { ...(v1.metadata ?? {}) }
  if (Object.keys(annotations).length) metadata.annotations = annotations
  else delete metadata.annotations
  const spec = v1.spec ?? {}
  const metrics: Obj[] = []
  if (spec.targetCPUUtilizationPercentage !== undefined && spec.targetCPUUtilizationPercentage !== null) {
    metrics.push({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: spec.targetCPUUtilizationPercentage } } })
  }
  if (Array.isArray(extraMetrics)) metrics.push(...extraMetrics)
  const out: Obj = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata,
    spec: {
      scaleTargetRef: spec.scaleTargetRef,
      ...(spec.minReplicas !== undefined ? { minReplicas: spec.minReplicas } : {}),
      maxReplicas: spec.maxReplicas,
      ...(metrics.length ? { metrics } : {}),
      ...(behavior ? { behavior } : {}),
    },
  }
  const status = v1.status
  if (status) {
    const current: Obj[] = []
    if (status.currentCPUUtilizationPercentage !== undefined && status.currentCPUUtilizationPercentage !== null) {
      current.push({ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: status.currentCPUUtilizationPercentage } } })
    }
    if (Array.isArray(currentMetrics)) current.push(...currentMetrics)
    out.status = {
      ...(status.observedGeneration !== undefined ? { observedGeneration: status.observedGeneration } : {}),
      ...(status.lastScaleTime ? { lastScaleTime: status.lastScaleTime } : {}),
      currentReplicas: status.currentReplicas ?? 0,
      desiredReplicas: status.desiredReplicas ?? 0,
      ...(current.length ? { currentMetrics: current } : {}),
      ...(Array.isArray(conditions) ? { conditions } : {}),
    }
  }
  return out
}

export function hpaToV1(v2: Obj): Obj {
  const spec = v2.spec ?? {}
  const metrics: Obj[] = spec.metrics ?? []
  const cpu = metrics.find(isCpuUtilization)
  const others = metrics.filter((m) => m !== cpu)
  const annotations: Obj = { ...(v2.metadata?.annotations ?? {}) }
  if (others.length) annotations[METRICS_ANNOTATION] = JSON.stringify(others)
  if (spec.behavior) annotations[BEHAVIOR_ANNOTATION] = JSON.stringify(spec.behavior)
  const status = v2.status
  const current: Obj[] = status?.currentMetrics ?? []
  const currentCpu = current.find((m) => m?.type === 'Resource' && m.resource?.name === 'cpu' && m.resource?.current?.averageUtilization !== undefined)
  const otherCurrent = current.filter((m) => m !== currentCpu)
  if (otherCurrent.length) annotations[CURRENT_METRICS_ANNOTATION] = JSON.stringify(otherCurrent)
  if (status?.conditions?.length) annotations[CONDITIONS_ANNOTATION] = JSON.stringify(status.conditions)
  const metadata = { ...(v2.metadata ?? {}) }
  if (Object.keys(annotations).length) metadata.annotations = annotations
  const out: Obj = {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata,
    spec: {
      scaleTargetRef: spec.scaleTargetRef,
      ...(spec.minReplicas !== undefined ? { minReplicas: spec.minReplicas } : {}),
      maxReplicas: spec.maxReplicas,
      ...(cpu ? { targetCPUUtilizationPercentage: cpu.resource.target.averageUtilization } : {}),
    },
  }
  if (status) {
    out.status = {
      ...(status.observedGeneration !== undefined ? { observedGeneration: status.observedGeneration } : {}),
      ...(status.lastScaleTime ? { lastScaleTime: status.lastScaleTime } : {}),
      currentReplicas: status.currentReplicas ?? 0,
      desiredReplicas: status.desiredReplicas ?? 0,
      ...(currentCpu ? { currentCPUUtilizationPercentage: currentCpu.resource.current.averageUtilization } : {}),
    }
  }
  return out
}
