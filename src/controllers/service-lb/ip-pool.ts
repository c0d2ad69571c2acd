// Load balancer address pools: CIDRs (`192.168.49.96/28`) and ranges (`192.168.49.100-192.168.49.120`).
import { isIPv4, isIPv6 } from 'node:net'
import { bigIntToIp, ipToBigInt, parseCidr } from '../../util/cidr.ts'

export interface IpRange {
  family: 4 | 6
  first: bigint
  last: bigint
}

export function parsePool(entries: string[]): IpRange[] {
  return entries.map((raw) => {
    const text = raw.trim()
    if (text.includes('/')) {
      const c = parseCidr(text)
      return { family: c.family, first: c.base, last: c.base + c.size - 1n }
    }
    const [a, b] = text.split('-').map((s) => s.trim())
    const family = isIPv4(a) ? 4 : isIPv6(a) ? 6 : 0
    const end = b ?? a
    if (!family || (family === 4 ? !isIPv4(end) : !isIPv6(end))) {
      throw new Error(`load balancer pool entry "${raw}" is not a CIDR or an address range (expected e.g. 192.168.49.96/28 or 192.168.49.100-192.168.49.120)`)
    }
    const first = ipToBigInt(a)
    const last = ipToBigInt(end)
    if (last < first) throw new Error(`load balancer pool range "${raw}" ends before it starts`)
    return { family: family as 4 | 6, first, last }
  })
}

export function poolContains(pool: IpRange[], ip: string): boolean {
  const family = isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : 0
  if (!family) return false
  const v = ipToBigInt(ip)
  return pool.some((r) => r.family === family && v >= r.first && v <= r.last)
}

/** The lowest address of `family` in the pool not in `taken`. */
export function firstFree(pool: IpRange[], family: 4 | 6, taken: Set<string>): string | undefined {
  const takenValues = new Set([...taken].filter((ip) => (family === 4 ? isIPv4(ip) : isIPv6(ip))).map((ip) => ipToBigInt(ip)))
  for (const r of pool) {
    if (r.family !== family) continue
    // At most |taken| + 1 candidates per range need checking.
    for (let v = r.first; v <= r.last; v++) if (!takenValues.has(v)) return bigIntToIp(v, family)
  }
  return undefined
}
