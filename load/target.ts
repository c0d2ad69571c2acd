// What `weft load` sends to: a URL (http, https, grpc, grpcs, tcp, udp, dns), or a Service,
// Ingress or Pod found through the API. `parseTarget` reads what the user wrote (pure);
// `resolveTarget` turns it into the addresses and request a protocol client needs.
import { resources } from '../src/api/registry.ts'
import { INGRESS_NAME, INGRESS_NAMESPACE } from '../src/apiserver/bootstrap-ingress.ts'
import type { RestClient } from '../src/client/rest-client.ts'
import { isNotFound } from '../src/util/errors.ts'
import { joinHostPort } from '../src/util/host-port.ts'
import { parseIP } from '../src/util/ip-parse.ts'
import { arrayAt, isObject, numberAt, objectAt, pathAt, stringAt } from './json-fields.ts'
import type { Protocol, ResolvedTarget, TargetEndpoint } from './types.ts'

export type TargetErrorCode = 'InvalidTarget' | 'InvalidOption' | 'NotFound' | 'Headless' | 'NoEndpoints' | 'UnknownPort' | 'NoAddress' | 'Unsupported'

export class TargetError extends Error {
  readonly code: TargetErrorCode
  constructor(code: TargetErrorCode, message: string) {
    super(message)
    this.name = 'TargetError'
    this.code = code
  }
}

/** How a Service is reached. */
export const vias = ['clusterip', 'nodeport', 'endpoints', 'loadbalancer'] as const
export type Via = (typeof vias)[number]

export const dnsTypes = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT', 'ANY'] as const

/** A port as the user named it: a number, or a port name. */
export type PortRef = number | string

export interface UrlTarget {
  kind: 'url'
  protocol: Protocol
  tls: boolean
  /** An IP address (without brackets) or a host name, lower case. */
  host: string
  port: number
  /** HTTP: path and query; gRPC: the method path; otherwise ''. */
  path: string
  dns?: { name: string; type: string }
}

export interface ObjectTarget {
  kind: 'service' | 'ingress' | 'pod'
  name: string
  namespace?: string
  port?: PortRef
}

export type TargetRef = UrlTarget | ObjectTarget

/** What the command line adds to the target. Every field is optional; each is checked. */
export interface TargetOptions {
  /** Namespace of svc/, ingress/ and pod/ targets that name none (default `default`). */
  namespace?: string
  /** svc/ targets only (default clusterip). */
  via?: Via
  /** How to talk to the target. URLs: only http1 ↔ http2 for http(s)://; objects: any (default: from the port). */
  protocol?: Protocol
  /** Objects: speak TLS (default: from the port, or the Ingress's tls). */
  tls?: boolean
  insecure?: boolean
  /** HTTP Host header / :authority; Ingress: which rule's host. */
  host?: string
  /** TLS server name (default: the host name, never an IP address). */
  servername?: string
  /** Objects: the HTTP path and query (Ingress default: its rule's first path; else `/`). */
  path?: string
  method?: string
  headers?: [string, string][]
  /** base64. */
  body?: string
  /** Objects speaking DNS: the question (default `kubernetes.default.svc.cluster.local` A). */
  dns?: { name: string; type: string }
  /** UDP: bytes per datagram (default 64). */
  udpPayloadBytes?: number
}

export const defaultGrpcMethod = '/grpc.health.v1.Health/Check'
export const defaultDnsQuestion = { name: 'kubernetes.default.svc.cluster.local', type: 'A' } as const
const defaultUdpPayloadBytes = 64
const maxUdpPayloadBytes = 65_507
const maxBodyBytes = 16 * 1024 * 1024

const serviceInfo = resources.find((r) => r.kind === 'Service')!
const sliceInfo = resources.find((r) => r.kind === 'EndpointSlice')!
const ingressInfo = resources.find((r) => r.kind === 'Ingress' && r.group === 'networking.k8s.io')!
const podInfo = resources.find((r) => r.kind === 'Pod')!
const nodeInfo = resources.find((r) => r.kind === 'Node')!

// ---- parsing (pure) ----

const hostNamePattern = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*\.?$/
const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
const subdomain = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
/** IANA_SVC_NAME, as Kubernetes validates port names. */
const portName = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/
const grpcMethod = /^\/[A-Za-z_][A-Za-z0-9_.]*\/[A-Za-z_][A-Za-z0-9_]*$/
const questionName = /^(?=.{1,253}$)[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)*$/
const httpToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const kindPrefixes: Record<string, ObjectTarget['kind']> = {
  svc: 'service',
  service: 'service',
  services: 'service',
  ingress: 'ingress',
  ing: 'ingress',
  ingresses: 'ingress',
  pod: 'pod',
  po: 'pod',
  pods: 'pod',
}

