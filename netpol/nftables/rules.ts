// NetworkPolicy as nftables rules: the compiled state of a node (../model.ts) rendered to the
// objects of weft's own table. Pure; transaction.ts turns it (or a diff) into one Transaction.
//
// The table, `table inet weft-netpol`; pod traffic on the node's bridge reaches its forward
// hook through br_netfilter, routed traffic (other nodes, the outside) directly:
//
//   chain forward { type filter hook forward priority filter; policy accept;
//     ct state established,related accept        replies, and connections already allowed:
//                                                a policy change never cuts them, new
//                                                connections are judged at once
//     icmpv6 type { nd-… } accept                neighbour discovery is link traffic
//     ip saddr @node-ips-v4 accept               the node's own traffic with its pods
//     ip daddr @node-ips-v4 accept               (probes); same for ip6 and node-ips-v6
//     ip saddr vmap @egress-v4                   the source pod's egress chain (jump), if
//     ip6 saddr vmap @egress-v6                  it is a local pod isolated for egress
//     ip daddr vmap @ingress-v4                  then the destination pod's ingress chain,
//     ip6 daddr vmap @ingress-v6                 if it is a local isolated pod
//   }
//   chain out-<hash16(uid)> {                    one per pod and isolated direction, named
//     ip daddr @np-pods-…-v4 meta l4proto tcp th dport 80 return          from the uid
//     ip daddr . meta l4proto . th dport @np-ports-…-v4 return           (named ports)
//     limit rate N/second log prefix "weft-netpol egress ns/pod "        (with logRate)
//     counter drop                               or, with deny 'reject':
//                                                meta l4proto tcp counter reject with tcp reset
//                                                counter reject
//   }
//   chain in-<hash16(uid)> { ip saddr @np-…-v4 … accept; …; counter drop }
//   map egress-v4 { type ipv4_addr : verdict; }  pod address : jump out-…  (and -v6,
//   map ingress-v4 { type ipv4_addr : verdict; } ingress-v4/-v6 with jump in-…)
//   set node-ips-v4 { type ipv4_addr; }
//   set np-pods-…-v4 { type ipv4_addr; }         the compiler's peer sets, one per family;
//   set np-cidrs-…-v4 { type ipv4_addr; flags interval; }        ipBlocks as intervals;
//   set np-ports-…-v4 { type ipv4_addr . inet_proto . inet_service; }   address/port triples
//
// Egress allows `return` so that the destination's ingress is judged next; ingress allows
// `accept`. A pod that starts matching a selector only changes set elements; a pod whose
// entries change gets its chain flushed and refilled; the vmaps point at chains by name, so
// refilling a chain never touches them. The counters of a pod's deny rules are its drops.
//
// Nothing from the API reaches nft as written: addresses are parsed and must be canonical,
// ports are integers in range, protocols one of three words, set names the compiler's hashed
// ones, chain names hashes of the uid; the pod's `namespace/name` appears only in a log
// prefix, and only when it is made of DNS label characters (else the chain name stands in).
import { parseCIDR, parseIP } from '../../src/util/ip-parse.ts'
import type { AddressPort, AllowEntry, CompiledNode, Family, Isolation, LocalPod, PeerSet, PortMatch } from '../model.ts'
import { FORWARD_CHAIN, isPeerSetName, nodeIPsSet, peerSet, podChain, verdictMap, type Direction } from './names.ts'

export interface NetpolRenderOptions {
  deny: 'drop' | 'reject'
  /** Log denied packets at most this many per second; undefined: no log. */
  logRate?: number
}

/** Something in the compiled state that weft will not render (a compiler bug if it happens). */
export class NetpolRenderError extends Error {
  readonly code = 'NETPOL_INVALID_STATE'
  constructor(message: string) {
    super(message)
    this.name = 'NetpolRenderError'
  }
}

export const FAMILIES: readonly Family[] = [4, 6]
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress']

const ipWord = (f: Family) => (f === 4 ? 'ip' : 'ip6')
const addrType = (f: Family) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr')

/** `text` if it is a canonical address of family `f`; throws otherwise. */
export function checkAddress(text: string, f: Family): string {
  const p = typeof text === 'string' ? parseIP(text) : undefined
  if (!p || p.mapped || p.family !== f || p.text !== text) throw new NetpolRenderError(`${JSON.stringify(text)} is not a canonical IPv${f} address`)
  return text
}

