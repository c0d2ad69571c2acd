// Applies compiled NetworkPolicy state to the kernel through an NftClient: one atomic
// transaction per call, the whole table on the first call and after any failure, only the
// diff otherwise. Keeps the state it last applied (that is what the kernel holds).
import type { NftClient } from '../../src/netfilter/client.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { nftList } from '../../src/netfilter/nft.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'
import type { Logger } from '../../src/util/log.ts'
import { diffCompiled, isEmptyDiff } from '../diff.ts'
import type { NetpolDataPlane, NetpolSyncStats } from '../enforcer.ts'
import type { CompiledNode } from '../model.ts'
import { DIRECTIONS, type NetpolRenderOptions } from './rules.ts'
import { FAMILY, podChain, TABLE } from './names.ts'
import { elementCounts, fullTransaction, incrementalTransaction } from './transactions.ts'

export interface NetpolApplierOptions {
  nft: NftClient
  /** Denied packets: 'drop' (default) or 'reject' (TCP reset / ICMP unreachable). */
  deny?: 'drop' | 'reject'
  /** Log denied packets with this rate limit (packets/second); undefined = no log. */
  logRate?: number
  log?: Logger
  /**
   * Reads the table as `nft -j list table` does (its `nftables` array), for dropCounters. By
   * default: `nft` itself when it is an NftExec (in its namespace); otherwise counters read 0.
   */
  readTable?: () => Promise<Record<string, unknown>[]>
}

export class NetpolApplier implements NetpolDataPlane {
  private readonly nft: NftClient
  private readonly render: NetpolRenderOptions
  private readonly log: Logger | undefined
  private readonly readTable: (() => Promise<Record<string, unknown>[]>) | undefined
  /** What the kernel holds; undefined before the first sync and after a failure. */
  private applied: CompiledNode | undefined
  /** One call at a time. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(opts: NetpolApplierOptions) {
    if (opts.deny !== undefined && opts.deny !== 'drop' && opts.deny !== 'reject') throw new Error(`deny ${JSON.stringify(opts.deny)} is not drop or reject`)
    this.nft = opts.nft
    this.render = { deny: opts.deny ?? 'drop', logRate: opts.logRate }
    this.log = opts.log
    const nft = opts.nft
    this.readTable = opts.readTable ?? (nft instanceof NftExec ? () => nftList(['list', 'table', FAMILY, TABLE], nft.netns) : undefined)
  }

  sync(state: CompiledNode): Promise<NetpolSyncStats> {
    return this.serial(() => this.apply(state, this.applied === undefined))
  }

  resync(state: CompiledNode): Promise<NetpolSyncStats> {
    return this.serial(() => this.apply(state, true))
  }

  async dropCounters(): Promise<Map<string, { packets: number; bytes: number }>> {
    const state = this.applied
    const out = new Map<string, { packets: number; bytes: number }>()
    if (!state) return out
    const byChain = new Map<string, string>()
    for (const pod of state.pods.values()) {
      for (const dir of DIRECTIONS) {
        if (!(dir === 'ingress' ? pod.ingress : pod.egress).isolated) continue
        byChain.set(podChain(dir, pod.uid), pod.key)
        out.set(pod.key, { packets: 0, bytes: 0 })
      }
    }
    if (!this.readTable) return out
    for (const item of await this.readTable()) {
      const rule = item.rule as { table?: string; chain?: string; expr?: Record<string, unknown>[] } | undefined
      if (!rule || rule.table !== TABLE || rule.chain === undefined) continue
      const key = byChain.get(rule.chain)
      if (key === undefined) continue
      for (const e of rule.expr ?? []) {
        const c = e.counter as { packets?: number; bytes?: number } | undefined
        if (!c || typeof c.packets !== 'number') continue
        const sum = out.get(key)!
        sum.packets += c.packets
        sum.bytes += c.bytes ?? 0
      }
    }
    return out
  }

  cleanup(): Promise<void> {
    return this.serial(async () => {
      this.applied = undefined
      await this.nft.apply(new Transaction(FAMILY, TABLE).addTable().push({ verb: 'delete', kind: 'table' }))
    })
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async apply(state: CompiledNode, full: boolean): Promise<NetpolSyncStats> {
    const start = performance.now()
    const before = this.applied
    let tx: Transaction
    let setsChanged: number
    let podsChanged: number
    if (full || before === undefined) {
      full = true
      tx = fullTransaction(state, this.render)
      setsChanged = state.sets.size
      podsChanged = state.pods.size
    } else {
      const diff = diffCompiled(before, state)
      setsChanged = diff.setsAdded.length + diff.setsRemoved.length + diff.setsChanged.length
      podsChanged = diff.podsAdded.length + diff.podsRemoved.length + diff.podsChanged.length
      tx = isEmptyDiff(diff) ? new Transaction(FAMILY, TABLE) : incrementalTransaction(before, state, diff, this.render)
    }
    this.applied = undefined
    try {
      await this.nft.apply(tx)
    } catch (err) {
      this.log?.warn({ err, full }, 'NetworkPolicy nftables sync failed; the next one rewrites the whole table')
      throw err
    }
    this.applied = state
    const { added, removed } = elementCounts(tx)
    const stats: NetpolSyncStats = { full, setsChanged, podsChanged, elementsAdded: added, elementsRemoved: removed, durationMs: performance.now() - start }
    this.log?.debug({ ...stats, operations: tx.size }, 'NetworkPolicy nftables synced')
    return stats
  }
}
