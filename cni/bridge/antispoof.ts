// Source-address anti-spoofing for the bridge's pod ports ("antiSpoof", on by default).
//
// Why: NetworkPolicy (netpol/) judges pod traffic by its source address, and pods have
// CAP_NET_RAW by default, so without this a pod could send as another pod (or as nobody's
// address) and get past an ingress policy or out of its own egress isolation; it could also
// answer ARP or ND for another pod's address and draw that pod's traffic to itself.
//
// What: a frame that enters the bridge from a guarded port (the host end of a pod's veth)
// must come from the pod's MAC and carry one of the pod's own addresses:
//
//   table bridge weft-antispoof {                 one per node network namespace
//     map ports { type ifname : verdict; }        guarded port → jump to its chain
//     chain prerouting { type filter hook prerouting priority filter; policy accept;
//       iifname vmap @ports                       other ports (uplinks, unguarded pods) pass
//     }
//     chain port-<hash8(network)>-<veth> {        one per pod attachment
//       ether saddr != <pod MAC> drop             no forged MAC (it would also poison the
//                                                 bridge's forwarding table)
//       ether type ip ip saddr { <v4> } accept    IPv4 from the pod's addresses
//       ether type arp arp hlen 6 arp plen 4 arp saddr ip { <v4> } accept
//                                                 ARP only for the pod's own addresses
//       ether type ip6 icmpv6 type { nd-router-advert, nd-redirect } drop
//                                                 a pod is no router
//       ether type ip6 icmpv6 type nd-neighbor-advert
//         @th,64,16 & 0xffc0 != 0xfe80 @th,64,128 != { <v6 as 128-bit numbers> } drop
//                                                 an NA's target must be link-local or the
//                                                 pod's own (nft 1.0.6 has no `icmpv6 taddr`)
//       ether type ip6 ip6 saddr { <v6> } accept  IPv6 from the pod's addresses
//       ether type ip6 ip6 saddr fe80::/10 meta l4proto ipv6-icmp accept
//                                                 ND, MLD and ping on the link: link-local
//                                                 sources only for ICMPv6, which is never
//                                                 judged by a pod address
//       ether type ip6 ip6 saddr :: icmpv6 type { nd-neighbor-solicit, nd-router-solicit,
//         mld-listener-report, mld2-listener-report } accept        DAD and early MLD
//       drop                                      anything else: other sources, other
//     }                                           ether types, VLAN tags, STP, DHCP
//   }
//
// Every rule names its ether type, so a VLAN-tagged frame (whose skb protocol is the
// inner one once the tag is stripped) matches none of them and is dropped. The bridge
// family needs no conntrack for this (unlike NetworkPolicy's inet table): it is a
// stateless check of each frame before the bridge learns its source MAC or br_netfilter
// hands it to the IP hooks.
//
// Why a chain per port rather than shared sets keyed by `iifname . ip saddr`: ADD replaces
// the port's whole guard atomically (`add chain`, `flush chain`, the rules) without reading
// anything first, and DEL and GC find it by name alone (a hash of the network and the veth
// name, which is a hash of container ID and ifname), with no need for prevResult.
//
// Concurrency: the kernel applies each transaction whole, one after another, and none
// touches another pod's chain or map element. The shared objects are only ever added
// (`add table`, `add map`, `add chain`) or, for the one hook rule, flushed and added again
// in the same transaction, so any number of concurrent ADDs leave exactly one of each. A
// process writes them with its first ADD; after that its ADDs carry only the port's chain
// and element (a transaction that updates an existing chain takes some 17 ms here, one
// that adds a new chain 4 ms), and fall back to the whole when the table or map is
// missing. The map is only ever created together with the hook chain (a hook chain deleted
// by hand behind a running CNI service comes back with its next start; CHECK reports it
// meanwhile). DEL deletes the port's element and chain in one
// transaction; when part of it is missing it reads the table and deletes what is there,
// creating nothing.
//
// Nothing reaches nft as written by the caller: the port name passes the bridge's link-name
// check (checkLinkName) and nft's name grammar, the MAC must be six lowercase hex bytes,
// unicast, and every address goes through weft's IP parser and is written back canonical;
// all text then passes the Transaction's token checks.
//
// Stale state: a guard whose veth is gone (DEL never came: the node crashed, the sandbox was
// removed by hand) matches no frame, since its key is an interface name that no longer
// exists. The same name can only come back for the same container ID and ifname, whose ADD
// replaces the guard. GC (the agent's resync after a restart) removes the guards of
// attachments that are no longer valid, as it does their IP reservations.
import { createHash } from 'node:crypto'
import type { NftClient } from '../../src/netfilter/client.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { BatchingNftClient } from '../../src/netfilter/batching-client.ts'
import { NftError, nftList } from '../../src/netfilter/nft.ts'
import { checkNftName } from '../../src/netfilter/tokens.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'
import type { NetnsRef } from '../../src/netlink/netns.ts'
import { parseCIDR } from '../../src/util/ip-parse.ts'
import { checkLinkName } from './config.ts'

