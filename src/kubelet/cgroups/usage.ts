// What a cgroup has used, read from its files as cadvisor does: CPU time, memory usage,
// working set (usage − inactive_file), RSS, page faults, and the OOM kills it saw.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface CgroupUsage {
  /** Cumulative CPU time, nanoseconds. */
  cpuUsageNs?: number
  memoryUsageBytes?: number
  workingSetBytes?: number
  rssBytes?: number
  pageFaults?: number
  majorPageFaults?: number
  /** The memory limit; undefined when unlimited. */
  memoryLimitBytes?: number
}

/** The controller directories of one cgroup: cpu, cpuacct (v1; the same dir on v2), memory. */
export interface UsageDirs {
  cpu?: string
  cpuacct?: string
  memory?: string
}

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch {
    return undefined
  }
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/)
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v))
  }
  return out
}

function num(text: string | undefined): number | undefined {
  const t = text?.trim()
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined
}

/** v1 reports "no limit" as a page-rounded 2^63-1. */
const V1_UNLIMITED = 2 ** 62

export async function readUsage(version: 1 | 2, dirs: UsageDirs): Promise<CgroupUsage> {
  const out: CgroupUsage = {}
  if (version === 1) {
    if (dirs.cpuacct) out.cpuUsageNs = num(await read(join(dirs.cpuacct, 'cpuacct.usage')))
    if (dirs.memory) {
      const usage = num(await read(join(dirs.memory, 'memory.usage_in_bytes')))
      const stat = parseFlatKeyed((await read(join(dirs.memory, 'memory.stat'))) ?? '')
      const limit = num(await read(join(dirs.memory, 'memory.limit_in_bytes')))
      fillMemory(out, usage, stat.get('total_inactive_file'), stat.get('total_rss'), stat.get('total_pgfault'), stat.get('total_pgmajfault'))
      if (limit !== undefined && limit < V1_UNLIMITED) out.memoryLimitBytes = limit
    }
  } else {
    const cpuDir = dirs.cpu ?? dirs.cpuacct
    if (cpuDir) {
      const usec = parseFlatKeyed((await read(join(cpuDir, 'cpu.stat'))) ?? '').get('usage_usec')
      if (usec !== undefined) out.cpuUsageNs = usec * 1000
    }
    if (dirs.memory) {
      const usage = num(await read(join(dirs.memory, 'memory.current')))
      const stat = parseFlatKeyed((await read(join(dirs.memory, 'memory.stat'))) ?? '')
      fillMemory(out, usage, stat.get('inactive_file'), stat.get('anon'), stat.get('pgfault'), stat.get('pgmajfault'))
      const limit = num(await read(join(dirs.memory, 'memory.max')))
      if (limit !== undefined) out.memoryLimitBytes = limit
    }
  }
  return out
}

function fillMemory(out: CgroupUsage, usage: number | undefined, inactiveFile: number | undefined, rss: number | undefined, faults: number | undefined, major: number | undefined): void {
  if (usage !== undefined) {
    out.memoryUsageBytes = usage
    out.workingSetBytes = Math.max(0, usage - (inactiveFile ?? 0))
  }
  if (rss !== undefined) out.rssBytes = rss
  if (faults !== undefined) out.pageFaults = faults
  if (major !== undefined) out.majorPageFaults = major
}

/**
 * How many processes the kernel's OOM killer killed in this cgroup: v2 memory.events
 * `oom_kill`; v1 memory.oom_control `oom_kill` (kernels before 4.13 lack it: then
 * memory.failcnt, the times the limit was hit, stands in).
 */
export async function readOomKills(version: 1 | 2, memoryDir: string): Promise<number> {
  if (version === 2) return parseFlatKeyed((await read(join(memoryDir, 'memory.events'))) ?? '').get('oom_kill') ?? 0
  const kills = parseFlatKeyed((await read(join(memoryDir, 'memory.oom_control'))) ?? '').get('oom_kill')
  if (kills !== undefined) return kills
  return num(await read(join(memoryDir, 'memory.failcnt'))) ?? 0
}

/** The node's memory from /proc/meminfo: capacity and working set (used − inactive file), bytes. */
export function parseMeminfo(text: string): { capacityBytes: number; workingSetBytes: number } {
  const kb = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s+(\d+)(?: kB)?$/.exec(line.trim())
    if (m) kb.set(m[1]!, Number(m[2]) * 1024)
  }
  const total = kb.get('MemTotal')
  if (total === undefined) throw new Error('/proc/meminfo has no MemTotal')
  const used = total - (kb.get('MemFree') ?? 0)
  return { capacityBytes: total, workingSetBytes: Math.max(0, used - (kb.get('Inactive(file)') ?? 0)) }
}
