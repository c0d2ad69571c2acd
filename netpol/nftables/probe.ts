// Which family weft's NetworkPolicy table can use on this host. `inet` sees bridged pod
// traffic only through br_netfilter (bridge-nf-call-iptables = 1); the `bridge` family needs
// nf_conntrack_bridge (`ct state` in bridge chains) and nft_reject_bridge (`reject`). One
// transaction adds and deletes a scratch bridge table with those rules.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { NetnsRef } from '../../src/netlink/netns.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'

export type FamilyProbe = { ok: true } | { ok: false; reason: string }

/** Whether bridged IPv4 traffic reaches the inet hooks here (reads the current namespace's sysctl). */
export async function brNetfilterActive(): Promise<boolean> {
  try {
    return (await readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8')).trim() === '1'
  } catch {
    return false
  }
}

/** Whether a bridge-family NetworkPolicy table works in `netns` (or here). */
export async function probeBridgeFamily(netns?: NetnsRef): Promise<FamilyProbe> {
  const tx = new Transaction('bridge', `weft-probe-${process.pid}-${randomBytes(4).toString('hex')}`)
  tx.addTable()
  tx.addChain('forward', 'type filter hook forward priority filter; policy accept;')
  tx.addRule('forward', 'ct state established,related accept')
  tx.addRule('forward', 'meta l4proto tcp reject with tcp reset')
  tx.push({ verb: 'delete', kind: 'table' })
  try {
    await new NftExec(netns).apply(tx)
    return { ok: true }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return { ok: false, reason: `the bridge family lacks conntrack (nf_conntrack_bridge) or reject (nft_reject_bridge) here: ${message.split('\n')[0]}` }
  }
}

/** The family to use: inet when br_netfilter is on or the bridge family does not work, else bridge. */
export async function chooseFamily(netns?: NetnsRef): Promise<'inet' | 'bridge'> {
  if (await brNetfilterActive()) return 'inet'
  return (await probeBridgeFamily(netns)).ok ? 'bridge' : 'inet'
}
