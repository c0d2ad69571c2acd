// The `ipam` section of a CNI network config, read and defaulted the way host-local does.
import { bigIntToIp, cidrContains, ipToBigInt } from '../../src/util/cidr.ts'
import type { Cidr } from '../../src/util/cidr.ts'
import { parseCIDR, parseIP, type ParsedIP } from '../../src/util/ip-parse.ts'
import { invalidConfig } from './errors.ts'

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks'

export interface IpamRange {
  subnet: Cidr
  rangeStart: string
  rangeEnd: string
  gateway: string
}

/** One range set yields one address; ranges in a set share a family. */
export type IpamRangeSet = IpamRange[]

export interface IpamRoute {
  dst: string
  gw?: string
}

export interface IpamConfig {
  /** The network name: the reservation directory under dataDir. */
  name: string
  dataDir: string
  ranges: IpamRangeSet[]
  routes: IpamRoute[]
}

type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function optString(obj: Obj, key: string, where: string): string | undefined {
  const v = obj[key]
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v !== 'string') throw invalidConfig(`${where}.${key} must be a string`)
  return v
}

/** An address exactly (src/util/ip-parse.ts: no zone, spaces or other spellings), canonical. */
function address(text: string, where: string): ParsedIP {
  const ip = parseIP(text)
  if (!ip) throw invalidConfig(`${where}: "${text}" is not an IP address`)
  return ip
}

/** The last address of the subnet, minus the broadcast address for IPv4. */
function lastUsable(subnet: Cidr): bigint {
  const last = subnet.base + subnet.size - 1n
  return subnet.family === 4 ? last - 1n : last
}

export function rangeContains(r: IpamRange, ip: string): boolean {
  if (!cidrContains(r.subnet, ip)) return false
  const v = ipToBigInt(ip)
  return v >= ipToBigInt(r.rangeStart) && v <= ipToBigInt(r.rangeEnd)
}

export function rangeSetContains(set: IpamRangeSet, ip: string): boolean {
  return set.some((r) => rangeContains(r, ip))
}

export function rangeSetString(set: IpamRangeSet): string {
  return set.map((r) => `${r.rangeStart}-${r.rangeEnd}`).join(',')
}

function parseRange(raw: unknown, where: string): IpamRange {
  if (!isObj(raw)) throw invalidConfig(`${where} must be an object`)
  const subnetText = optString(raw, 'subnet', where)
  if (!subnetText) throw invalidConfig(`${where}.subnet is required`)
  const { cidr: subnet, ip } = strictCidr(subnetText, `${where}.subnet`)
  if (ip.value !== subnet.base) {
    throw invalidConfig(`${where}.subnet: network has host bits set. For a subnet mask of length ${subnet.prefix} the network address is ${bigIntToIp(subnet.base, subnet.family)}`)
  }
  const width = subnet.family === 4 ? 32 : 128
  if (subnet.prefix > width - 2) throw invalidConfig(`${where}.subnet: network ${subnet.text} too small to allocate from`)

  const inSubnet = (key: string): string | undefined => {
    const text = optString(raw, key, where)
    if (text === undefined) return undefined
    const value = address(text, `${where}.${key}`).text
    if (!cidrContains(subnet, value)) throw invalidConfig(`${where}.${key}: ${value} not in network ${subnet.text}`)
    return value
  }
  const first = bigIntToIp(subnet.base + 1n, subnet.family)
  const rangeStart = inSubnet('rangeStart') ?? first
  const rangeEnd = inSubnet('rangeEnd') ?? bigIntToIp(lastUsable(subnet), subnet.family)
  if (ipToBigInt(rangeStart) > ipToBigInt(rangeEnd)) {
    throw invalidConfig(`${where}: rangeStart ${rangeStart} is after rangeEnd ${rangeEnd}`)
  }
  const gwText = optString(raw, 'gateway', where)
  let gateway = first
  if (gwText !== undefined) {
    const gw = address(gwText, `${where}.gateway`)
    gateway = gw.text
    if (gw.family !== subnet.family) throw invalidConfig(`${where}.gateway: ${gateway} is not of the subnet's address family`)
  }
  return { subnet, rangeStart, rangeEnd, gateway }
}

function overlaps(a: IpamRange, b: IpamRange): boolean {
  if (a.subnet.family !== b.subnet.family) return false
  return ipToBigInt(a.rangeStart) <= ipToBigInt(b.rangeEnd) && ipToBigInt(b.rangeStart) <= ipToBigInt(a.rangeEnd)
}