export const ANTISPOOF_TABLE = 'weft-antispoof'
export const PORTS_MAP = 'ports'
export const HOOK_CHAIN = 'prerouting'
export const HOOK_SPEC = 'type filter hook prerouting priority filter; policy accept;'
export const PORTS_SPEC = 'type ifname : verdict;'
export const HOOK_RULE = `iifname vmap @${PORTS_MAP}`

/** ICMPv6 a pod may send from `::` (RFC 4862 DAD, RFC 4861 RS, RFC 3810 reports). */
const FROM_UNSPECIFIED = ['nd-neighbor-solicit', 'nd-router-solicit', 'mld-listener-report', 'mld2-listener-report']

/** A pod's port, MAC or address that weft will not put into a guard. */
export class AntiSpoofError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AntiSpoofError'
  }
}

/** What one pod attachment may send: checked and canonical (build it with portGuard). */
export interface PortGuard {
  network: string
  /** The host end of the pod's veth: the bridge port the pod's frames enter by. */
  port: string
  /** The MAC of the pod's interface. */
  mac: string
  /** The pod's IPv4 addresses (no prefix), canonical. */
  ipv4: string[]
  /** The pod's IPv6 addresses (no prefix), canonical, with their 128-bit values. */
  ipv6: { text: string; value: bigint }[]
}

const hash8 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 8)

/** The chains of one network start with this. */
export function networkPrefix(network: string): string {
  return `port-${hash8(network)}-`
}

/** The chain guarding `port` of `network`. */
export function guardChain(network: string, port: string): string {
  return networkPrefix(network) + port
}

