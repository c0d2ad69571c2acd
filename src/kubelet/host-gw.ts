// host-gw routing (flannel's backend of that name): every other node's pod CIDRs are
// routed via that node's InternalIP, so pods reach pods on other nodes by their IPs.
// The nodes must share a link-layer network. Routes carry weft's own protocol number so
// the applier only ever touches the routes it made.
import type { V1Node } from '@kubernetes/client-node'
import { ipBatch, listRoutes, type NetnsRef } from '../netlink/index.ts'
import { parseCIDR, parseIP } from '../util/ip-parse.ts'

/** rtnetlink protocol number weft tags its routes with (`ip route … proto 149`). */
export const weftRouteProtocol = 149

export interface PodRoute {
  dst: string
  via: string
}

function family(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4
}

/** The routes a node needs to reach the other nodes' pods. Pure. Addresses and CIDRs that do not parse give no route (and never reach `ip`). */
export function hostGwRoutes(nodes: readonly V1Node[], self: string): PodRoute[] {
  const routes: PodRoute[] = []
  for (const node of nodes) {
    if (node.metadata?.name === self) continue
    const given = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : []
    const cidrs = given.flatMap((c) => parseCIDR(c, 'sloppy')?.text ?? [])
    const ips = (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').flatMap((a) => parseIP(a.address, 'sloppy')?.text ?? [])
    for (const dst of cidrs) {
      const via = ips.find((ip) => family(ip) === family(dst))
      if (via) routes.push({ dst, via })
    }
  }
  return routes.sort((a, b) => a.dst.localeCompare(b.dst))
}

/** The `ip` lines that turn the routes there into the wanted ones. Pure. */
export function routeChanges(current: readonly PodRoute[], wanted: readonly PodRoute[]): string[] {
  const key = (r: PodRoute) => `${r.dst} ${r.via}`
  const have = new Set(current.map(key))
  const want = new Set(wanted.map(key))
  const lines: string[] = []
  for (const r of current) if (!want.has(key(r))) lines.push(`route del ${r.dst} via ${r.via} proto ${weftRouteProtocol}`)
  for (const r of wanted) if (!have.has(key(r))) lines.push(`route replace ${r.dst} via ${r.via} proto ${weftRouteProtocol}`)
  return lines
}

export async function currentPodRoutes(netns?: NetnsRef): Promise<PodRoute[]> {
  const routes = [...(await listRoutes(4, netns)), ...(await listRoutes(6, netns))]
  return routes
    .filter((r) => r.protocol === String(weftRouteProtocol) && r.gateway)
    .map((r) => ({ dst: r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`, via: r.gateway! }))
}

/** Makes the node's routes match `nodes`; returns the lines it ran. */
export async function syncHostGwRoutes(nodes: readonly V1Node[], self: string, netns?: NetnsRef): Promise<string[]> {
  const lines = routeChanges(await currentPodRoutes(netns), hostGwRoutes(nodes, self))
  await ipBatch(lines, netns)
  return lines
}
