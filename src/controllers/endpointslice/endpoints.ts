// The legacy Endpoints controller's desired state (upstream pkg/controller/endpoint):
// one Endpoints object named after the Service, subsets grouping addresses by the
// exact set of ports they offer.
import type { CoreV1EndpointPort, V1EndpointAddress, V1Endpoints, V1EndpointSubset, V1Pod, V1Service } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import type { ResourceInfo } from '../../api/registry.ts'
import type { Action, KubeObject } from '../actions.ts'
import {
  findPort,
  hasSelector,
  isIPv6,
  isPodReady,
  isServiceIPSet,
  labelHeadless,
  podIPs,
  selectedPods,
  servicePortProtocol,
  shouldPodBeInEndpoints,
  shouldSetHostname,
} from './pod-endpoint.ts'

export const maxEndpointsCapacity = 1000
export const annotationOverCapacity = 'endpoints.kubernetes.io/over-capacity'

const endpointsInfo: ResourceInfo = resources.find((r) => r.kind === 'Endpoints')!

export function reconcileEndpoints(service: V1Service | undefined, pods: readonly V1Pod[], existing: V1Endpoints | undefined): Action[] {
  if (service === undefined) {
    if (existing === undefined) return []
    const action: Action = { verb: 'delete', info: endpointsInfo, namespace: existing.metadata?.namespace, name: existing.metadata?.name ?? '' }
    if (existing.metadata?.uid !== undefined) action.uid = existing.metadata.uid
    return [action]
  }
  if (!hasSelector(service)) return []

  const subsets = desiredSubsets(service, pods)
  const truncated = truncateSubsets(subsets)
  const labels: Record<string, string> = { ...(service.metadata?.labels ?? {}) }
  if (isServiceIPSet(service)) delete labels[labelHeadless]
  else labels[labelHeadless] = ''

  if (existing === undefined) {
    const metadata: NonNullable<KubeObject['metadata']> = {
      name: service.metadata?.name,
      namespace: service.metadata?.namespace ?? 'default',
      labels,
    }
    if (truncated) metadata.annotations = { [annotationOverCapacity]: 'truncated' }
    const object: KubeObject = { apiVersion: 'v1', kind: 'Endpoints', metadata }
    if (subsets.length > 0) object.subsets = subsets
    return [{ verb: 'create', info: endpointsInfo, object }]
  }

  const annotations: Record<string, string> = { ...(existing.metadata?.annotations ?? {}) }
  if (truncated) annotations[annotationOverCapacity] = 'truncated'
  else delete annotations[annotationOverCapacity]
  if (
    subsetsKey(existing.subsets ?? []) === subsetsKey(subsets) &&
    sameMap(existing.metadata?.labels, labels) &&
    sameMap(existing.metadata?.annotations, annotations)
  ) {
    return []
  }
  const object = structuredClone(existing) as unknown as KubeObject
  object.apiVersion = 'v1'
  object.kind = 'Endpoints'
  object.metadata = { ...(object.metadata ?? {}), labels }
  if (Object.keys(annotations).length > 0) object.metadata.annotations = annotations
  else delete object.metadata.annotations
  if (subsets.length > 0) object.subsets = subsets
  else delete object.subsets
  return [{ verb: 'update', info: endpointsInfo, object }]
}

/** The subsets the Service's pods make, repacked and sorted (upstream RepackSubsets). */
export function desiredSubsets(service: V1Service, pods: readonly V1Pod[]): V1EndpointSubset[] {
  const publishNotReady = service.spec?.publishNotReadyAddresses === true
  const servicePorts = service.spec?.ports ?? []
  // port key → (address key → address and readiness)
  const byPort = new Map<string, { port: CoreV1EndpointPort | undefined; addresses: Map<string, { address: V1EndpointAddress; ready: boolean }> }>()
  const add = (port: CoreV1EndpointPort | undefined, address: V1EndpointAddress, ready: boolean): void => {
    const key = port === undefined ? '' : portKey(port)
    let entry = byPort.get(key)
    if (entry === undefined) {
      entry = { port, addresses: new Map() }
      byPort.set(key, entry)
    }
    entry.addresses.set(JSON.stringify([address.ip, address.targetRef?.uid ?? '']), { address, ready })
  }

  for (const pod of selectedPods(service, pods)) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue
    const address = podAddress(service, pod)
    if (address === undefined) continue
    const ready = publishNotReady || isPodReady(pod)
    if (servicePorts.length === 0) {
      // Headless Services may have no ports; their addresses are still published.
      if (service.spec?.clusterIP === 'None') add(undefined, address, ready)
      continue
    }
    for (const sp of servicePorts) {
      const port = findPort(pod, sp)
      if (port === undefined) continue
      const ep: CoreV1EndpointPort = sp.name ? { name: sp.name, port, protocol: servicePortProtocol(sp) } : { port, protocol: servicePortProtocol(sp) }
      if (sp.appProtocol !== undefined) ep.appProtocol = sp.appProtocol
      add(ep, address, ready)
    }
  }

  // Group ports offered by exactly the same addresses (with the same readiness).
  const groups = new Map<string, { ports: CoreV1EndpointPort[]; addresses: { address: V1EndpointAddress; ready: boolean }[] }>()
  for (const { port, addresses } of byPort.values()) {
    const members = [...addresses.values()].sort((a, b) => compareAddress(a.address, b.address))
    const key = JSON.stringify(members.map((m) => [m.address.ip, m.address.targetRef?.uid ?? '', m.ready]))
    let group = groups.get(key)
    if (group === undefined) {
      group = { ports: [], addresses: members }
      groups.set(key, group)
    }
    if (port !== undefined) group.ports.push(port)
  }

  const subsets: V1EndpointSubset[] = []
  for (const group of groups.values()) {
    const subset: V1EndpointSubset = {}
    const ready = group.addresses.filter((m) => m.ready).map((m) => m.address)
    const notReady = group.addresses.filter((m) => !m.ready).map((m) => m.address)
    if (ready.length > 0) subset.addresses = ready
    if (notReady.length > 0) subset.notReadyAddresses = notReady
    if (group.ports.length > 0) subset.ports = group.ports.sort((a, b) => cmp(portKey(a), portKey(b)))
    subsets.push(subset)
  }
  return subsets.sort((a, b) => cmp(subsetKey(a), subsetKey(b)))
}

