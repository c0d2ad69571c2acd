// The nftables data plane: builds the desired rules of each changed Service port, diffs
// them against what it last applied and sends one atomic transaction per sync. The first
// sync, any sync after a failure and any change of the node facts rewrite the whole table.
import type { NftClient } from '../../src/netfilter/client.ts'
import type { NftFamily } from '../../src/netfilter/transaction.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'
import { logger, type Logger } from '../../src/util/log.ts'
import type { Family, ProxyState, ServicePort } from '../model.ts'
import type { Proxier, RefusedPort, SyncStats } from '../proxier.ts'
import { ElementIndex, fullSync, partialSync, SharedChains, type ServiceChange } from './diff.ts'
import { TABLE } from './names.ts'
import { baseRules, checkServiceRules, checkStateFacts, serviceRules, type CheckedServiceRules } from './rules.ts'
import type { ServiceEntry } from '../model.ts'

/** Removes UDP conntrack entries that would keep sending datagrams where they no longer belong. */
export interface ConntrackCleaner {
  flushUdpToServiceIP(ip: string): Promise<number> | number
  flushUdpToNodePort(nodePort: number, family: Family): Promise<number> | number
  flushUdpServiceEndpoint(serviceIP: string, endpointIP: string): Promise<number> | number
  flushUdpNodePortEndpoint(nodePort: number, endpointIP: string): Promise<number> | number
}

export interface NftablesProxierOptions {
  family: Family
  nft: NftClient
  conntrack?: ConntrackCleaner
  log?: Logger
}

interface Applied {
  port: ServicePort
  rules: CheckedServiceRules
}

export class NftablesProxier implements Proxier {
  readonly mode = 'nftables' as const
  readonly family: Family
  private readonly nft: NftClient
  private readonly nftFamily: NftFamily
  private readonly conntrack: ConntrackCleaner | undefined
  private readonly log: Logger
  private applied = new Map<string, Applied>()
  private index = new ElementIndex()
  private shared = new SharedChains()
  private needFull = true
  private firstDone = false
  private nodeKey = ''
  /** The ports left out of the table because their rules were refused, by id. */
  private refused = new Map<string, RefusedPort>()

  constructor(opts: NftablesProxierOptions) {
    this.family = opts.family
    this.nft = opts.nft
    this.nftFamily = opts.family === 4 ? 'ip' : 'ip6'
    this.conntrack = opts.conntrack
    this.log = opts.log ?? logger('proxy-nftables')
  }

  async sync(state: ProxyState, changed: ReadonlySet<string> | 'all'): Promise<SyncStats> {
    if (state.family !== this.family) throw new Error(`the IPv${this.family} nftables proxier was handed an IPv${state.family} state`)
    const nodeKey = JSON.stringify([state.serviceCIDRs, state.clusterCIDRs, state.nodeIPs])
    if (this.needFull || changed === 'all' || nodeKey !== this.nodeKey) {
      // Checked when they may have changed: a change of the node facts forces a full sync,
      // and a partial sync runs only with the facts of the last full one.
      checkStateFacts(state)
      return this.fullSync(state, nodeKey)
    }
    return this.partialSync(state, changed)
  }

  async close(): Promise<void> {
    // The rules stay: a restarted proxy finds them and connections keep working meanwhile.
  }

  /**
   * The rules of one port, or undefined when they are refused (recorded in `refused`): a
   * port that is not fit for nft is left out alone rather than failing the whole sync.
   */
  private build(entry: ServiceEntry, state: ProxyState, refused: Map<string, RefusedPort>): CheckedServiceRules | undefined {
    const p = entry.port
    try {
      const rules = checkServiceRules(serviceRules(entry, state))
      refused.delete(p.id)
      return rules
    } catch (err) {
      const message = `Service port ${p.id}: ${(err as Error).message}; its IPv${this.family} rules are not programmed (fix the Service; other Services are not affected)`
      if (this.refused.get(p.id)?.message !== message) this.log.warn({ port: p.id, family: this.family }, message)
      refused.set(p.id, { namespace: p.namespace, name: p.name, message })
      return undefined
    }
  }

