// Builders for Service ports, endpoints and states in the nftables proxier tests.
import type { Endpoint, Family, ProxyState, ServiceEntry, ServicePort } from '../../../src/proxy/model.ts'

export function port(over: Partial<ServicePort> & { namespace?: string; name?: string } = {}): ServicePort {
  const namespace = over.namespace ?? 'ns1'
  const name = over.name ?? 'svc1'
  const portName = over.portName ?? 'p80'
  const protocol = over.protocol ?? 'TCP'
  return {
    namespace,
    name,
    portName,
    protocol,
    clusterIP: '172.30.0.41',
    port: 80,
    nodePort: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    affinitySeconds: 0,
    externalLocal: false,
    internalLocal: false,
    ...over,
    id: over.id ?? `${namespace}/${name}:${portName}/${protocol}`,
  }
}

export function ep(ip: string, over: Partial<Endpoint> = {}): Endpoint {
  return { ip, port: 80, ready: true, serving: true, terminating: false, local: false, ...over }
}

export function entry(p: ServicePort, endpoints: Endpoint[] = []): ServiceEntry {
  return { port: p, endpoints }
}

export function state(entries: ServiceEntry[], over: Partial<ProxyState> = {}): ProxyState {
  const family: Family = over.family ?? 4
  return {
    family,
    serviceCIDRs: family === 4 ? ['172.30.0.0/16'] : ['fd00:30::/108'],
    clusterCIDRs: family === 4 ? ['10.0.0.0/8'] : ['fd00:10::/64'],
    nodeIPs: family === 4 ? ['192.168.0.2'] : ['fd00:192::2'],
    services: new Map(entries.map((e) => [e.port.id, e])),
    ...over,
  }
}
