// From API objects to the proxy's model: the ports of a Service in one IP family, each with
// the endpoints its EndpointSlices list for it (kube-proxy's service and endpoint change
// trackers, as pure functions).
//
// Every value that ends up in nft or ip text is parsed here, whatever the API server let
// through (an older store, a real Kubernetes API server, direct etcd writes): addresses and
// CIDRs with a real parser and written back canonical, names against Kubernetes' syntax,
// numbers against their ranges. What does not parse is dropped and reported as a
// FieldProblem; the rest of the Service is still served.
import type { V1EndpointSlice, V1Node, V1Service, V1ServicePort } from '@kubernetes/client-node'
import { isDNS1035Label, isDNS1123Label, isValidPortNum } from '../src/api/names.ts'
import { protocols } from '../src/api/validation/pod.ts'
import { sourceRangesAnnotation } from '../src/api/validation/service.ts'
import { labelServiceName } from '../src/controllers/endpointslice/pod-endpoint.ts'
import { parseCIDR, parseIP, specialIPKind } from '../src/util/ip-parse.ts'
import { makeServicePort, type Endpoint, type Family, type L4Protocol, type ServiceEntry, type ServicePort } from './model.ts'

const defaultAffinitySeconds = 10800
const maxAffinitySeconds = 86400

/** A value the proxy dropped, and why. */
export interface FieldProblem {
  /** Where, as a field path (`spec.externalIPs[1]`; `EndpointSlice web-x: endpoints[0].addresses[0]`). */
  field: string
  /** The field without indexes or object names: a bounded metric label (`spec.externalIPs`). */
  kind: string
  /** What was wrong, what the proxy did and what to do, for a log line and an Event. */
  message: string
}

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

