// Node allocatable (upstream's node allocatable KEP): capacity − system reserved − the
// hard eviction threshold (memory.available only), each at least 0. `--system-reserved`
// takes upstream's syntax, `cpu=500m,memory=1Gi,pid=1000` (`pids` is taken as `pid`).
import { isQuantity, parseQuantityMilli, parseQuantityValue } from '../../api/quantity.ts'
import { thresholdValue, type EvictionThreshold } from '../eviction-thresholds.ts'

export interface Reserved {
  cpuMilli?: number
  memoryBytes?: number
  pids?: number
  ephemeralStorageBytes?: number
}

export function parseReserved(flag: string, value: string): Reserved {
  const out: Reserved = {}
  if (value.trim() === '') return out
  for (const part of value.split(',')) {
    const [rawKey, amount, extra] = part.trim().split('=')
    const key = rawKey === 'pids' ? 'pid' : rawKey
    if (amount === undefined || extra !== undefined || !isQuantity(amount)) throw new Error(`${flag}: "${part.trim()}" must be RESOURCE=QUANTITY, like cpu=500m or memory=1Gi`)
    const wholeOrMilli = key === 'cpu' ? parseQuantityMilli(amount) : parseQuantityValue(amount)
    if (wholeOrMilli < 0) throw new Error(`${flag}: ${key} reservation cannot be negative: ${amount}`)
    if (key === 'cpu') out.cpuMilli = wholeOrMilli
    else if (key === 'memory') out.memoryBytes = wholeOrMilli
    else if (key === 'pid') out.pids = wholeOrMilli
    else if (key === 'ephemeral-storage') out.ephemeralStorageBytes = wholeOrMilli
    else throw new Error(`${flag}: cannot reserve ${JSON.stringify(rawKey)}: only cpu, memory, ephemeral-storage and pid`)
  }
  return out
}

export interface Capacity {
  cpuMilli: number
  memoryBytes: number
  /** The kernel's pid limit (/proc/sys/kernel/pid_max), when known. */
  pids?: number
}

export interface Allocatable {
  cpuMilli: number
  memoryBytes: number
  pids?: number
}

/** What pods may use: for the Node's status (with the eviction threshold) and the pod tree's cgroup (without). */
export function nodeAllocatable(capacity: Capacity, reserved: Reserved, hard: readonly EvictionThreshold[] = []): Allocatable {
  const memoryThreshold = hard.find((t) => t.signal === 'memory.available')
  const evictionMemory = memoryThreshold ? thresholdValue(memoryThreshold, capacity.memoryBytes) : 0
  return {
    cpuMilli: Math.max(0, capacity.cpuMilli - (reserved.cpuMilli ?? 0)),
    memoryBytes: Math.max(0, capacity.memoryBytes - (reserved.memoryBytes ?? 0) - evictionMemory),
    ...(capacity.pids !== undefined ? { pids: Math.max(0, capacity.pids - (reserved.pids ?? 0)) } : {}),
  }
}

/** The Node's allocatable as quantities: cpu in cores or millicores, memory in Ki (rounded down). */
export function allocatableQuantities(a: Allocatable): { cpu: string; memory: string } {
  return { cpu: a.cpuMilli % 1000 === 0 ? String(a.cpuMilli / 1000) : `${a.cpuMilli}m`, memory: `${Math.floor(a.memoryBytes / 1024)}Ki` }
}
