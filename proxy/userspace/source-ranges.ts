// Who may reach a Service port's load-balancer IPs in userspace mode: the same decision as
// the nftables mode's firewall chain (nftables/rules.ts, after kube-proxy's), so both modes
// admit the same clients.
//
// - Only load-balancer IPs are filtered; the ClusterIP, NodePorts and externalIPs are not.
// - No load-balancer IP, or no source range: no filter (everyone).
// - Otherwise a new connection (or a UDP datagram of no session) is admitted when its source
//   is in one of spec.loadBalancerSourceRanges; when one of the node's own addresses is in a
//   range, sources that are the load-balancer IPs themselves are admitted too (the node's
//   own requests to a local load-balancer IP come from it, as a VIP-like load balancer
//   loops them back).
// - Ranges were given (loadBalancerSourcesRestricted) but none of this family parsed, or
//   none left after this check: nobody is admitted (fail closed).
// As with conntrack in nftables mode, the decision is made once per TCP connection or UDP
// session; a range change applies to new ones.
import { BlockList } from 'node:net'
import { parseCIDR, parseIP } from '../../src/util/ip-parse.ts'
import type { Family, ServicePort } from '../model.ts'

export interface SourceFilter {
  /** Whether a client at `ip` (a socket's remoteAddress) may reach the load-balancer IPs. */
  admits(ip: string): boolean
  /** What is admitted, for logs: the ranges and addresses, or [] for no one. */
  readonly sources: readonly string[]
}

class RangeFilter implements SourceFilter {
  readonly sources: readonly string[]
  readonly #list = new BlockList()
  readonly #type: 'ipv4' | 'ipv6'

  constructor(family: Family, ranges: readonly { base: string; prefix: number }[], addresses: readonly string[]) {
    this.#type = family === 4 ? 'ipv4' : 'ipv6'
    for (const r of ranges) this.#list.addSubnet(r.base, r.prefix, this.#type)
    for (const a of addresses) this.#list.addAddress(a, this.#type)
    this.sources = [...ranges.map((r) => `${r.base}/${r.prefix}`), ...addresses]
  }

  admits(ip: string): boolean {
    if (this.sources.length === 0) return false
    try {
      return this.#list.check(ip, this.#type)
    } catch {
      return false
    }
  }
}

function inRange(range: { value: bigint; mask: bigint }, ip: bigint): boolean {
  return (ip & range.mask) === range.value
}

/**
 * The filter of `port`'s load-balancer IPs in `family`, or undefined when they admit
 * everyone. Ranges and node addresses that are not of the family (or do not parse) are left
 * out; what is left may admit no one.
 */
export function sourceFilter(port: ServicePort, nodeIPs: readonly string[], family: Family): SourceFilter | undefined {
  if (port.loadBalancerIPs.length === 0) return undefined
  if (port.loadBalancerSourceRanges.length === 0 && !port.loadBalancerSourcesRestricted) return undefined
  const width = family === 4 ? 32 : 128
  const ranges: { base: string; prefix: number; value: bigint; mask: bigint }[] = []
  for (const text of port.loadBalancerSourceRanges) {
    const cidr = typeof text === 'string' ? parseCIDR(text) : undefined
    if (cidr === undefined || cidr.family !== family || cidr.ip.mapped) continue
    const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - cidr.prefix)) - 1n)
    ranges.push({ base: cidr.text.slice(0, cidr.text.lastIndexOf('/')), prefix: cidr.prefix, value: cidr.base, mask })
  }
  const addresses: string[] = []
  const nodeInRange = nodeIPs.some((text) => {
    const ip = typeof text === 'string' ? parseIP(text) : undefined
    return ip !== undefined && ip.family === family && ranges.some((r) => inRange(r, ip.value))
  })
  if (nodeInRange) {
    for (const text of port.loadBalancerIPs) {
      const ip = typeof text === 'string' ? parseIP(text) : undefined
      if (ip !== undefined && ip.family === family && !ip.mapped && !addresses.includes(ip.text)) addresses.push(ip.text)
    }
  }
  return new RangeFilter(family, ranges, addresses)
}
