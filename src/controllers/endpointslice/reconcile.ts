// The EndpointSlice controller's desired state (upstream staging/src/k8s.io/endpointslice
// reconciler): (service, its pods, its managed slices, nodes) → create/update/delete actions.
// Endpoints already placed stay in their slice; unchanged slices get no action.
import type { DiscoveryV1EndpointPort, V1Endpoint, V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import type { ResourceInfo } from '../../api/registry.ts'
import type { Action, KubeObject } from '../actions.ts'
import {
  findPort,
  hasSelector,
  isIPv6,
  isPodReady,
  isPodTerminating,
  isServiceIPSet,
  labelHeadless,
  labelManagedBy,
  labelServiceName,
  podIPs,
  selectedPods,
  servicePortProtocol,
  shouldPodBeInEndpoints,
  shouldSetHostname,
} from './pod-endpoint.ts'
import type { AddressType } from './pod-endpoint.ts'

export interface EndpointSliceOptions {
  controllerName: string
  maxEndpointsPerSlice: number
}

export const defaultEndpointSliceOptions: EndpointSliceOptions = {
  controllerName: 'endpointslice-controller.k8s.io',
  maxEndpointsPerSlice: 100,
}

const zoneLabel = 'topology.kubernetes.io/zone'
const sliceInfo: ResourceInfo = resources.find((r) => r.kind === 'EndpointSlice')!

interface Slice {
  apiVersion: string
  kind: string
  metadata: NonNullable<KubeObject['metadata']>
  addressType: AddressType
  endpoints: V1Endpoint[]
  ports: DiscoveryV1EndpointPort[]
}

interface Plan {
  create: Slice[]
  update: Slice[]
  delete: V1EndpointSlice[]
}

export function reconcileEndpointSlices(
  service: V1Service | undefined,
  pods: readonly V1Pod[],
  existingSlices: readonly V1EndpointSlice[],
  nodes?: ReadonlyMap<string, V1Node>,
  opts: EndpointSliceOptions = defaultEndpointSliceOptions,
): Action[] {
  const managed = existingSlices.filter((s) => s.metadata?.labels?.[labelManagedBy] === opts.controllerName)
  if (service === undefined) return managed.map(deleteAction)
  if (service.spec?.type === 'ExternalName' || !hasSelector(service)) return []

  const name = service.metadata?.name
  const live = managed.filter((s) => s.metadata?.labels?.[labelServiceName] === name && !s.metadata?.deletionTimestamp)
  const backing = selectedPods(service, pods).sort(byPodName)
  const families = addressTypesForService(service)

  const actions: Action[] = []
  const unsupported: V1EndpointSlice[] = []
  for (const slice of live) if (!families.includes(slice.addressType as AddressType)) unsupported.push(slice)
  for (const family of families) {
    const plan = reconcileAddressType(service, backing, live.filter((s) => s.addressType === family), nodes, opts, family)
    finalize(plan, service)
    actions.push(...plan.create.map((s): Action => ({ verb: 'create', info: sliceInfo, object: toObject(s) })))
    actions.push(...plan.update.map((s): Action => ({ verb: 'update', info: sliceInfo, object: toObject(s) })))
    actions.push(...plan.delete.map(deleteAction))
  }
  actions.push(...unsupported.map(deleteAction))
  return actions
}

/** spec.ipFamilies; without it, the ClusterIP's family, or both for a headless Service. */
export function addressTypesForService(service: V1Service): AddressType[] {
  const families = service.spec?.ipFamilies ?? []
  const out: AddressType[] = []
  for (const f of families) if ((f === 'IPv4' || f === 'IPv6') && !out.includes(f)) out.push(f)
  if (out.length > 0) return out
  if (isServiceIPSet(service)) return [isIPv6(service.spec!.clusterIP!) ? 'IPv6' : 'IPv4']
  return ['IPv4', 'IPv6']
}

function reconcileAddressType(
  service: V1Service,
  pods: readonly V1Pod[],
  existing: readonly V1EndpointSlice[],
  nodes: ReadonlyMap<string, V1Node> | undefined,
  opts: EndpointSliceOptions,
  family: AddressType,
): Plan {
  const plan: Plan = { create: [], update: [], delete: [] }
  const existingByPorts = new Map<string, V1EndpointSlice[]>()
  for (const slice of [...existing].sort(bySliceName)) {
    if (!ownedBy(slice, service)) {
      plan.delete.push(slice)
      continue
    }
    const key = portsKey(slice.ports ?? [])
    existingByPorts.set(key, [...(existingByPorts.get(key) ?? []), slice])
  }

  const desiredByPorts = new Map<string, { ports: DiscoveryV1EndpointPort[]; endpoints: Map<string, V1Endpoint> }>()
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue
    const ports = endpointPorts(service, pod)
    const key = portsKey(ports)
    let desired = desiredByPorts.get(key)
    if (desired === undefined) {
      desired = { ports, endpoints: new Map() }
      desiredByPorts.set(key, desired)
    }
    const node = nodes?.get(pod.spec?.nodeName ?? '')
    // A pod on a node that does not exist is left out until the node shows up.
    if (nodes !== undefined && node === undefined && !service.spec?.publishNotReadyAddresses) continue
    const endpoint = podToEndpoint(pod, node, service, family)
    if (endpoint.addresses.length > 0) desired.endpoints.set(endpointKey(endpoint), endpoint)
  }

  for (const key of [...desiredByPorts.keys()].sort()) {
    const desired = desiredByPorts.get(key)!
    const sub = reconcilePortMapping(service, existingByPorts.get(key) ?? [], desired.endpoints, desired.ports, family, opts)
    plan.create.push(...sub.create)
    plan.update.push(...sub.update)
    plan.delete.push(...sub.delete)
  }
  for (const [key, slices] of existingByPorts) if (!desiredByPorts.has(key)) plan.delete.push(...slices)

  // A Service with no endpoints at all keeps one empty placeholder slice.
  if (existing.length === plan.delete.length && plan.create.length === 0) {
    const placeholder = newSlice(service, [], family, opts)
    if (plan.delete.length === 1 && isPlaceholder(plan.delete[0], placeholder)) plan.delete = []
    else plan.create.push(placeholder)
  }
  return plan
}

