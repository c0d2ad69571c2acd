// The /stats/summary document from the cgroups: the node (root cgroups), each pod (its
// cgroup) and container (theirs). CPU rates come from two samples per cgroup, taken every
// 10 s in the background as cadvisor's housekeeping does, and on demand when the last one
// is older than that.
import type { CgroupManager } from '../cgroups/manager.ts'
import type { CgroupUsage } from '../cgroups/usage.ts'
import type { ContainerStats, CpuStats, MemoryStats, PodStats, Summary } from './summary.ts'

export interface StatsPod {
  uid: string
  name: string
  namespace: string
  startTime: string
  containers: Array<{ name: string; startTime: string }>
}

export interface StatsCollectorOptions {
  nodeName: string
  /** When the node (agent) started, RFC 3339. */
  nodeStartTime: string
  cgroups: CgroupManager
  /** The pods running on the node. */
  pods: () => StatsPod[]
  intervalMs?: number
  /** Milliseconds, monotonic enough for rates (default: performance.now based wall clock). */
  now?: () => number
}

interface Sample {
  atMs: number
  usage: CgroupUsage
}

const NODE = '/'

export class StatsCollector {
  readonly #o: StatsCollectorOptions
  /** The last two samples of each cgroup path. */
  readonly #samples = new Map<string, { prev?: Sample; last: Sample }>()
  #lastRoundMs = -Infinity
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | undefined

  constructor(options: StatsCollectorOptions) {
    this.#o = options
  }

  #now(): number {
    return (this.#o.now ?? (() => performance.timeOrigin + performance.now()))()
  }

  start(): void {
    const every = this.#o.intervalMs ?? 10_000
    void this.sample()
    this.#timer = setInterval(() => void this.sample(), every)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** Reads every cgroup once (concurrent callers share one round). */
  sample(): Promise<void> {
    this.#round ??= this.#sample().finally(() => (this.#round = undefined))
    return this.#round
  }

  async #paths(): Promise<Map<string, string>> {
    const paths = new Map<string, string>([[NODE, NODE]])
    for (const pod of this.#o.pods()) {
      const path = await this.#o.cgroups.findPod(pod.uid)
      if (path === undefined) continue
      paths.set(pod.uid, path)
      for (const c of pod.containers) paths.set(`${pod.uid}/${c.name}`, this.#o.cgroups.containerPath(path, c.name))
    }
    return paths
  }

  async #sample(): Promise<void> {
    const paths = await this.#paths()
    const seen = new Set<string>()
    for (const path of paths.values()) {
      seen.add(path)
      const usage = path === NODE ? await this.#nodeUsage() : await this.#o.cgroups.usage(path)
      const atMs = this.#now()
      const before = this.#samples.get(path)
      this.#samples.set(path, { ...(before ? { prev: before.last } : {}), last: { atMs, usage } })
    }
    for (const path of this.#samples.keys()) if (!seen.has(path)) this.#samples.delete(path)
    this.#lastRoundMs = this.#now()
  }

  async #nodeUsage(): Promise<CgroupUsage> {
    const root = await this.#o.cgroups.usage(NODE)
    const memory = await this.#o.cgroups.nodeMemory()
    return { ...root, workingSetBytes: memory.workingSetBytes, memoryLimitBytes: memory.capacityBytes, memoryUsageBytes: root.memoryUsageBytes ?? memory.workingSetBytes }
  }

  #stats(path: string | undefined, node = false): { cpu?: CpuStats; memory?: MemoryStats } {
    const s = path === undefined ? undefined : this.#samples.get(path)
    if (!s) return {}
    const time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
    const u = s.last.usage
    const cpu: CpuStats = { time }
    if (u.cpuUsageNs !== undefined) {
      cpu.usageCoreNanoSeconds = u.cpuUsageNs
      const p = s.prev
      if (p?.usage.cpuUsageNs !== undefined && s.last.atMs > p.atMs) {
        cpu.usageNanoCores = Math.max(0, Math.round(((u.cpuUsageNs - p.usage.cpuUsageNs) / ((s.last.atMs - p.atMs) * 1e6)) * 1e9))
      }
    }
    const memory: MemoryStats = { time }
    if (u.memoryUsageBytes !== undefined) memory.usageBytes = u.memoryUsageBytes
    if (u.workingSetBytes !== undefined) memory.workingSetBytes = u.workingSetBytes
    if (u.rssBytes !== undefined) memory.rssBytes = u.rssBytes
    if (u.pageFaults !== undefined) memory.pageFaults = u.pageFaults
    if (u.majorPageFaults !== undefined) memory.majorPageFaults = u.majorPageFaults
    // Upstream: available = limit − working set, where there is a limit (for the node: its capacity).
    if (u.memoryLimitBytes !== undefined && u.workingSetBytes !== undefined && (node || u.memoryLimitBytes < Number.MAX_SAFE_INTEGER)) memory.availableBytes = Math.max(0, u.memoryLimitBytes - u.workingSetBytes)
    return { cpu, memory }
  }

  /** The summary, sampling first when the last round is older than the interval or a cgroup has no sample yet. */
  async summary(): Promise<Summary> {
    let paths = await this.#paths()
    const stale = this.#now() - this.#lastRoundMs >= (this.#o.intervalMs ?? 10_000)
    if (stale || [...paths.values()].some((p) => !this.#samples.has(p))) {
      await this.sample()
      paths = await this.#paths()
    }
    const pods: PodStats[] = this.#o.pods().map((pod) => {
      const containers: ContainerStats[] = pod.containers.map((c) => ({ name: c.name, startTime: c.startTime, ...this.#stats(paths.get(`${pod.uid}/${c.name}`)) }))
      return { podRef: { name: pod.name, namespace: pod.namespace, uid: pod.uid }, startTime: pod.startTime, containers, ...this.#stats(paths.get(pod.uid)) }
    })
    return { node: { nodeName: this.#o.nodeName, startTime: this.#o.nodeStartTime, ...this.#stats(NODE, true) }, pods }
  }
}
