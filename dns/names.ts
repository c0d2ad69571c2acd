// Name and address helpers for the cluster zone. Addresses are kept in one canonical text
// form (dotted IPv4, RFC 5952 IPv6) so that a name, a reverse name and an API object field
// that denote the same address meet on the same map key.

/** Lower case, without a trailing dot. */
export function lowerName(name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/** The dotted IPv4 address if `text` is one (no leading zeros), else undefined. */
export function parseIPv4(text: string): string | undefined {
  return IPV4.test(text) ? text : undefined
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail allowed), or undefined. */
export function parseIPv6(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 45) return undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = groupsOf(halves[0])
  const tail = halves.length === 2 ? groupsOf(halves[1]) : []
  if (!head || !tail) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  return [...head, ...new Array<number>(missing).fill(0), ...tail]
}

function groupsOf(part: string): number[] | undefined {
  if (part === '') return []
  const fields = part.split(':')
  const groups: number[] = []
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]
    if (i === fields.length - 1 && field.includes('.')) {
      const v4 = parseIPv4(field)
      if (!v4) return undefined
      const [a, b, c, d] = v4.split('.').map(Number)
      groups.push((a << 8) | b, (c << 8) | d)
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(field)) return undefined
      groups.push(parseInt(field, 16))
    }
  }
  return groups
}

/** RFC 5952 text: lower-case hex, no leading zeros, the longest run (2+) of zero groups as '::'. */
export function formatIPv6(groups: readonly number[]): string {
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) { bestStart = i; bestLen = j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}

/** The canonical text of an IPv4 or IPv6 address, or undefined when `text` is neither. */
export function canonicalIP(text: string): string | undefined {
  if (!text.includes(':')) return parseIPv4(text)
  const groups = parseIPv6(text)
  return groups && formatIPv6(groups)
}

export function isIPv6Text(ip: string): boolean {
  return ip.includes(':')
}

/** A pod or endpoint label for an address: '10.244.1.5' → '10-244-1-5', 'fd00::5' → 'fd00--5'. */
export function dashedIP(ip: string): string {
  return ip.includes(':') ? ip.replaceAll(':', '-') : ip.replaceAll('.', '-')
}

/** The canonical address a dashed label denotes ('10-244-1-5', 'fd00--5'), or undefined. */
export function ipFromDashed(label: string): string | undefined {
  const v4 = parseIPv4(label.replaceAll('-', '.'))
  return v4 ?? canonicalIP(label.replaceAll('-', ':'))
}

/** The reverse name of an address (no trailing dot), e.g. '5.0.96.10.in-addr.arpa'. */
export function reverseName(ip: string): string | undefined {
  if (!ip.includes(':')) {
    const v4 = parseIPv4(ip)
    return v4 && `${v4.split('.').reverse().join('.')}.in-addr.arpa`
  }
  const groups = parseIPv6(ip)
  if (!groups) return undefined
  const nibbles: string[] = []
  for (let i = 7; i >= 0; i--) {
    for (let shift = 0; shift < 16; shift += 4) nibbles.push(((groups[i] >> shift) & 0xf).toString(16))
  }
  return `${nibbles.join('.')}.ip6.arpa`
}

export const IPV4_REVERSE_ZONE = 'in-addr.arpa'
export const IPV6_REVERSE_ZONE = 'ip6.arpa'

/**
 * The canonical address a full reverse name denotes (lower case, no trailing dot), or
 * undefined when the name is not exactly four decimal labels under in-addr.arpa or 32 hex
 * nibbles under ip6.arpa.
 */
export function ipFromReverseName(name: string): string | undefined {
  if (name.endsWith('.' + IPV4_REVERSE_ZONE)) {
    const labels = name.slice(0, -IPV4_REVERSE_ZONE.length - 1).split('.')
    return labels.length === 4 ? parseIPv4(labels.reverse().join('.')) : undefined
  }
  if (name.endsWith('.' + IPV6_REVERSE_ZONE)) {
    const labels = name.slice(0, -IPV6_REVERSE_ZONE.length - 1).split('.')
    if (labels.length !== 32) return undefined
    const groups = new Array<number>(8).fill(0)
    for (let i = 0; i < 32; i++) {
      const nibble = labels[i]
      if (nibble.length !== 1) return undefined
      const v = parseInt(nibble, 16)
      if (Number.isNaN(v)) return undefined
      groups[7 - (i >> 2)] |= v << ((i & 3) * 4)
    }
    return formatIPv6(groups)
  }
  return undefined
}

/** The reverse zone apex a reverse name falls under, or undefined. */
export function reverseZoneOf(name: string): string | undefined {
  if (name.endsWith('.' + IPV4_REVERSE_ZONE)) return IPV4_REVERSE_ZONE
  if (name.endsWith('.' + IPV6_REVERSE_ZONE)) return IPV6_REVERSE_ZONE
  return undefined
}
