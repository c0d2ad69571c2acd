// What the userspace proxier listens on, from the model alone: the sockets of each Service
// port and the Service addresses that must be local on the node for them to bind.
import { parseIP } from '../../src/util/ip-parse.ts'
import type { Family, ProxyState, ServicePort, TrafficKind } from '../model.ts'
import { joinHostPort } from '../../src/util/host-port.ts'

export interface ListenSpec {
  /** `host:port` (`[host]:port` for IPv6), unique within a Service port. */
  key: string
  host: string
  port: number
  /** ClusterIP traffic is internal; NodePort, externalIPs and load-balancer IPs are external. */
  kind: TrafficKind
  /** The NodePort: every address of the node (`0.0.0.0`, or `::` IPv6-only). */
  wildcard: boolean
  /** A load-balancer IP (also when it is the ClusterIP or an externalIP too): loadBalancerSourceRanges apply. */
  loadBalancer: boolean
}

/** `ip` in canonical form when it is an address of `family`; undefined otherwise. */
function ofFamily(ip: string, family: Family): string | undefined {
  const parsed = parseIP(ip)
  return parsed?.family === family && !parsed.mapped ? parsed.text : undefined
}

/** The sockets a Service port needs, ClusterIP first; addresses of another family are skipped. */
export function listenSpecs(port: ServicePort, family: Family): ListenSpec[] {
  const specs = new Map<string, ListenSpec>()
  const add = (host: string | undefined, p: number, kind: TrafficKind, wildcard = false): void => {
    if (host === undefined || p <= 0) return
    const key = joinHostPort(host, p)
    if (!specs.has(key)) specs.set(key, { key, host, port: p, kind, wildcard, loadBalancer: false })
  }
  add(ofFamily(port.clusterIP, family), port.port, 'internal')
  for (const ip of [...port.externalIPs, ...port.loadBalancerIPs]) add(ofFamily(ip, family), port.port, 'external')
  if (port.nodePort > 0) add(family === 4 ? '0.0.0.0' : '::', port.nodePort, 'external', true)
  // As nftables mode's firewall map, keyed on the address and port whatever else it is.
  for (const ip of port.loadBalancerIPs) {
    const host = ofFamily(ip, family)
    const spec = host === undefined ? undefined : specs.get(joinHostPort(host, port.port))
    if (spec !== undefined) spec.loadBalancer = true
  }
  return [...specs.values()]
}

/**
 * The addresses to make local: every ClusterIP, externalIP and load-balancer IP of the family,
 * except the node's own addresses (already local).
 */
export function serviceAddresses(state: ProxyState): Set<string> {
  const nodeIPs = new Set(state.nodeIPs.map((ip) => ofFamily(ip, state.family)))
  const out = new Set<string>()
  for (const { port } of state.services.values()) {
    if (port.protocol === 'SCTP') continue
    for (const spec of listenSpecs(port, state.family)) {
      if (!spec.wildcard && !nodeIPs.has(spec.host)) out.add(spec.host)
    }
  }
  return out
}
