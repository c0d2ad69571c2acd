// NetworkPolicies, Pods and Namespaces read into slim internal types, every field treated as
// hostile: a field that is not what the API allows is a PolicyProblem, never an exception.
import { labelSelectorFromObject, everything, selectorToString, type LabelSelector } from '../src/api/selectors.ts'
import { parseCidr, type Cidr } from '../src/util/cidr.ts'
import { parseCIDR, parseIP } from '../src/util/ip-parse.ts'
import type { L4Protocol, PolicyProblem } from './model.ts'

export type PeerSpec =
  | {
      kind: 'pods'
      /** The policy's own namespace (peer without namespaceSelector), or namespaces by selector. */
      namespaces: { own: string } | { selector: LabelSelector }
      pods: LabelSelector
      /** Canonical text: equal descriptors select the same pods. */
      descriptor: string
    }
  | { kind: 'ipBlock'; cidr: Cidr; except: Cidr[]; descriptor: string }

export type PortSpec = { protocol: L4Protocol; kind: 'range'; from: number; to: number } | { protocol: L4Protocol; kind: 'named'; name: string }

export interface RuleSpec {
  /** 'any': `from`/`to` absent or empty. */
  peers: 'any' | PeerSpec[]
  /** 'any': `ports` absent or empty. */
  ports: 'any' | PortSpec[]
}

export interface PolicySpec {
  /** `namespace/name`. */
  key: string
  namespace: string
  podSelector: LabelSelector
  /** Undefined when Ingress is not among the effective policyTypes; rules that failed are left out. */
  ingress?: RuleSpec[]
  egress?: RuleSpec[]
}

export interface ContainerPort {
  name: string
  protocol: L4Protocol
  port: number
}

export interface PodInfo {
  uid: string
  namespace: string
  name: string
  node: string
  labels: Record<string, string>
  ips: { v4: string[]; v6: string[] }
  ports: ContainerPort[]
  /** Has an IP, is not hostNetwork and not terminal: can be selected and be a peer. */
  usable: boolean
}

class FieldError extends Error {
  readonly field: string
  constructor(field: string, message: string) {
    super(message)
    this.field = field
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : ''
}

function stringMap(v: unknown): Record<string, string> {
  // No prototype: a label called __proto__ is a label like any other.
  const out: Record<string, string> = Object.create(null)
  if (!isObject(v)) return out
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val
  return out
}

function selector(v: unknown, field: string): LabelSelector {
  if (!isObject(v)) throw new FieldError(field, 'must be a label selector object')
  if (v.matchLabels !== undefined && v.matchLabels !== null) {
    if (!isObject(v.matchLabels) || Object.values(v.matchLabels).some((x) => typeof x !== 'string')) throw new FieldError(`${field}.matchLabels`, 'must map label keys to string values')
  }
  if (v.matchExpressions !== undefined && v.matchExpressions !== null) {
    if (!Array.isArray(v.matchExpressions)) throw new FieldError(`${field}.matchExpressions`, 'must be a list')
    v.matchExpressions.forEach((e, i) => {
      const f = `${field}.matchExpressions[${i}]`
      if (!isObject(e) || typeof e.key !== 'string' || typeof e.operator !== 'string') throw new FieldError(f, 'must have a string key and operator')
      if (e.values !== undefined && e.values !== null && (!Array.isArray(e.values) || e.values.some((x) => typeof x !== 'string'))) throw new FieldError(`${f}.values`, 'must be a list of strings')
    })
  }
  try {
    return labelSelectorFromObject(v)
  } catch (err) {
    throw new FieldError(field, err instanceof Error ? err.message : String(err))
  }
}

function cidr(v: unknown, field: string): Cidr {
  if (typeof v !== 'string' || v.trim() !== v || v.includes('%')) throw new FieldError(field, `${JSON.stringify(v)} is not a CIDR`)
  if (parseCIDR(v, 'sloppy')?.ip.mapped) throw new FieldError(field, `${JSON.stringify(v)} is an IPv4-mapped IPv6 CIDR: write the IPv4 CIDR`)
  try {
    return parseCidr(v)
  } catch (err) {
    throw new FieldError(field, err instanceof Error ? err.message : String(err))
  }
}

function ipBlock(v: unknown, field: string): PeerSpec {
  if (!isObject(v)) throw new FieldError(field, 'must be an object')
  const block = cidr(v.cidr, `${field}.cidr`)
  const except: Cidr[] = []
  if (v.except !== undefined && v.except !== null) {
    if (!Array.isArray(v.except)) throw new FieldError(`${field}.except`, 'must be a list of CIDRs')
    v.except.forEach((x, i) => {
      const hole = cidr(x, `${field}.except[${i}]`)
      if (hole.family !== block.family || hole.prefix < block.prefix || (hole.base >> BigInt((block.family === 4 ? 32 : 128) - block.prefix)) !== (block.base >> BigInt((block.family === 4 ? 32 : 128) - block.prefix))) {
        throw new FieldError(`${field}.except[${i}]`, `${hole.text} is not within ${block.text}`)
      }
      except.push(hole)
    })
  }
  except.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : a.prefix - b.prefix))
  const descriptor = `ipBlock ${block.text}${except.length ? ` except ${except.map((c) => c.text).join(',')}` : ''}`
  return { kind: 'ipBlock', cidr: block, except, descriptor }
}

