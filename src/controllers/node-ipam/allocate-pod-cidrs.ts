// Node IPAM: give every node without spec.podCIDR the lowest free node-sized subnet of
// each cluster CIDR (one per family in dual-stack), as the range allocator does.
import type { V1Node } from '@kubernetes/client-node'
import type { Action } from '../actions.ts'
import { resources, type ResourceInfo } from '../../api/registry.ts'
import { bigIntToIp, parseCidr, type Cidr } from '../../util/cidr.ts'
import { claimAction, releaseAction, type Claim } from '../claims.ts'

const nodeInfo = resources.find((r) => r.kind === 'Node') as ResourceInfo

/**
 * `clusterCidr` is one CIDR, a list, or a comma-separated list (as --cluster-cidr).
 * `nodeMaskSize` is one size for all or one per cluster CIDR; by default /24 for IPv4 and /64 for IPv6.
 */
export function allocatePodCIDRs(
  nodes: V1Node[],
  clusterCidr: string | string[],
  nodeMaskSize?: number | number[],
  claims: ReadonlyMap<string, Claim> = new Map(),
): Action[] {
  const clusters = (Array.isArray(clusterCidr) ? clusterCidr : clusterCidr.split(',')).filter((s) => s.trim()).map((s) => parseCidr(s))
  const masks = clusters.map((c, i) => {
    const size = Array.isArray(nodeMaskSize) ? nodeMaskSize[i] : nodeMaskSize
    const mask = size ?? (c.family === 4 ? 24 : 64)
    if (mask < c.prefix || mask > (c.family === 4 ? 32 : 128)) {
      throw new Error(`node CIDR mask size /${mask} does not fit cluster CIDR ${c.text} (it must be between /${c.prefix} and /${c.family === 4 ? 32 : 128})`)
    }
    return mask
  })
  // Subnet indexes in use, per cluster CIDR.
  const used = clusters.map(() => new Set<bigint>())
  for (const node of nodes) {
    for (const text of nodeCidrs(node)) {
      let cidr: Cidr
      try {
        cidr = parseCidr(text)
      } catch {
        continue
      }
      clusters.forEach((c, i) => occupy(c, masks[i], cidr, used[i]))
    }
  }

  // Claims (create-if-absent Leases) make a CIDR taken for everyone at once, whatever any one
  // controller's cache says; a claim whose node is gone is released.
  const actions: Action[] = []
  const names = new Set(nodes.map((n) => n.metadata?.name))
  /** CIDRs a node claimed, per cluster CIDR: a claim made before its node write was lost is used again. */
  const heldBy = new Map<string, (string | undefined)[]>()
  for (const [text, claim] of claims) {
    if (!names.has(claim.holder)) {
      actions.push(releaseAction(claim))
      continue
    }
    let cidr: Cidr
    try {
      cidr = parseCidr(text)
    } catch {
      continue
    }
    clusters.forEach((c, i) => {
      occupy(c, masks[i], cidr, used[i])
      if (cidr.family === c.family && cidr.prefix === masks[i] && cidrInside(c, cidr)) {
        const held = heldBy.get(claim.holder) ?? clusters.map(() => undefined)
        held[i] = text
        heldBy.set(claim.holder, held)
      }
    })
  }
  const pending = nodes.filter((n) => n.metadata?.name && nodeCidrs(n).length === 0 && !n.metadata.deletionTimestamp)
  pending.sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1))
  for (const node of pending) {
    const held = heldBy.get(node.metadata!.name!)
    if (held && held.every((x) => x !== undefined)) {
      actions.push({ verb: 'patch', info: nodeInfo, namespace: undefined, name: node.metadata!.name!, type: 'merge', patch: { spec: { podCIDR: held[0], podCIDRs: held } } })
      continue
    }
    const picks = clusters.map((c, i) => lowestFree(c, masks[i], used[i]))
    if (picks.some((p) => p === undefined)) {
      actions.push({ verb: 'event', event: { involved: node, type: 'Warning', reason: 'CIDRNotAvailable', message: `Node ${node.metadata!.name} status is now: CIDRNotAvailable` } })
      continue
    }
    const podCIDRs = picks.map((index, i) => {
      used[i].add(index!)
      const c = clusters[i]
      return `${bigIntToIp(c.base + (index! << BigInt(width(c) - masks[i])), c.family)}/${masks[i]}`
    })
    for (const cidr of podCIDRs) actions.push(claimAction('pod-cidr', cidr, node.metadata!.name!))
    actions.push({ verb: 'patch', info: nodeInfo, namespace: undefined, name: node.metadata!.name!, type: 'merge', patch: { spec: { podCIDR: podCIDRs[0], podCIDRs } } })
  }
  return actions
}

function nodeCidrs(node: V1Node): string[] {
  const list = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : []
  return list.filter((s) => typeof s === 'string' && s !== '')
}

function width(c: Cidr): number {
  return c.family === 4 ? 32 : 128
}

/** Marks every subnet of `cluster` that `cidr` overlaps. */
function occupy(cluster: Cidr, mask: number, cidr: Cidr, used: Set<bigint>): void {
  if (cidr.family !== cluster.family) return
  const start = cidr.base > cluster.base ? cidr.base : cluster.base
  const endA = cidr.base + cidr.size
  const endB = cluster.base + cluster.size
  const end = endA < endB ? endA : endB
  if (start >= end) return
  const shift = BigInt(width(cluster) - mask)
  const first = (start - cluster.base) >> shift
  const last = (end - 1n - cluster.base) >> shift
  for (let i = first; i <= last; i++) used.add(i)
}

function cidrInside(cluster: Cidr, cidr: Cidr): boolean {
  return cidr.base >= cluster.base && cidr.base + cidr.size <= cluster.base + cluster.size
}

function lowestFree(cluster: Cidr, mask: number, used: Set<bigint>): bigint | undefined {
  const count = 1n << BigInt(mask - cluster.prefix)
  // The lowest free index is at most the number in use, so this loop is short.
  for (let i = 0n; i < count; i++) if (!used.has(i)) return i
  return undefined
}