function reconcilePortMapping(
  service: V1Service,
  existing: readonly V1EndpointSlice[],
  desired: Map<string, V1Endpoint>,
  ports: DiscoveryV1EndpointPort[],
  family: AddressType,
  opts: EndpointSliceOptions,
): Plan {
  const max = opts.maxEndpointsPerSlice
  const labels = sliceLabels(service, opts)
  const toUpdate: Slice[] = []
  const toDelete: V1EndpointSlice[] = []
  const unchanged: V1EndpointSlice[] = []

  for (const slice of existing) {
    const kept: V1Endpoint[] = []
    let changed = false
    for (const endpoint of slice.endpoints ?? []) {
      const key = endpointKey(endpoint)
      const want = desired.get(key)
      if (want === undefined) continue
      kept.push(want)
      if (endpointState(want) !== endpointState(endpoint)) changed = true
      desired.delete(key)
    }
    if (changed || kept.length !== (slice.endpoints ?? []).length) {
      if (kept.length === 0) toDelete.push(slice)
      else toUpdate.push(withChanges(slice, kept, labels))
    } else if (!sameLabels(slice.metadata?.labels, labels)) {
      toUpdate.push(withChanges(slice, kept, labels))
    } else {
      unchanged.push(slice)
    }
  }

  const remaining = [...desired.values()]
  // Fill the slices being updated anyway first, fullest first.
  toUpdate.sort((a, b) => b.endpoints.length - a.endpoints.length)
  for (const slice of toUpdate) {
    while (remaining.length > 0 && slice.endpoints.length < max) slice.endpoints.push(remaining.shift()!)
  }

  const toCreate: Slice[] = []
  while (remaining.length > 0) {
    let target: Slice | undefined
    if (remaining.length < max) {
      const fit = sliceToFill(unchanged, remaining.length, max)
      if (fit !== undefined) {
        unchanged.splice(unchanged.indexOf(fit), 1)
        target = withChanges(fit, [...(fit.endpoints ?? [])], labels)
        toUpdate.push(target)
      }
    }
    if (target === undefined) {
      target = newSlice(service, ports, family, opts)
      toCreate.push(target)
    }
    while (remaining.length > 0 && target.endpoints.length < max) target.endpoints.push(remaining.shift()!)
  }

  for (const slice of [...toUpdate, ...toCreate]) slice.endpoints.sort(byEndpoint)
  return { create: toCreate, update: toUpdate, delete: toDelete }
}

