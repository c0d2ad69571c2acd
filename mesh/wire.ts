// What goes over the wire between node proxies, besides the bytes of the tunnelled connection
// (pure):
// - the HTTP/2 CONNECT target (`:authority`): the destination pod's IP literal and port,
//   nothing else (no names to resolve, no userinfo);
// - the source pod's address in a `forwarded: for=…` header (RFC 7239), which the receiving
//   proxy accepts only for a pod that runs as the identity the peer proved;
// - the TLS server name, naming the destination workload identity whose certificate the
//   receiving proxy must present: `<service account>.<namespace>.weft-mesh` (a namespace has
//   no dots, so the name reads back from the right).
import { isIP } from 'node:net'
import { IdentityError, spiffeId, type WorkloadIdentity } from './identity.ts'
import { canonicalIp } from './workloads.ts'

export const SERVER_NAME_SUFFIX = '.weft-mesh'
const PORT = /^(?:[1-9][0-9]{0,4})$/

export function connectAuthority(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`
}

/** A CONNECT target as weft sends it; anything else is an error saying why. */
export function parseConnectAuthority(text: unknown): { ip: string; port: number } {
  if (typeof text !== 'string' || text.length > 64) throw new Error('the CONNECT target must be IP:PORT')
  const colon = text.lastIndexOf(':')
  if (colon < 0) throw new Error('the CONNECT target has no port')
  const host = text.slice(0, colon)
  const portText = text.slice(colon + 1)
  if (!PORT.test(portText) || Number(portText) > 65535) throw new Error(`the CONNECT target's port ${JSON.stringify(portText)} is not 1-65535`)
  const bracketed = host.startsWith('[') && host.endsWith(']')
  const literal = bracketed ? host.slice(1, -1) : host
  const family = isIP(literal)
  if (family === 0 || (family === 6) !== bracketed) throw new Error(`the CONNECT target's host ${JSON.stringify(host)} is not an IP address ([IPv6] in brackets)`)
  return { ip: canonicalIp(literal)!, port: Number(portText) }
}

export function serverName(id: WorkloadIdentity): string {
  spiffeId(id)
  const name = `${id.serviceAccount}.${id.namespace}${SERVER_NAME_SUFFIX}`
  if (name.length > 253) throw new IdentityError(`the server name of ${id.namespace}/${id.serviceAccount} is longer than 253 characters`)
  return name
}

/** The identity a server name asks for, or undefined when it is not one. */
export function parseServerName(name: string | undefined, trustDomain: string): WorkloadIdentity | undefined {
  if (!name || !name.endsWith(SERVER_NAME_SUFFIX)) return undefined
  const rest = name.slice(0, -SERVER_NAME_SUFFIX.length)
  const dot = rest.lastIndexOf('.')
  if (dot <= 0) return undefined
  const id = { trustDomain, namespace: rest.slice(dot + 1), serviceAccount: rest.slice(0, dot) }
  try {
    spiffeId(id)
    return id
  } catch {
    return undefined
  }
}

export function forwardedFor(ip: string): string {
  return isIP(ip) === 6 ? `for="[${ip}]"` : `for=${ip}`
}

/** The address of a `forwarded: for=…` header as weft writes it, or undefined. */
export function parseForwardedFor(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined
  const m = /^for=(?:"\[([0-9a-fA-F:.]+)\]"|([0-9.]+))$/.exec(value)
  const ip = m?.[1] ?? m?.[2]
  if (ip === undefined || isIP(ip) !== (m?.[1] !== undefined ? 6 : 4)) return undefined
  return canonicalIp(ip)
}
