// Names of the objects in the weft-proxy tables, built like kube-proxy's so that users who
// know `nft list table ip kube-proxy` recognise them.
import { createHash } from 'node:crypto'
import type { Endpoint, Family, L4Protocol, ServicePort } from '../model.ts'

export const TABLE = 'weft-proxy'

// Shared maps and sets.
export const SERVICE_IPS = 'service-ips'
export const SERVICE_NODEPORTS = 'service-nodeports'
export const NO_ENDPOINT_SERVICES = 'no-endpoint-services'
export const NO_ENDPOINT_NODEPORTS = 'no-endpoint-nodeports'
export const FIREWALL_IPS = 'firewall-ips'
export const CLUSTER_IPS = 'cluster-ips'
/** External (externalIPs, load-balancer IPs) and NodePort dispatch, after the masquerade decision. */
export const EXTERNAL_IPS = 'external-ips'
export const EXTERNAL_LOCAL_IPS = 'external-local-ips'
export const EXTERNAL_NODEPORTS = 'external-nodeports'
export const EXTERNAL_LOCAL_NODEPORTS = 'external-local-nodeports'
/** `endpoint . endpoint`: a DNATed connection from an endpoint to itself is masqueraded. */
export const HAIRPIN = 'hairpin'

// Regular chains every table has.
export const SERVICES_CHAIN = 'services'
export const MASQUERADING_CHAIN = 'masquerading'
export const MARK_MASQ_CHAIN = 'mark-for-masquerade'
export const REJECT_CHAIN = 'reject-chain'
export const FIREWALL_CHECK_CHAIN = 'firewall-check'
export const SERVICE_ENDPOINTS_CHECK_CHAIN = 'service-endpoints-check'
export const NODEPORT_ENDPOINTS_CHECK_CHAIN = 'nodeport-endpoints-check'
export const CLUSTER_IPS_CHECK_CHAIN = 'cluster-ips-check'
export const EXTERNAL_CHAIN = 'external'
export const EXTERNAL_LOCAL_CHAIN = 'external-local'
export const NODEPORT_EXTERNAL_CHAIN = 'nodeport-external'
export const NODEPORT_EXTERNAL_LOCAL_CHAIN = 'nodeport-external-local'

/** What a pick chain chooses from: the endpoints of Service IPs or of NodePorts, all of them or the node's own. */
export type PickKind = 'service' | 'service-local' | 'nodeport' | 'nodeport-local'
export const PICK_KINDS: readonly PickKind[] = ['service', 'service-local', 'nodeport', 'nodeport-local']
export const PICK_PROTOCOLS: readonly L4Protocol[] = ['TCP', 'UDP', 'SCTP']

/** `service key . index → endpoint` of one kind and protocol: what the pick chains DNAT to (`service-endpoints-tcp`). */
export function endpointsMap(kind: PickKind, protocol: L4Protocol): string {
  return `${kind}-endpoints-${protocol.toLowerCase()}`
}

/** The chain that DNATs to one of `n` endpoints of `kind` and `protocol` (one per kind, protocol and endpoint count in use, shared by every Service port). */
export function pickChain(kind: PickKind, protocol: L4Protocol, n: number): string {
  return `pick-${kind}-${protocol.toLowerCase()}-${n}`
}

/** nft allows 256 characters; kube-proxy keeps the part after the prefix to 240. */
const BASE_MAX = 240
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** The first 8 characters of the base32 (RFC 4648) encoding of sha256(text). */
export function hash8(text: string): string {
  const d = createHash('sha256').update(text).digest()
  // 8 base32 characters are exactly the first 40 bits.
  let bits = (d[0]! * 2 ** 32) + ((d[1]! << 24) >>> 0) + (d[2]! << 16) + (d[3]! << 8) + d[4]!
  let out = ''
  for (let i = 7; i >= 0; i--) {
    out = BASE32[bits % 32] + out
    bits = Math.floor(bits / 32)
  }
  return out
}

function hashAndTruncate(name: string): string {
  const full = `${hash8(name)}-${name}`
  return full.length > BASE_MAX ? full.slice(0, BASE_MAX - 3) + '...' : full
}

function portPath(port: ServicePort): string {
  return `${port.namespace}/${port.name}/${port.protocol.toLowerCase()}/${port.portName}`
}

/** `HASH-namespace/name/protocol/portName`: the suffix of a Service port's chains. */
export function servicePortBase(port: ServicePort): string {
  return hashAndTruncate(portPath(port))
}

/** `HASH-namespace/name/protocol/portName__ip/port` (IPv6 colons become dots). */
export function endpointBase(port: ServicePort, ep: Endpoint): string {
  const ip = ep.ip.includes(':') ? ep.ip.replaceAll(':', '.') : ep.ip
  return hashAndTruncate(`${portPath(port)}__${ip}/${ep.port}`)
}

/** The address-family words of nft rules and set types. */
export interface FamilyWords {
  /** `ip` or `ip6` (the table family and the payload keyword). */
  ip: 'ip' | 'ip6'
  addrType: 'ipv4_addr' | 'ipv6_addr'
  /** Traffic to loopback, which never takes NodePorts. */
  loopback: string
}

export function familyWords(family: Family): FamilyWords {
  return family === 4 ? { ip: 'ip', addrType: 'ipv4_addr', loopback: '127.0.0.0/8' } : { ip: 'ip6', addrType: 'ipv6_addr', loopback: '::1' }
}
