// What the service proxy keeps of each Service and EndpointSlice in its informer caches:
// the fields it programs and names in Events, without managedFields, annotations it does
// not read (kubectl's last-applied copy among them) or endpoints' targetRefs. With 10,000
// Services these are most of the proxy's memory.
import type { V1EndpointSlice, V1ObjectMeta, V1Service } from '@kubernetes/client-node'
import { sourceRangesAnnotation } from '../src/api/validation/service.ts'

function slimMeta(m: V1ObjectMeta | undefined, keepAnnotation?: string): V1ObjectMeta {
  const out: V1ObjectMeta = { name: m?.name, namespace: m?.namespace, uid: m?.uid, resourceVersion: m?.resourceVersion }
  if (m?.labels) out.labels = m.labels
  const kept = keepAnnotation === undefined ? undefined : m?.annotations?.[keepAnnotation]
  if (kept !== undefined) out.annotations = { [keepAnnotation!]: kept }
  return out
}

export function slimService(s: V1Service): V1Service {
  const out: V1Service = { apiVersion: s.apiVersion, kind: s.kind, metadata: slimMeta(s.metadata, sourceRangesAnnotation), spec: s.spec }
  const lb = s.status?.loadBalancer
  if (lb) out.status = { loadBalancer: lb }
  return out
}

export function slimEndpointSlice(s: V1EndpointSlice): V1EndpointSlice {
  return {
    apiVersion: s.apiVersion,
    kind: s.kind,
    metadata: slimMeta(s.metadata),
    addressType: s.addressType,
    ports: s.ports,
    // Anything but an object (hostile input) is kept as it is, for the parser to refuse.
    endpoints: Array.isArray(s.endpoints)
      ? s.endpoints.map((ep) => (ep !== null && typeof ep === 'object' ? { addresses: ep.addresses, conditions: ep.conditions, nodeName: ep.nodeName, zone: ep.zone } : ep))
      : s.endpoints,
  }
}
