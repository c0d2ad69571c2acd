// What the zone reads of each object. The informers keep only this (a Service drops from a
// few KB to about a hundred bytes), and it is what reaches the query threads.
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node'

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'

export function zoneService(s: V1Service): V1Service {
  const spec = s.spec ?? {}
  return {
    metadata: { name: s.metadata?.name, namespace: s.metadata?.namespace, resourceVersion: s.metadata?.resourceVersion },
    spec: {
      type: spec.type,
      clusterIP: spec.clusterIP,
      clusterIPs: spec.clusterIPs,
      externalName: spec.externalName,
      publishNotReadyAddresses: spec.publishNotReadyAddresses,
      ports: spec.ports?.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
    },
  }
}

export function zoneSlice(s: V1EndpointSlice): V1EndpointSlice {
  const service = s.metadata?.labels?.[SERVICE_NAME_LABEL]
  return {
    metadata: { name: s.metadata?.name, namespace: s.metadata?.namespace, resourceVersion: s.metadata?.resourceVersion, labels: service === undefined ? undefined : { [SERVICE_NAME_LABEL]: service } },
    addressType: s.addressType,
    endpoints: (s.endpoints ?? []).map((e) => ({ addresses: e.addresses, hostname: e.hostname, conditions: { ready: e.conditions?.ready } })),
    ports: s.ports?.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
  }
}

export function zonePod(p: V1Pod): V1Pod {
  return {
    metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, resourceVersion: p.metadata?.resourceVersion, deletionTimestamp: p.metadata?.deletionTimestamp },
    status: { phase: p.status?.phase, podIP: p.status?.podIP, podIPs: p.status?.podIPs?.map((i) => ({ ip: i.ip })) },
  }
}