/** `text` if it is a canonical address or CIDR (network address, host bits clear) of family `f`. */
export function checkPrefix(text: string, f: Family): string {
  if (typeof text === 'string' && !text.includes('/')) return checkAddress(text, f)
  const p = typeof text === 'string' ? parseCIDR(text) : undefined
  if (!p || p.ip.mapped || p.family !== f || p.text !== text) throw new NetpolRenderError(`${JSON.stringify(text)} is not a canonical IPv${f} CIDR`)
  return text
}

function checkPort(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new NetpolRenderError(`${what} ${JSON.stringify(n)} is not a port number`)
  return n
}

function protoWord(p: string): 'tcp' | 'udp' | 'sctp' {
  if (p === 'TCP' || p === 'UDP' || p === 'SCTP') return p.toLowerCase() as 'tcp' | 'udp' | 'sctp'
  throw new NetpolRenderError(`protocol ${JSON.stringify(p)} is not TCP, UDP or SCTP`)
}

function checkSetName(name: string): string {
  if (typeof name !== 'string' || !isPeerSetName(name)) throw new NetpolRenderError(`set name ${JSON.stringify(name)} is not a compiler set name`)
  return name
}

/** A port match as rule text: `meta l4proto tcp th dport 80-81`; every port: `meta l4proto tcp`. */
export function portMatch(p: PortMatch): string {
  const proto = protoWord(p.protocol)
  const from = checkPort(p.from, 'port')
  const to = checkPort(p.to, 'end port')
  if (from > to) throw new NetpolRenderError(`port range ${from}-${to} is empty`)
  if (from === 0 && to === 65535) return `meta l4proto ${proto}`
  return `meta l4proto ${proto} th dport ${from === to ? from : `${from}-${to}`}`
}

/** One element of an `addressPorts` set: `10.0.0.1 . tcp . 80`. */
export function addressPortElement(e: AddressPort, f: Family): string {
  return `${checkAddress(e.ip, f)} . ${protoWord(e.protocol)} . ${checkPort(e.port, 'port')}`
}

/** A set's elements of family `f`, as nft text, each checked. */
export function setElements(set: PeerSet, f: Family): string[] {
  if (set.kind === 'addressPorts') return (f === 4 ? set.v4 : set.v6).map((e) => addressPortElement(e, f))
  const list = f === 4 ? set.v4 : set.v6
  return list.map((e) => (set.intervals ? checkPrefix(e, f) : checkAddress(e, f)))
}

/** Elements of a set change (diff.ts), rendered for the set's kind. */
export function elementTexts(kind: PeerSet['kind'], intervals: boolean, list: readonly (string | AddressPort)[], f: Family): string[] {
  return list.map((e) => {
    if (kind === 'addressPorts') {
      if (typeof e === 'string') throw new NetpolRenderError(`element ${JSON.stringify(e)} of an address/port set is not a triple`)
      return addressPortElement(e, f)
    }
    if (typeof e !== 'string') throw new NetpolRenderError('element of an address set is not an address')
    return intervals ? checkPrefix(e, f) : checkAddress(e, f)
  })
}

/** The spec of a set's family half. */
export function setSpec(set: PeerSet, f: Family): string {
  if (set.kind === 'addressPorts') return `type ${addrType(f)} . inet_proto . inet_service;`
  return set.intervals ? `type ${addrType(f)}; flags interval;` : `type ${addrType(f)};`
}

export interface SetObject {
  kind: 'set' | 'map'
  name: string
  spec: string
}

/** The sets and maps every table has. */
export function baseSets(): SetObject[] {
  const out: SetObject[] = []
  for (const f of FAMILIES) {
    out.push({ kind: 'set', name: nodeIPsSet(f), spec: `type ${addrType(f)};` })
    for (const dir of DIRECTIONS) out.push({ kind: 'map', name: verdictMap(dir, f), spec: `type ${addrType(f)} : verdict;` })
  }
  return out
}

export const FORWARD_SPEC = 'type filter hook forward priority filter; policy accept;'

/** The rules of the forward chain, in order. */
export function forwardRules(): string[] {
  return [
    'ct state established,related accept',
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert, nd-redirect } accept',
    ...FAMILIES.flatMap((f) => [`${ipWord(f)} saddr @${nodeIPsSet(f)} accept`, `${ipWord(f)} daddr @${nodeIPsSet(f)} accept`]),
    ...FAMILIES.map((f) => `${ipWord(f)} saddr vmap @${verdictMap('egress', f)}`),
    ...FAMILIES.map((f) => `${ipWord(f)} daddr vmap @${verdictMap('ingress', f)}`),
  ]
}

