// Whether this host (or namespace) can run the nftables proxier: nft installed, allowed to
// change rules, kernel with nf_tables. One transaction adds and deletes a scratch table.
import { randomBytes } from 'node:crypto'
import type { NetnsRef } from '../netlink/netns.ts'
import { NftExec, isSpawnFailure } from './exec-client.ts'
import { Transaction, type NftFamily } from './transaction.ts'

export type NftProbeResult = { ok: true } | { ok: false; reason: string }

export interface NftProbeOptions {
  /** The nft binary (tests point it at a missing one). */
  binary?: string
  /** The family to try (default inet); weft-cni's anti-spoofing needs bridge, which a kernel may lack while having inet. */
  family?: NftFamily
}

export async function probeNftables(netns?: NetnsRef, opts: NftProbeOptions = {}): Promise<NftProbeResult> {
  const tx = new Transaction(opts.family ?? 'inet', `weft-probe-${process.pid}-${randomBytes(4).toString('hex')}`)
  tx.addTable().push({ verb: 'delete', kind: 'table' })
  try {
    await new NftExec(netns, { binary: opts.binary }).apply(tx)
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: explain(err, opts.binary ?? 'nft') }
  }
}

function explain(err: unknown, binary: string): string {
  const message = err instanceof Error ? err.message : String(err)
  if (isSpawnFailure(err)) return `${binary} is not installed (apt-get install nftables)`
  if (/Operation not permitted|Permission denied/.test(message)) {
    return 'not allowed to change nftables rules: run as root or with CAP_NET_ADMIN'
  }
  if (/Protocol not supported|Address family not supported|not supported|No such file or directory/.test(message)) {
    return `the kernel has no nf_tables support (load the nf_tables module, or use the userspace proxy): ${message}`
  }
  return `nftables does not work here: ${message}`
}
