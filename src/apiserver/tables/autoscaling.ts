// HorizontalPodAutoscaler columns, as upstream's printHorizontalPodAutoscaler: the target,
// each metric as current/target, the bounds and the replicas.
import type { V2HorizontalPodAutoscaler, V2MetricSpec, V2MetricStatus } from '@kubernetes/client-node'
import { ageColumn, col, nameColumn, since } from './format.ts'
import type { Printer } from './format.ts'

/** `cpu: 42%/50%`, `memory: 300Mi/100Mi`, `<unknown>` where nothing was measured yet. */
function metricCell(spec: V2MetricSpec, statuses: V2MetricStatus[]): string {
  const source = spec.type === 'Resource' ? spec.resource : spec.type === 'ContainerResource' ? spec.containerResource : undefined
  if (source) {
    const current = statuses.find((s) => s.type === spec.type && (s.resource?.name === source.name || s.containerResource?.name === source.name))
    const now = current?.resource?.current ?? current?.containerResource?.current
    const prefix = spec.type === 'ContainerResource' ? `${source.name} of container "${(source as { container: string }).container}"` : source.name
    if (source.target.type === 'Utilization') {
      return `${prefix}: ${now?.averageUtilization !== undefined ? `${now.averageUtilization}%` : '<unknown>'}/${source.target.averageUtilization}%`
    }
    return `${prefix}: ${now?.averageValue ?? '<unknown>'}/${source.target.averageValue}`
  }
  const target = spec.pods?.target ?? spec.object?.target ?? spec.external?.target
  const wanted = target?.averageValue ?? target?.value ?? ''
  return `<unknown>/${wanted}${target?.type === 'AverageValue' ? ' (avg)' : ''}`
}

/** Two at most, then how many more (upstream's formatHPAMetrics). */
function targets(cells: string[]): string {
  if (cells.length === 0) return '<none>'
  const shown = cells.slice(0, 2).join(', ')
  return cells.length > 2 ? `${shown} + ${cells.length - 2} more...` : shown
}

export const horizontalPodAutoscalerPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Reference', 'string', 'reference to the target resource that should be autoscaled'),
    col('Targets', 'string', 'the current and target metric values'),
    col('MinPods', 'string', 'the lower limit for the number of replicas to which the autoscaler can scale down'),
    col('MaxPods', 'integer', 'the upper limit for the number of pods that can be set by the autoscaler'),
    col('Replicas', 'integer', 'current number of replicas of pods managed by this autoscaler'),
    ageColumn(),
  ],
  row(obj, now) {
    const hpa = obj as V2HorizontalPodAutoscaler
    const ref = hpa.spec?.scaleTargetRef
    const statuses = hpa.status?.currentMetrics ?? []
    const metrics = hpa.spec?.metrics ?? []
    return {
      cells: [
        hpa.metadata?.name ?? '',
        `${ref?.kind ?? ''}/${ref?.name ?? ''}`,
        targets(metrics.map((m) => metricCell(m, statuses))),
        hpa.spec?.minReplicas !== undefined ? String(hpa.spec.minReplicas) : '<unset>',
        hpa.spec?.maxReplicas ?? 0,
        hpa.status?.currentReplicas ?? 0,
        since(hpa.metadata?.creationTimestamp, now),
      ],
    }
  },
}