/** The node's addresses of family `f`, checked. */
export function nodeIPElements(state: CompiledNode, f: Family): string[] {
  return (f === 4 ? state.nodeIPs.v4 : state.nodeIPs.v6).map((ip) => checkAddress(ip, f))
}

const DNS_KEY = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/
/** The kernel keeps 127 characters of a log prefix. */
const MAX_PREFIX = 127

/** The log prefix of a pod's denied packets: `weft-netpol ingress ns/pod ` (the chain name when the key would not fit or is odd). */
export function logPrefix(dir: Direction, pod: LocalPod): string {
  const text = `weft-netpol ${dir} ${pod.key} `
  return DNS_KEY.test(pod.key) && text.length <= MAX_PREFIX ? text : `weft-netpol ${dir} ${podChain(dir, pod.uid)} `
}

/** The rules that end a pod's chain: the optional log, then the counted deny. */
export function denyRules(dir: Direction, pod: LocalPod, opts: NetpolRenderOptions): string[] {
  const out: string[] = []
  if (opts.logRate !== undefined) {
    if (!Number.isInteger(opts.logRate) || opts.logRate < 1 || opts.logRate > 1_000_000) throw new NetpolRenderError(`log rate ${JSON.stringify(opts.logRate)} is not a whole number of packets per second from 1 to 1000000`)
    out.push(`limit rate ${opts.logRate}/second log prefix "${logPrefix(dir, pod)}"`)
  }
  if (opts.deny === 'reject') out.push('meta l4proto tcp counter reject with tcp reset', 'counter reject')
  else out.push('counter drop')
  return out
}

/** The rules of one allow entry in a pod's chain of `dir`, for the families the pod has addresses in. */
export function entryRules(dir: Direction, entry: AllowEntry, families: readonly Family[], sets: ReadonlyMap<string, PeerSet>): string[] {
  const verdict = dir === 'ingress' ? 'accept' : 'return'
  const ports = entry.ports === 'any' ? [''] : entry.ports.map((p) => `${portMatch(p)} `)
  if (entry.ports !== 'any' && entry.ports.length === 0) throw new NetpolRenderError(`an entry of ${JSON.stringify(entry.policy)} allows no ports`)
  if (entry.peers === 'any') return ports.map((p) => `${p}${verdict}`)
  const set = sets.get(checkSetName(entry.peers))
  if (!set) throw new NetpolRenderError(`set ${entry.peers} is referred to but not in the compiled state`)
  const addr = dir === 'ingress' ? 'saddr' : 'daddr'
  const out: string[] = []
  for (const f of families) {
    const name = peerSet(set.name, f)
    if (set.kind === 'addressPorts') out.push(`${ipWord(f)} ${addr} . meta l4proto . th dport @${name} ${verdict}`)
    else for (const p of ports) out.push(`${ipWord(f)} ${addr} @${name} ${p}${verdict}`)
  }
  return out
}

export interface PodDirection {
  dir: Direction
  chain: string
  rules: string[]
  /** The pod's addresses by family: the keys of its elements in the verdict maps. */
  v4: string[]
  v6: string[]
}

/** A pod's chains (only for the directions it is isolated in). */
export function podDirections(pod: LocalPod, sets: ReadonlyMap<string, PeerSet>, opts: NetpolRenderOptions): PodDirection[] {
  const v4 = pod.ips.v4.map((ip) => checkAddress(ip, 4))
  const v6 = pod.ips.v6.map((ip) => checkAddress(ip, 6))
  const families = FAMILIES.filter((f) => (f === 4 ? v4 : v6).length > 0)
  const out: PodDirection[] = []
  for (const dir of DIRECTIONS) {
    const iso: Isolation = dir === 'ingress' ? pod.ingress : pod.egress
    if (!iso.isolated) continue
    const rules = iso.allow.flatMap((e) => entryRules(dir, e, families, sets))
    out.push({ dir, chain: podChain(dir, pod.uid), rules: [...rules, ...denyRules(dir, pod, opts)], v4, v6 })
  }
  return out
}

/** A verdict map element: `10.0.0.1 : jump in-…`. */
export function vmapElement(ip: string, chain: string): string {
  return `${ip} : jump ${chain}`
}

export { FORWARD_CHAIN }
