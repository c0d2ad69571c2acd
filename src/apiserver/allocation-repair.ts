// Finds service IPs and NodePorts claimed by no Service (a server died between claiming
// and storing) and releases them. Like Kubernetes' repair loops, a value is released only
// when two passes in a row found it orphaned, so a claim in flight on another server is safe.
import { resources } from '../api/registry.ts'
import type { Logger } from '../util/log.ts'
import type { NodePortAllocator, ServiceIPAllocator } from './allocator.ts'
import { prefixOf, type ObjectStore } from './objects.ts'

const serviceInfo = resources.find((r) => r.kind === 'Service')!

export class AllocationRepair {
  private readonly objects: ObjectStore
  private readonly ips: ServiceIPAllocator
  private readonly ports: NodePortAllocator
  private readonly log: Logger
  private suspects = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  readonly intervalMs: number

  constructor(objects: ObjectStore, ips: ServiceIPAllocator, ports: NodePortAllocator, log: Logger, intervalMs = 180_000) {
    this.objects = objects
    this.ips = ips
    this.ports = ports
    this.log = log
    this.intervalMs = intervalMs
  }

  start(): void {
    const tick = () => {
      this.runOnce()
        .catch((err) => this.log.warn({ err }, 'allocation repair failed; will retry'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.intervalMs).unref()
        })
    }
    this.timer = setTimeout(tick, 1000).unref()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** One pass; returns what it released. */
  async runOnce(): Promise<string[]> {
    const ipClaims = await this.ips.claimed()
    const portClaims = await this.ports.claimed()
    const { items } = await this.objects.list(serviceInfo, undefined)
    const owners = new Set(items.map((kv) => kv.key.slice(prefixOf(serviceInfo).length)))
    const orphans = new Set<string>()
    for (const [ip, owner] of ipClaims) if (!owners.has(owner)) orphans.add(`ip|${ip}|${owner}`)
    for (const [port, owner] of portClaims) if (!owners.has(owner)) orphans.add(`port|${port}|${owner}`)
    const released: string[] = []
    for (const key of orphans) {
      if (!this.suspects.has(key)) continue
      const [what, value, owner] = key.split('|')
      if (what === 'ip') await this.ips.release(value, owner)
      else await this.ports.release(Number(value), owner)
      released.push(key)
    }
    if (released.length) this.log.info({ released }, 'released allocations no Service holds')
    this.suspects = new Set([...orphans].filter((k) => !released.includes(k)))
    return released
  }
}
