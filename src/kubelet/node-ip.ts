// The node's own addresses when --node-ip is not given: the global addresses of the
// interface that carries the default route (as kubelet picks), else of any interface.
import { listAddrs, listRoutes } from '../netlink/index.ts'

export async function detectNodeIPs(): Promise<string[]> {
  const routes = [...(await listRoutes(4)), ...(await listRoutes(6))]
  const defaultDevs = routes.filter((r) => r.dst === 'default' && r.dev).map((r) => r.dev!)
  const links = await listAddrs(undefined)
  const global = (dev?: string) =>
    links
      .filter((l) => dev === undefined || l.ifname === dev)
      .flatMap((l) => l.addr_info.filter((a) => a.scope === 'global').map((a) => a.local))
  for (const dev of defaultDevs) {
    const ips = global(dev)
    if (ips.length) return pickOnePerFamily(ips)
  }
  const any = global()
  if (any.length) return pickOnePerFamily(any)
  throw new Error('cannot tell the node IP: no global address on any interface; pass --node-ip')
}

function pickOnePerFamily(ips: string[]): string[] {
  const v4 = ips.find((ip) => !ip.includes(':'))
  const v6 = ips.find((ip) => ip.includes(':'))
  return [v4, v6].filter((x): x is string => x !== undefined)
}
