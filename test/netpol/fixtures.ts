// A cluster in the shape of upstream's netpol e2e: namespaces x, y, z with pods a, b, c each,
// serving 80 and 81 over TCP and UDP (ports named serve-80-tcp and so on), dual-stack, spread
// over two nodes.
import type { V1Namespace, V1NetworkPolicy, V1NetworkPolicySpec, V1Pod } from '@kubernetes/client-node'
import { clusterView, compileNode } from '../../netpol/compile.ts'
import type { CompiledNode, L4Protocol } from '../../netpol/model.ts'
import { allowed } from '../../netpol/reachability.ts'

export const NAMESPACES = ['x', 'y', 'z'] as const
export const PODS = ['a', 'b', 'c'] as const
export const NODES = ['node-1', 'node-2'] as const

export function namespace(name: string, labels: Record<string, string> = {}): V1Namespace {
  return { metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ns: name, ...labels } } }
}

export interface PodOptions {
  labels?: Record<string, string>
  ips?: string[]
  node?: string
  ports?: { name: string; containerPort: number; protocol?: string }[]
  hostNetwork?: boolean
  phase?: string
}

export function pod(ns: string, name: string, o: PodOptions = {}): V1Pod {
  const ips = o.ips ?? []
  return {
    metadata: { namespace: ns, name, uid: `uid-${ns}-${name}`, labels: o.labels ?? { pod: name } },
    spec: { nodeName: o.node ?? 'node-1', hostNetwork: o.hostNetwork, containers: [{ name: 'c', ports: o.ports }] },
    status: { phase: o.phase ?? 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
  }
}

export function policy(ns: string, name: string, spec: V1NetworkPolicySpec | Record<string, unknown>): V1NetworkPolicy {
  return { metadata: { namespace: ns, name }, spec: spec as V1NetworkPolicySpec }
}

const servePorts = [80, 81].flatMap((p) => (['TCP', 'UDP'] as const).map((proto) => ({ name: `serve-${p}-${proto.toLowerCase()}`, containerPort: p, protocol: proto })))

export function ipOf(ns: string, name: string, family: 4 | 6 = 4): string {
  const n = NAMESPACES.indexOf(ns as 'x') + 1
  const p = PODS.indexOf(name as 'a') + 1
  return family === 4 ? `10.0.${n}.${p}` : `fd00::${n}:${p}`
}

export function e2ePods(): V1Pod[] {
  return NAMESPACES.flatMap((ns) =>
    PODS.map((name) => pod(ns, name, { ips: [ipOf(ns, name, 4), ipOf(ns, name, 6)], node: name === 'c' ? 'node-2' : 'node-1', ports: servePorts })),
  )
}

export function e2eNamespaces(): V1Namespace[] {
  return NAMESPACES.map((ns) => namespace(ns))
}

export function compileAll(policies: unknown[], pods: unknown[] = e2ePods(), namespaces: unknown[] = e2eNamespaces()): CompiledNode[] {
  const view = clusterView({ policies, pods, namespaces })
  return NODES.map((n) => compileNode(view, n))
}

/** Upstream's truth table: one row per source x/a … z/c, one column per destination; `.` allowed, `X` blocked. */
export function matrix(nodes: CompiledNode[], protocol: L4Protocol, port: number, family: 4 | 6 = 4): string {
  const all = NAMESPACES.flatMap((ns) => PODS.map((p) => ipOf(ns, p, family)))
  return all.map((src) => all.map((dst) => (allowed(nodes, src, dst, protocol, port) ? '.' : 'X')).join('')).join('\n')
}

/** A table written one row per line, spaces ignored. */
export function table(text: string): string {
  return text
    .trim()
    .split('\n')
    .map((l) => l.replace(/\s+/g, ''))
    .join('\n')
}

export const ALLOW_ALL = table(Array(9).fill('.........').join('\n'))