function checkPort(port: string): void {
  const bad = checkLinkName(port)
  if (bad !== undefined) throw new AntiSpoofError(`bridge port ${JSON.stringify(port)}: ${bad}`)
  try {
    checkNftName('port', port)
  } catch (err) {
    throw new AntiSpoofError((err as Error).message)
  }
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

/**
 * The guard of one attachment, from what ADD set up (or prevResult says): the host veth,
 * the pod interface's MAC and the pod's addresses in CIDR notation. Throws an
 * AntiSpoofError for anything that is not exactly a link name, a unicast MAC or a unicast
 * address (weft's parser: no zones, no spaces, no IPv4-mapped IPv6).
 */
export function portGuard(network: string, port: string, mac: string, addresses: readonly string[]): PortGuard {
  checkPort(port)
  const m = typeof mac === 'string' ? mac.toLowerCase() : ''
  if (!MAC.test(m)) throw new AntiSpoofError(`pod MAC ${JSON.stringify(mac)} is not six hex bytes`)
  if ((parseInt(m.slice(0, 2), 16) & 1) === 1) throw new AntiSpoofError(`pod MAC ${m} is a multicast address`)
  const ipv4: string[] = []
  const ipv6: PortGuard['ipv6'] = []
  for (const address of addresses) {
    const cidr = typeof address === 'string' ? parseCIDR(address) : undefined
    if (!cidr) throw new AntiSpoofError(`pod address ${JSON.stringify(address)} is not an address in CIDR notation`)
    const ip = cidr.ip
    const special = ip.family === 4 ? ip.value === 0n || ip.value >> 28n === 0xen || ip.value >> 24n === 127n || ip.value === 0xffffffffn : ip.value === 0n || ip.value === 1n || ip.value >> 120n === 0xffn
    if (special) throw new AntiSpoofError(`pod address ${ip.text} is not a unicast address`)
    if (ip.family === 4) {
      if (!ipv4.includes(ip.text)) ipv4.push(ip.text)
    } else if (!ipv6.some((a) => a.value === ip.value)) ipv6.push({ text: ip.text, value: ip.value })
  }
  return { network, port, mac: m, ipv4, ipv6 }
}

const hex128 = (v: bigint): string => `0x${v.toString(16).padStart(32, '0')}`
const set = (items: readonly string[]): string => `{ ${items.join(', ')} }`

/** The rules of a port's chain, in order (see the top of this file). */
export function guardRules(g: PortGuard): string[] {
  const rules = [`ether saddr != ${g.mac} drop`]
  if (g.ipv4.length > 0) {
    rules.push(`ether type ip ip saddr ${set(g.ipv4)} accept`, `ether type arp arp hlen 6 arp plen 4 arp saddr ip ${set(g.ipv4)} accept`)
  }
  rules.push('ether type ip6 icmpv6 type { nd-router-advert, nd-redirect } drop')
  const ownTargets = g.ipv6.length > 0 ? ` @th,64,128 != ${set(g.ipv6.map((a) => hex128(a.value)))}` : ''
  rules.push(`ether type ip6 icmpv6 type nd-neighbor-advert @th,64,16 & 0xffc0 != 0xfe80${ownTargets} drop`)
  if (g.ipv6.length > 0) rules.push(`ether type ip6 ip6 saddr ${set(g.ipv6.map((a) => a.text))} accept`)
  rules.push('ether type ip6 ip6 saddr fe80::/10 meta l4proto ipv6-icmp accept', `ether type ip6 ip6 saddr :: icmpv6 type ${set(FROM_UNSPECIFIED)} accept`, 'drop')
  return rules
}

const portKey = (port: string): string => `"${port}"`

/** The table, the ports map and the hook chain with its one rule: the same after any number of ADDs. */
function skeleton(tx: Transaction): Transaction {
  return tx.addTable().addMap(PORTS_MAP, PORTS_SPEC).addChain(HOOK_CHAIN, HOOK_SPEC).flushChain(HOOK_CHAIN).addRule(HOOK_CHAIN, HOOK_RULE)
}

export interface AddOptions {
  /**
   * Write the table, map and hook chain too (default true). Without them the transaction
   * fails with ENOENT where the table or map is missing; the map is only ever created
   * together with the hook chain, so where it exists the hook is there.
   */
  skeleton?: boolean
  /**
   * The port's map element points at another chain (left by an attachment of another
   * network under the same veth name, whose DEL never came): delete it first. Used on a
   * retry after the plain transaction failed with EEXIST.
   */
  replaceElement?: boolean
}

/** ADD: the port's chain (re)written whole and its map element, in one transaction. */
export function addGuardTransaction(g: PortGuard, opts: AddOptions = {}): Transaction {
  const chain = guardChain(g.network, g.port)
  const tx = new Transaction('bridge', ANTISPOOF_TABLE)
  if (opts.skeleton !== false) skeleton(tx)
  if (opts.replaceElement) tx.deleteElements(PORTS_MAP, [portKey(g.port)])
  tx.addChain(chain).flushChain(chain)
  for (const rule of guardRules(g)) tx.addRule(chain, rule)
  return tx.addElements(PORTS_MAP, [`${portKey(g.port)} : jump ${chain}`])
}

// Clients that have written the skeleton once in this process. Rewriting it costs a
// kernel update of the hook chain (some 13 ms here, against 4 ms for a new port's chain),
// so the warm CNI service writes it with its first ADD and then only the port's objects,
// falling back to the whole when the table or map has gone.
const skeletonWritten = new WeakSet<NftClient>()

/** ADD: writes the port's guard, and the table around it when needed (see AddOptions). */
export async function installGuard(client: NftClient, g: PortGuard): Promise<void> {
  const opts: AddOptions = { skeleton: !skeletonWritten.has(client), replaceElement: false }
  for (;;) {
    try {
      await client.apply(addGuardTransaction(g, opts))
      skeletonWritten.add(client)
      return
    } catch (err) {
      if (!(err instanceof NftError)) throw err
      if (err.code === 'ENOENT' && !opts.skeleton) {
        skeletonWritten.delete(client)
        opts.skeleton = true
      } else if (err.code === 'EEXIST' && !opts.replaceElement) opts.replaceElement = true
      else throw err
    }
  }
}

/** DEL, when the guard is there: its map element, then its chain. Fails with ENOENT when any is missing. */
export function removeGuardTransaction(network: string, port: string): Transaction {
  checkPort(port)
  const chain = guardChain(network, port)
  return new Transaction('bridge', ANTISPOOF_TABLE).deleteElements(PORTS_MAP, [portKey(port)]).flushChain(chain).deleteChain(chain)
}

/**
 * DEL from what the table holds: the port's map element (wherever it points) and the
 * port's chain, each only if there; undefined when neither is. Nothing is created, so a
 * node that never guarded a port gets no table from a DEL.
 */
export function removeGuardPlan(table: ListedTable, network: string, port: string): Transaction | undefined {
  checkPort(port)
  const chain = guardChain(network, port)
  const tx = new Transaction('bridge', ANTISPOOF_TABLE)
  if (table.ports.has(port)) tx.deleteElements(PORTS_MAP, [portKey(port)])
  if (table.chains.has(chain)) {
    // Another port's element pointing at this chain (never written by weft) would keep it.
    const others = [...table.ports].filter(([p, target]) => p !== port && target === chain).map(([p]) => p)
    for (const p of others) checkPort(p)
    tx.deleteElements(PORTS_MAP, others.map(portKey)).flushChain(chain).deleteChain(chain)
  }
  return tx.size > 0 ? tx : undefined
}

/**
 * DEL: removes the port's guard; a missing guard, or table, is success. The usual case is
 * one transaction; when part of the guard is missing, the table is read and what is there
 * removed.
 */
export async function removeGuard(client: NftClient, read: TableReader, network: string, port: string): Promise<void> {
  try {
    await client.apply(removeGuardTransaction(network, port))
    return
  } catch (err) {
    if (!(err instanceof NftError && err.code === 'ENOENT')) throw err
  }
  const tx = removeGuardPlan(parseListedTable(await read()), network, port)
  if (tx) await client.apply(tx)
}

// ---- Reading the table back (CHECK and GC), from `nft -j list table bridge weft-antispoof`.

type Json = Record<string, unknown>

export interface ListedRule {
  /** Matches as `left op`: `ether saddr !=`, `ip saddr ==`, `arp saddr ip ==`, `ip6 saddr ==`, `th,64,128 !=`, `meta l4proto ==`, `icmpv6 type ==`, … */
  matches: Map<string, string[]>
  /** accept, drop, jump, return, …; undefined when the rule has none. */
  verdict?: string
}

export interface ListedTable {
  /** Every chain's rules, by chain name. */
  chains: Map<string, ListedRule[]>
  /** The ports map: port → the chain its element jumps to (undefined for another verdict). */
  ports: Map<string, string | undefined>
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

function operandName(left: unknown): string | undefined {
  if (!isObj(left)) return undefined
  const p = left.payload
  if (isObj(p)) {
    if (typeof p.protocol === 'string' && typeof p.field === 'string') return `${p.protocol} ${p.field}`
    if (typeof p.base === 'string') return `${p.base},${String(p.offset)},${String(p.len)}`
  }
  const meta = left.meta
  if (isObj(meta) && typeof meta.key === 'string') return `meta ${meta.key}`
  const and = left['&']
  if (Array.isArray(and) && and.length === 2) {
    const inner = operandName(and[0])
    return inner === undefined ? undefined : `${inner} & ${String(and[1])}`
  }
  return undefined
}

function operandValues(right: unknown): string[] {
  if (typeof right === 'string' || typeof right === 'number') return [String(right)]
  if (isObj(right)) {
    if (Array.isArray(right.set)) return right.set.flatMap(operandValues)
    const prefix = right.prefix
    if (isObj(prefix)) return [`${String(prefix.addr)}/${String(prefix.len)}`]
  }
  return [JSON.stringify(right)]
}

const VERDICTS = ['accept', 'drop', 'jump', 'goto', 'return', 'continue', 'queue']

/** The table as listed by nft -j (its `nftables` array); an empty one when the table is missing. */
export function parseListedTable(items: readonly Json[]): ListedTable {
  const out: ListedTable = { chains: new Map(), ports: new Map() }
  for (const item of items) {
    const chain = item.chain
    if (isObj(chain) && chain.table === ANTISPOOF_TABLE && typeof chain.name === 'string' && !out.chains.has(chain.name)) out.chains.set(chain.name, [])
  }
  for (const item of items) {
    const map = item.map
    if (isObj(map) && map.table === ANTISPOOF_TABLE && map.name === PORTS_MAP && Array.isArray(map.elem)) {
      for (const e of map.elem) {
        if (!Array.isArray(e) || typeof e[0] !== 'string') continue
        const jump = isObj(e[1]) && isObj(e[1].jump) ? e[1].jump.target : undefined
        out.ports.set(e[0], typeof jump === 'string' ? jump : undefined)
      }
    }
    const rule = item.rule
    if (!isObj(rule) || rule.table !== ANTISPOOF_TABLE || typeof rule.chain !== 'string' || !Array.isArray(rule.expr)) continue
    const listed: ListedRule = { matches: new Map() }
    for (const expr of rule.expr) {
      if (!isObj(expr)) continue
      const match = expr.match
      if (isObj(match)) {
        const name = operandName(match.left) ?? JSON.stringify(match.left)
        listed.matches.set(`${name} ${String(match.op)}`, operandValues(match.right))
        continue
      }
      const verdict = VERDICTS.find((v) => v in expr)
      if (verdict !== undefined) listed.verdict = verdict
      else if ('vmap' in expr) listed.verdict = 'vmap'
    }
    const rules = out.chains.get(rule.chain) ?? []
    rules.push(listed)
    out.chains.set(rule.chain, rules)
  }
  return out
}

export type TableReader = () => Promise<Json[]>

/** Reads the table in `netns` (this process's by default); empty when it does not exist. */
export function nftTableReader(netns?: NetnsRef): TableReader {
  return () => nftList(['list', 'table', 'bridge', ANTISPOOF_TABLE], netns)
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort()
const same = (a: Iterable<string>, b: Iterable<string>): boolean => sorted(a).join(',') === sorted(b).join(',')

function numbers(values: readonly string[] | undefined): string[] {
  return (values ?? []).map((v) => {
    try {
      return BigInt(v).toString(16)
    } catch {
      return v
    }
  })
}

/**
 * What is wrong with the guard of `g` in the listed table, or undefined when it is in
 * place: the hook rule, the port's map element, and the chain allowing exactly the pod's
 * MAC and addresses and ending in a drop.
 */
export function guardProblem(table: ListedTable, g: PortGuard): string | undefined {
  const chain = guardChain(g.network, g.port)
  const hook = table.chains.get(HOOK_CHAIN)
  if (!hook || !hook.some((r) => r.verdict === 'vmap' && r.matches.size === 0)) return `the ${HOOK_CHAIN} chain of bridge ${ANTISPOOF_TABLE} does not look up @${PORTS_MAP}`
  if (!table.ports.has(g.port)) return `port ${g.port} is not guarded (no element in @${PORTS_MAP})`
  if (table.ports.get(g.port) !== chain) return `port ${g.port} jumps to ${table.ports.get(g.port) ?? 'something other than a chain'}, not ${chain}`
  const rules = table.chains.get(chain)
  if (!rules) return `chain ${chain} is missing`
  const find = (key: string, verdict: string, size = 1) => rules.find((r) => r.verdict === verdict && r.matches.size === size && r.matches.has(key))?.matches.get(key)
  const mac = find('ether saddr !=', 'drop')
  if (mac === undefined || !same(mac, [g.mac])) return `chain ${chain} does not drop frames from other MACs than ${g.mac}${mac ? ` (it names ${mac.join(', ')})` : ''}`
  const v4 = find('ip saddr ==', 'accept') ?? []
  if (!same(v4, g.ipv4)) return `chain ${chain} accepts IPv4 from [${v4.join(', ')}], expected [${g.ipv4.join(', ')}]`
  const arp = rules.find((r) => r.verdict === 'accept' && r.matches.has('arp saddr ip =='))?.matches.get('arp saddr ip ==') ?? []
  if (!same(arp, g.ipv4)) return `chain ${chain} accepts ARP from [${arp.join(', ')}], expected [${g.ipv4.join(', ')}]`
  const v6 = find('ip6 saddr ==', 'accept') ?? []
  if (!same(v6, g.ipv6.map((a) => a.text))) return `chain ${chain} accepts IPv6 from [${v6.join(', ')}], expected [${g.ipv6.map((a) => a.text).join(', ')}]`
  const na = rules.find((r) => r.verdict === 'drop' && r.matches.has('icmpv6 type ==') && r.matches.get('icmpv6 type ==')?.join() === 'nd-neighbor-advert')
  const targets = numbers(na?.matches.get('th,64,128 !='))
  if (!na || !same(targets, g.ipv6.map((a) => a.value.toString(16)))) return `chain ${chain} does not limit neighbour advertisements to the pod's own IPv6 addresses`
  const last = rules.at(-1)
  if (!last || last.verdict !== 'drop' || last.matches.size !== 0) return `chain ${chain} does not end in a drop`
  if (rules.length !== guardRules(g).length) return `chain ${chain} has ${rules.length} rules, expected ${guardRules(g).length}`
  return undefined
}

/**
 * GC: the guards of `network` whose port is not in `keepPorts`, as one transaction (their
 * map elements, wherever they are, then the chains), and their chain names. Undefined when
 * there is nothing to remove.
 */
export function gcTransaction(table: ListedTable, network: string, keepPorts: readonly string[]): { tx: Transaction; stale: string[] } | undefined {
  const prefix = networkPrefix(network)
  const wanted = new Set(keepPorts.map((p) => guardChain(network, p)))
  const stale = sorted(table.chains.keys()).filter((c) => c.startsWith(prefix) && !wanted.has(c))
  if (stale.length === 0) return undefined
  const tx = new Transaction('bridge', ANTISPOOF_TABLE)
  const gone = new Set(stale)
  const keys = sorted([...table.ports].filter(([, target]) => target !== undefined && gone.has(target)).map(([port]) => port))
  for (const port of keys) checkPort(port)
  tx.deleteElements(PORTS_MAP, keys.map(portKey))
  for (const chain of stale) tx.flushChain(chain).deleteChain(chain)
  return { tx, stale }
}

/** Removes the guards of `network` whose port is not in `keepPorts`; returns their chains. */
export async function gcGuards(client: NftClient, read: TableReader, network: string, keepPorts: readonly string[]): Promise<string[]> {
  const plan = gcTransaction(parseListedTable(await read()), network, keepPorts)
  if (!plan) return []
  await client.apply(plan.tx)
  return plan.stale
}

/**
 * The client the plugin applies with: `nft` in its own network namespace, the guards of
 * concurrent ADDs and DELs (a warm service's burst) joined into one run.
 */
export function defaultAntiSpoofClient(): { client: NftClient; read: TableReader } {
  return { client: new BatchingNftClient(new NftExec()), read: nftTableReader() }
}
