// host-gw routing (flannel's backend of that name): every other node's pod CIDRs are
// routed via that node's InternalIP, so pods reach pods on other nodes by their IPs.
// The nodes must share a link-layer network. Routes carry weft's own protocol number so
// the applier only ever touches the routes it made.
import { ipBatch, listRoutes, type NetnsRef } from '../netlink/index.ts'
import { parseIP } from '../util/ip-parse.ts'
import type { NodeNetwork } from './node-networks.ts'

/** rtnetlink protocol number weft tags its routes with (`ip route … proto 149`). */
export const weftRouteProtocol = 149

export interface PodRoute {
  dst: string
  via: string
}

function family(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4
}

/** The routes a node needs to reach the other nodes' pods, from the Nodes' values as nodeNetworks parsed them. Pure. */
export function hostGwRoutes(networks: readonly NodeNetwork[]): PodRoute[] {
  const routes: PodRoute[] = []
  for (const node of networks) {
    if (node.self) continue
    for (const dst of node.podCIDRs) {
      const via = node.internalIPs.find((ip) => family(ip) === family(dst))
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
  const out: PodRoute[] = []
  for (const r of routes) {
    if (r.protocol !== String(weftRouteProtocol) || !r.gateway) continue
    const [addr, bits] = r.dst.split('/') as [string, string | undefined]
    const dst = parseIP(addr)?.text
    const via = parseIP(r.gateway)?.text
    if (dst === undefined || via === undefined || (bits !== undefined && !/^\d{1,3}$/.test(bits))) continue
    out.push({ dst: `${dst}/${bits ?? (dst.includes(':') ? 128 : 32)}`, via })
  }
  return out
}

/** Makes the node's routes match the Nodes' `networks`; returns the lines it ran. */
export async function syncHostGwRoutes(networks: readonly NodeNetwork[], netns?: NetnsRef): Promise<string[]> {
  const lines = routeChanges(await currentPodRoutes(netns), hostGwRoutes(networks))
  await ipBatch(lines, netns)
  return lines
}
