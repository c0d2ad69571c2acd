// What the node proxy knows of the cluster's workloads (pure): every pod by its IPs (its
// identity, whether it is meshed, its node's address), and every Service's TCP ports by
// ClusterIP, so a connection's original destination resolves to the pod it reaches.
//
// The proxy sees a connection before the service proxy's DNAT (its nftables redirect runs
// first, and a connection gets one NAT binding), so a ClusterIP destination is resolved here:
// an endpoint is picked from the Service's EndpointSlices as the service proxy would (ready
// endpoints, else serving terminating ones; internalTrafficPolicy Local keeps to this node).
import { parseIP } from '../src/util/ip-parse.ts'
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import { usableEndpoints, type Endpoint, type ServiceEntry } from '../proxy/model.ts'
import type { WorkloadIdentity } from './identity.ts'
import { meshMode, podMeshed, type MeshMode } from './opt-in.ts'

export interface Workload {
  namespace: string
  name: string
  nodeName: string
  /** status.hostIP: where its node proxy listens. */
  hostIP: string | undefined
  serviceAccount: string
  labels: Record<string, string>
  meshed: boolean
  /** Its namespace's mesh mode. */
  mode: MeshMode
}

/** An address as the index keys it (src/util/ip-parse.ts: IPv4 dotted, an IPv4-mapped one too, IPv6 RFC 5952); undefined if not an IP. */
export function canonicalIp(text: string | undefined): string | undefined {
  return typeof text === 'string' ? parseIP(text)?.text : undefined
}

export class WorkloadIndex {
  readonly #byIp = new Map<string, Workload>()

  /** Running pods with IPs, hostNetwork pods left out (their IP is the node's). */
  constructor(pods: Iterable<V1Pod>, namespaceOf: (name: string) => V1Namespace | undefined) {
    for (const pod of pods) {
      const namespace = pod.metadata?.namespace
      const name = pod.metadata?.name
      if (!namespace || !name || pod.spec?.hostNetwork === true) continue
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue
      const ns = namespaceOf(namespace)
      const workload: Workload = {
        namespace,
        name,
        nodeName: pod.spec?.nodeName ?? '',
        hostIP: canonicalIp(pod.status?.hostIP),
        serviceAccount: pod.spec?.serviceAccountName || 'default',
        labels: pod.metadata?.labels ?? {},
        meshed: podMeshed(pod, ns),
        mode: meshMode(ns),
      }
      const ips = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)]
      for (const ip of ips) {
        const key = canonicalIp(ip)
        if (key) this.#byIp.set(key, workload)
      }
    }
  }

  byIp(ip: string): Workload | undefined {
    // Keys are canonical: an address already written so (as the kernel writes it) needs no parse.
    const found = this.#byIp.get(ip)
    if (found) return found
    const key = canonicalIp(ip)
    return key === undefined || key === ip ? undefined : this.#byIp.get(key)
  }

  get size(): number {
    return this.#byIp.size
  }
}

export function identityOf(w: Workload, trustDomain: string): WorkloadIdentity {
  return { trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount }
}

/** The TCP ports of Services, by `clusterIP/port`. */
export class ServiceIndex {
  readonly #ports = new Map<string, ServiceEntry>()

  constructor(entries: Iterable<ServiceEntry>) {
    for (const entry of entries) {
      if (entry.port.protocol !== 'TCP') continue
      const ip = canonicalIp(entry.port.clusterIP)
      if (ip) this.#ports.set(`${ip}/${entry.port.port}`, entry)
    }
  }

  get(ip: string, port: number): ServiceEntry | undefined {
    const found = this.#ports.get(`${ip}/${port}`)
    if (found) return found
    const key = canonicalIp(ip)
    return key === undefined || key === ip ? undefined : this.#ports.get(`${key}/${port}`)
  }
}

export type Destination =
  /** A pod's address (given, or picked behind a Service). */
  | { kind: 'pod'; ip: string; port: number; workload: Workload; service?: string }
  /** An address that is no pod's: outside the cluster, a node, a hostNetwork pod. */
  | { kind: 'other'; ip: string; port: number; service?: string }
  /** A Service port with no endpoint to send to. */
  | { kind: 'no-endpoints'; service: string }

/** Where a connection to `ip:port` goes; `pick` chooses among a Service's endpoints (random by default). */
export function resolveDestination(ip: string, port: number, workloads: WorkloadIndex, services: ServiceIndex, pick: (endpoints: Endpoint[]) => Endpoint = randomPick): Destination {
  const entry = services.get(ip, port)
  if (entry) {
    const service = `${entry.port.namespace}/${entry.port.name}`
    const usable = usableEndpoints(entry, 'internal')
    if (usable.length === 0) return { kind: 'no-endpoints', service }
    const endpoint = pick(usable)
    const workload = workloads.byIp(endpoint.ip)
    return workload ? { kind: 'pod', ip: endpoint.ip, port: endpoint.port, workload, service } : { kind: 'other', ip: endpoint.ip, port: endpoint.port, service }
  }
  const workload = workloads.byIp(ip)
  return workload ? { kind: 'pod', ip, port, workload } : { kind: 'other', ip, port }
}

function randomPick(endpoints: Endpoint[]): Endpoint {
  return endpoints[Math.floor(Math.random() * endpoints.length)]!
}
