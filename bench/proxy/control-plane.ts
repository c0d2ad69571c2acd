// The nftables proxier's sync times against the real nft in a fresh namespace per run: a
// full sync of `services` Service ports (5 endpoints each) into an empty namespace, then
// partial syncs that each change one endpoint of one Service.
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import type { NftClient, TableObjects } from '../../src/netfilter/client.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import type { NftFamily, Transaction } from '../../src/netfilter/transaction.ts'
import { NftablesProxier } from '../../proxy/nftables/proxier.ts'
import type { Cleanup } from '../lib/cleanup.ts'
import { benchState, syntheticEntry } from './services.ts'
import { scratchNetns } from './topology.ts'

export const quietLog = pino({ level: 'warn' }, pino.destination(2))

/** An NftClient that adds up the time spent in `nft` (the rest of a sync is weft's own work). */
class TimedNft implements NftClient {
  readonly inner: NftClient
  ms = 0
  constructor(inner: NftClient) {
    this.inner = inner
  }
  async apply(tx: Transaction): Promise<void> {
    const t0 = performance.now()
    try {
      await this.inner.apply(tx)
    } finally {
      this.ms += performance.now() - t0
    }
  }
  async listTable(family: NftFamily, table: string): Promise<TableObjects | undefined> {
    const t0 = performance.now()
    try {
      return await this.inner.listTable(family, table)
    } finally {
      this.ms += performance.now() - t0
    }
  }
}

export interface NftSyncTimes {
  full: number[]
  partial: number[]
  /** Of each sync above, the time spent waiting for `nft` (apply and listTable). */
  fullNft: number[]
  partialNft: number[]
  /** nft operations in the full and in a partial transaction. */
  fullOps: number
  partialOps: number
}

export async function nftSyncTimes(cleanup: Cleanup, prefix: string, runs: number, services: number, partials: number, progress: (line: string) => void): Promise<NftSyncTimes> {
  const state = benchState({ services })
  const changed = syntheticEntry(0, true)
  const moved = benchState({ services }, [changed])
  const ids = new Set([changed.port.id])
  const out: NftSyncTimes = { full: [], partial: [], fullNft: [], partialNft: [], fullOps: 0, partialOps: 0 }
  for (let r = 0; r < runs; r++) {
    const ns = `${prefix}-cp${r}`
    const remove = await scratchNetns(cleanup, ns)
    const nft = new TimedNft(new NftExec(ns))
    const proxier = new NftablesProxier({ family: 4, nft, log: quietLog })
    let t0 = performance.now()
    out.fullOps = (await proxier.sync(state, 'all')).operations
    const full = performance.now() - t0
    out.full.push(full)
    out.fullNft.push(nft.ms)
    const partial: number[] = []
    for (let i = 0; i < partials; i++) {
      nft.ms = 0
      t0 = performance.now()
      out.partialOps = (await proxier.sync(i % 2 === 0 ? moved : state, ids)).operations
      partial.push(performance.now() - t0)
      out.partialNft.push(nft.ms)
    }
    out.partial.push(...partial)
    progress(`nftables control plane run ${r + 1}/${runs}: full sync ${full.toFixed(0)} ms, one endpoint change ${partial.map((p) => p.toFixed(0)).join(', ')} ms`)
    await remove()
  }
  return out
}
