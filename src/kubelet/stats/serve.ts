// The kubelet's `GET /stats/summary` (upstream pkg/kubelet/server/stats handleSummary):
// the Summary as JSON; `?only_cpu_and_memory=true` (given once, spelled exactly so, as
// upstream reads it) keeps only the CPU and memory figures, what metrics-server asks for.
import type { ContainerStats, CpuStats, MemoryStats, NodeStats, PodStats, Summary } from './summary.ts'

/** The kubelet cannot measure (no cgroup collector, cgroups unreadable): answered 503. */
export class StatsUnavailableError extends Error {}

export interface SummaryRequest {
  onlyCpuAndMemory: boolean
}

export function parseSummaryRequest(query: URLSearchParams): SummaryRequest {
  const values = query.getAll('only_cpu_and_memory')
  return { onlyCpuAndMemory: values.length === 1 && values[0] === 'true' }
}

function cpu(s: CpuStats | undefined): CpuStats | undefined {
  return s && { time: s.time, usageNanoCores: s.usageNanoCores, usageCoreNanoSeconds: s.usageCoreNanoSeconds }
}

function memory(s: MemoryStats | undefined): MemoryStats | undefined {
  return (
    s && {
      time: s.time,
      availableBytes: s.availableBytes,
      usageBytes: s.usageBytes,
      workingSetBytes: s.workingSetBytes,
      rssBytes: s.rssBytes,
      pageFaults: s.pageFaults,
      majorPageFaults: s.majorPageFaults,
    }
  )
}

function container(c: ContainerStats): ContainerStats {
  return { name: c.name, startTime: c.startTime, cpu: cpu(c.cpu), memory: memory(c.memory) }
}

function pod(p: PodStats): PodStats {
  return { podRef: { name: p.podRef.name, namespace: p.podRef.namespace, uid: p.podRef.uid }, startTime: p.startTime, containers: p.containers.map(container), cpu: cpu(p.cpu), memory: memory(p.memory) }
}

function node(n: NodeStats): NodeStats {
  return { nodeName: n.nodeName, startTime: n.startTime, cpu: cpu(n.cpu), memory: memory(n.memory) }
}

/** The summary with nothing but names, start times, CPU and memory (upstream's GetCPUAndMemoryStats). */
export function cpuAndMemoryOnly(s: Summary): Summary {
  return { node: node(s.node), pods: s.pods.map(pod) }
}
