// Subject and SAN values checked before they go into a certificate, and read back out of
// one: a name weft does not understand is refused, never passed through.
import { parseIP } from '../util/ip-parse.ts'

/** X.520's upper bound for commonName and organizationName. */
const MAX_NAME = 64
const MAX_DNS = 253
const MAX_ENTRIES = 100

export function checkSubjectValue(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${field} must be a non-empty string`)
  if (value.length > MAX_NAME) throw new Error(`${field} "${value.slice(0, MAX_NAME)}…" is longer than ${MAX_NAME} characters`)
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error(`${field} ${JSON.stringify(value)} contains control characters`)
  return value
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/** A DNS name (lower-cased), optionally with a leading `*.` wildcard label. */
export function checkDnsName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_DNS) throw new Error(`DNS name ${JSON.stringify(value)} is empty or too long`)
  const name = value.toLowerCase()
  const labels = name.split('.')
  const first = labels[0] === '*' && labels.length > 1 ? 1 : 0
  for (let i = first; i < labels.length; i++) {
    if (!LABEL.test(labels[i]!)) throw new Error(`DNS name ${JSON.stringify(value)} is not a valid DNS name`)
  }
  return name
}

/** The canonical text of an IPv4 or IPv6 address. */
export function checkIpAddress(value: unknown): string {
  const ip = typeof value === 'string' ? parseIP(value) : undefined
  if (!ip) throw new Error(`IP address ${JSON.stringify(value)} is not a valid IPv4 or IPv6 address`)
  return ip.text
}

export function checkEmail(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_DNS || !/^[^\s@<>"]+@[^\s@<>"]+$/.test(value)) {
    throw new Error(`email address ${JSON.stringify(value)} is not valid`)
  }
  return value
}

export function checkUri(value: unknown): string {
  let url: URL
  try {
    if (typeof value !== 'string' || value.length > 2048) throw new Error('bad')
    url = new URL(value)
  } catch {
    throw new Error(`URI ${JSON.stringify(value)} is not a valid absolute URI`)
  }
  return url.href === value ? value : url.href
}

/** `values` checked one by one, de-duplicated, order kept. */
export function checkList<T>(values: readonly unknown[] | undefined, check: (v: unknown) => T, field: string): T[] {
  if (values === undefined) return []
  if (!Array.isArray(values)) throw new Error(`${field} must be a list`)
  if (values.length > MAX_ENTRIES) throw new Error(`${field} has ${values.length} entries; at most ${MAX_ENTRIES} are allowed`)
  return [...new Set(values.map(check))]
}

/** Whether `host` is an IP address (else it is taken as a DNS name). */
export function isIpAddress(host: string): boolean {
  return parseIP(host) !== undefined
}
