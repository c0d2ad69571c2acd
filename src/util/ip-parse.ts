// IP addresses and CIDRs from untrusted text, parsed as Kubernetes parses them and written
// back in one canonical form. `strict` is node:net's syntax (what weft's API accepts);
// `sloppy` is Go's netutils.ParseIPSloppy, which a real Kubernetes API server still lets
// through: IPv4 parts with leading zeros, read as decimal (never octal). Neither accepts
// an IPv6 zone (`fe80::1%eth0`), surrounding spaces or anything but hex digits, `:` and `.`.
import { isIPv6 } from 'node:net'
import { bigIntToIp, ipToBigInt } from './cidr.ts'

export type IPSyntax = 'strict' | 'sloppy'

export interface ParsedIP {
  /** 4 for IPv4 and for IPv4-mapped IPv6 (`::ffff:1.2.3.4`), as Go's net.IP reads them. */
  family: 4 | 6
  value: bigint
  /** Dotted decimal, or RFC 5952 text. */
  text: string
  /** The text was an IPv4-mapped IPv6 address. */
  mapped: boolean
}

export interface ParsedCIDR {
  family: 4 | 6
  /** The network address (host bits cleared). */
  base: bigint
  prefix: number
  /** `network/prefix` in canonical form. */
  text: string
  /** The address as written, canonical (host bits kept), as ParseCIDR returns it. */
  ip: ParsedIP
}

const MAPPED_PREFIX = 0xffffn << 32n
/** The longest text any valid address has (an IPv6 address with an IPv4 tail and leading zeros stays far below). */
const MAX_TEXT = 64

/** A strict dotted quad, the form nearly every address arrives in: parsed without splitting. */
const STRICT_V4 = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/

function parseIPv4(text: string, syntax: IPSyntax): bigint | undefined {
  if (syntax === 'strict') {
    const m = STRICT_V4.exec(text)
    if (!m) return undefined
    let value = 0
    for (let i = 1; i <= 4; i++) {
      const n = Number(m[i])
      if (n > 255) return undefined
      value = value * 256 + n
    }
    return BigInt(value)
  }
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let value = 0n
  // Sloppy (Go's ParseIP before 1.17): leading zeros and more digits, read as decimal.
  for (const part of parts) {
    if (!/^[0-9]+$/.test(part)) return undefined
    const n = Number(part)
    if (n > 255) return undefined
    value = (value << 8n) | BigInt(n)
  }
  return value
}

/** The address `text` holds, or undefined when it is not exactly one address. */
export function parseIP(text: string, syntax: IPSyntax = 'strict'): ParsedIP | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_TEXT || !/^[0-9A-Fa-f:.]+$/.test(text)) return undefined
  if (!text.includes(':')) {
    const value = parseIPv4(text, syntax)
    return value === undefined ? undefined : { family: 4, value, text: bigIntToIp(value, 4), mapped: false }
  }
  let v6 = text
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    // An embedded IPv4 tail becomes two hex groups, so node:net checks the rest of the syntax.
    const v4 = parseIPv4(tail, syntax)
    if (v4 === undefined) return undefined
    v6 = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  } else if (text.includes('.')) {
    return undefined
  }
  if (!isIPv6(v6)) return undefined
  const value = ipToBigInt(v6)
  if (value >> 32n === MAPPED_PREFIX >> 32n) {
    const v4 = value & 0xffffffffn
    return { family: 4, value: v4, text: bigIntToIp(v4, 4), mapped: true }
  }
  return { family: 6, value, text: bigIntToIp(value, 6), mapped: false }
}

/**
 * The prefix `text` holds (`address/bits`), or undefined. Host bits may be set (as
 * Kubernetes allows); `text` of the result has them cleared. An IPv4-mapped IPv6 prefix
 * is refused: Go reads it as IPv4 with the IPv6 prefix length, which no one means.
 */
export function parseCIDR(text: string, syntax: IPSyntax = 'strict'): ParsedCIDR | undefined {
  if (typeof text !== 'string') return undefined
  const slash = text.indexOf('/')
  if (slash < 0 || slash !== text.lastIndexOf('/')) return undefined
  const bits = text.slice(slash + 1)
  if (!/^[0-9]{1,3}$/.test(bits) || (syntax === 'strict' && bits.length > 1 && bits.startsWith('0'))) return undefined
  const ip = parseIP(text.slice(0, slash), syntax)
  if (!ip || ip.mapped) return undefined
  const width = ip.family === 4 ? 32 : 128
  const prefix = Number(bits)
  if (prefix > width) return undefined
  const hostBits = BigInt(width - prefix)
  const base = (ip.value >> hostBits) << hostBits
  return { family: ip.family, base, prefix, text: `${bigIntToIp(base, ip.family)}/${prefix}`, ip }
}

/** Go's net.IP classification, for Kubernetes' ValidateNonSpecialIP. */
export function specialIPKind(ip: ParsedIP): 'unspecified' | 'loopback' | 'link-local' | 'link-local-multicast' | undefined {
  const v = ip.value
  if (ip.family === 4) {
    if (v === 0n) return 'unspecified'
    if (v >> 24n === 127n) return 'loopback'
    if (v >> 16n === 0xa9fen) return 'link-local'
    if (v >> 8n === 0xe00000n) return 'link-local-multicast'
    return undefined
  }
  if (v === 0n) return 'unspecified'
  if (v === 1n) return 'loopback'
  if (v >> 118n === 0x3fan) return 'link-local'
  // ff02::/16 in any flag nibble (Go checks only the scope nibble).
  if (v >> 120n === 0xffn && ((v >> 112n) & 0x0fn) === 2n) return 'link-local-multicast'
  return undefined
}
