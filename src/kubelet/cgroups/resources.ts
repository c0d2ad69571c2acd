// Pod and container resources → cgroup settings, as upstream's kubelet computes them
// (pkg/kubelet/cm/helpers_linux.go: MilliCPUToShares, MilliCPUToQuota, ResourceConfigForPod;
// kuberuntime's container resources; cgroup_manager_linux.go for the v2 files). Pure.
import { isQuantity, parseQuantityMilli, parseQuantityValue } from '../../api/quantity.ts'
import { podQOSClass } from '../../api/qos.ts'

export const MIN_SHARES = 2
export const MAX_SHARES = 262144
export const SHARES_PER_CPU = 1024
export const QUOTA_PERIOD_US = 100_000
export const MIN_QUOTA_PERIOD_US = 1000

/** What a cgroup is set to; a field left out is not written. -1 means unlimited. */
export interface ResourceConfig {
  cpuShares?: number
  /** Microseconds per period; -1: no quota. */
  cpuQuota?: number
  cpuPeriod?: number
  /** Bytes; -1: no limit. */
  memoryLimit?: number
  /** -1: no limit. */
  pidsLimit?: number
}

export type Controller = 'cpu' | 'cpuacct' | 'memory' | 'pids'

export interface CgroupWrite {
  controller: Controller
  file: string
  value: string
}

export function milliCPUToShares(milliCPU: number): number {
  if (milliCPU === 0) return MIN_SHARES
  const shares = Math.floor((milliCPU * SHARES_PER_CPU) / 1000)
  return Math.min(Math.max(shares, MIN_SHARES), MAX_SHARES)
}

/** 0 (no limit) stays 0: the caller leaves the quota unset. */
export function milliCPUToQuota(milliCPU: number, periodUs = QUOTA_PERIOD_US): number {
  if (milliCPU === 0) return 0
  return Math.max(Math.floor((milliCPU * periodUs) / 1000), MIN_QUOTA_PERIOD_US)
}

/** cgroup v1 cpu.shares → v2 cpu.weight (KEP 2254's linear mapping, as the kubelet). */
export function sharesToWeight(shares: number): number {
  return Math.floor(((shares - 2) * 9999) / 262142) + 1
}

interface Resources {
  requests?: Record<string, unknown>
  limits?: Record<string, unknown>
}
export interface ContainerLike {
  name?: string
  resources?: Resources
  restartPolicy?: string
}
export interface PodSpecLike {
  containers?: ContainerLike[]
  initContainers?: ContainerLike[]
  overhead?: Record<string, unknown>
}

function quantity(v: unknown, unit: 'milli' | 'value'): number | undefined {
  if ((typeof v !== 'string' && typeof v !== 'number') || !isQuantity(v)) return undefined
  return unit === 'milli' ? parseQuantityMilli(v) : parseQuantityValue(v)
}

/** A container's limit, and its request (defaulted to the limit, as the API server does). */
export function containerResource(c: ContainerLike, resource: 'cpu' | 'memory'): { request: number; limit?: number } {
  const unit = resource === 'cpu' ? 'milli' : 'value'
  const limit = quantity(c.resources?.limits?.[resource], unit)
  const request = quantity(c.resources?.requests?.[resource], unit) ?? limit ?? 0
  return { request, ...(limit !== undefined ? { limit } : {}) }
}

/** A container's own cgroup (kuberuntime's generateLinuxContainerResources). */
export function containerResourceConfig(c: ContainerLike): ResourceConfig {
  const cpu = containerResource(c, 'cpu')
  const memory = containerResource(c, 'memory')
  const cpuLimit = cpu.limit ?? 0
  // No request but a limit: the shares follow the limit.
  const shares = milliCPUToShares(cpu.request === 0 && cpuLimit !== 0 ? cpuLimit : cpu.request)
  const quota = milliCPUToQuota(cpuLimit)
  return {
    cpuShares: shares,
    cpuQuota: quota === 0 ? -1 : quota,
    cpuPeriod: QUOTA_PERIOD_US,
    memoryLimit: memory.limit !== undefined && memory.limit > 0 ? memory.limit : -1,
  }
}

