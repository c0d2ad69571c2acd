// IPv4/IPv6 prefixes as big integers: enough arithmetic for address allocators.
import { isIPv4, isIPv6 } from 'node:net'

export interface Cidr {
  family: 4 | 6
  /** Network address as an integer. */
  base: bigint
  prefix: number
  /** Number of addresses in the prefix. */
  size: bigint
  text: string
}

export function ipToBigInt(ip: string): bigint {
  if (isIPv4(ip)) return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
  if (!isIPv6(ip)) throw new Error(`"${ip}" is not an IP address`)
  let [head, tail] = ip.split('::') as [string, string | undefined]
  const parse = (s: string): string[] => (s === '' ? [] : s.split(':'))
  let groups = parse(head)
  let rest = tail === undefined ? [] : parse(tail)
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const fix = (list: string[]): string[] => {
    const last = list[list.length - 1]
    if (last && last.includes('.')) {
      const v = ipToBigInt(last)
      return [...list.slice(0, -1), (v >> 16n).toString(16), (v & 0xffffn).toString(16)]
    }
    return list
  }
  groups = fix(groups)
  rest = fix(rest)
  const missing = 8 - groups.length - rest.length
  const all = tail === undefined ? groups : [...groups, ...Array(missing).fill('0'), ...rest]
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n)
}

export function bigIntToIp(value: bigint, family: 4 | 6): string {
  if (family === 4) {
    const n = Number(value & 0xffffffffn)
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
  }
  const groups: string[] = []
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16))
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i }
    i = j
  }
  if (bestStart < 0) return groups.join(':')
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`
}

export function parseCidr(text: string): Cidr {
  const [ip, bits] = text.trim().split('/')
  const family = isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : 0
  const width = family === 4 ? 32 : 128
  const prefix = Number(bits)
  if (!family || bits === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > width) {
    throw new Error(`"${text}" is not a valid CIDR (expected e.g. 10.96.0.0/12 or fd00::/108)`)
  }
  const hostBits = BigInt(width - prefix)
  const base = (ipToBigInt(ip) >> hostBits) << hostBits
  return { family: family as 4 | 6, base, prefix, size: 1n << hostBits, text: `${bigIntToIp(base, family as 4 | 6)}/${prefix}` }
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  if ((cidr.family === 4 && !isIPv4(ip)) || (cidr.family === 6 && !isIPv6(ip))) return false
  const v = ipToBigInt(ip)
  return v >= cidr.base && v < cidr.base + cidr.size
}

/** The address at `offset` from the network address. */
export function cidrAddress(cidr: Cidr, offset: bigint): string {
  return bigIntToIp(cidr.base + offset, cidr.family)
}

export function cidrOffset(cidr: Cidr, ip: string): bigint {
  return ipToBigInt(ip) - cidr.base
}
