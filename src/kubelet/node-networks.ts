// The parts of Node objects the agent turns into routes and nft rules (host-gw.ts,
// pod-masquerade.ts): pod CIDRs and InternalIPs, parsed strictly and written back in
// canonical form, so nothing else an API object says can reach `ip` or `nft` text. A value
// that is not one is left out and reported; the rest of that Node, and every other Node,
// still counts.
import type { V1Node } from '@kubernetes/client-node'
import { parseCidr, type Cidr } from '../util/cidr.ts'
import { parseCIDR, parseIP } from '../util/ip-parse.ts'

export interface NodeNetwork {
  name: string
  /** This agent's own Node. */
  self: boolean
  /** Canonical (`10.244.1.0/24`, RFC 5952 IPv6), at most one per family. */
  podCIDRs: string[]
  /** Canonical InternalIP addresses. */
  internalIPs: string[]
}

export interface NodeProblem {
  node: string
  /** The field the value was in: a bounded metric label. */
  field: 'spec.podCIDRs' | 'status.addresses'
  /** Says which field, what was wrong and what is done about it. */
  message: string
}

function parsePodCIDR(text: string): Cidr | undefined {
  const parsed = parseCIDR(text, 'sloppy')
  return parsed && parseCidr(parsed.text)
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base < b.base + b.size && b.base < a.base + a.size
}

function rawCIDRs(node: V1Node): unknown[] {
  const spec = node.spec
  const list: unknown = spec?.podCIDRs?.length ? spec.podCIDRs : spec?.podCIDR ? [spec.podCIDR] : []
  return Array.isArray(list) ? list : [list]
}

/** Every Node's usable pod CIDRs and InternalIPs, and what was wrong with the rest. Pure. */
export function nodeNetworks(nodes: readonly V1Node[], self: string): { networks: NodeNetwork[]; problems: NodeProblem[] } {
  const problems: NodeProblem[] = []
  const parsed: { name: string; self: boolean; created: string; cidrs: Cidr[]; ips: string[] }[] = []
  for (const node of nodes) {
    const name = String(node.metadata?.name ?? '')
    const problem = (field: NodeProblem['field'], message: string) => problems.push({ node: name, field, message: `Node ${JSON.stringify(name)}: ${field} ${message}` })
    let cidrs: Cidr[] = []
    for (const raw of rawCIDRs(node)) {
      const cidr = typeof raw === 'string' ? parsePodCIDR(raw) : undefined
      if (cidr === undefined) problem('spec.podCIDRs', `${JSON.stringify(raw)} is not a CIDR (like 10.244.1.0/24): no routes or masquerade for it`)
      else if (cidr.prefix === 0) problem('spec.podCIDRs', `${cidr.text} is a whole address family, not a pod CIDR: ignored`)
      else cidrs.push(cidr)
    }
    for (const family of [4, 6] as const) {
      const same = cidrs.filter((c) => c.family === family)
      if (same.length < 2) continue
      problem('spec.podCIDRs', `has ${same.length} IPv${family} CIDRs (${same.map((c) => c.text).join(', ')}), at most one is allowed: all of them ignored`)
      cidrs = cidrs.filter((c) => c.family !== family)
    }
    const ips: string[] = []
    const addresses: unknown = node.status?.addresses
    for (const a of Array.isArray(addresses) ? (addresses as { type?: unknown; address?: unknown }[]) : []) {
      if (a?.type !== 'InternalIP') continue
      const ip = typeof a.address === 'string' ? parseIP(a.address, 'sloppy')?.text : undefined
      if (ip === undefined) problem('status.addresses', `InternalIP ${JSON.stringify(a.address)} is not an IP address: ignored`)
      else ips.push(ip)
    }
    const created = node.metadata?.creationTimestamp
    parsed.push({ name, self: name === self, created: created instanceof Date ? created.toISOString() : typeof created === 'string' ? created : '', cidrs, ips })
  }
  // Another Node's CIDR overlapping this one's would steal local pods' traffic. Of two other
  // Nodes that overlap, the one created first keeps its CIDR (as it had before the other
  // came), so a new Node cannot take routes away from a working one.
  const accepted: { name: string; cidr: Cidr }[] = parsed.filter((p) => p.self).flatMap((p) => p.cidrs.map((cidr) => ({ name: p.name, cidr })))
  const others = parsed.filter((p) => !p.self).sort((a, b) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name))
  for (const p of others) {
    p.cidrs = p.cidrs.filter((c) => {
      const clash = accepted.find((a) => overlaps(a.cidr, c))
      if (clash === undefined) {
        accepted.push({ name: p.name, cidr: c })
        return true
      }
      const whose = clash.name === self ? "this node's pod CIDR" : `the pod CIDR of Node ${JSON.stringify(clash.name)} (created earlier)`
      problems.push({ node: p.name, field: 'spec.podCIDRs', message: `Node ${JSON.stringify(p.name)}: spec.podCIDRs ${c.text} overlaps ${whose} ${clash.cidr.text}: ignored` })
      return false
    })
  }
  return {
    networks: parsed.map((p) => ({ name: p.name, self: p.self, podCIDRs: p.cidrs.map((c) => c.text), internalIPs: p.ips })),
    problems,
  }
}