/**
 * The pod's requests or limits of one resource as upstream's PodRequests/PodLimits: the sum
 * over app containers (and restartable init containers), at least the largest of the init
 * containers that run alone, plus the pod overhead.
 */
function podTotal(spec: PodSpecLike, resource: 'cpu' | 'memory', which: 'request' | 'limit'): number {
  const of = (c: ContainerLike) => {
    const r = containerResource(c, resource)
    return which === 'request' ? r.request : (r.limit ?? 0)
  }
  let sum = 0
  for (const c of spec.containers ?? []) sum += of(c)
  let sidecars = 0
  let initMax = 0
  for (const c of spec.initContainers ?? []) {
    if (c.restartPolicy === 'Always') {
      sidecars += of(c)
      sum += of(c)
    } else {
      initMax = Math.max(initMax, sidecars + of(c))
    }
  }
  const overhead = quantity(spec.overhead?.[resource], resource === 'cpu' ? 'milli' : 'value') ?? 0
  return Math.max(sum, initMax) + overhead
}

/** The pod's summed request of one resource (milli-CPU or bytes), as the scheduler and kubelet count it. */
export function podRequest(spec: PodSpecLike, resource: 'cpu' | 'memory'): number {
  return podTotal(spec, resource, 'request')
}

function allDeclare(spec: PodSpecLike, resource: 'cpu' | 'memory'): boolean {
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])]
  return all.every((c) => (containerResource(c, resource).limit ?? 0) > 0)
}

/** The pod cgroup's settings (upstream's ResourceConfigForPod) plus its pids limit. */
export function podResourceConfig(spec: PodSpecLike, podPidsLimit = -1): ResourceConfig {
  const qos = podQOSClass(spec as Parameters<typeof podQOSClass>[0])
  const pids = { pidsLimit: podPidsLimit > 0 ? podPidsLimit : -1 }
  if (qos === 'BestEffort') return { cpuShares: MIN_SHARES, ...pids }
  const cpuShares = milliCPUToShares(podTotal(spec, 'cpu', 'request'))
  const cpuQuota = milliCPUToQuota(podTotal(spec, 'cpu', 'limit'))
  const memoryLimit = podTotal(spec, 'memory', 'limit')
  const cpuLimited = qos === 'Guaranteed' || allDeclare(spec, 'cpu')
  const memoryLimited = qos === 'Guaranteed' || allDeclare(spec, 'memory')
  return {
    cpuShares,
    ...(cpuLimited ? { cpuQuota: cpuQuota === 0 ? -1 : cpuQuota, cpuPeriod: QUOTA_PERIOD_US } : {}),
    ...(memoryLimited ? { memoryLimit: memoryLimit > 0 ? memoryLimit : -1 } : {}),
    ...pids,
  }
}

/** The files a ResourceConfig becomes, in the order they are written. */
export function cgroupWrites(version: 1 | 2, config: ResourceConfig): CgroupWrite[] {
  const out: CgroupWrite[] = []
  const period = config.cpuPeriod ?? QUOTA_PERIOD_US
  if (version === 1) {
    if (config.cpuShares !== undefined) out.push({ controller: 'cpu', file: 'cpu.shares', value: String(config.cpuShares) })
    if (config.cpuQuota !== undefined) {
      out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(period) })
      out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(config.cpuQuota) })
    }
    if (config.memoryLimit !== undefined) out.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(config.memoryLimit) })
  } else {
    if (config.cpuShares !== undefined) out.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(config.cpuShares)) })
    if (config.cpuQuota !== undefined) out.push({ controller: 'cpu', file: 'cpu.max', value: `${config.cpuQuota < 0 ? 'max' : config.cpuQuota} ${period}` })
    if (config.memoryLimit !== undefined) out.push({ controller: 'memory', file: 'memory.max', value: config.memoryLimit < 0 ? 'max' : String(config.memoryLimit) })
  }
  if (config.pidsLimit !== undefined) out.push({ controller: 'pids', file: 'pids.max', value: config.pidsLimit < 0 ? 'max' : String(config.pidsLimit) })
  return out
}