  private async fullSync(state: ProxyState, nodeKey: string): Promise<SyncStats> {
    const next = new Map<string, Applied>()
    const index = new ElementIndex()
    const shared = new SharedChains()
    const refused = new Map<string, RefusedPort>()
    for (const [id, entry] of state.services) {
      const rules = this.build(entry, state, refused)
      if (!rules) continue
      next.set(id, { port: entry.port, rules })
      for (const el of rules.elements) index.add(id, el)
      for (const [name, chainRules] of rules.shared) shared.add(id, name, chainRules)
    }
    const existing = await this.nft.listTable(this.nftFamily, TABLE)
    // Affinity sets are kept (with their entries) unless their timeout changed: since the last
    // apply, or, for what an earlier process left, as the kernel lists it.
    const previousSets = new Map<string, string>()
    if (this.firstDone) {
      for (const a of this.applied.values()) for (const [name, spec] of a.rules.sets) previousSets.set(name, spec)
    } else if (existing) {
      for (const a of next.values()) {
        for (const [name, spec] of a.rules.sets) {
          const timeout = existing.setTimeouts[name]
          if (timeout !== undefined && !spec.includes(`timeout ${timeout}s;`)) previousSets.set(name, `timeout ${timeout}s;`)
        }
      }
    }
    const tx = fullSync({
      family: this.nftFamily,
      table: TABLE,
      base: baseRules(state),
      services: [...next.values()].map((a) => a.rules),
      existing,
      index,
      shared,
      previousSets,
      recreateBaseChains: !this.firstDone,
    })
    await this.apply(tx)
    const before = this.applied
    this.applied = next
    this.index = index
    this.shared = shared
    this.refused = refused
    this.needFull = false
    this.firstDone = true
    this.nodeKey = nodeKey
    const ids = new Set([...before.keys(), ...next.keys()])
    await this.cleanConntrack(ids, before, next)
    return { servicesChanged: next.size, operations: tx.size, refused: new Map(refused) }
  }

  private async partialSync(state: ProxyState, changed: ReadonlySet<string>): Promise<SyncStats> {
    const changes: ServiceChange[] = []
    const next = new Map<string, Applied | undefined>()
    const refused = new Map(this.refused)
    for (const id of changed) {
      refused.delete(id)
      const before = this.applied.get(id)
      const entry = state.services.get(id)
      if (!before && !entry) continue
      const rules = entry && this.build(entry, state, refused)
      const after = entry && rules && { port: entry.port, rules }
      if (!before && !after) continue
      next.set(id, after)
      changes.push({ id, before: before?.rules, after: after?.rules })
    }
    const tx = new Transaction(this.nftFamily, TABLE)
    partialSync(tx, changes, this.index, this.shared)
    await this.apply(tx)
    this.refused = refused
    const before = new Map<string, Applied>()
    for (const [id, a] of next) {
      const old = this.applied.get(id)
      if (old) before.set(id, old)
      if (a) this.applied.set(id, a)
      else this.applied.delete(id)
    }
    await this.cleanConntrack(next.keys(), before, this.applied)
    return { servicesChanged: changes.length, operations: tx.size, refused: new Map(refused) }
  }

  private async apply(tx: Transaction): Promise<void> {
    if (tx.size === 0) return
    try {
      await this.nft.apply(tx)
    } catch (err) {
      // The element and chain indexes were already moved on; a full sync rebuilds everything from state.
      this.needFull = true
      throw err
    }
  }

  /** kube-proxy's CleanStaleEntries for the UDP ports among `ids`. */
  private async cleanConntrack(ids: Iterable<string>, before: ReadonlyMap<string, Applied>, after: ReadonlyMap<string, Applied>): Promise<void> {
    const ct = this.conntrack
    if (!ct) return
    const jobs: Array<[string, () => Promise<number> | number]> = []
    for (const id of ids) {
      const prev = before.get(id)
      const cur = after.get(id)
      const prevUdp = prev?.port.protocol === 'UDP' ? prev : undefined
      const curUdp = cur?.port.protocol === 'UDP' ? cur : undefined
      if (prevUdp) {
        const kept = new Set(curUdp?.rules.endpointIPs ?? [])
        for (const ep of prevUdp.rules.endpointIPs) {
          if (kept.has(ep)) continue
          for (const ip of serviceIPs(prevUdp.port)) jobs.push([`${ip} → ${ep}`, () => ct.flushUdpServiceEndpoint(ip, ep)])
          if (prevUdp.port.nodePort) jobs.push([`:${prevUdp.port.nodePort} → ${ep}`, () => ct.flushUdpNodePortEndpoint(prevUdp.port.nodePort, ep)])
        }
      }
      if (curUdp && curUdp.rules.endpointIPs.length && !prevUdp?.rules.endpointIPs.length) {
        // Datagrams sent while the Service had no endpoint made entries that bypass DNAT.
        for (const ip of serviceIPs(curUdp.port)) jobs.push([ip, () => ct.flushUdpToServiceIP(ip)])
        const nodePort = curUdp.port.nodePort
        if (nodePort) jobs.push([`:${nodePort}`, () => ct.flushUdpToNodePort(nodePort, this.family)])
      }
    }
    for (const [what, job] of jobs) {
      try {
        await job()
      } catch (err) {
        this.log.warn({ err, entries: what }, 'could not flush stale UDP conntrack entries')
      }
    }
  }
}

function serviceIPs(port: ServicePort): string[] {
  return [port.clusterIP, ...port.externalIPs, ...port.loadBalancerIPs]
}