/** The unchanged slice that ends up closest to full after taking `count` endpoints. */
function sliceToFill(slices: readonly V1EndpointSlice[], count: number, max: number): V1EndpointSlice | undefined {
  let best: V1EndpointSlice | undefined
  let bestGap = max
  for (const slice of slices) {
    const gap = max - (count + (slice.endpoints ?? []).length)
    if (gap >= 0 && gap < bestGap) {
      best = slice
      bestGap = gap
      if (gap === 0) break
    }
  }
  return best
}

/** Turns creates into updates of slices that would otherwise be deleted (fewer writes). */
function finalize(plan: Plan, service: V1Service): void {
  for (let i = 0; i < plan.delete.length && plan.create.length > 0; ) {
    const old = plan.delete[i]
    const fresh = plan.create[plan.create.length - 1]
    if (old.addressType === fresh.addressType && ownedBy(old, service)) {
      plan.create.pop()
      const { generateName: _unused, ...meta } = fresh.metadata
      fresh.metadata = { ...meta, name: old.metadata?.name, namespace: old.metadata?.namespace ?? meta.namespace }
      if (old.metadata?.uid !== undefined) fresh.metadata.uid = old.metadata.uid
      if (old.metadata?.resourceVersion !== undefined) fresh.metadata.resourceVersion = old.metadata.resourceVersion
      plan.update.push(fresh)
      plan.delete.splice(i, 1)
    } else {
      i++
    }
  }
}

function podToEndpoint(pod: V1Pod, node: V1Node | undefined, service: V1Service, family: AddressType): V1Endpoint {
  const serving = isPodReady(pod)
  const terminating = isPodTerminating(pod)
  const ready = service.spec?.publishNotReadyAddresses === true || (serving && !terminating)
  const endpoint: V1Endpoint = {
    addresses: podIPs(pod).filter((ip) => isIPv6(ip) === (family === 'IPv6')),
    conditions: { ready, serving, terminating },
    targetRef: { kind: 'Pod', namespace: pod.metadata?.namespace ?? 'default', name: pod.metadata?.name, uid: pod.metadata?.uid },
  }
  if (endpoint.targetRef!.uid === undefined) delete endpoint.targetRef!.uid
  const nodeName = pod.spec?.nodeName
  if (nodeName) endpoint.nodeName = nodeName
  const zone = node?.metadata?.labels?.[zoneLabel]
  if (zone) endpoint.zone = zone
  if (shouldSetHostname(pod, service)) endpoint.hostname = pod.spec!.hostname
  return endpoint
}

/** The slice ports a pod offers for the Service: one per Service port whose target resolves. */
export function endpointPorts(service: V1Service, pod: V1Pod): DiscoveryV1EndpointPort[] {
  const out: DiscoveryV1EndpointPort[] = []
  for (const sp of service.spec?.ports ?? []) {
    const port = findPort(pod, sp)
    if (port === undefined) continue
    const ep: DiscoveryV1EndpointPort = { name: sp.name ?? '', port, protocol: servicePortProtocol(sp) }
    if (sp.appProtocol !== undefined) ep.appProtocol = sp.appProtocol
    out.push(ep)
  }
  return out.sort((a, b) => cmp(portKey(a), portKey(b)))
}

function portKey(p: DiscoveryV1EndpointPort): string {
  return JSON.stringify([p.name ?? '', p.protocol ?? 'TCP', p.port ?? null, p.appProtocol ?? null])
}

function portsKey(ports: readonly DiscoveryV1EndpointPort[]): string {
  return JSON.stringify(ports.map(portKey).sort())
}

/** Identity of an endpoint across reconciles (upstream hashEndpoint). */
function endpointKey(e: V1Endpoint): string {
  return JSON.stringify([[...(e.addresses ?? [])].sort(), e.hostname ?? '', e.targetRef?.namespace ?? '', e.targetRef?.name ?? ''])
}