function peer(v: unknown, field: string, namespace: string): PeerSpec {
  if (!isObject(v)) throw new FieldError(field, 'must be an object')
  const hasPods = v.podSelector !== undefined && v.podSelector !== null
  const hasNs = v.namespaceSelector !== undefined && v.namespaceSelector !== null
  const hasBlock = v.ipBlock !== undefined && v.ipBlock !== null
  if (hasBlock && (hasPods || hasNs)) throw new FieldError(field, 'may not set ipBlock together with podSelector or namespaceSelector')
  if (hasBlock) return ipBlock(v.ipBlock, `${field}.ipBlock`)
  if (!hasPods && !hasNs) throw new FieldError(field, 'must set one of podSelector, namespaceSelector or ipBlock')
  const pods = hasPods ? selector(v.podSelector, `${field}.podSelector`) : everything()
  if (hasNs) {
    const ns = selector(v.namespaceSelector, `${field}.namespaceSelector`)
    return { kind: 'pods', namespaces: { selector: ns }, pods, descriptor: `pods nsSelector=${JSON.stringify(selectorToString(ns))} podSelector=${JSON.stringify(selectorToString(pods))}` }
  }
  return { kind: 'pods', namespaces: { own: namespace }, pods, descriptor: `pods namespace=${JSON.stringify(namespace)} podSelector=${JSON.stringify(selectorToString(pods))}` }
}

const PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP']

/** An IANA service name as validation allows it: 1–15 of [a-z0-9-], a letter, no edge or double hyphen. */
export function isPortName(name: string): boolean {
  return /^[a-z0-9](?:-?[a-z0-9])*$/.test(name) && name.length <= 15 && /[a-z]/.test(name)
}

function isPortNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535
}

function port(v: unknown, field: string): PortSpec {
  if (!isObject(v)) throw new FieldError(field, 'must be an object')
  const protocol = v.protocol === undefined || v.protocol === null ? 'TCP' : v.protocol
  if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol)) throw new FieldError(`${field}.protocol`, `${JSON.stringify(protocol)} is not one of TCP, UDP, SCTP`)
  const proto = protocol as L4Protocol
  const hasEnd = v.endPort !== undefined && v.endPort !== null
  if (v.port === undefined || v.port === null) {
    if (hasEnd) throw new FieldError(`${field}.endPort`, 'may not be set without a numeric port')
    return { protocol: proto, kind: 'range', from: 0, to: 65535 }
  }
  if (typeof v.port === 'string') {
    if (!isPortName(v.port)) throw new FieldError(`${field}.port`, `${JSON.stringify(v.port)} is neither a port number nor a port name`)
    if (hasEnd) throw new FieldError(`${field}.endPort`, 'may not be set with a named port')
    return { protocol: proto, kind: 'named', name: v.port }
  }
  if (!isPortNumber(v.port)) throw new FieldError(`${field}.port`, `${JSON.stringify(v.port)} is not a port number (1-65535)`)
  if (!hasEnd) return { protocol: proto, kind: 'range', from: v.port, to: v.port }
  if (!isPortNumber(v.endPort) || v.endPort < v.port) throw new FieldError(`${field}.endPort`, `${JSON.stringify(v.endPort)} must be a port number not below port ${v.port}`)
  return { protocol: proto, kind: 'range', from: v.port, to: v.endPort }
}

function list(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new FieldError(field, 'must be a list')
  return v
}

function rule(v: unknown, field: string, peersKey: 'from' | 'to', namespace: string): RuleSpec {
  if (!isObject(v)) throw new FieldError(field, 'must be an object')
  const peers = list(v[peersKey], `${field}.${peersKey}`).map((p, i) => peer(p, `${field}.${peersKey}[${i}]`, namespace))
  const ports = list(v.ports, `${field}.ports`).map((p, i) => port(p, `${field}.ports[${i}]`))
  return { peers: peers.length ? peers : 'any', ports: ports.length ? ports : 'any' }
}

function rules(spec: Record<string, unknown>, direction: 'ingress' | 'egress', key: string, namespace: string, problems: PolicyProblem[]): RuleSpec[] {
  const out: RuleSpec[] = []
  let items: unknown[]
  try {
    items = list(spec[direction], `spec.${direction}`)
  } catch (err) {
    if (!(err instanceof FieldError)) throw err
    problems.push({ policy: key, field: err.field, message: err.message, scope: 'rule' })
    return out
  }
  items.forEach((r, i) => {
    try {
      out.push(rule(r, `spec.${direction}[${i}]`, direction === 'ingress' ? 'from' : 'to', namespace))
    } catch (err) {
      if (!(err instanceof FieldError)) throw err
      problems.push({ policy: key, field: err.field, message: `${err.message}; the rule allows nothing`, scope: 'rule' })
    }
  })
  return out
}

