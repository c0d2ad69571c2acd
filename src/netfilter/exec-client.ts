// The real NftClient: transactions through `nft -f -`, reads through `nft -j -t`.
import { CommandError, run } from '../netlink/exec.ts'
import { inNetns, type NetnsRef } from '../netlink/netns.ts'
import type { NftClient, TableObjects } from './client.ts'
import { NftError, nftErrorCode } from './nft.ts'
import type { NftFamily, Transaction } from './transaction.ts'

export interface NftExecOptions {
  /** The nft binary (tests point it at a missing one). */
  binary?: string
}

interface ListedObject {
  family?: string
  table?: string
  name?: string
  timeout?: number
}

export class NftExec implements NftClient {
  readonly netns: NetnsRef
  private readonly binary: string

  constructor(netns?: NetnsRef, opts: NftExecOptions = {}) {
    this.netns = netns
    this.binary = opts.binary ?? 'nft'
  }

  async apply(tx: Transaction): Promise<void> {
    if (tx.size === 0) return
    try {
      await this.nft(['-f', '-'], tx.render())
    } catch (err) {
      throw toNftError(err, `nft transaction on ${tx.family} ${tx.table} failed`)
    }
  }

  /**
   * Lists names only: `list table` would print every rule and element (seconds for tens
   * of thousands of chains), while terse per-kind listings of the family stay cheap.
   * `list sets table F T` also says whether the table exists.
   */
  async listTable(family: NftFamily, table: string): Promise<TableObjects | undefined> {
    const sets = this.listKind(['list', 'sets', 'table', family, table], 'set', table)
    const maps = this.listKind(['list', 'maps', family], 'map', table)
    const chains = this.listKind(['list', 'chains', family], 'chain', table)
    const results = await Promise.allSettled([sets, maps, chains])
    const [s, m, c] = results
    if (s.status === 'rejected') {
      if (s.reason instanceof NftError && s.reason.code === 'ENOENT') return undefined
      throw s.reason
    }
    if (m.status === 'rejected') throw m.reason
    if (c.status === 'rejected') throw c.reason
    const setTimeouts: Record<string, number> = {}
    for (const o of s.value) if (o.timeout !== undefined) setTimeouts[o.name] = o.timeout
    const names = (list: { name: string }[]) => list.map((o) => o.name).sort()
    return { chains: names(c.value), sets: names(s.value), maps: names(m.value), setTimeouts }
  }

  private async listKind(args: string[], kind: 'set' | 'map' | 'chain', table: string): Promise<{ name: string; timeout?: number }[]> {
    let out: string
    try {
      out = await this.nft(['-j', '-t', ...args])
    } catch (err) {
      throw toNftError(err, `nft ${args.join(' ')} failed`)
    }
    const parsed = JSON.parse(out) as { nftables?: Record<string, ListedObject | undefined>[] }
    const found: { name: string; timeout?: number }[] = []
    for (const item of parsed.nftables ?? []) {
      const o = item[kind]
      if (o?.table === table && o.name !== undefined) found.push({ name: o.name, timeout: o.timeout })
    }
    return found
  }

  private nft(args: string[], input?: string): Promise<string> {
    const [file, argv] = inNetns(this.netns, this.binary, args)
    return run(file, argv, { input })
  }
}

/** Spawning nft itself failed (not installed), directly or under nsenter. */
export function isSpawnFailure(err: unknown): boolean {
  const cause = err instanceof Error && err.cause instanceof CommandError ? err.cause : err
  if (!(cause instanceof CommandError)) return false
  return cause.code === null || /failed to execute|is not installed/.test(cause.stderr)
}

function toNftError(err: unknown, what: string): Error {
  if (!(err instanceof CommandError)) return err as Error
  const stderr = err.stderr.trim()
  const e = new NftError(isSpawnFailure(err) ? 'UNKNOWN' : nftErrorCode(stderr), `${what}: ${stderr || `exit code ${err.code}`}`)
  e.cause = err
  return e
}
