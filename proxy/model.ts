// What the proxy programs, per IP family: every port of every Service with the endpoints
// that back it (kube-proxy's ServicePort and Endpoint), and the node facts the rules need.
// Both proxiers (nftables and userspace) are driven by the same ProxyState.
export type Family = 4 | 6
export type L4Protocol = 'TCP' | 'UDP' | 'SCTP'

export interface ServicePort {
  /** `namespace/name:portName/PROTOCOL` (portName may be empty); unique within a family. */
  id: string
  namespace: string
  name: string
  portName: string
  protocol: L4Protocol
  clusterIP: string
  port: number
  /** 0 when the port has no NodePort. */
  nodePort: number
  externalIPs: string[]
  /** status.loadBalancer.ingress IPs. */
  loadBalancerIPs: string[]
  /** CIDRs of this family allowed to reach the load-balancer IPs; empty: everyone, unless loadBalancerSourcesRestricted. */
  loadBalancerSourceRanges: string[]
  /**
   * The Service gave source ranges (of any family, valid or not). With none usable in this
   * family (none parsed, or a dual-stack Service restricted only in the other family) the
   * load-balancer IPs admit no one: a restriction never fails open.
   */
  loadBalancerSourcesRestricted?: boolean
  /** sessionAffinity ClientIP timeout in seconds; 0: no affinity. */
  affinitySeconds: number
  /** externalTrafficPolicy Local (NodePort, externalIPs, load-balancer IPs use only local endpoints). */
  externalLocal: boolean
  /** internalTrafficPolicy Local (the ClusterIP uses only local endpoints). */
  internalLocal: boolean
}

/** The names and addresses a ServicePort must have; everything else defaults to off. */
export type ServicePortFields = Pick<ServicePort, 'namespace' | 'name' | 'portName' | 'protocol' | 'clusterIP' | 'port'> & Partial<ServicePort>

/** A ServicePort with its id made from its names, and no NodePort, extra address, affinity or Local policy unless given. */
export function makeServicePort(fields: ServicePortFields): ServicePort {
  return {
    id: `${fields.namespace}/${fields.name}:${fields.portName}/${fields.protocol}`,
    nodePort: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    loadBalancerSourcesRestricted: false,
    affinitySeconds: 0,
    externalLocal: false,
    internalLocal: false,
    ...fields,
  }
}

export interface Endpoint {
  ip: string
  port: number
  ready: boolean
  serving: boolean
  terminating: boolean
  /** Its pod runs on this node. */
  local: boolean
}

export interface ServiceEntry {
  port: ServicePort
  /** Every endpoint of the port in this family, ready or not, sorted by ip then port. */
  endpoints: Endpoint[]
}

export interface ProxyState {
  family: Family
  /** The service network(s) of this family: addresses in it that no Service has are dropped. */
  serviceCIDRs: string[]
  /** The pod network(s) of this family: traffic to a Service from outside them is masqueraded. */
  clusterCIDRs: string[]
  /** This node's own addresses of this family. */
  nodeIPs: string[]
  /** By ServicePort id. */
  services: ReadonlyMap<string, ServiceEntry>
}

/** Where traffic to a Service comes in: its ClusterIP, or from outside (NodePort, external and LB IPs). */
export type TrafficKind = 'internal' | 'external'

/**
 * The endpoints traffic of `kind` may go to (kube-proxy's CategorizeEndpoints): ready ones;
 * when none is ready, the serving terminating ones; only the local ones under a Local policy.
 */
export function usableEndpoints(entry: ServiceEntry, kind: TrafficKind): Endpoint[] {
  const local = kind === 'internal' ? entry.port.internalLocal : entry.port.externalLocal
  const candidates = local ? entry.endpoints.filter((e) => e.local) : entry.endpoints
  const ready = candidates.filter((e) => e.ready)
  return ready.length ? ready : candidates.filter((e) => e.serving && e.terminating)
}

/**
 * What traffic of `kind` with no usable endpoint gets: `reject` (connection refused) when the
 * Service has no usable endpoint anywhere, `drop` when some exist but a Local policy rules them
 * out (as kube-proxy does), undefined when there are usable endpoints.
 */
export function noEndpointVerdict(entry: ServiceEntry, kind: TrafficKind): 'reject' | 'drop' | undefined {
  if (usableEndpoints(entry, kind).length) return undefined
  const anywhere = usableEndpoints({ ...entry, port: { ...entry.port, internalLocal: false, externalLocal: false } }, kind)
  return anywhere.length ? 'drop' : 'reject'
}

/** The Service has traffic from outside: a NodePort, externalIPs or load-balancer IPs. */
export function hasExternal(port: ServicePort): boolean {
  return port.nodePort > 0 || port.externalIPs.length > 0 || port.loadBalancerIPs.length > 0
}
