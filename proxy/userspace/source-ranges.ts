// The userspace relays' filter of who may reach a Service port's load-balancer IPs: the
// decision is proxy/source-ranges.ts's (the same as nftables mode's firewall chain); this
// turns it into a check per client. As with conntrack in nftables mode, the decision is made
// once per TCP connection or UDP session; a range change applies to new ones.
import { BlockList } from 'node:net'
import type { Family, ServicePort } from '../model.ts'
import { loadBalancerSources } from '../source-ranges.ts'

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

  /** `sources`: canonical CIDRs and addresses of `family` (loadBalancerSources). */
  constructor(family: Family, sources: readonly string[]) {
    this.#type = family === 4 ? 'ipv4' : 'ipv6'
    for (const s of sources) {
      const slash = s.indexOf('/')
      if (slash < 0) this.#list.addAddress(s, this.#type)
      else this.#list.addSubnet(s.slice(0, slash), Number(s.slice(slash + 1)), this.#type)
    }
    this.sources = sources
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

/**
 * The filter of `port`'s load-balancer IPs in `family`, or undefined when they admit
 * everyone. Ranges and node addresses that are not of the family (or do not parse) are left
 * out; what is left may admit no one.
 */
export function sourceFilter(port: ServicePort, nodeIPs: readonly string[], family: Family): SourceFilter | undefined {
  const sources = loadBalancerSources(port, nodeIPs, family)
  return sources === undefined ? undefined : new RangeFilter(family, sources)
}
