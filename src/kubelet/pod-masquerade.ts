// Masquerade for pod traffic leaving the cluster network, as flannel's --ip-masq does:
// pods reach the outside world through the node's address, while traffic between pods
// (on any node) keeps its source address. The agent owns this instead of the bridge
// plugin's ipMasq, which would also hide pod addresses from pods on other nodes.
// Where the bridge does not pass its traffic through netfilter, the same table also
// masquerades same-node Service traffic (bridge-netfilter.ts).
//
// The rules are Transactions (src/netfilter), one per family, each replacing its whole
// table: every name and rule passes the nft token grammar before anything reaches nft.
import type { NftClient } from '../netfilter/client.ts'
import { NftExec } from '../netfilter/exec-client.ts'
import { Transaction } from '../netfilter/transaction.ts'
import type { NodeNetwork } from './node-networks.ts'

export const masqueradeTable = 'weft-agent'

export interface MasqueradeOptions {
  /** Masquerade pod traffic leaving the pod network (--ip-masq). Default true. */
  outbound?: boolean
  /** Masquerade same-node pod → DNAT → pod traffic of these families (the fallback for br_netfilter, bridge-netfilter.ts). */
  hairpin?: { ipv4: boolean; ipv6: boolean }
}

/**
 * The whole nftables state of weft's agent tables for the Nodes' `networks` (nodeNetworks):
 * one transaction for `ip weft-agent`, one for `ip6 weft-agent`, each deleting the table and
 * making it anew (or leaving it deleted when the family has nothing to masquerade). Pure.
 */
export function masqueradeRuleset(networks: readonly NodeNetwork[], opts: MasqueradeOptions = {}): Transaction[] {
  // Only CIDRs nodeNetworks parsed (and wrote back canonical) go into the rules.
  const own = networks.find((n) => n.self)?.podCIDRs ?? []
  const all = networks.flatMap((n) => n.podCIDRs)
  const outbound = opts.outbound ?? true
  return (['ip', 'ip6'] as const).map((family) => {
    const v6 = family === 'ip6'
    const mine = own.filter((c) => c.includes(':') === v6)
    const cluster = [...new Set(all.filter((c) => c.includes(':') === v6))].sort()
    const hairpin = (v6 ? opts.hairpin?.ipv6 : opts.hairpin?.ipv4) ?? false
    // Adding then deleting makes the delete safe when the table is not there yet.
    const tx = new Transaction(family, masqueradeTable).addTable().push({ verb: 'delete', kind: 'table' })
    if (mine.length === 0 || (!outbound && !hairpin)) return tx
    tx.addTable()
    if (outbound) tx.addSet('pod-cidrs', `type ${v6 ? 'ipv6_addr' : 'ipv4_addr'}; flags interval; elements = { ${cluster.join(', ')} }`)
    tx.addChain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;')
    // A pod of this node DNATed (Service, NodePort, hostPort) to a pod of this node: the reply
    // must come back through the node, or it is bridged past conntrack.
    if (hairpin) tx.addRule('postrouting', `${family} saddr { ${mine.join(', ')} } ${family} daddr { ${mine.join(', ')} } ct status dnat masquerade`)
    if (outbound) tx.addRule('postrouting', `${family} saddr { ${mine.join(', ')} } ${family} daddr != @pod-cidrs masquerade`)
    return tx
  })
}

/** The transactions as `nft -f` input, in order. */
export function rulesetText(txs: readonly Transaction[]): string {
  return txs.map((tx) => tx.render()).join('')
}

/**
 * Applies the ruleset a family at a time (each table is replaced atomically; the two tables
 * are independent), and only when it differs from what the last successful sync applied: a
 * Node change that leaves the pod networks as they were runs no nft. A failed sync applies in
 * full next time. On a host without nft, sync throws an error isSpawnFailure recognises.
 */
export class MasqueradeSync {
  readonly nft: NftClient
  #applied: string | undefined

  constructor(nft: NftClient = new NftExec()) {
    this.nft = nft
  }

  /** Whether it ran nft. */
  async sync(networks: readonly NodeNetwork[], opts: MasqueradeOptions = {}): Promise<boolean> {
    const txs = masqueradeRuleset(networks, opts)
    const text = rulesetText(txs)
    if (text === this.#applied) return false
    this.#applied = undefined
    for (const tx of txs) await this.nft.apply(tx)
    this.#applied = text
    return true
  }
}
