// Masquerade for pod traffic leaving the cluster network, as flannel's --ip-masq does:
// pods reach the outside world through the node's address, while traffic between pods
// (on any node) keeps its source address. The agent owns this instead of the bridge
// plugin's ipMasq, which would also hide pod addresses from pods on other nodes.
// Where the bridge does not pass its traffic through netfilter, the same table also
// masquerades same-node Service traffic (bridge-netfilter.ts).
import type { V1Node } from '@kubernetes/client-node'
import { isNotInstalled, run } from '../netlink/index.ts'
import { nodeNetworks } from './node-networks.ts'

export const masqueradeTable = 'weft-agent'

export interface MasqueradeOptions {
  /** Masquerade pod traffic leaving the pod network (--ip-masq). Default true. */
  outbound?: boolean
  /** Masquerade same-node pod → DNAT → pod traffic of these families (the fallback for br_netfilter, bridge-netfilter.ts). */
  hairpin?: { ipv4: boolean; ipv6: boolean }
}

/** The whole nftables state of weft's agent tables, as one `nft -f` transaction. Pure. */
export function masqueradeRuleset(nodes: readonly V1Node[], self: string, opts: MasqueradeOptions = {}): string {
  // Only CIDRs nodeNetworks parsed (and wrote back canonical) go into the rules.
  const networks = nodeNetworks(nodes, self).networks
  const own = networks.find((n) => n.self)?.podCIDRs ?? []
  const all = networks.flatMap((n) => n.podCIDRs)
  const outbound = opts.outbound ?? true
  const lines: string[] = []
  for (const [family, v6] of [['ip', false], ['ip6', true]] as const) {
    const mine = own.filter((c) => c.includes(':') === v6)
    const cluster = [...new Set(all.filter((c) => c.includes(':') === v6))].sort()
    const hairpin = (v6 ? opts.hairpin?.ipv6 : opts.hairpin?.ipv4) ?? false
    // Declaring then deleting makes the delete safe when the table is not there yet.
    lines.push(`table ${family} ${masqueradeTable}`, `delete table ${family} ${masqueradeTable}`)
    if (mine.length === 0 || (!outbound && !hairpin)) continue
    lines.push(`table ${family} ${masqueradeTable} {`)
    if (outbound) lines.push(`  set pod-cidrs { type ${v6 ? 'ipv6_addr' : 'ipv4_addr'}; flags interval; elements = { ${cluster.join(', ')} } }`)
    lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;')
    // A pod of this node DNATed (Service, NodePort, hostPort) to a pod of this node: the reply
    // must come back through the node, or it is bridged past conntrack.
    if (hairpin) lines.push(`    ${family} saddr { ${mine.join(', ')} } ${family} daddr { ${mine.join(', ')} } ct status dnat masquerade`)
    if (outbound) lines.push(`    ${family} saddr { ${mine.join(', ')} } ${family} daddr != @pod-cidrs masquerade`)
    lines.push('  }', '}')
  }
  return lines.join('\n') + '\n'
}

/** The error of a sync on a host without the nft command. */
export function isNftMissing(err: unknown): boolean {
  return isNotInstalled(err)
}

export async function syncMasquerade(nodes: readonly V1Node[], self: string, opts: MasqueradeOptions = {}): Promise<void> {
  await run('nft', ['-f', '-'], { input: masqueradeRuleset(nodes, self, opts) })
}
