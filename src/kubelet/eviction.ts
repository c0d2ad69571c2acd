// The eviction manager (upstream pkg/kubelet/eviction) for memory: every interval it
// observes memory.available = capacity − working set of "the node" (an injectable
// source: the root cgroup or /proc/meminfo in production), and while a hard threshold is
// met it fails one pod per interval, chosen as upstream ranks them under memory pressure,
// with reason Evicted and upstream's message. MemoryPressure lasts while the threshold is
// met and for the pressure transition period after.
import type { V1Container, V1Pod } from '@kubernetes/client-node'
import { podRequest } from './cgroups/resources.ts'
import { formatBinaryQuantity, thresholdValue, type EvictionThreshold } from './eviction-thresholds.ts'

export const EVICTED_REASON = 'Evicted'
/** scheduling.SystemCriticalPriority: pods at or above it are never evicted. */
export const SYSTEM_CRITICAL_PRIORITY = 2_000_000_000

export interface PodMemoryUsage {
  pod: V1Pod
  /** Working set of each container; a pod without stats has none. */
  containers?: Array<{ name: string; workingSetBytes: number }>
}

export interface NodeMemory {
  capacityBytes: number
  workingSetBytes: number
}

function podUsage(p: PodMemoryUsage): number | undefined {
  return p.containers?.reduce((sum, c) => sum + c.workingSetBytes, 0)
}

function memoryRequest(pod: V1Pod): number {
  return podRequest(pod.spec ?? {}, 'memory')
}

function cmpBool(a: boolean, b: boolean): number {
  if (a === b) return 0
  return b ? 1 : -1
}

/** rankMemoryPressure: no stats first, then usage above requests, then lower priority, then most memory above its request. */
export function rankForMemory(pods: readonly PodMemoryUsage[]): PodMemoryUsage[] {
  const cmps: Array<(a: PodMemoryUsage, b: PodMemoryUsage) => number> = [
    (a, b) => {
      const ua = podUsage(a)
      const ub = podUsage(b)
      if (ua === undefined || ub === undefined) return cmpBool(ua === undefined, ub === undefined)
      return cmpBool(ua > memoryRequest(a.pod), ub > memoryRequest(b.pod))
    },
    (a, b) => Math.sign((a.pod.spec?.priority ?? 0) - (b.pod.spec?.priority ?? 0)),
    (a, b) => {
      const ua = podUsage(a)
      const ub = podUsage(b)
      if (ua === undefined || ub === undefined) return cmpBool(ua === undefined, ub === undefined)
      return Math.sign(ub - memoryRequest(b.pod) - (ua - memoryRequest(a.pod)))
    },
  ]
  return [...pods].sort((a, b) => {
    for (const cmp of cmps) {
      const r = cmp(a, b)
      if (r !== 0) return r
    }
    return 0
  })
}

/** kubelettypes.IsCriticalPod: static and mirror pods, and pods of system-critical priority. */
export function isCriticalPod(pod: V1Pod): boolean {
  const a = pod.metadata?.annotations ?? {}
  const source = a['kubernetes.io/config.source']
  if ((source !== undefined && source !== 'api') || a['kubernetes.io/config.mirror'] !== undefined) return true
  return (pod.spec?.priority ?? 0) >= SYSTEM_CRITICAL_PRIORITY
}

function containerRequestText(c: V1Container): string {
  const r = c.resources?.requests?.memory ?? c.resources?.limits?.memory
  return r === undefined ? '0' : String(r)
}

/** upstream's evictionMessage for memory: the node, the threshold met, and each container above its request. */
export function evictionMessage(p: PodMemoryUsage, threshold: EvictionThreshold, capacityBytes: number, availableBytes: number): string {
  let message = `The node was low on resource: memory. Threshold quantity: ${threshold.quantity !== undefined ? threshold.text : formatBinaryQuantity(thresholdValue(threshold, capacityBytes))}, available: ${formatBinaryQuantity(availableBytes)}. `
  for (const c of p.pod.spec?.containers ?? []) {
    const usage = p.containers?.find((u) => u.name === c.name)?.workingSetBytes
    if (usage === undefined) continue
    const request = podRequest({ containers: [c] }, 'memory')
    if (usage > request) message += `Container ${c.name} was using ${formatBinaryQuantity(usage)}, request is ${containerRequestText(c)}, has larger consumption of memory. `
  }
  return message
}

export interface EvictionManagerOptions {
  thresholds: readonly EvictionThreshold[]
  /** "The node": capacity and working set, bytes. */
  memory: () => Promise<NodeMemory>
  /** The active pods with their containers' working sets. */
  pods: () => Promise<PodMemoryUsage[]>
  /** Fails the pod (phase Failed, reason Evicted, this message) and kills its containers. */
  evict: (pod: V1Pod, message: string) => Promise<void>
  /** Default 10 s, as upstream's monitoring interval. */
  intervalMs?: number
  /** How long MemoryPressure stays after the threshold is no longer met (default 5 min). */
  pressureTransitionMs?: number
  /** Called when the MemoryPressure condition changes. */
  onPressureChange?: (pressure: boolean) => void
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void }
  now?: () => number
}

export class EvictionManager {
  readonly #o: EvictionManagerOptions
  #timer: NodeJS.Timeout | undefined
  #lastMetAt: number | undefined
  #pressure = false
  #running = false

  constructor(options: EvictionManagerOptions) {
    this.#o = options
  }

  get memoryPressure(): boolean {
    return this.#pressure
  }

  start(): void {
    const tick = async () => {
      await this.synchronize().catch((err: unknown) => this.#o.log?.warn({ err }, 'eviction manager: synchronize failed'))
      this.#timer = setTimeout(tick, this.#o.intervalMs ?? 10_000)
    }
    this.#timer = setTimeout(tick, 0)
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** One round: observe, update MemoryPressure, evict at most one pod. Returns the evicted pod. */
  async synchronize(): Promise<V1Pod | undefined> {
    if (this.#running) return undefined
    this.#running = true
    try {
      return await this.#synchronize()
    } finally {
      this.#running = false
    }
  }

  async #synchronize(): Promise<V1Pod | undefined> {
    const threshold = this.#o.thresholds.find((t) => t.signal === 'memory.available')
    if (!threshold) return undefined
    const now = (this.#o.now ?? Date.now)()
    const node = await this.#o.memory()
    const available = node.capacityBytes - node.workingSetBytes
    const met = available < thresholdValue(threshold, node.capacityBytes)
    if (met) this.#lastMetAt = now
    const pressure = met || (this.#lastMetAt !== undefined && now - this.#lastMetAt < (this.#o.pressureTransitionMs ?? 5 * 60_000))
    if (pressure !== this.#pressure) {
      this.#pressure = pressure
      this.#o.log?.info({ pressure, availableBytes: available }, pressure ? 'node memory pressure' : 'node memory pressure is over')
      this.#o.onPressureChange?.(pressure)
    }
    if (!met) return undefined
    const candidates = (await this.#o.pods()).filter((p) => !isCriticalPod(p.pod))
    const victim = rankForMemory(candidates)[0]
    if (!victim) {
      this.#o.log?.warn({ availableBytes: available }, 'eviction manager: memory.available is below the threshold and no pod can be evicted')
      return undefined
    }
    const message = evictionMessage(victim, threshold, node.capacityBytes, available)
    this.#o.log?.info({ pod: `${victim.pod.metadata?.namespace}/${victim.pod.metadata?.name}`, message }, 'evicting pod')
    await this.#o.evict(victim.pod, message)
    return victim.pod
  }
}
