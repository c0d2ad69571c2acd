// Masquerade for pod traffic leaving the cluster network, as flannel's --ip-masq does:
// pods reach the outside world through the node's address, while traffic between pods
// (on any node) keeps its source address. The agent owns this instead of the bridge
// plugin's ipMasq, which would also hide pod addresses from pods on other nodes.
import type { V1Node } from '@kubernetes/client-node'
import { isNotInstalled, run } from '../netlink/index.ts'

export const masqueradeTable = 'weft-agent'

function cidrsOf(node: V1Node): string[] {
  return node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : []
}

/** The whole nftables state of weft's agent tables, as one `nft -f` transaction. Pure. */
export function masqueradeRuleset(nodes: readonly V1Node[], self: string): string {
  const own = cidrsOf(nodes.find((n) => n.metadata?.name === self) ?? {})
  const all = nodes.flatMap(cidrsOf)
  const lines: string[] = []
  for (const [family, v6] of [['ip', false], ['ip6', true]] as const) {
    const mine = own.filter((c) => c.includes(':') === v6)
    const cluster = [...new Set(all.filter((c) => c.includes(':') === v6))].sort()
    // Declaring then deleting makes the delete safe when the table is not there yet.
    lines.push(`table ${family} ${masqueradeTable}`, `delete table ${family} ${masqueradeTable}`)
    if (mine.length === 0) continue
    lines.push(
      `table ${family} ${masqueradeTable} {`,
      `  set pod-cidrs { type ${v6 ? 'ipv6_addr' : 'ipv4_addr'}; flags interval; elements = { ${cluster.join(', ')} } }`,
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    ${family} saddr { ${mine.join(', ')} } ${family} daddr != @pod-cidrs masquerade`,
      '  }',
      '}',
    )
  }
  return lines.join('\n') + '\n'
}

/** The error of a sync on a host without the nft command. */
export function isNftMissing(err: unknown): boolean {
  return isNotInstalled(err)
}

export async function syncMasquerade(nodes: readonly V1Node[], self: string): Promise<void> {
  await run('nft', ['-f', '-'], { input: masqueradeRuleset(nodes, self) })
}
