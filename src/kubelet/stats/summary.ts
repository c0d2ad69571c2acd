// The kubelet's `/stats/summary` document (upstream's stats/v1alpha1 Summary), the part of
// it that metrics-server and `kubectl top` read: CPU and memory of the node, its pods and
// their containers. Times are RFC 3339; CPU usage is cumulative core-nanoseconds plus the
// rate (nano-cores) over the last sampling window.

export interface CpuStats {
  time: string
  usageNanoCores?: number
  usageCoreNanoSeconds?: number
}

export interface MemoryStats {
  time: string
  availableBytes?: number
  usageBytes?: number
  workingSetBytes?: number
  rssBytes?: number
  pageFaults?: number
  majorPageFaults?: number
}

export interface ContainerStats {
  name: string
  startTime: string
  cpu?: CpuStats
  memory?: MemoryStats
}

export interface PodStats {
  podRef: { name: string; namespace: string; uid: string }
  startTime: string
  containers: ContainerStats[]
  cpu?: CpuStats
  memory?: MemoryStats
}

export interface NodeStats {
  nodeName: string
  startTime: string
  cpu?: CpuStats
  memory?: MemoryStats
}

export interface Summary {
  node: NodeStats
  pods: PodStats[]
}