/**
 * A NetworkPolicy as enforced. Undefined (with a problem) when it cannot select pods: no
 * namespace or name, or an unusable spec.podSelector. A bad rule is left out with a problem,
 * and the policy still isolates the pods it selects (fail closed).
 */
export function parsePolicy(obj: unknown, problems: PolicyProblem[]): PolicySpec | undefined {
  const meta = isObject(obj) && isObject(obj.metadata) ? obj.metadata : {}
  const namespace = str(meta.namespace)
  const name = str(meta.name)
  const key = `${namespace}/${name}`
  if (!namespace || !name) {
    problems.push({ policy: key, field: 'metadata', message: 'a NetworkPolicy needs a namespace and a name; it is ignored', scope: 'policy' })
    return undefined
  }
  const spec = isObject(obj) && isObject(obj.spec) ? obj.spec : undefined
  if (!spec) {
    problems.push({ policy: key, field: 'spec', message: 'must be an object; the policy is ignored', scope: 'policy' })
    return undefined
  }
  let podSelector: LabelSelector
  try {
    podSelector = spec.podSelector === undefined || spec.podSelector === null ? everything() : selector(spec.podSelector, 'spec.podSelector')
  } catch (err) {
    if (!(err instanceof FieldError)) throw err
    problems.push({ policy: key, field: err.field, message: `${err.message}; the policy selects no pods`, scope: 'policy' })
    return undefined
  }
  // Upstream's defaulting: no policyTypes means Ingress, plus Egress when there are egress rules.
  let types: string[]
  if (Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0) {
    types = []
    spec.policyTypes.forEach((t, i) => {
      if (t === 'Ingress' || t === 'Egress') types.push(t)
      else problems.push({ policy: key, field: `spec.policyTypes[${i}]`, message: `${JSON.stringify(t)} is not Ingress or Egress; it is ignored`, scope: 'rule' })
    })
  } else {
    types = ['Ingress']
    if (Array.isArray(spec.egress) && spec.egress.length > 0) types.push('Egress')
  }
  const policy: PolicySpec = { key, namespace, podSelector }
  if (types.includes('Ingress')) policy.ingress = rules(spec, 'ingress', key, namespace, problems)
  if (types.includes('Egress')) policy.egress = rules(spec, 'egress', key, namespace, problems)
  return policy
}

/** A canonical address, or undefined for anything that is not a plain IPv4/IPv6 address. */
export function canonicalIP(v: unknown): { family: 4 | 6; ip: string } | undefined {
  // An IPv4-mapped IPv6 address is neither family's: the kernel never sees pod traffic with one.
  const p = typeof v === 'string' ? parseIP(v) : undefined
  return p && !p.mapped ? { family: p.family, ip: p.text } : undefined
}

export function parsePod(obj: unknown): PodInfo | undefined {
  if (!isObject(obj) || !isObject(obj.metadata)) return undefined
  const meta = obj.metadata
  const spec = isObject(obj.spec) ? obj.spec : {}
  const status = isObject(obj.status) ? obj.status : {}
  const uid = str(meta.uid)
  const namespace = str(meta.namespace)
  const name = str(meta.name)
  if (!uid || !namespace || !name) return undefined
  const v4 = new Set<string>()
  const v6 = new Set<string>()
  const add = (raw: unknown) => {
    const c = canonicalIP(raw)
    if (c) (c.family === 4 ? v4 : v6).add(c.ip)
  }
  if (Array.isArray(status.podIPs)) for (const p of status.podIPs) if (isObject(p)) add(p.ip)
  add(status.podIP)
  const ports: ContainerPort[] = []
  if (Array.isArray(spec.containers)) {
    for (const c of spec.containers) {
      if (!isObject(c) || !Array.isArray(c.ports)) continue
      for (const p of c.ports) {
        if (!isObject(p) || typeof p.name !== 'string' || !isPortName(p.name) || !isPortNumber(p.containerPort)) continue
        const protocol = p.protocol === undefined || p.protocol === null ? 'TCP' : p.protocol
        if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol)) continue
        ports.push({ name: p.name, protocol: protocol as L4Protocol, port: p.containerPort })
      }
    }
  }
  const ips = { v4: [...v4].sort(), v6: [...v6].sort() }
  const terminal = status.phase === 'Succeeded' || status.phase === 'Failed'
  const usable = ips.v4.length + ips.v6.length > 0 && spec.hostNetwork !== true && !terminal
  return { uid, namespace, name, node: str(spec.nodeName), labels: stringMap(meta.labels), ips, ports, usable }
}

/** Namespace name → labels. */
export function namespaceLabels(namespaces: readonly unknown[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>()
  for (const ns of namespaces) {
    if (!isObject(ns) || !isObject(ns.metadata) || typeof ns.metadata.name !== 'string') continue
    out.set(ns.metadata.name, stringMap(ns.metadata.labels))
  }
  return out
}
