// Kubelet summaries → NodeMetrics and PodMetrics, as metrics-server builds them: CPU from
// the kubelet's rate (usageNanoCores), memory from the working set, the timestamp of the
// CPU sample (a pod's earliest container's), the window the rate was taken over. A node or
// pod with a figure missing is left out, never shown as zero.
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import type { ContainerStats, CpuStats, MemoryStats, PodStats, Summary } from '../kubelet/stats/summary.ts'
import { cpuQuantity, goDuration, memoryQuantity } from './metrics-api-format.ts'

export interface Usage {
  cpu: string
  memory: string
}

export interface MetricsMeta {
  name: string
  namespace?: string
  creationTimestamp: string
  labels?: Record<string, string>
}

export interface NodeMetrics {
  metadata: MetricsMeta
  timestamp: string
  window: string
  usage: Usage
}

export interface ContainerMetrics {
  name: string
  usage: Usage
}

export interface PodMetrics {
  metadata: MetricsMeta
  timestamp: string
  window: string
  containers: ContainerMetrics[]
}

export interface ConvertOptions {
  /** The sampling window the kubelet's rates are taken over. */
  windowMs: number
  now: Date
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function sampleTime(cpu: CpuStats | undefined): number | undefined {
  const t = cpu ? Date.parse(cpu.time) : NaN
  return Number.isFinite(t) ? t : undefined
}

function usageOf(cpu: CpuStats | undefined, memory: MemoryStats | undefined): Usage | undefined {
  if (cpu?.usageNanoCores === undefined || memory?.workingSetBytes === undefined) return undefined
  return { cpu: cpuQuantity(cpu.usageNanoCores), memory: memoryQuantity(memory.workingSetBytes) }
}

function meta(obj: V1Node | V1Pod, now: Date): MetricsMeta {
  const m = obj.metadata ?? {}
  return {
    name: m.name ?? '',
    ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
    creationTimestamp: rfc3339(now.getTime()),
    ...(m.labels && Object.keys(m.labels).length ? { labels: { ...m.labels } } : {}),
  }
}

export function nodeMetrics(node: V1Node, summary: Summary | undefined, opts: ConvertOptions): NodeMetrics | undefined {
  if (!summary || summary.node.nodeName !== node.metadata?.name) return undefined
  const usage = usageOf(summary.node.cpu, summary.node.memory)
  const at = sampleTime(summary.node.cpu)
  if (!usage || at === undefined) return undefined
  return { metadata: meta(node, opts.now), timestamp: rfc3339(at), window: goDuration(opts.windowMs), usage }
}

function containerMetrics(c: ContainerStats): { metrics: ContainerMetrics; at: number } | undefined {
  const usage = usageOf(c.cpu, c.memory)
  const at = sampleTime(c.cpu)
  return usage && at !== undefined ? { metrics: { name: c.name, usage }, at } : undefined
}

export function podMetrics(pod: V1Pod, stats: PodStats | undefined, opts: ConvertOptions): PodMetrics | undefined {
  if (!stats || stats.containers.length === 0) return undefined
  const containers: ContainerMetrics[] = []
  let earliest = Infinity
  for (const c of stats.containers) {
    const m = containerMetrics(c)
    // As metrics-server: a pod with any container unmeasured is not reported at all.
    if (!m) return undefined
    containers.push(m.metrics)
    earliest = Math.min(earliest, m.at)
  }
  return { metadata: meta(pod, opts.now), timestamp: rfc3339(earliest), window: goDuration(opts.windowMs), containers }
}

/**
 * The stats of a pod from its node's summary: matched by namespace and name and, when both
 * say, by UID (a pod deleted and made again under the same name is a different pod).
 */
export function podStatsOf(pod: V1Pod, summaries: ReadonlyMap<string, Summary>): PodStats | undefined {
  const summary = summaries.get(pod.spec?.nodeName ?? '')
  const { namespace, name, uid } = pod.metadata ?? {}
  return summary?.pods.find((p) => p.podRef.namespace === namespace && p.podRef.name === name && (!p.podRef.uid || !uid || p.podRef.uid === uid))
}
