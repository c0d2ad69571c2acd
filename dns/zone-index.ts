// The cluster zone as compact lookup tables built once from informer caches. Records are
// not materialised here: answer.ts expands them per question, so a Service costs a few
// small objects that share their strings with the API objects.
import type { DiscoveryV1EndpointPort, V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node'
import { canonicalIP, dashedIP, isIPv6Text, lowerName } from './names.ts'

export type PodRecordsMode = 'disabled' | 'insecure' | 'verified'

export interface ZoneConfig {
  /** e.g. 'cluster.local' (lower case, no trailing dot). */
  zone: string
  /** Seconds; also the SOA minimum (negative TTL). */
  ttl: number
  pods: PodRecordsMode
  /** Addresses of the DNS Service itself (glue for the apex NS record `ns.dns.<zone>`); may be empty. */
  nameserverIPs: string[]
}

export const defaultZoneConfig: ZoneConfig = { zone: 'cluster.local', ttl: 5, pods: 'verified', nameserverIPs: [] }

export interface ZoneInputs {
  services: Iterable<V1Service>
  slices: Iterable<V1EndpointSlice>
  pods: Iterable<V1Pod>
}

/** A named port: SRV `_<name>._<proto>` (both lower case, without the underscore). */
export interface NamedPort {
  readonly name: string
  readonly proto: string
  readonly port: number
}

export type ServiceKind = 'cluster' | 'headless' | 'external'

export interface ServiceEntry {
  readonly name: string
  readonly namespace: string
  readonly kind: ServiceKind
  /** ClusterIPs, or for a headless Service every included endpoint address (deduplicated). */
  readonly v4: readonly string[]
  readonly v6: readonly string[]
  /** Named Service ports (ClusterIP Services only; headless ports come from each slice). */
  readonly ports: readonly NamedPort[]
  /** Included endpoints of a headless Service, in slice order. */
  readonly endpoints: readonly HeadlessEndpoint[]
  /** Lower case, no trailing dot (ExternalName Services only). */
  readonly externalName: string
}

export class HeadlessEndpoint {
  readonly service: ServiceEntry
  /** endpoint.hostname (lower case), or '' when unset. */
  readonly hostname: string
  readonly address: string
  /** The named ports of the endpoint's slice. */
  readonly ports: readonly NamedPort[]

  constructor(service: ServiceEntry, hostname: string, address: string, ports: readonly NamedPort[]) {
    this.service = service
    this.hostname = hostname
    this.address = address
    this.ports = ports
  }

  /** The endpoint's label under the Service: its hostname, or else the dashed address (made on
   *  demand: most endpoints have no hostname and are never asked for by name). */
  get host(): string {
    return this.hostname || dashedIP(this.address)
  }
}

/** What a reverse name points at: a Service (by ClusterIP) or a headless endpoint. */
export type PtrOwner = ServiceEntry | HeadlessEndpoint

// Shared by every empty list (frozen: a stray push throws).
const NONE = Object.freeze([]) as never[]
const HOST_MAP_THRESHOLD = 8
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'

/** Immutable once built: build with buildZoneIndex. */
export class ZoneIndex {
  readonly config: Readonly<ZoneConfig>
  readonly zone: string
  readonly serial: number
  readonly #services: ReadonlyMap<string, ReadonlyMap<string, ServiceEntry>>
  readonly #ptr: ReadonlyMap<string, PtrOwner | PtrOwner[]>
  readonly #pods: ReadonlyMap<string, string | string[]>
  readonly #podNamespaces: ReadonlySet<string>
  readonly #hosts: WeakMap<ServiceEntry, Map<string, HeadlessEndpoint[]>>

  constructor(
    config: ZoneConfig,
    serial: number,
    services: Map<string, Map<string, ServiceEntry>>,
    ptr: Map<string, PtrOwner | PtrOwner[]>,
    pods: Map<string, string | string[]>,
    podNamespaces: Set<string>,
    hosts: WeakMap<ServiceEntry, Map<string, HeadlessEndpoint[]>>,
  ) {
    this.config = Object.freeze({ ...config, zone: lowerName(config.zone), nameserverIPs: [...config.nameserverIPs] })
    this.zone = this.config.zone
    this.serial = serial
    this.#services = services
    this.#ptr = ptr
    this.#pods = pods
    this.#podNamespaces = podNamespaces
    this.#hosts = hosts
  }

  /** Number of Services that have names in the zone. */
  get serviceCount(): number {
    let n = 0
    for (const byName of this.#services.values()) n += byName.size
    return n
  }

  /** Whether `<namespace>.svc.<zone>` exists (some Service there has records). */
  hasServiceNamespace(namespace: string): boolean {
    return this.#services.has(namespace)
  }

  hasServices(): boolean {
    return this.#services.size > 0
  }

  service(namespace: string, name: string): ServiceEntry | undefined {
    return this.#services.get(namespace)?.get(name)
  }

  /** The included endpoints of a headless Service whose name label is `host`. */
  endpointsNamed(entry: ServiceEntry, host: string): HeadlessEndpoint[] {
    const map = this.#hosts.get(entry)
    if (map) return map.get(host) ?? []
    return entry.endpoints.filter((e) => e.host === host)
  }

  /** Owners of the reverse name of `ip` (canonical text); empty when the zone does not know it. */
  ptrOwners(ip: string): readonly PtrOwner[] {
    const owners = this.#ptr.get(ip)
    if (owners === undefined) return NONE
    return Array.isArray(owners) ? owners : [owners]
  }

  /** Whether a running (non-terminal, not deleting) pod in `namespace` has `ip` (canonical). */
  hasPod(namespace: string, ip: string): boolean {
    const ns = this.#pods.get(ip)
    return ns === undefined ? false : Array.isArray(ns) ? ns.includes(namespace) : ns === namespace
  }

  /** Whether some indexed pod runs in `namespace`. */
  hasPodNamespace(namespace: string): boolean {
    return this.#podNamespaces.has(namespace)
  }

  hasPods(): boolean {
    return this.#podNamespaces.size > 0
  }

  /** Namespace of the pod with this IP (for autopath), undefined if no known pod has it. When
   *  several pods share the address (hostNetwork pods), the first one indexed wins. */
  podNamespace(ip: string): string | undefined {
    const key = canonicalIP(ip)
    const ns = key === undefined ? undefined : this.#pods.get(key)
    return Array.isArray(ns) ? ns[0] : ns
  }

  /** `<svc>.<ns>.svc.<zone>` */
  serviceName(entry: ServiceEntry): string {
    return `${entry.name}.${entry.namespace}.svc.${this.zone}`
  }

  /** `<host>.<svc>.<ns>.svc.<zone>` for an endpoint, or the Service name for a Service. */
  ownerName(owner: PtrOwner): string {
    return owner instanceof HeadlessEndpoint ? `${owner.host}.${this.serviceName(owner.service)}` : this.serviceName(owner)
  }
}

interface MutableEntry {
  name: string
  namespace: string
  kind: ServiceKind
  v4: string[]
  v6: string[]
  ports: readonly NamedPort[]
  endpoints: HeadlessEndpoint[]
  externalName: string
}

function entry(name: string, namespace: string, kind: ServiceKind, v4: string[], v6: string[], ports: readonly NamedPort[], endpoints: HeadlessEndpoint[], externalName: string): MutableEntry {
  return { name, namespace, kind, v4, v6, ports, endpoints, externalName }
}

/** State that lives only while one index is built. */
class Builder {
  readonly services = new Map<string, Map<string, ServiceEntry>>()
  readonly ptr = new Map<string, PtrOwner | PtrOwner[]>()
  readonly headless: MutableEntry[] = []
  readonly publishNotReady = new Set<MutableEntry>()
  /** Address sets of headless Services with many addresses (small ones dedupe by scanning). */
  readonly seen = new Map<MutableEntry, Set<string>>()
  /** Identical port lists are shared between Services and slices. */
  readonly portLists = new Map<string, readonly NamedPort[]>()
}

export function buildZoneIndex(inputs: ZoneInputs, config: ZoneConfig, serial = 1): ZoneIndex {
  const b = new Builder()
  for (const svc of inputs.services) {
    const entry = serviceEntry(b, svc)
    if (!entry) continue
    let byName = b.services.get(entry.namespace)
    if (!byName) b.services.set(entry.namespace, (byName = new Map()))
    byName.set(entry.name, entry)
    if (entry.kind === 'headless') b.headless.push(entry)
    for (const ip of entry.v4) addPtr(b.ptr, ip, entry)
    for (const ip of entry.v6) addPtr(b.ptr, ip, entry)
  }

  if (b.headless.length) {
    for (const slice of inputs.slices) addSlice(b, slice)
  }
  const hosts = new WeakMap<ServiceEntry, Map<string, HeadlessEndpoint[]>>()
  for (const entry of b.headless) {
    if (entry.endpoints.length === 0) {
      const byName = b.services.get(entry.namespace)!
      byName.delete(entry.name)
      if (byName.size === 0) b.services.delete(entry.namespace)
      continue
    }
    // slice() drops the spare capacity push() leaves behind.
    entry.v4 = entry.v4.length ? entry.v4.slice() : NONE
    entry.v6 = entry.v6.length ? entry.v6.slice() : NONE
    entry.endpoints = entry.endpoints.slice()
    for (const ep of entry.endpoints) addPtr(b.ptr, ep.address, ep)
    if (entry.endpoints.length > HOST_MAP_THRESHOLD) {
      const map = new Map<string, HeadlessEndpoint[]>()
      for (const ep of entry.endpoints) {
        const list = map.get(ep.host)
        if (list) list.push(ep)
        else map.set(ep.host, [ep])
      }
      hosts.set(entry, map)
    }
  }

  const pods = new Map<string, string | string[]>()
  const podNamespaces = new Set<string>()
  // Indexed whatever the pod records mode: autopath needs podNamespace too.
  for (const pod of inputs.pods) addPod(pods, podNamespaces, pod)
  return new ZoneIndex(config, serial, b.services, b.ptr, pods, podNamespaces, hosts)
}

function serviceEntry(b: Builder, svc: V1Service): MutableEntry | undefined {
  const rawName = svc.metadata?.name
  const spec = svc.spec
  if (!rawName || !spec) return undefined
  const name = rawName.toLowerCase()
  const namespace = (svc.metadata?.namespace ?? 'default').toLowerCase()
  if (spec.type === 'ExternalName') {
    const target = spec.externalName ? lowerName(spec.externalName) : ''
    return target ? entry(name, namespace, 'external', NONE, NONE, NONE, NONE, target) : undefined
  }
  const clusterIP = spec.clusterIP
  if (!clusterIP) return undefined
  if (clusterIP === 'None') {
    const e = entry(name, namespace, 'headless', [], [], NONE, [], '')
    if (spec.publishNotReadyAddresses === true) b.publishNotReady.add(e)
    return e
  }
  const ips = spec.clusterIPs?.length ? spec.clusterIPs : [clusterIP]
  let v4: string[] = NONE
  let v6: string[] = NONE
  for (const raw of ips) {
    const ip = canonicalIP(raw)
    if (ip === undefined) continue
    if (isIPv6Text(ip)) v6 = v6 === NONE ? [ip] : [...v6, ip]
    else v4 = v4 === NONE ? [ip] : [...v4, ip]
  }
  if (v4 === NONE && v6 === NONE) return undefined
  return entry(name, namespace, 'cluster', v4, v6, namedPorts(b, spec.ports), NONE, '')
}

const PROTOCOLS: Record<string, string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' }

function namedPorts(b: Builder, ports: readonly { name?: string; port?: number; protocol?: string }[] | undefined): readonly NamedPort[] {
  if (!ports) return NONE
  let key = ''
  for (const p of ports) {
    if (p.name && p.port !== undefined) key += `${p.name}/${p.protocol ?? 'TCP'}/${p.port},`
  }
  if (key === '') return NONE
  let list = b.portLists.get(key)
  if (!list) {
    list = Object.freeze(
      ports
        .filter((p) => p.name && p.port !== undefined)
        .map((p): NamedPort => {
          const protocol = p.protocol ?? 'TCP'
          return { name: p.name!.toLowerCase(), proto: PROTOCOLS[protocol] ?? protocol.toLowerCase(), port: p.port! }
        }),
    )
    b.portLists.set(key, list)
  }
  return list
}

function addSlice(b: Builder, slice: V1EndpointSlice): void {
  const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL]
  if (!svcName || (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6')) return
  const entry = b.services.get((slice.metadata?.namespace ?? 'default').toLowerCase())?.get(svcName.toLowerCase()) as MutableEntry | undefined
  if (!entry || entry.kind !== 'headless' || !slice.endpoints) return
  const allEndpoints = b.publishNotReady.has(entry)
  let ports: readonly NamedPort[] | undefined
  for (const ep of slice.endpoints) {
    if (!allEndpoints && ep.conditions?.ready === false) continue
    for (const raw of ep.addresses ?? NONE) {
      const address = canonicalIP(raw)
      if (address === undefined) continue
      ports ??= namedPorts(b, slice.ports as DiscoveryV1EndpointPort[] | undefined)
      entry.endpoints.push(new HeadlessEndpoint(entry, ep.hostname ? ep.hostname.toLowerCase() : '', address, ports))
      addAddress(b, entry, address)
    }
  }
}

/** Adds a headless Service address once; a Set is made only for Services with many addresses. */
function addAddress(b: Builder, entry: MutableEntry, address: string): void {
  const list = isIPv6Text(address) ? entry.v6 : entry.v4
  const set = b.seen.get(entry)
  if (set) {
    if (set.has(address)) return
    set.add(address)
  } else {
    if (list.includes(address)) return
    if (entry.v4.length + entry.v6.length >= 16) b.seen.set(entry, new Set([...entry.v4, ...entry.v6, address]))
  }
  list.push(address)
}

function addPtr(ptr: Map<string, PtrOwner | PtrOwner[]>, ip: string, owner: PtrOwner): void {
  const existing = ptr.get(ip)
  if (existing === undefined) ptr.set(ip, owner)
  else if (Array.isArray(existing)) {
    if (!existing.some((o) => sameOwner(o, owner))) existing.push(owner)
  } else if (!sameOwner(existing, owner)) ptr.set(ip, [existing, owner])
}

function sameOwner(a: PtrOwner, b: PtrOwner): boolean {
  if (a === b) return true
  return a instanceof HeadlessEndpoint && b instanceof HeadlessEndpoint && a.service === b.service && a.host === b.host
}

function addPod(pods: Map<string, string | string[]>, namespaces: Set<string>, pod: V1Pod): void {
  const status = pod.status
  if (!status || status.phase === 'Succeeded' || status.phase === 'Failed' || pod.metadata?.deletionTimestamp) return
  const namespace = (pod.metadata?.namespace ?? 'default').toLowerCase()
  const podIPs = status.podIPs
  if (podIPs?.length) {
    for (const p of podIPs) addPodIP(pods, namespaces, namespace, p.ip)
  } else if (status.podIP) {
    addPodIP(pods, namespaces, namespace, status.podIP)
  }
}

function addPodIP(pods: Map<string, string | string[]>, namespaces: Set<string>, namespace: string, raw: string): void {
  const ip = canonicalIP(raw)
  if (ip === undefined) return
  const existing = pods.get(ip)
  if (existing === undefined) pods.set(ip, namespace)
  else if (Array.isArray(existing)) { if (!existing.includes(namespace)) existing.push(namespace) }
  else if (existing !== namespace) pods.set(ip, [existing, namespace])
  namespaces.add(namespace)
}
