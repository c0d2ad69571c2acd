// Subject alternative names: built from checked values, read back into checked values.
import type { GeneralName } from '@peculiar/x509'
import type { X509Lib } from './x509-lib.ts'
import { checkDnsName, checkEmail, checkIpAddress, checkUri } from './names.ts'

/** More than any API server or node needs; a request with more is not one weft signs. */
const MAX_ALT_NAMES = 100

export interface AltNames {
  dnsNames: string[]
  ipAddresses: string[]
  emailAddresses: string[]
  uris: string[]
}

export function emptyAltNames(): AltNames {
  return { dnsNames: [], ipAddresses: [], emailAddresses: [], uris: [] }
}

export function altNamesCount(names: AltNames): number {
  return names.dnsNames.length + names.ipAddresses.length + names.emailAddresses.length + names.uris.length
}

export function sanExtension(x509: X509Lib, names: AltNames): InstanceType<X509Lib['SubjectAlternativeNameExtension']> {
  return new x509.SubjectAlternativeNameExtension([
    ...names.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...names.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ...names.emailAddresses.map((value) => ({ type: 'email' as const, value })),
    ...names.uris.map((value) => ({ type: 'url' as const, value })),
  ])
}

/**
 * The names of a SAN extension. `strict` (a CSR) refuses any entry weft would not issue;
 * otherwise (reading a certificate) entries of other kinds are skipped.
 */
export function readAltNames(items: readonly GeneralName[], strict: boolean, what: string): AltNames {
  if (strict && items.length > MAX_ALT_NAMES) throw new Error(`${what}: ${items.length} subject alternative names; at most ${MAX_ALT_NAMES} are allowed`)
  const out = emptyAltNames()
  for (const item of items) {
    try {
      if (item.type === 'dns') out.dnsNames.push(checkDnsName(item.value))
      else if (item.type === 'ip') out.ipAddresses.push(checkIpAddress(item.value))
      else if (item.type === 'email') out.emailAddresses.push(checkEmail(item.value))
      else if (item.type === 'url') out.uris.push(checkUri(item.value))
      else if (strict) throw new Error(`subject alternative name of type ${item.type} is not supported`)
    } catch (err) {
      if (strict) throw new Error(`${what}: ${(err as Error).message}`)
    }
  }
  return out
}

/** The SAN extension of `ext` (a certificate or a CSR), read as readAltNames does. */
export function altNamesOf(
  x509: X509Lib,
  holder: { getExtension: (type: string) => unknown },
  strict: boolean,
  what: string,
): AltNames {
  let ext: unknown
  try {
    ext = holder.getExtension('2.5.29.17')
  } catch {
    throw new Error(`${what}: the subject alternative name extension cannot be read`)
  }
  if (ext === null || ext === undefined) return emptyAltNames()
  if (!(ext instanceof x509.SubjectAlternativeNameExtension)) throw new Error(`${what}: the subject alternative name extension cannot be read`)
  let items: readonly GeneralName[]
  try {
    items = ext.names.items
  } catch {
    throw new Error(`${what}: the subject alternative name extension holds a name weft cannot read`)
  }
  return readAltNames(items, strict, what)
}
