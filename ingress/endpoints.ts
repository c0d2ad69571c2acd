// A backend's ready endpoints, read from its Service and EndpointSlices: the Ingress
// controller proxies straight to them, not through the ClusterIP.
//
// Decisions:
// - Only endpoints with conditions.ready !== false are used (unset = ready). When none is
//   ready the list is empty (the proxy answers 503); there is no fallback to serving but
//   terminating endpoints as kube-proxy does, since ingress-nginx routes to ready ones only.
// - Only an endpoint's first address is used: the API calls its addresses fungible, and
//   kube-proxy does the same.
// - Only TCP ports; FQDN slices are skipped. IPv4 and IPv6 slices are both used.
// - Endpoints are deduplicated by address:port and sorted, so equal inputs give equal lists.
import type { V1EndpointSlice, V1Service, V1ServicePort } from '@kubernetes/client-node'
import { labelServiceName } from '../src/controllers/endpointslice/pod-endpoint.ts'
import type { Backend } from './route-table.ts'

export interface Endpoint {
  /** As written in the slice (IPv6 without brackets). */
  address: string
  port: number
}

export type BackendEndpointsError = 'ServiceNotFound' | 'PortNotFound' | 'ExternalName'

export type BackendEndpoints = { endpoints: Endpoint[] } | { error: BackendEndpointsError; message: string }

/** A stable key for a backend: 'ns/svc:port' (the port's number or name). */
export function backendKey(backend: Backend): string {
  return `${backend.namespace}/${backend.service}:${backend.port.number ?? backend.port.name ?? ''}`
}

function isTcp(protocol: string | undefined): boolean {
  return (protocol ?? 'TCP') === 'TCP'
}

function servicePort(backend: Backend, ports: readonly V1ServicePort[]): V1ServicePort | undefined {
  const { number, name } = backend.port
  if (number !== undefined) return ports.find((p) => p.port === number && isTcp(p.protocol))
  if (name) return ports.find((p) => p.name === name && isTcp(p.protocol))
  return undefined
}

function describePort(backend: Backend): string {
  const { number, name } = backend.port
  return number !== undefined ? `TCP port ${number}` : `TCP port named ${JSON.stringify(name ?? '')}`
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1
  return a.port - b.port
}

/**
 * The ready endpoints of a Service port: the backend's port (by number = the Service port, or
 * by name) → the Service's port entry → its name → the EndpointSlice ports of that name (TCP)
 * → each slice's own port number. Slices are those labelled kubernetes.io/service-name=<service>
 * in the backend's namespace; others in `slices` are ignored.
 */
export function backendEndpoints(backend: Backend, service: V1Service | undefined, slices: readonly V1EndpointSlice[]): BackendEndpoints {
  const svc = `${backend.namespace}/${backend.service}`
  if (!service) {
    return { error: 'ServiceNotFound', message: `service ${svc} not found; create it or fix the Ingress backend` }
  }
  if (service.spec?.type === 'ExternalName') {
    return {
      error: 'ExternalName',
      message: `service ${svc} is of type ExternalName, which weft ingress does not support; use a Service with a selector or EndpointSlices`,
    }
  }
  const port = servicePort(backend, service.spec?.ports ?? [])
  if (!port) {
    const known = (service.spec?.ports ?? []).map((p) => (p.name ? `${p.name}=${p.port}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`))
    return {
      error: 'PortNotFound',
      message: `service ${svc} has no ${describePort(backend)} (it has ${known.length > 0 ? known.join(', ') : 'no ports'}); fix the Ingress backend port`,
    }
  }
  const portName = port.name ?? ''
  const seen = new Map<string, Endpoint>()
  for (const slice of slices) {
    if ((slice.metadata?.namespace ?? 'default') !== backend.namespace) continue
    if (slice.metadata?.labels?.[labelServiceName] !== backend.service) continue
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue
    const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && isTcp(p.protocol))
    const number = sp?.port
    if (number === undefined || !Number.isInteger(number) || number < 1 || number > 65535) continue
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue
      const address = ep.addresses?.[0]
      if (!address) continue
      const key = `${address}|${number}`
      if (!seen.has(key)) seen.set(key, { address, port: number })
    }
  }
  return { endpoints: [...seen.values()].sort(compareEndpoints) }
}