const urlSchemes: Record<string, { protocol: Protocol; tls: boolean; defaultPort?: number }> = {
  'http:': { protocol: 'http1', tls: false, defaultPort: 80 },
  'https:': { protocol: 'http1', tls: true, defaultPort: 443 },
  'grpc:': { protocol: 'grpc', tls: false },
  'grpcs:': { protocol: 'grpc', tls: true },
  'tcp:': { protocol: 'tcp', tls: false },
  'udp:': { protocol: 'udp', tls: false },
  'dns:': { protocol: 'dns', tls: false, defaultPort: 53 },
}

function invalid(spec: string, why: string): TargetError {
  return new TargetError('InvalidTarget', `target ${JSON.stringify(spec.slice(0, 200))}: ${why}`)
}

/** Reads a target as written: `SCHEME://…`, `svc/NAME[.NS][:PORT]`, `ingress/NAME[.NS]`, `pod/NAME[.NS][:PORT]`. */
export function parseTarget(spec: string): TargetRef {
  if (spec.length === 0) throw invalid(spec, 'empty; give a URL or svc/NAME, ingress/NAME, pod/NAME')
  if (spec.length > 2048) throw invalid(spec, 'longer than 2048 characters')
  if (/[\s\x00-\x1f\x7f]/.test(spec)) throw invalid(spec, 'has white space or control characters')
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) return parseUrlTarget(spec)
  const slash = spec.indexOf('/')
  const kind = slash > 0 ? kindPrefixes[spec.slice(0, slash).toLowerCase()] : undefined
  if (!kind) throw invalid(spec, 'expected a URL (http://, https://, grpc://, grpcs://, tcp://, udp://, dns://) or svc/NAME[.NAMESPACE][:PORT], ingress/NAME[.NAMESPACE], pod/NAME[.NAMESPACE][:PORT]')
  return parseObjectTarget(spec, kind, spec.slice(slash + 1))
}

function parseObjectTarget(spec: string, kind: ObjectTarget['kind'], rest: string): ObjectTarget {
  let port: PortRef | undefined
  const colon = rest.indexOf(':')
  if (colon >= 0) {
    if (kind === 'ingress') throw invalid(spec, 'an Ingress target takes no port (its rules and tls decide: 80 or 443)')
    port = parsePortRef(spec, rest.slice(colon + 1))
    rest = rest.slice(0, colon)
  }
  // Namespaces are DNS labels (no dots), so the last dot separates one; a name with dots must be followed by its namespace.
  const dot = rest.lastIndexOf('.')
  const name = dot >= 0 ? rest.slice(0, dot) : rest
  const namespace = dot >= 0 ? rest.slice(dot + 1) : undefined
  const what = kind === 'service' ? 'Service' : kind === 'ingress' ? 'Ingress' : 'Pod'
  const nameOk = kind === 'service' ? dnsLabel.test(name) : subdomain.test(name)
  if (!nameOk) throw invalid(spec, `${JSON.stringify(name)} is not a valid ${what} name (lower-case letters, digits and '-'${kind === 'service' ? '' : ", '.'"})`)
  if (namespace !== undefined && !dnsLabel.test(namespace)) throw invalid(spec, `${JSON.stringify(namespace)} is not a valid namespace name`)
  return { kind, name, ...(namespace !== undefined ? { namespace } : {}), ...(port !== undefined ? { port } : {}) }
}

function parsePortRef(spec: string, text: string): PortRef {
  if (/^\d+$/.test(text)) {
    const n = Number(text)
    if (n < 1 || n > 65535) throw invalid(spec, `port ${text} is out of range (1-65535)`)
    return n
  }
  if (!portName.test(text)) throw invalid(spec, `${JSON.stringify(text)} is neither a port number nor a port name`)
  return text
}

function parseUrlTarget(spec: string): UrlTarget {
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw invalid(spec, 'not a valid URL')
  }
  const scheme = urlSchemes[url.protocol]
  if (!scheme) throw invalid(spec, `unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))} (supported: ${Object.keys(urlSchemes).map((s) => s.slice(0, -1)).join(', ')})`)
  if (url.username || url.password) throw invalid(spec, 'user information in the URL is not supported; send an Authorization header instead')
  const host = parseHost(spec, url.hostname)
  let port = scheme.defaultPort
  if (url.port !== '') port = Number(url.port)
  if (port === undefined) throw invalid(spec, `${url.protocol}// needs a port: ${url.protocol}//HOST:PORT`)
  if (port < 1 || port > 65535) throw invalid(spec, `port ${port} is out of range (1-65535)`)
  const base = { kind: 'url' as const, protocol: scheme.protocol, tls: scheme.tls, host, port }
  switch (scheme.protocol) {
    case 'http1':
      return { ...base, path: `${url.pathname || '/'}${url.search}` }
    case 'grpc': {
      if (url.search) throw invalid(spec, 'a gRPC target takes no query')
      const path = url.pathname === '' || url.pathname === '/' ? defaultGrpcMethod : url.pathname
      if (!grpcMethod.test(path)) throw invalid(spec, `${JSON.stringify(path)} is not a gRPC method path (/package.Service/Method)`)
      return { ...base, path }
    }
    case 'dns':
      return { ...base, path: '', dns: parseDnsQuestion(spec, url) }
    default:
      if ((url.pathname !== '' && url.pathname !== '/') || url.search) throw invalid(spec, `a ${url.protocol.slice(0, -1)} target is HOST:PORT only`)
      return { ...base, path: '' }
  }
}

