// Who may reach a Service port's load-balancer IPs: one decision for both data planes (the
// nftables firewall chain, nftables/rules.ts; the userspace relays' filter,
// userspace/source-ranges.ts), after kube-proxy's firewall chain.
//
// - Only load-balancer IPs are filtered; the ClusterIP, NodePorts and externalIPs are not.
// - No load-balancer IP, or no source range: no filter (everyone).
// - Otherwise the sources admitted are spec.loadBalancerSourceRanges of the family; when one
//   of the node's own addresses is in a range, the load-balancer IPs themselves too (the
//   node's own requests to a local load-balancer IP come from it, as a VIP-like load
//   balancer loops them back).
// - Ranges were given (loadBalancerSourcesRestricted) but none of this family parsed: nobody
//   is admitted (fail closed).
import { parseCIDR, parseIP, type ParsedCIDR } from '../src/util/ip-parse.ts'
import type { Family, ServicePort } from './model.ts'

function contains(range: ParsedCIDR, value: bigint): boolean {
  const hostBits = BigInt((range.family === 4 ? 32 : 128) - range.prefix)
  return value >> hostBits === range.base >> hostBits
}

/**
 * The sources `port`'s load-balancer IPs admit in `family` (canonical CIDRs, then
 * addresses), or undefined when they admit everyone. Empty: no one. Values that are not
 * of the family (or do not parse) are left out.
 */
export function loadBalancerSources(port: ServicePort, nodeIPs: readonly string[], family: Family): string[] | undefined {
  if (port.loadBalancerIPs.length === 0) return undefined
  if (port.loadBalancerSourceRanges.length === 0 && !port.loadBalancerSourcesRestricted) return undefined
  const ranges: ParsedCIDR[] = []
  for (const text of port.loadBalancerSourceRanges) {
    const cidr = typeof text === 'string' ? parseCIDR(text) : undefined
    if (cidr !== undefined && cidr.family === family) ranges.push(cidr)
  }
  const sources = ranges.map((r) => r.text)
  const ofFamily = (text: unknown) => {
    const ip = typeof text === 'string' ? parseIP(text) : undefined
    return ip !== undefined && ip.family === family && !ip.mapped ? ip : undefined
  }
  const nodeInRange = nodeIPs.some((text) => {
    const ip = ofFamily(text)
    return ip !== undefined && ranges.some((r) => contains(r, ip.value))
  })
  if (nodeInRange) {
    for (const text of port.loadBalancerIPs) {
      const ip = ofFamily(text)
      if (ip !== undefined && !sources.includes(ip.text)) sources.push(ip.text)
    }
  }
  return sources
}