/** A bad value as a message shows it: quoted, escaped, at most 64 characters. */
function shown(value: unknown): string {
  let text: string
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))
  } catch {
    text = String(value)
  }
  // Non-ASCII as \uXXXX: a U+2028 would break the log line and the Event's one-line message.
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}...` : text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function problem(field: string, kind: string, value: unknown, what: string, consequence: string): FieldProblem {
  return { field, kind, message: `${field}: ${shown(value)} ${what}; ${consequence} (correct or remove the value)` }
}

/** A port number (1-65535), whatever type the value has. */
function isPortNumber(value: unknown): value is number {
  return typeof value === 'number' && isValidPortNum(value).length === 0
}

/** A string that is a valid name by `check` (an api/names.ts validator). */
function validName(value: unknown, check: (value: string) => string[]): value is string {
  return typeof value === 'string' && check(value).length === 0
}

export interface ParsedPort {
  index: number
  name: string
  protocol: L4Protocol
  port: number
  /** 0: none. */
  nodePort: number
}

/** What the proxy takes from a Service: every value parsed and canonical. */
export interface ParsedService {
  namespace: string
  name: string
  /** The Service has no ports for the proxy (ExternalName, headless, a bad name, no cluster IP). */
  skip: boolean
  clusterIPs: string[]
  ports: ParsedPort[]
  externalIPs: string[]
  loadBalancerIPs: string[]
  /** Canonical CIDRs of every family. */
  sourceRanges: string[]
  /** Source ranges were given but none of them parsed: the load balancer admits nobody. */
  sourceRangesGiven: boolean
  affinitySeconds: number
  externalLocal: boolean
  internalLocal: boolean
  /** The port kube-proxy's health check server answers on for this Service; 0: none. */
  healthCheckNodePort: number
  problems: FieldProblem[]
}

/** Parses the parts of `service` that the proxy programs. Pure. */
export function parseService(service: V1Service): ParsedService {
  const problems: FieldProblem[] = []
  const namespace = service.metadata?.namespace ?? 'default'
  const name = service.metadata?.name ?? ''
  const spec = service.spec
  const out: ParsedService = {
    namespace,
    name,
    skip: true,
    clusterIPs: [],
    ports: [],
    externalIPs: [],
    loadBalancerIPs: [],
    sourceRanges: [],
    sourceRangesGiven: false,
    affinitySeconds: 0,
    externalLocal: spec?.externalTrafficPolicy === 'Local',
    internalLocal: spec?.internalTrafficPolicy === 'Local',
    healthCheckNodePort: 0,
    problems,
  }
  if (!spec || spec.type === 'ExternalName') return out
  // The names become part of nft chain names: only what Kubernetes allows gets there.
  if (!validName(namespace, isDNS1123Label)) {
    problems.push(problem('metadata.namespace', 'metadata.namespace', namespace, 'is not a valid namespace name (an RFC 1123 label)', 'the Service is not served'))
    return out
  }
  if (!validName(name, isDNS1035Label)) {
    problems.push(problem('metadata.name', 'metadata.name', name, 'is not a valid Service name (an RFC 1035 label)', 'the Service is not served'))
    return out
  }

  const given = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length ? spec.clusterIPs : [spec.clusterIP]
  const ipsField = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length ? 'spec.clusterIPs' : 'spec.clusterIP'
  for (const [i, ip] of given.entries()) {
    if (ip === undefined || ip === null || ip === '' || ip === 'None') continue
    const parsed = typeof ip === 'string' ? parseIP(ip, 'sloppy') : undefined
    if (!parsed) {
      problems.push(problem(ipsField === 'spec.clusterIPs' ? `spec.clusterIPs[${i}]` : ipsField, ipsField, ip, 'is not an IP address', 'the Service is not served on it'))
      continue
    }
    out.clusterIPs.push(parsed.text)
  }
  if (out.clusterIPs.length === 0) return out
  out.skip = false

  const withNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer'
  const seen = new Set<string>()
  for (const [index, p] of (Array.isArray(spec.ports) ? spec.ports : []).entries()) {
    const field = `spec.ports[${index}]`
    const port = (p ?? {}) as V1ServicePort
    const portName = port.name ?? ''
    if (portName !== '' && !validName(portName, isDNS1123Label)) {
      problems.push(problem(`${field}.name`, 'spec.ports.name', portName, 'is not a valid port name (an RFC 1123 label)', 'this port is not served'))
      continue
    }
    const protocol = port.protocol ?? 'TCP'
    if (!(protocols as readonly unknown[]).includes(protocol)) {
      problems.push(problem(`${field}.protocol`, 'spec.ports.protocol', protocol, 'is not TCP, UDP or SCTP', 'this port is not served'))
      continue
    }
    if (!isPortNumber(port.port)) {
      problems.push(problem(`${field}.port`, 'spec.ports.port', port.port, 'is not a port number (1-65535)', 'this port is not served'))
      continue
    }
    const id = `${portName}/${protocol}`
    if (seen.has(id)) {
      problems.push(problem(`${field}.name`, 'spec.ports.name', portName, `repeats the name of an earlier ${protocol} port`, 'this port is not served'))
      continue
    }
    seen.add(id)
    let nodePort = 0
    if (withNodePorts && port.nodePort !== undefined && port.nodePort !== null && port.nodePort !== 0) {
      if (isPortNumber(port.nodePort)) nodePort = port.nodePort
      else problems.push(problem(`${field}.nodePort`, 'spec.ports.nodePort', port.nodePort, 'is not a port number (1-65535)', 'the port has no NodePort'))
    }
    out.ports.push({ index, name: portName, protocol: protocol as L4Protocol, port: port.port, nodePort })
  }

  const external = (value: unknown, field: string, kind: string): string | undefined => {
    const ip = typeof value === 'string' ? parseIP(value, 'sloppy') : undefined
    if (!ip) {
      problems.push(problem(field, kind, value, 'is not an IP address', 'it is ignored'))
      return undefined
    }
    const special = specialIPKind(ip)
    if (special) {
      problems.push(problem(field, kind, value, `is ${special === 'unspecified' ? 'the unspecified address' : `a ${special} address`}, which a Service may not claim`, 'it is ignored'))
      return undefined
    }
    return ip.text
  }
  for (const [i, ip] of (Array.isArray(spec.externalIPs) ? spec.externalIPs : []).entries()) {
    const text = external(ip, `spec.externalIPs[${i}]`, 'spec.externalIPs')
    if (text !== undefined && !out.externalIPs.includes(text)) out.externalIPs.push(text)
  }
  if (spec.type === 'LoadBalancer') {
    const ingress = service.status?.loadBalancer?.ingress
    for (const [i, ing] of (Array.isArray(ingress) ? ingress : []).entries()) {
      // A load-balancer address in "Proxy" mode is answered by the load balancer, not by the node.
      if (!ing || ing.ipMode === 'Proxy' || ing.ip === undefined || ing.ip === null || ing.ip === '') continue
      const text = external(ing.ip, `status.loadBalancer.ingress[${i}].ip`, 'status.loadBalancer.ingress.ip')
      if (text !== undefined && !out.loadBalancerIPs.includes(text)) out.loadBalancerIPs.push(text)
    }
  }

  // kube-proxy reads only the field; weft also honours the older annotation when the field is empty.
  const annotation = service.metadata?.annotations?.[sourceRangesAnnotation]
  const fromField = Array.isArray(spec.loadBalancerSourceRanges) && spec.loadBalancerSourceRanges.length > 0
  const ranges: [string, unknown][] = fromField
    ? spec.loadBalancerSourceRanges!.map((r, i) => [`spec.loadBalancerSourceRanges[${i}]`, r])
    : typeof annotation === 'string' && annotation.trim() !== ''
      ? annotation.split(',').map((r) => [`metadata.annotations[${sourceRangesAnnotation}]`, r])
      : []
  for (const [field, range] of ranges) {
    // Space padding is allowed, as upstream's validation allows it.
    const cidr = typeof range === 'string' ? parseCIDR(range.trim(), 'sloppy') : undefined
    if (!cidr) {
      const kind = fromField ? 'spec.loadBalancerSourceRanges' : `metadata.annotations[${sourceRangesAnnotation}]`
      problems.push(problem(field, kind, range, 'is not a CIDR (e.g. 10.0.0.0/8)', 'it is ignored, and while no range is valid the load balancer admits no one'))
      continue
    }
    if (!out.sourceRanges.includes(cidr.text)) out.sourceRanges.push(cidr.text)
  }
  out.sourceRangesGiven = ranges.length > 0

  if (spec.sessionAffinity === 'ClientIP') {
    const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds
    if (timeout === undefined || timeout === null) out.affinitySeconds = defaultAffinitySeconds
    else if (typeof timeout === 'number' && Number.isInteger(timeout) && timeout > 0 && timeout <= maxAffinitySeconds) out.affinitySeconds = timeout
    else {
      problems.push(problem('spec.sessionAffinityConfig.clientIP.timeoutSeconds', 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, `is not a number of seconds from 1 to ${maxAffinitySeconds}`, `the default of ${defaultAffinitySeconds} is used`))
      out.affinitySeconds = defaultAffinitySeconds
    }
  }

  if (spec.type === 'LoadBalancer' && out.externalLocal) {
    const hc = spec.healthCheckNodePort
    if (isPortNumber(hc)) out.healthCheckNodePort = hc
    else if (hc !== undefined && hc !== null && hc !== 0) {
      problems.push(problem('spec.healthCheckNodePort', 'spec.healthCheckNodePort', hc, 'is not a port number (1-65535)', 'no health check is served for this Service'))
    }
  }
  return out
}

/** The ports the proxy serves for the parsed Service `s` in `family`: none for headless and ExternalName Services. */
export function servicePorts(s: ParsedService, family: Family): ServicePort[] {
  if (s.skip) return []
  const clusterIP = s.clusterIPs.find((ip) => familyOf(ip) === family)
  if (!clusterIP) return []
  const ofFamily = (ips: string[]) => ips.filter((ip) => familyOf(ip) === family)
  const ranges = ofFamily(s.sourceRanges)
  return s.ports.map((p) =>
    makeServicePort({
      namespace: s.namespace,
      name: s.name,
      portName: p.name,
      protocol: p.protocol,
      clusterIP,
      port: p.port,
      nodePort: p.nodePort,
      externalIPs: ofFamily(s.externalIPs),
      loadBalancerIPs: ofFamily(s.loadBalancerIPs),
      loadBalancerSourceRanges: ranges,
      loadBalancerSourcesRestricted: s.sourceRangesGiven,
      affinitySeconds: s.affinitySeconds,
      externalLocal: s.externalLocal,
      internalLocal: s.internalLocal,
    }),
  )
}

/** What the proxy takes from an EndpointSlice: every value parsed, once for every port and family. */
export interface ParsedSlice {
  family: Family
  /** The slice's ports as listed (name and protocol defaulted); `port` is undefined when it is not a port number. */
  ports: { name: unknown; protocol: unknown; port: number | undefined }[]
  /** The endpoints whose address parsed as one of the slice's family (canonical), without a port. */
  endpoints: Omit<Endpoint, 'port'>[]
}

/**
 * Parses the EndpointSlices of one Service: what portEndpoints reads, and what was dropped
 * (endpoint addresses and ports that do not parse). Slices of another address type (FQDN)
 * are left out. Pure.
 */
export function parseSlices(slices: readonly V1EndpointSlice[], nodeName: string): { slices: ParsedSlice[]; problems: FieldProblem[] } {
  const out: ParsedSlice[] = []
  const problems: FieldProblem[] = []
  for (const slice of slices) {
    const family = slice.addressType === 'IPv4' ? 4 : slice.addressType === 'IPv6' ? 6 : undefined
    if (family === undefined) continue
    const where = `EndpointSlice ${shown(slice.metadata?.name ?? '')}`
    const parsed: ParsedSlice = { family, ports: [], endpoints: [] }
    for (const [i, p] of (Array.isArray(slice.ports) ? slice.ports : []).entries()) {
      const port = isPortNumber(p?.port) ? p.port : undefined
      if (port === undefined) problems.push(problem(`${where}: ports[${i}].port`, 'endpointslice.ports.port', p?.port, 'is not a port number (1-65535)', 'the Service port it serves gets no endpoints from this slice'))
      parsed.ports.push({ name: p?.name ?? '', protocol: p?.protocol ?? 'TCP', port })
    }
    for (const [i, ep] of (Array.isArray(slice.endpoints) ? slice.endpoints : []).entries()) {
      const raw = ep?.addresses?.[0]
      const ip = typeof raw === 'string' ? parseIP(raw, 'sloppy') : undefined
      if (!ip || ip.family !== family) {
        problems.push(problem(`${where}: endpoints[${i}].addresses[0]`, 'endpointslice.endpoints.addresses', raw, `is not an ${slice.addressType} address`, 'this endpoint is not used'))
        continue
      }
      parsed.endpoints.push({
        ip: ip.text,
        // As kube-proxy reads them: an unset serving means serving, an unset ready means ready.
        ready: (ep.conditions?.ready ?? true) === true,
        serving: (ep.conditions?.serving ?? true) === true,
        terminating: ep.conditions?.terminating === true,
        local: ep.nodeName === nodeName,
      })
    }
    out.push(parsed)
  }
  return { slices: out, problems }
}

/** The endpoints `slices` list for `port` in `family`, deduplicated and sorted. */
export function portEndpoints(port: ServicePort, slices: readonly ParsedSlice[], family: Family): Endpoint[] {
  const byAddress = new Map<string, Endpoint>()
  for (const slice of slices) {
    if (slice.family !== family) continue
    const sp = slice.ports.find((p) => p.name === port.portName && p.protocol === port.protocol)
    if (sp?.port === undefined) continue
    for (const ep of slice.endpoints) {
      const endpoint: Endpoint = { ...ep, port: sp.port }
      const key = `${ep.ip}|${sp.port}`
      const seen = byAddress.get(key)
      // The same address in two slices (a move between slices): the more usable copy wins.
      if (!seen || (!seen.ready && endpoint.ready)) byAddress.set(key, endpoint)
    }
  }
  return [...byAddress.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1))
}

/** The Node's InternalIP and ExternalIP addresses, canonical and once each, and (shown quoted) those that do not parse. */
export function nodeAddresses(node: V1Node): { ips: string[]; bad: string[] } {
  const ips: string[] = []
  const bad: string[] = []
  const addresses = node.status?.addresses
  for (const a of Array.isArray(addresses) ? addresses : []) {
    if (a?.type !== 'InternalIP' && a?.type !== 'ExternalIP') continue
    const ip = typeof a.address === 'string' ? parseIP(a.address, 'sloppy') : undefined
    if (!ip) bad.push(shown(a.address))
    else if (!ips.includes(ip.text)) ips.push(ip.text)
  }
  return { ips, bad }
}

/** Everything the proxy serves for one Service in `family`. */
export function serviceEntries(service: ParsedService, slices: readonly ParsedSlice[], family: Family): ServiceEntry[] {
  return servicePorts(service, family).map((port) => ({ port, endpoints: portEndpoints(port, slices, family) }))
}