function parseHost(spec: string, hostname: string): string {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
  if (bare === '') throw invalid(spec, 'no host')
  const ip = parseIP(bare)
  if (ip) return ip.text
  if (hostname.startsWith('[')) throw invalid(spec, `${hostname} is not an IPv6 address`)
  const lower = bare.toLowerCase()
  if (!hostNamePattern.test(lower)) throw invalid(spec, `${JSON.stringify(bare)} is not a valid host name or IP address`)
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

function parseDnsQuestion(spec: string, url: URL): { name: string; type: string } {
  let name: string
  try {
    name = decodeURIComponent(url.pathname.replace(/^\//, ''))
  } catch {
    throw invalid(spec, 'the query name is not valid percent-encoding')
  }
  if (name === '') throw invalid(spec, 'no name to ask for: dns://SERVER[:PORT]/NAME[?type=A]')
  let type = 'A'
  for (const [key, value] of url.searchParams) {
    if (key !== 'type') throw invalid(spec, `unknown query parameter ${JSON.stringify(key)} (only type=)`)
    type = value.toUpperCase()
  }
  return checkDnsQuestion({ name, type }, (why) => invalid(spec, why))
}

function checkDnsQuestion(question: { name: string; type: string }, fail: (why: string) => TargetError): { name: string; type: string } {
  const name = question.name.endsWith('.') ? question.name.slice(0, -1) : question.name
  if (!questionName.test(name)) throw fail(`${JSON.stringify(question.name.slice(0, 260))} is not a valid DNS name`)
  const type = question.type.toUpperCase()
  if (!(dnsTypes as readonly string[]).includes(type)) throw fail(`DNS type ${JSON.stringify(question.type.slice(0, 20))} is not supported (${dnsTypes.join(', ')})`)
  return { name, type }
}

// ---- options ----

function badOption(message: string): TargetError {
  return new TargetError('InvalidOption', message)
}

interface RequestParts {
  method: string
  headers: [string, string][]
  body?: string
  insecure: boolean
}

function requestParts(options: TargetOptions, protocol: Protocol): RequestParts {
  const method = options.method ?? (protocol === 'grpc' ? 'POST' : 'GET')
  if (!httpToken.test(method) || method.length > 32) throw badOption(`--method ${JSON.stringify(method.slice(0, 40))} is not an HTTP method`)
  if (protocol === 'grpc' && method !== 'POST') throw badOption('gRPC calls are POST requests; drop --method')
  const headers = options.headers ?? []
  if (headers.length > 100) throw badOption('more than 100 headers')
  for (const [name, value] of headers) {
    if (!httpToken.test(name) || name.length > 256) throw badOption(`header name ${JSON.stringify(name.slice(0, 60))} is not valid`)
    if (/[\r\n\0]/.test(value) || value.length > 8192) throw badOption(`the value of header ${name} has a line break or NUL, or is longer than 8192 characters`)
    if (/^(host|content-length|transfer-encoding|connection)$/i.test(name)) throw badOption(`header ${name} is set by the client itself${/^host$/i.test(name) ? '; use --host' : ''}`)
  }
  let body: string | undefined
  if (options.body !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(options.body) || options.body.length % 4 !== 0) throw badOption('the request body must be base64')
    if ((options.body.length / 4) * 3 > maxBodyBytes) throw badOption(`the request body is larger than ${maxBodyBytes} bytes`)
    body = options.body
  }
  return { method, headers: headers.map(([n, v]) => [n, v] as [string, string]), ...(body !== undefined ? { body } : {}), insecure: options.insecure === true }
}

function checkHostOption(host: string | undefined, what: string): string | undefined {
  if (host === undefined) return undefined
  const bare = host.replace(/:\d{1,5}$/, '').replace(/^\[(.*)\]$/, '$1')
  if (!parseIP(bare) && !hostNamePattern.test(bare.toLowerCase())) throw badOption(`${what} ${JSON.stringify(host.slice(0, 260))} is not a host name or IP address`)
  return host.toLowerCase()
}

function checkPath(path: string): string {
  if (!path.startsWith('/') || path.length > 8192 || /[\s\x00-\x1f\x7f]/.test(path)) throw badOption(`--path ${JSON.stringify(path.slice(0, 60))} must start with / and have no spaces or control characters`)
  return path
}

function isIP(host: string): boolean {
  return parseIP(host) !== undefined
}

/** The default port of an HTTP(S) scheme is left out of Host, as clients do. */
function authorityOf(host: string, port: number, tls: boolean): string {
  if (port === (tls ? 443 : 80)) return host.includes(':') ? `[${host}]` : host
  return joinHostPort(host, port)
}

interface Core {
  protocol: Protocol
  tls: boolean
  endpoints: TargetEndpoint[]
  authority: string
  /** A host name to present in TLS, when the target has one. */
  serverHost?: string
  path: string
  dns?: { name: string; type: string }
  description: string
}

function finish(spec: string, core: Core, options: TargetOptions): ResolvedTarget {
  const parts = requestParts(options, core.protocol)
  const servername = checkHostOption(options.servername, '--servername')?.replace(/:\d+$/, '') ?? core.serverHost
  let udpPayloadBytes: number | undefined
  if (core.protocol === 'udp') {
    udpPayloadBytes = options.udpPayloadBytes ?? defaultUdpPayloadBytes
    if (!Number.isInteger(udpPayloadBytes) || udpPayloadBytes < 1 || udpPayloadBytes > maxUdpPayloadBytes) throw badOption(`the UDP payload must be 1 to ${maxUdpPayloadBytes} bytes`)
  }
  return {
    protocol: core.protocol,
    tls: core.tls,
    endpoints: core.endpoints,
    authority: core.authority,
    ...(core.tls && servername && !isIP(servername) ? { servername } : {}),
    insecure: parts.insecure,
    path: core.path,
    method: parts.method,
    headers: parts.headers,
    ...(parts.body !== undefined ? { body: parts.body } : {}),
    ...(core.dns ? { dns: core.dns } : {}),
    ...(udpPayloadBytes !== undefined ? { udpPayloadBytes } : {}),
    description: core.description,
    spec,
  }
}

// ---- resolution ----

/**
 * The target, resolved: a URL needs no API (`client` may be absent); svc/, ingress/ and pod/
 * are read through `client`. Errors are TargetErrors that say what to do.
 */
export async function resolveTarget(spec: string, options: TargetOptions = {}, client?: RestClient): Promise<ResolvedTarget> {
  const ref = parseTarget(spec)
  if (options.via !== undefined && !(vias as readonly string[]).includes(options.via)) throw badOption(`--via ${JSON.stringify(options.via)}: expected one of ${vias.join(', ')}`)
  if (options.via !== undefined && ref.kind !== 'service') throw badOption('--via applies to svc/ targets only')
  if (ref.kind === 'url') return finish(spec, urlCore(ref, options), options)
  if (!client) throw new TargetError('Unsupported', `target ${spec}: resolving a ${ref.kind} needs the API (no cluster configured)`)
  const namespace = ref.namespace ?? options.namespace ?? 'default'
  if (!dnsLabel.test(namespace)) throw badOption(`namespace ${JSON.stringify(namespace.slice(0, 80))} is not valid`)
  const core = ref.kind === 'service' ? await serviceCore(client, ref, namespace, options) : ref.kind === 'ingress' ? await ingressCore(client, ref, namespace, options) : await podCore(client, ref, namespace, options)
  return finish(spec, core, options)
}

function urlCore(ref: UrlTarget, options: TargetOptions): Core {
  let protocol = ref.protocol
  if (options.protocol !== undefined && options.protocol !== protocol) {
    if (!(protocol === 'http1' && options.protocol === 'http2')) throw badOption(`--protocol ${options.protocol} does not fit a ${ref.protocol} URL (only http(s):// switches to http2)`)
    protocol = 'http2'
  }
  if (options.tls !== undefined && options.tls !== ref.tls) throw badOption('TLS comes from the URL scheme (https://, grpcs://)')
  if (options.path !== undefined) throw badOption('--path does not apply to a URL target: put the path in the URL')
  if (options.dns !== undefined && protocol !== 'dns') throw badOption('a DNS question applies to dns:// targets')
  const host = checkHostOption(options.host, '--host')
  const address = joinHostPort(ref.host, ref.port)
  const isHttp = protocol === 'http1' || protocol === 'http2' || protocol === 'grpc'
  const what = ref.dns ? ` (${ref.dns.type} ${ref.dns.name})` : ''
  return {
    protocol,
    tls: ref.tls,
    endpoints: [{ host: ref.host, port: ref.port }],
    authority: host ?? (isHttp ? authorityOf(ref.host, ref.port, ref.tls) : address),
    ...(isIP(ref.host) ? {} : { serverHost: ref.host }),
    ...(host ? { serverHost: host.replace(/:\d+$/, '') } : {}),
    path: ref.path,
    ...(ref.dns ? { dns: ref.dns } : {}),
    description: `${address}${what}`,
  }
}

interface PortFacts {
  name?: string
  number: number
  transport: string
  appProtocol?: string
}

/** How to speak to a port when the user did not say: its appProtocol, transport and name. */
function protocolForPort(port: PortFacts, options: TargetOptions, where: string): { protocol: Protocol; tls: boolean } {
  const name = port.name ?? ''
  const app = (port.appProtocol ?? '').toLowerCase()
  let protocol = options.protocol
  let tls = options.tls
  if (protocol === undefined) {
    if (port.transport === 'SCTP') throw new TargetError('Unsupported', `${where}: SCTP is not supported`)
    if (port.transport === 'UDP') protocol = /^dns/.test(name) || app === 'dns' ? 'dns' : 'udp'
    else if (app === 'grpc' || /^grpc/.test(name)) protocol = 'grpc'
    else if (app === 'h2c' || app === 'kubernetes.io/h2c' || /^(h2c|http2)/.test(name)) protocol = 'http2'
    else protocol = 'http1'
  }
  const speaksHttp = protocol === 'http1' || protocol === 'http2' || protocol === 'grpc'
  if (tls === undefined) tls = speaksHttp && (app === 'https' || /^(https|grpcs)/.test(name) || port.number === 443)
  if (tls && !speaksHttp) throw badOption(`TLS applies to HTTP, HTTP/2 and gRPC only, not ${protocol}`)
  return { protocol, tls }
}

function objectCommon(protocol: Protocol, options: TargetOptions): { path: string; dns?: { name: string; type: string } } {
  if (options.dns !== undefined && protocol !== 'dns') throw badOption('a DNS question applies to targets spoken to as DNS')
  if (protocol === 'dns') return { path: '', dns: checkDnsQuestion(options.dns ?? defaultDnsQuestion, badOption) }
  if (protocol === 'grpc') {
    const path = options.path ?? defaultGrpcMethod
    if (!grpcMethod.test(path)) throw badOption(`${JSON.stringify(path.slice(0, 80))} is not a gRPC method path (/package.Service/Method)`)
    return { path }
  }
  if (protocol === 'tcp' || protocol === 'udp') {
    if (options.path !== undefined) throw badOption(`--path does not apply to ${protocol}`)
    return { path: '' }
  }
  return { path: checkPath(options.path ?? '/') }
}

function notFoundError(kind: string, namespace: string, name: string): TargetError {
  return new TargetError('NotFound', `${kind} ${namespace}/${name} not found (check the name, and the namespace: --namespace or NAME.NAMESPACE)`)
}

async function getObject(client: RestClient, info: (typeof resources)[number], name: string, namespace: string | undefined, kind: string): Promise<unknown> {
  try {
    return await client.get(info, name, namespace)
  } catch (err) {
    if (isNotFound(err)) throw notFoundError(kind, namespace ?? '', name)
    throw err
  }
}

function describePorts(ports: unknown[]): string {
  const parts = ports.map((p) => `${stringAt(p, 'name') ? `${stringAt(p, 'name')} ` : ''}${numberAt(p, 'port') ?? numberAt(p, 'containerPort') ?? '?'}/${stringAt(p, 'protocol') ?? 'TCP'}`)
  return parts.length ? parts.join(', ') : 'none'
}

function pickServicePort(svc: unknown, ref: PortRef | undefined, id: string): unknown {
  const ports = arrayAt(objectAt(svc, 'spec'), 'ports').filter(isObject)
  if (ports.length === 0) throw new TargetError('UnknownPort', `Service ${id} has no ports`)
  if (ref === undefined) return ports[0]
  const found = ports.find((p) => (typeof ref === 'number' ? numberAt(p, 'port') === ref : stringAt(p, 'name') === ref))
  if (!found) throw new TargetError('UnknownPort', `Service ${id} has no port ${typeof ref === 'number' ? ref : JSON.stringify(ref)} (its ports: ${describePorts(ports)})`)
  return found
}

function validPort(n: number | undefined): n is number {
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= 65535
}

/** An address from the API as an endpoint host: an IP address, or (load balancers) a host name. */
function apiHost(text: string | undefined, allowName: boolean): string | undefined {
  if (text === undefined) return undefined
  const ip = parseIP(text)
  if (ip) return ip.text
  return allowName && hostNamePattern.test(text.toLowerCase()) ? text.toLowerCase() : undefined
}

async function serviceCore(client: RestClient, ref: ObjectTarget, namespace: string, options: TargetOptions): Promise<Core> {
  const id = `${namespace}/${ref.name}`
  const svc = await getObject(client, serviceInfo, ref.name, namespace, 'Service')
  const spec = objectAt(svc, 'spec')
  const type = stringAt(spec, 'type') ?? 'ClusterIP'
  if (type === 'ExternalName') {
    const external = stringAt(spec, 'externalName') ?? ''
    throw new TargetError('Unsupported', `Service ${id} is of type ExternalName (externalName: ${JSON.stringify(external.slice(0, 253))}): it has no addresses of its own; load ${external || 'that name'} directly by URL`)
  }
  const port = pickServicePort(svc, ref.port, id)
  const portNumber = numberAt(port, 'port')
  if (!validPort(portNumber)) throw new TargetError('UnknownPort', `Service ${id}: its port has no valid number`)
  const portName = stringAt(port, 'name') ?? ''
  const transport = stringAt(port, 'protocol') ?? 'TCP'
  const appProtocol = stringAt(port, 'appProtocol')
  const { protocol, tls } = protocolForPort({ name: portName, number: portNumber, transport, appProtocol }, options, `Service ${id} port ${portName || portNumber}`)
  if ((protocol === 'udp' || protocol === 'dns') !== (transport === 'UDP')) throw badOption(`Service ${id} port ${portName || portNumber} is ${transport}; ${protocol} does not run over it`)
  const via: Via = options.via ?? 'clusterip'
  const label = `svc/${ref.name}.${namespace}:${portName || portNumber}`
  let endpoints: TargetEndpoint[]
  let how: string
  switch (via) {
    case 'clusterip': {
      const clusterIP = stringAt(spec, 'clusterIP') ?? ''
      if (clusterIP === 'None') throw new TargetError('Headless', `Service ${id} is headless (clusterIP: None): it has no ClusterIP to load; use --via endpoints to load every ready endpoint directly`)
      const host = apiHost(clusterIP, false)
      if (!host) throw new TargetError('NoAddress', `Service ${id} has no ClusterIP yet`)
      endpoints = [{ host, port: portNumber, label: 'ClusterIP' }]
      how = `ClusterIP ${joinHostPort(host, portNumber)}`
      break
    }
    case 'nodeport': {
      const nodePort = numberAt(port, 'nodePort')
      if (type !== 'NodePort' && type !== 'LoadBalancer') throw new TargetError('Unsupported', `Service ${id} is of type ${type}: it has no node ports; use --via clusterip or --via endpoints`)
      if (!validPort(nodePort)) throw new TargetError('NoAddress', `Service ${id} port ${portName || portNumber} has no nodePort allocated`)
      endpoints = await readyNodeAddresses(client, nodePort)
      how = `NodePort ${nodePort} on ${endpoints.length} Ready node${endpoints.length === 1 ? '' : 's'}`
      break
    }
    case 'endpoints': {
      endpoints = await readyEndpoints(client, namespace, ref.name, portName, transport, id)
      how = `${endpoints.length} ready endpoint${endpoints.length === 1 ? '' : 's'} directly`
      break
    }
    case 'loadbalancer': {
      if (type !== 'LoadBalancer') throw new TargetError('Unsupported', `Service ${id} is of type ${type}: it has no load balancer; use --via clusterip`)
      const hosts = arrayAt(pathAt(svc, 'status', 'loadBalancer'), 'ingress')
        .map((i) => apiHost(stringAt(i, 'ip'), false) ?? apiHost(stringAt(i, 'hostname'), true))
        .filter((h): h is string => h !== undefined)
      if (hosts.length === 0) throw new TargetError('NoAddress', `Service ${id} has no load-balancer address yet (status.loadBalancer.ingress is empty)`)
      endpoints = hosts.map((host) => ({ host, port: portNumber, label: `load balancer ${host}` }))
      how = `load balancer ${hosts.map((h) => joinHostPort(h, portNumber)).join(', ')}`
      break
    }
  }
  const serviceHost = `${ref.name}.${namespace}.svc`
  const host = checkHostOption(options.host, '--host')
  return {
    protocol,
    tls,
    endpoints,
    authority: host ?? authorityOf(serviceHost, portNumber, tls),
    serverHost: host?.replace(/:\d+$/, '') ?? serviceHost,
    ...objectCommon(protocol, options),
    description: `${label} → ${how}`,
  }
}

function isReadyNode(node: unknown): boolean {
  return arrayAt(objectAt(node, 'status'), 'conditions').some((c) => stringAt(c, 'type') === 'Ready' && stringAt(c, 'status') === 'True')
}

export function internalIP(node: unknown): string | undefined {
  for (const a of arrayAt(objectAt(node, 'status'), 'addresses')) {
    if (stringAt(a, 'type') === 'InternalIP') {
      const host = apiHost(stringAt(a, 'address'), false)
      if (host) return host
    }
  }
  return undefined
}

async function readyNodeAddresses(client: RestClient, nodePort: number): Promise<TargetEndpoint[]> {
  const { items } = await client.listAll(nodeInfo)
  const endpoints: TargetEndpoint[] = []
  for (const node of items) {
    if (!isReadyNode(node)) continue
    const host = internalIP(node)
    if (host) endpoints.push({ host, port: nodePort, label: `node ${stringAt(objectAt(node, 'metadata'), 'name') ?? host}` })
  }
  if (endpoints.length === 0) throw new TargetError('NoAddress', `no Ready node has an InternalIP address (${items.length} node${items.length === 1 ? '' : 's'} in all)`)
  return endpoints.sort((a, b) => (a.label ?? '').localeCompare(b.label ?? ''))
}

async function readyEndpoints(client: RestClient, namespace: string, service: string, portName: string, transport: string, id: string): Promise<TargetEndpoint[]> {
  const { items } = await client.listAll(sliceInfo, { namespace, labelSelector: `kubernetes.io/service-name=${service}` })
  const seen = new Set<string>()
  const endpoints: TargetEndpoint[] = []
  let notReady = 0
  for (const slice of items) {
    const port = arrayAt(slice, 'ports').find((p) => (stringAt(p, 'name') ?? '') === portName && (stringAt(p, 'protocol') ?? 'TCP') === transport)
    const number = numberAt(port, 'port')
    if (!validPort(number)) continue
    for (const endpoint of arrayAt(slice, 'endpoints')) {
      // An absent `ready` means ready (EndpointSlice API).
      if (pathAt(endpoint, 'conditions', 'ready') === false) {
        notReady++
        continue
      }
      const host = apiHost(arrayAt(endpoint, 'addresses').find((a) => typeof a === 'string') as string | undefined, false)
      if (!host) continue
      const key = joinHostPort(host, number)
      if (seen.has(key)) continue
      seen.add(key)
      const targetRef = objectAt(endpoint, 'targetRef')
      const pod = stringAt(targetRef, 'kind') === 'Pod' ? stringAt(targetRef, 'name') : undefined
      endpoints.push({ host, port: number, label: pod ? `pod ${pod}` : `endpoint ${key}` })
    }
  }
  if (endpoints.length === 0) {
    const why = items.length === 0 ? 'it has no EndpointSlices (does its selector match any pods?)' : notReady > 0 ? `${notReady} endpoint${notReady === 1 ? ' is' : 's are'} not ready` : `no endpoint serves port ${portName || '(unnamed)'}`
    throw new TargetError('NoEndpoints', `Service ${id} has no ready endpoints: ${why}`)
  }
  return endpoints.sort((a, b) => (a.label ?? '').localeCompare(b.label ?? ''))
}

/** Whether a tls entry's host (maybe `*.example.com`) covers `host`. */
function tlsCovers(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase()
  if (p.startsWith('*.')) {
    const dot = host.indexOf('.')
    return dot > 0 && host.slice(dot + 1) === p.slice(2)
  }
  return p === host
}

async function ingressCore(client: RestClient, ref: ObjectTarget, namespace: string, options: TargetOptions): Promise<Core> {
  const id = `${namespace}/${ref.name}`
  const ingress = await getObject(client, ingressInfo, ref.name, namespace, 'Ingress')
  const spec = objectAt(ingress, 'spec')
  const rules = arrayAt(spec, 'rules').filter(isObject)
  const wanted = checkHostOption(options.host, '--host')?.replace(/:\d+$/, '')
  let rule: unknown
  if (wanted !== undefined) {
    rule = rules.find((r) => stringAt(r, 'host')?.toLowerCase() === wanted) ?? rules.find((r) => { const h = stringAt(r, 'host'); return h !== undefined && h.startsWith('*.') && tlsCovers(h, wanted) }) ?? rules.find((r) => !stringAt(r, 'host'))
    if (rule === undefined) throw new TargetError('NotFound', `Ingress ${id} has no rule for host ${wanted} (its hosts: ${rules.map((r) => stringAt(r, 'host') ?? '*').join(', ') || 'none'})`)
  } else {
    rule = rules.find((r) => stringAt(r, 'host') && !stringAt(r, 'host')!.startsWith('*')) ?? rules[0]
  }
  const ruleHost = stringAt(rule, 'host')
  const host = wanted ?? (ruleHost && !ruleHost.startsWith('*') ? ruleHost.toLowerCase() : undefined)
  if (host === undefined && ruleHost?.startsWith('*')) throw badOption(`Ingress ${id}'s rule is for ${ruleHost}: name a host with --host`)
  const firstPath = stringAt(arrayAt(objectAt(rule, 'http'), 'paths')[0], 'path')
  const covered = host !== undefined && arrayAt(spec, 'tls').some((t) => arrayAt(t, 'hosts').some((h) => typeof h === 'string' && tlsCovers(h, host)))
  const protocol = options.protocol ?? 'http1'
  if (protocol !== 'http1' && protocol !== 'http2' && protocol !== 'grpc') throw badOption(`an Ingress speaks HTTP: --protocol ${protocol} does not apply`)
  const tls = options.tls ?? covered
  const port = tls ? 443 : 80
  let endpoints = arrayAt(pathAt(ingress, 'status', 'loadBalancer'), 'ingress')
    .map((i) => apiHost(stringAt(i, 'ip'), false) ?? apiHost(stringAt(i, 'hostname'), true))
    .filter((h): h is string => h !== undefined)
    .map((h): TargetEndpoint => ({ host: h, port, label: `ingress ${h}` }))
  let how = endpoints.map((e) => joinHostPort(e.host, port)).join(', ')
  if (endpoints.length === 0) {
    const controller = await controllerService(client, id, tls)
    endpoints = [controller.endpoint]
    how = `${INGRESS_NAMESPACE}/${INGRESS_NAME} ClusterIP ${joinHostPort(controller.endpoint.host, controller.endpoint.port)} (the Ingress has no address yet)`
  }
  const path = protocol === 'grpc' ? objectCommon(protocol, options).path : checkPath(options.path ?? (firstPath && /^\/[^\s]*$/.test(firstPath) ? firstPath : '/'))
  const authority = host ?? endpoints[0]!.host
  return {
    protocol,
    tls,
    endpoints,
    authority: authorityOf(authority, endpoints[0]!.port, tls),
    ...(host ? { serverHost: host } : {}),
    path,
    description: `ingress/${ref.name}.${namespace} → ${tls ? 'https' : 'http'}://${host ?? '(any host)'}${path} via ${how}`,
  }
}

/** weft's own Ingress controller Service (bootstrap-ingress.ts, loadBalancer mode): its ClusterIP and http or https port. */
async function controllerService(client: RestClient, id: string, tls: boolean): Promise<{ endpoint: TargetEndpoint }> {
  let svc: unknown
  try {
    svc = await client.get(serviceInfo, INGRESS_NAME, INGRESS_NAMESPACE)
  } catch (err) {
    if (!isNotFound(err)) throw err
    throw new TargetError('NoAddress', `Ingress ${id} has no address yet (status.loadBalancer.ingress is empty) and there is no ${INGRESS_NAMESPACE}/${INGRESS_NAME} Service to reach the controller through; load its controller by URL with --host`)
  }
  const host = apiHost(stringAt(objectAt(svc, 'spec'), 'clusterIP'), false)
  const wantedName = tls ? 'https' : 'http'
  const wantedNumber = tls ? 443 : 80
  const ports = arrayAt(objectAt(svc, 'spec'), 'ports')
  const port = ports.find((p) => stringAt(p, 'name') === wantedName) ?? ports.find((p) => numberAt(p, 'port') === wantedNumber)
  const number = numberAt(port, 'port')
  if (!host || !validPort(number)) throw new TargetError('NoAddress', `Ingress ${id} has no address yet, and the ${INGRESS_NAMESPACE}/${INGRESS_NAME} Service has no ClusterIP or no ${wantedName} port`)
  return { endpoint: { host, port: number, label: `ingress controller ${host}` } }
}

async function podCore(client: RestClient, ref: ObjectTarget, namespace: string, options: TargetOptions): Promise<Core> {
  const id = `${namespace}/${ref.name}`
  const pod = await getObject(client, podInfo, ref.name, namespace, 'Pod')
  const phase = stringAt(objectAt(pod, 'status'), 'phase') ?? 'Pending'
  if (phase !== 'Running') throw new TargetError('NoAddress', `Pod ${id} is ${phase}, not Running`)
  const host = apiHost(stringAt(objectAt(pod, 'status'), 'podIP'), false)
  if (!host) throw new TargetError('NoAddress', `Pod ${id} has no IP address yet`)
  const ports = arrayAt(objectAt(pod, 'spec'), 'containers').flatMap((c) => arrayAt(c, 'ports')).filter(isObject)
  let port: unknown
  let number: number | undefined
  if (typeof ref.port === 'number') {
    port = ports.find((p) => numberAt(p, 'containerPort') === ref.port)
    number = ref.port
  } else {
    if (ref.port === undefined && ports.length === 0) throw new TargetError('UnknownPort', `Pod ${id} declares no containerPorts: name the port, pod/${ref.name}.${namespace}:PORT`)
    port = ref.port === undefined ? ports[0] : ports.find((p) => stringAt(p, 'name') === ref.port)
    if (port === undefined) throw new TargetError('UnknownPort', `Pod ${id} has no port named ${JSON.stringify(ref.port)} (its ports: ${describePorts(ports)})`)
    number = numberAt(port, 'containerPort')
    if (!validPort(number)) throw new TargetError('UnknownPort', `Pod ${id}: its port has no valid number`)
  }
  const portName = stringAt(port, 'name') ?? ''
  const transport = stringAt(port, 'protocol') ?? 'TCP'
  const { protocol, tls } = protocolForPort({ name: portName, number, transport, appProtocol: undefined }, options, `Pod ${id} port ${portName || number}`)
  const headerHost = checkHostOption(options.host, '--host')
  return {
    protocol,
    tls,
    endpoints: [{ host, port: number, label: `pod ${ref.name}` }],
    authority: headerHost ?? authorityOf(host, number, tls),
    ...(headerHost ? { serverHost: headerHost.replace(/:\d+$/, '') } : {}),
    ...objectCommon(protocol, options),
    description: `pod/${ref.name}.${namespace}:${portName || number} → ${joinHostPort(host, number)}`,
  }
}
