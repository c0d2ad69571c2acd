// Rules shared by the EndpointSlice and Endpoints controllers: which pods back a
// Service, their readiness, and how a Service port resolves against a pod.
import type { V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node'
import { matchesLabels, selectorFromSet } from '../../api/selectors.ts'

export const labelServiceName = 'kubernetes.io/service-name'
export const labelManagedBy = 'endpointslice.kubernetes.io/managed-by'
export const labelHeadless = 'service.kubernetes.io/headless'

export type AddressType = 'IPv4' | 'IPv6'

/** Services with a non-empty selector get endpoints from the controllers. */
export function hasSelector(service: V1Service): boolean {
  return Object.keys(service.spec?.selector ?? {}).length > 0
}

/** A ClusterIP is allocated (not headless, not ExternalName). */
export function isServiceIPSet(service: V1Service): boolean {
  const ip = service.spec?.clusterIP
  return ip !== undefined && ip !== '' && ip !== 'None'
}

/** The pods of `service`: same namespace, matching its selector. */
export function selectedPods(service: V1Service, pods: readonly V1Pod[]): V1Pod[] {
  const namespace = service.metadata?.namespace ?? 'default'
  const selector = selectorFromSet(service.spec?.selector)
  return pods.filter((p) => (p.metadata?.namespace ?? 'default') === namespace && matchesLabels(selector, p.metadata?.labels))
}

export function isIPv6(ip: string): boolean {
  return ip.includes(':')
}

export function podIPs(pod: V1Pod): string[] {
  const list = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip) => ip !== undefined && ip !== '')
  if (list.length > 0) return list
  const single = pod.status?.podIP
  return single ? [single] : []
}

export function isPodReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

export function isPodTerminating(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null
}

/** Upstream ShouldPodBeInEndpoints: not terminal, has an IP, terminating only when asked. */
export function shouldPodBeInEndpoints(pod: V1Pod, includeTerminating: boolean): boolean {
  const phase = pod.status?.phase
  if (phase === 'Succeeded' || phase === 'Failed') return false
  if (podIPs(pod).length === 0) return false
  if (!includeTerminating && isPodTerminating(pod)) return false
  return true
}

export function shouldSetHostname(pod: V1Pod, service: V1Service): boolean {
  const hostname = pod.spec?.hostname
  return (
    hostname !== undefined &&
    hostname !== '' &&
    pod.spec?.subdomain === service.metadata?.name &&
    (pod.metadata?.namespace ?? 'default') === (service.metadata?.namespace ?? 'default')
  )
}

export function servicePortProtocol(port: V1ServicePort): string {
  return port.protocol ?? 'TCP'
}

/**
 * The container port a Service port targets on `pod` (upstream FindPort): a number
 * as is, a name looked up in the containers' (and sidecar init containers') ports
 * with the same protocol; undefined when the name does not resolve.
 */
export function findPort(pod: V1Pod, port: V1ServicePort): number | undefined {
  const target = port.targetPort ?? port.port
  if (typeof target === 'number') return target
  const protocol = servicePortProtocol(port)
  const containers = [
    ...(pod.spec?.containers ?? []),
    ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'),
  ]
  for (const container of containers) {
    for (const p of container.ports ?? []) {
      if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort
    }
  }
  return undefined
}
