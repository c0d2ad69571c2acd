// The nftables proxier's sync times against the real nft in a fresh namespace per run: a
// full sync of `services` Service ports (5 endpoints each) into an empty namespace, then
// partial syncs that each change one endpoint of one Service; and the size of what the full
// sync wrote (nft input, chains in the table).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
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
  /** The last transaction applied (its size is taken after the timed sync). */
  last: Transaction | undefined
  constructor(inner: NftClient) {
    this.inner = inner
  }
  async apply(tx: Transaction): Promise<void> {
    this.last = tx
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

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/**
 * CPU time used so far by this process (microseconds, from the process) and its waited-for
 * children (`nft`, `nsenter`; clock ticks of 10 ms, from /proc/self/stat), ms: what a sync
 * costs whatever else the machine runs (on a loaded machine wall time is mostly waiting for
 * a core).
 */
function cpuMs(): number {
  const own = process.cpuUsage()
  const stat = readFileSync('/proc/self/stat', 'utf8')
  // Fields after the command: the state is the 3rd field, cutime the 16th, cstime the 17th.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (own.user + own.system) / 1000 + ((Number(f[13]) + Number(f[14])) * 1000) / CLOCK_TICKS
}

export interface NftSyncTimes {
  full: number[]
  partial: number[]
  /** CPU time of each sync above: weft's process and the `nft` it ran. */
  fullCpu: number[]
  partialCpu: number[]
  /** Of each sync above, the time spent waiting for `nft` (apply and listTable). */
  fullNft: number[]
  partialNft: number[]
  /** nft operations in the full and in a partial transaction. */
  fullOps: number
  partialOps: number
  /** The full sync's `nft -f` input, bytes. */
  fullBytes: number
  /** Chains in the table after the full sync (the layout's size: nft reads them all before each transaction). */
  chains: number
}

export async function nftSyncTimes(cleanup: Cleanup, prefix: string, runs: number, services: number, partials: number, progress: (line: string) => void): Promise<NftSyncTimes> {
  const state = benchState({ services })
  const changed = syntheticEntry(0, true)
  const moved = benchState({ services }, [changed])
  const ids = new Set([changed.port.id])
  const out: NftSyncTimes = { full: [], fullCpu: [], partial: [], partialCpu: [], fullNft: [], partialNft: [], fullOps: 0, partialOps: 0, fullBytes: 0, chains: 0 }
  for (let r = 0; r < runs; r++) {
    const ns = `${prefix}-cp${r}`
    const remove = await scratchNetns(cleanup, ns)
    const nft = new TimedNft(new NftExec(ns))
    const proxier = new NftablesProxier({ family: 4, nft, log: quietLog })
    const cpu0 = cpuMs()
    let t0 = performance.now()
    out.fullOps = (await proxier.sync(state, 'all')).operations
    const full = performance.now() - t0
    out.fullCpu.push(cpuMs() - cpu0)
    out.full.push(full)
    out.fullNft.push(nft.ms)
    out.fullBytes = nft.last?.render().length ?? 0
    out.chains = (await nft.inner.listTable('ip', 'weft-proxy'))?.chains.length ?? 0
    const partial: number[] = []
    for (let i = 0; i < partials; i++) {
      nft.ms = 0
      const cpu = cpuMs()
      t0 = performance.now()
      out.partialOps = (await proxier.sync(i % 2 === 0 ? moved : state, ids)).operations
      partial.push(performance.now() - t0)
      out.partialCpu.push(cpuMs() - cpu)
      out.partialNft.push(nft.ms)
    }
    out.partial.push(...partial)
    progress(`nftables control plane run ${r + 1}/${runs}: full sync ${full.toFixed(0)} ms, one endpoint change ${partial.map((p) => p.toFixed(0)).join(', ')} ms`)
    await remove()
  }
  return out
}