function parseRangeSet(raw: unknown, where: string): IpamRangeSet {
  if (!Array.isArray(raw) || raw.length === 0) throw invalidConfig(`${where} must be a non-empty array of ranges`)
  const set = raw.map((r, i) => parseRange(r, `${where}[${i}]`))
  for (let i = 0; i < set.length; i++) {
    if (set[i].subnet.family !== set[0].subnet.family) throw invalidConfig(`${where}: mixed address families`)
    for (let j = 0; j < i; j++) {
      if (overlaps(set[i], set[j])) throw invalidConfig(`${where}: range ${j} overlaps with range ${i}`)
    }
  }
  return set
}

function parseRoute(raw: unknown, where: string): IpamRoute {
  if (!isObj(raw)) throw invalidConfig(`${where} must be an object`)
  const dst = optString(raw, 'dst', where)
  if (!dst) throw invalidConfig(`${where}.dst is required`)
  const cidr = strictCidr(dst, `${where}.dst`).cidr.text
  const gw = optString(raw, 'gw', where)
  return gw === undefined ? { dst: cidr } : { dst: cidr, gw: address(gw, `${where}.gw`).text }
}

/**
 * A CIDR exactly (it ends up in `ip route` lines), parsed by src/util/ip-parse.ts: no
 * spaces, zones or other prefix spellings. `ip` is the address as written (host bits kept).
 */
function strictCidr(text: string, where: string): { cidr: Cidr; ip: ParsedIP } {
  const parsed = parseCIDR(text)
  if (!parsed) throw invalidConfig(`${where}: "${text}" is not a valid CIDR (expected e.g. 10.244.0.0/24 or fd00::/64)`)
  const { family, base, prefix } = parsed
  const size = 1n << BigInt((family === 4 ? 32 : 128) - prefix)
  return { cidr: { family, base, prefix, size, text: parsed.text }, ip: parsed.ip }
}

/** Network names become a directory name: keep them to the CNI spec's character set. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

/**
 * Parse a whole CNI network config (object or JSON text) and return its IPAM settings.
 * Throws CniError code 7 naming the offending field.
 */
export function parseIpamConfig(input: unknown): IpamConfig {
  let netconf = input
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      netconf = JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input))
    } catch (err) {
      throw invalidConfig(`network config is not valid JSON: ${(err as Error).message}`)
    }
  }
  if (!isObj(netconf)) throw invalidConfig('network config must be a JSON object')
  const name = netconf.name
  if (typeof name !== 'string' || name === '') throw invalidConfig('name: missing network name')
  if (!NAME_RE.test(name) || name === '.' || name === '..') throw invalidConfig(`name: "${name}" may only contain letters, digits, "_", "." and "-"`)
  const ipam = netconf.ipam
  if (!isObj(ipam)) throw invalidConfig('ipam: missing or not an object')

  const ranges: IpamRangeSet[] = []
  if (optString(ipam, 'subnet', 'ipam') !== undefined) ranges.push([parseRange(ipam, 'ipam')])
  if (ipam.ranges !== undefined && ipam.ranges !== null) {
    if (!Array.isArray(ipam.ranges)) throw invalidConfig('ipam.ranges must be an array of range sets')
    ipam.ranges.forEach((set, i) => ranges.push(parseRangeSet(set, `ipam.ranges[${i}]`)))
  }
  if (ranges.length === 0) throw invalidConfig('ipam.ranges: no IP ranges specified')
  for (let i = 0; i < ranges.length; i++) {
    for (let j = 0; j < i; j++) {
      if (ranges[i].some((a) => ranges[j].some((b) => overlaps(a, b)))) throw invalidConfig(`ipam.ranges: range set ${j} overlaps with ${i}`)
    }
  }

  let routes: IpamRoute[] = []
  if (ipam.routes !== undefined && ipam.routes !== null) {
    if (!Array.isArray(ipam.routes)) throw invalidConfig('ipam.routes must be an array')
    routes = ipam.routes.map((r, i) => parseRoute(r, `ipam.routes[${i}]`))
  }
  const dataDir = optString(ipam, 'dataDir', 'ipam') ?? DEFAULT_DATA_DIR
  if (!dataDir.startsWith('/')) throw invalidConfig(`ipam.dataDir must be an absolute path, not "${dataDir}"`)
  if (/[\u0000-\u001f\u007f]/.test(dataDir)) throw invalidConfig('ipam.dataDir must not contain control characters')
  return { name, dataDir, ranges, routes }
}
