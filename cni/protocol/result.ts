import { parseCIDR, parseIP } from '../../src/util/ip-parse.ts'
import { CniError, ERR_DECODING_FAILURE } from './errors.ts'
import { requireSupportedVersion, type CniVersion } from './version.ts'

export interface CniInterface {
  name: string
  mac?: string
  mtu?: number
  sandbox?: string
  socketPath?: string
  pciID?: string
  [key: string]: unknown
}

export interface CniIpConfig {
  /** CIDR notation: the address and its subnet prefix, e.g. 10.1.0.5/24. */
  address: string
  gateway?: string
  /** Index into `interfaces`. */
  interface?: number
  /** Only in 0.4.0 results: "4" or "6". */
  version?: '4' | '6'
}

export interface CniRoute {
  dst: string
  gw?: string
  mtu?: number
  advmss?: number
  priority?: number
  table?: number
  scope?: number
}

export interface CniDns {
  nameservers?: string[]
  domain?: string
  search?: string[]
  options?: string[]
}

export interface CniResult {
  cniVersion: string
  interfaces?: CniInterface[]
  ips?: CniIpConfig[]
  routes?: CniRoute[]
  dns?: CniDns
}

// Interface fields a 0.4.0 result cannot carry.
const FIELDS_AFTER_040 = ['mtu', 'socketPath', 'pciID'] as const

function invalid(msg: string, details = ''): CniError {
  return new CniError(ERR_DECODING_FAILURE, msg, details)
}

/** An address in CIDR notation and nothing else (src/util/ip-parse.ts: no spaces, no IPv6 zone, a decimal prefix). */
export function isCidr(text: string): boolean {
  return parseCIDR(text) !== undefined
}

function isAddress(text: unknown): boolean {
  return typeof text === 'string' && parseIP(text) !== undefined
}

function familyOf(cidr: string): '4' | '6' {
  return parseCIDR(cidr)?.family === 4 ? '4' : '6'
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function optionalArray(obj: Record<string, unknown>, key: string): unknown[] | undefined {
  const v = obj[key]
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) throw invalid(`result field "${key}" must be an array`)
  return v
}

/**
 * Checks a result (parsed JSON) against the format of the given version and returns it
 * typed. The result's own cniVersion must equal `version` when it declares one.
 */
export function parseResult(value: unknown, version: CniVersion): CniResult {
  if (!isObject(value)) throw invalid('result must be a JSON object')
  if (value.cniVersion !== undefined && value.cniVersion !== version) {
    throw invalid('result cniVersion does not match', `expected ${version}, got ${String(value.cniVersion)}`)
  }
  const interfaces = optionalArray(value, 'interfaces') ?? []
  interfaces.forEach((i, n) => {
    if (!isObject(i) || typeof i.name !== 'string' || i.name === '') {
      throw invalid(`interfaces[${n}] needs a name`)
    }
  })
  const ips = optionalArray(value, 'ips')
  ips?.forEach((ip, n) => {
    if (!isObject(ip) || typeof ip.address !== 'string' || !isCidr(ip.address)) {
      throw invalid(`ips[${n}].address must be an IP address in CIDR notation`, isObject(ip) ? String(ip.address) : '')
    }
    if (ip.gateway !== undefined && !isAddress(ip.gateway)) {
      throw invalid(`ips[${n}].gateway must be an IP address`, String(ip.gateway))
    }
    if (ip.interface !== undefined) {
      const idx = ip.interface
      if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0 || idx >= interfaces.length) {
        throw invalid(`ips[${n}].interface is not an index into interfaces`, String(idx))
      }
    }
    if (version === '0.4.0') {
      if (ip.version !== '4' && ip.version !== '6') throw invalid(`ips[${n}].version must be "4" or "6"`)
      if (ip.version !== familyOf(ip.address)) throw invalid(`ips[${n}].version does not match the address family`)
    }
  })
  const routes = optionalArray(value, 'routes')
  routes?.forEach((r, n) => {
    if (!isObject(r) || typeof r.dst !== 'string' || !isCidr(r.dst)) {
      throw invalid(`routes[${n}].dst must be a CIDR`)
    }
    if (r.gw !== undefined && !isAddress(r.gw)) {
      throw invalid(`routes[${n}].gw must be an IP address`, String(r.gw))
    }
  })
  if (value.dns !== undefined && !isObject(value.dns)) throw invalid('result field "dns" must be an object')
  return { ...(value as unknown as CniResult), cniVersion: version }
}

/** Converts a result between the supported versions (1.1.0, 1.0.0 and 0.4.0 share one shape but for ips[].version and newer interface fields). */
export function toVersion(result: CniResult, version: string): CniResult {
  const target = requireSupportedVersion(version)
  const out: CniResult = { ...result, cniVersion: target }
  if (result.ips) {
    out.ips = result.ips.map((ip) => {
      const { version: _drop, ...rest } = ip
      return target === '0.4.0' ? { ...rest, version: familyOf(ip.address) } : rest
    })
  }
  if (target === '0.4.0' && result.interfaces) {
    out.interfaces = result.interfaces.map((i) => {
      const copy: CniInterface = { ...i }
      for (const f of FIELDS_AFTER_040) delete copy[f]
      return copy
    })
  }
  return out
}

/** The JSON text a plugin prints for a result, after validating it in `version`'s format. */
export function formatResult(result: CniResult, version: string): string {
  const target = requireSupportedVersion(version)
  const converted = toVersion(result, target)
  parseResult(JSON.parse(JSON.stringify(converted)), target)
  return JSON.stringify(converted, null, 4) + '\n'
}