/** Everything beyond the identity that makes an endpoint need rewriting. */
function endpointState(e: V1Endpoint): string {
  const c = e.conditions ?? {}
  const r = e.targetRef
  return JSON.stringify([
    e.nodeName ?? null,
    e.zone ?? null,
    c.ready ?? null,
    c.serving ?? null,
    c.terminating ?? null,
    e.hints ?? null,
    r ? [r.kind ?? '', r.namespace ?? '', r.name ?? '', r.uid ?? '', r.apiVersion ?? '', r.resourceVersion ?? '', r.fieldPath ?? ''] : null,
  ])
}

function sliceLabels(service: V1Service, opts: EndpointSliceOptions): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const [k, v] of Object.entries(service.metadata?.labels ?? {})) {
    if (k !== labelServiceName && k !== labelManagedBy && k !== labelHeadless) labels[k] = v
  }
  if (!isServiceIPSet(service)) labels[labelHeadless] = ''
  labels[labelServiceName] = service.metadata?.name ?? ''
  labels[labelManagedBy] = opts.controllerName
  return labels
}

function sameLabels(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ak = Object.keys(a ?? {})
  return ak.length === Object.keys(b).length && ak.every((k) => Object.hasOwn(b, k) && b[k] === a![k])
}

function ownerReference(service: V1Service): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    name: service.metadata?.name,
    uid: service.metadata?.uid,
    controller: true,
    blockOwnerDeletion: true,
  }
}

function ownedBy(slice: V1EndpointSlice, service: V1Service): boolean {
  return (slice.metadata?.ownerReferences ?? []).some((o) => o.kind === 'Service' && o.uid === service.metadata?.uid)
}

function newSlice(service: V1Service, ports: DiscoveryV1EndpointPort[], family: AddressType, opts: EndpointSliceOptions): Slice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${service.metadata?.name}-`,
      namespace: service.metadata?.namespace ?? 'default',
      labels: sliceLabels(service, opts),
      ownerReferences: [ownerReference(service)],
    },
    addressType: family,
    endpoints: [],
    ports: ports.map((p) => ({ ...p })),
  }
}

function isPlaceholder(slice: V1EndpointSlice, placeholder: Slice): boolean {
  return (
    slice.addressType === placeholder.addressType &&
    (slice.ports ?? []).length === 0 &&
    (slice.endpoints ?? []).length === 0 &&
    sameLabels(slice.metadata?.labels, placeholder.metadata.labels as Record<string, string>)
  )
}

function withChanges(slice: V1EndpointSlice, endpoints: V1Endpoint[], labels: Record<string, string>): Slice {
  const copy = structuredClone(slice) as unknown as Slice
  copy.apiVersion = 'discovery.k8s.io/v1'
  copy.kind = 'EndpointSlice'
  copy.metadata = { ...(copy.metadata ?? {}), labels: { ...labels } }
  copy.endpoints = endpoints
  copy.ports = copy.ports ?? []
  return copy
}

function toObject(slice: Slice): KubeObject {
  return slice as unknown as KubeObject
}

function deleteAction(slice: V1EndpointSlice): Action {
  const action: Action = { verb: 'delete', info: sliceInfo, namespace: slice.metadata?.namespace, name: slice.metadata?.name ?? '' }
  if (slice.metadata?.uid !== undefined) action.uid = slice.metadata.uid
  return action
}

function byPodName(a: V1Pod, b: V1Pod): number {
  return cmp(a.metadata?.name ?? '', b.metadata?.name ?? '')
}

function bySliceName(a: V1EndpointSlice, b: V1EndpointSlice): number {
  return cmp(a.metadata?.name ?? '', b.metadata?.name ?? '')
}

function byEndpoint(a: V1Endpoint, b: V1Endpoint): number {
  const an = a.targetRef?.name ?? ''
  const bn = b.targetRef?.name ?? ''
  if (an !== bn) return an < bn ? -1 : 1
  const aa = a.addresses[0] ?? ''
  const ba = b.addresses[0] ?? ''
  return aa < ba ? -1 : aa > ba ? 1 : 0
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
