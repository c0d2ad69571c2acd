// From API objects to the proxy's model: the ports of a Service in one IP family, each with
// the endpoints its EndpointSlices list for it (kube-proxy's service and endpoint change
// trackers, as pure functions).
import type { V1EndpointSlice, V1Service, V1ServicePort } from '@kubernetes/client-node'
import { labelServiceName } from '../src/controllers/endpointslice/pod-endpoint.ts'
import { makeServicePort, type Endpoint, type Family, type L4Protocol, type ServiceEntry, type ServicePort } from './model.ts'

const sourceRangesAnnotation = 'service.beta.kubernetes.io/load-balancer-source-ranges'
const defaultAffinitySeconds = 10800

export function familyOf(ip: string): Family {
  return ip.includes(':') ? 6 : 4
}

/** `namespace/name`: the key the proxy tracks a Service and its slices under. */
export function serviceKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? 'default'}/${name ?? ''}`
}

/** The Service a slice belongs to, or undefined for a slice without the service-name label. */
export function sliceServiceKey(slice: V1EndpointSlice): string | undefined {
  const name = slice.metadata?.labels?.[labelServiceName]
  return name ? serviceKey(slice.metadata?.namespace, name) : undefined
}

function ofFamily(values: readonly (string | undefined)[] | undefined, family: Family): string[] {
  return (values ?? []).map((v) => v?.trim()).filter((v): v is string => !!v && familyOf(v) === family)
}

/** The ports the proxy serves for `service` in `family`: none for headless and ExternalName Services. */
export function servicePorts(service: V1Service, family: Family): ServicePort[] {
  const spec = service.spec
  if (!spec || spec.type === 'ExternalName') return []
  const clusterIP = ofFamily(spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP], family).find((ip) => ip !== 'None')
  if (!clusterIP) return []
  const namespace = service.metadata?.namespace ?? 'default'
  const name = service.metadata?.name ?? ''
  const withNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer'
  const annotationRanges = service.metadata?.annotations?.[sourceRangesAnnotation]?.split(',')
  const ranges = spec.loadBalancerSourceRanges?.length ? spec.loadBalancerSourceRanges : (annotationRanges ?? [])
  // A load-balancer address in "Proxy" mode is answered by the load balancer, not by the node.
  const lbIPs = (service.status?.loadBalancer?.ingress ?? []).filter((i) => i.ipMode !== 'Proxy').map((i) => i.ip)
  const affinitySeconds = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? defaultAffinitySeconds) : 0
  return (spec.ports ?? []).map((p: V1ServicePort) =>
    makeServicePort({
      namespace,
      name,
      portName: p.name ?? '',
      protocol: (p.protocol ?? 'TCP') as L4Protocol,
      clusterIP,
      port: p.port,
      nodePort: withNodePorts ? (p.nodePort ?? 0) : 0,
      externalIPs: ofFamily(spec.externalIPs, family),
      loadBalancerIPs: spec.type === 'LoadBalancer' ? ofFamily(lbIPs, family) : [],
      loadBalancerSourceRanges: ofFamily(ranges, family),
      affinitySeconds,
      externalLocal: spec.externalTrafficPolicy === 'Local',
      internalLocal: spec.internalTrafficPolicy === 'Local',
    }),
  )
}

/** The endpoints `slices` list for `port` in its family, deduplicated and sorted. */
export function portEndpoints(port: ServicePort, slices: readonly V1EndpointSlice[], family: Family, nodeName: string): Endpoint[] {
  const addressType = family === 4 ? 'IPv4' : 'IPv6'
  const byAddress = new Map<string, Endpoint>()
  for (const slice of slices) {
    if (slice.addressType !== addressType) continue
    const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === port.portName && (p.protocol ?? 'TCP') === port.protocol)
    if (!sp?.port) continue
    for (const ep of slice.endpoints ?? []) {
      const ip = ep.addresses?.[0]
      if (!ip || familyOf(ip) !== family) continue
      const ready = ep.conditions?.ready ?? true
      const endpoint: Endpoint = {
        ip,
        port: sp.port,
        ready,
        // As kube-proxy reads them: an unset serving means serving, an unset ready means ready.
        serving: ep.conditions?.serving ?? true,
        terminating: ep.conditions?.terminating ?? false,
        local: ep.nodeName === nodeName,
      }
      const key = `${ip}|${sp.port}`
      const seen = byAddress.get(key)
      // The same address in two slices (a move between slices): the more usable copy wins.
      if (!seen || (!seen.ready && endpoint.ready)) byAddress.set(key, endpoint)
    }
  }
  return [...byAddress.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1))
}

/** Everything the proxy serves for one Service in `family`. */
export function serviceEntries(service: V1Service, slices: readonly V1EndpointSlice[], family: Family, nodeName: string): ServiceEntry[] {
  return servicePorts(service, family).map((port) => ({ port, endpoints: portEndpoints(port, slices, family, nodeName) }))
}
