// Which data plane runs: nftables unless it cannot be used here (no `nft`, no CAP_NET_ADMIN,
// a kernel without nf_tables), then userspace. An explicit --mode is obeyed or fails loudly.
import type { ProxyMode } from './proxier.ts'

export type RequestedMode = ProxyMode | 'auto'
export type NftablesProbe = () => Promise<{ ok: true } | { ok: false; reason: string }>

export interface ModeChoice {
  mode: ProxyMode
  /** Why: 'requested', 'nftables works', or the probe's reason for falling back. */
  reason: string
}

export async function chooseMode(requested: RequestedMode, probe: NftablesProbe): Promise<ModeChoice> {
  if (requested === 'userspace') return { mode: 'userspace', reason: 'requested' }
  const result = await probe()
  if (result.ok) return { mode: 'nftables', reason: requested === 'nftables' ? 'requested' : 'nftables works' }
  if (requested === 'nftables') throw new Error(`--mode nftables, but nftables cannot be used here: ${result.reason}; run with --mode userspace, or fix that`)
  return { mode: 'userspace', reason: `nftables cannot be used: ${result.reason}` }
}

export function parseMode(value: string): RequestedMode {
  if (value === '' || value === 'auto') return 'auto'
  if (value === 'nftables' || value === 'userspace') return value
  throw new Error(`--mode "${value}" must be nftables, userspace or auto`)
}
