// Builders for Service ports, endpoints and states in the nftables proxier tests.
import { makeServicePort, type Endpoint, type Family, type ProxyState, type ServiceEntry, type ServicePort } from '../../../proxy/model.ts'

export function port(over: Partial<ServicePort> = {}): ServicePort {
  return makeServicePort({ namespace: 'ns1', name: 'svc1', portName: 'p80', protocol: 'TCP', clusterIP: '172.30.0.41', port: 80, ...over })
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