/** The pod's address in the Service's (primary) family, or undefined if it has none. */
function podAddress(service: V1Service, pod: V1Pod): V1EndpointAddress | undefined {
  let v6: boolean
  const families = service.spec?.ipFamilies ?? []
  if (families.length > 0) v6 = families[0] === 'IPv6'
  else if (isServiceIPSet(service)) v6 = isIPv6(service.spec!.clusterIP!)
  else v6 = isIPv6(pod.status?.podIP ?? '')
  const ip = podIPs(pod).find((a) => isIPv6(a) === v6)
  if (ip === undefined) return undefined
  const address: V1EndpointAddress = {
    ip,
    targetRef: { kind: 'Pod', namespace: pod.metadata?.namespace ?? 'default', name: pod.metadata?.name },
  }
  if (pod.metadata?.uid !== undefined) address.targetRef!.uid = pod.metadata.uid
  if (pod.spec?.nodeName) address.nodeName = pod.spec.nodeName
  if (shouldSetHostname(pod, service)) address.hostname = pod.spec!.hostname
  return address
}

/**
 * Caps the total number of addresses at maxEndpointsCapacity as upstream does: ready
 * addresses win over not-ready ones, each subset keeps its proportional share.
 */
function truncateSubsets(subsets: V1EndpointSubset[]): boolean {
  let totalReady = 0
  let totalNotReady = 0
  for (const s of subsets) {
    totalReady += s.addresses?.length ?? 0
    totalNotReady += s.notReadyAddresses?.length ?? 0
  }
  if (totalReady + totalNotReady <= maxEndpointsCapacity) return false
  const truncateReady = totalReady > maxEndpointsCapacity
  const max = truncateReady ? maxEndpointsCapacity : maxEndpointsCapacity - totalReady
  const total = truncateReady ? totalReady : totalNotReady
  let room = max
  for (const s of subsets) {
    const inSubset = (truncateReady ? s.addresses?.length : s.notReadyAddresses?.length) ?? 0
    const share = Math.min(Math.ceil((inSubset / total) * max), room)
    if (truncateReady) {
      if (s.addresses) s.addresses = s.addresses.slice(0, share)
      delete s.notReadyAddresses
      room -= s.addresses?.length ?? 0
    } else {
      if (s.notReadyAddresses) s.notReadyAddresses = s.notReadyAddresses.slice(0, share)
      room -= s.notReadyAddresses?.length ?? 0
    }
  }
  return true
}

function portKey(p: CoreV1EndpointPort): string {
  return JSON.stringify([p.name ?? '', p.port, p.protocol ?? 'TCP', p.appProtocol ?? null])
}

function addressKey(a: V1EndpointAddress): string {
  const r = a.targetRef
  return JSON.stringify([a.ip, a.hostname ?? '', a.nodeName ?? '', r ? [r.kind ?? '', r.namespace ?? '', r.name ?? '', r.uid ?? ''] : null])
}

function subsetKey(s: V1EndpointSubset): string {
  return JSON.stringify([(s.addresses ?? []).map(addressKey), (s.notReadyAddresses ?? []).map(addressKey), (s.ports ?? []).map(portKey)])
}

/** Compares subsets as the controller writes them, ignoring targetRef resourceVersions. */
function subsetsKey(subsets: readonly V1EndpointSubset[]): string {
  return JSON.stringify(subsets.map(subsetKey))
}

function compareAddress(a: V1EndpointAddress, b: V1EndpointAddress): number {
  return cmp(a.ip, b.ip) || cmp(a.targetRef?.uid ?? '', b.targetRef?.uid ?? '')
}

function sameMap(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ak = Object.keys(a ?? {})
  return ak.length === Object.keys(b).length && ak.every((k) => Object.hasOwn(b, k) && b[k] === a![k])
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
