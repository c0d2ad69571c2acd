// The desired nftables state, as plain data: the rules every table has (baseRules) and
// the map elements (and, for ClientIP affinity and source ranges only, the chains and sets)
// of one Service port (serviceRules). Pure; the diff turns two of these into a Transaction.
//
// The layout (bench/proxy/README.md compares it with kube-proxy's): a Service port is map
// elements, not chains. `service-ips` / `service-nodeports` say where its traffic goes: a
// ClusterIP straight to the shared chain `pick-service-tcp-N` (N = its endpoint count),
// whose one rule DNATs to `daddr . dport . numgen random mod N` in
// `service-endpoints-tcp` (which holds the port's endpoints as entries 0..N-1); external traffic first through a
// fixed chain that decides masquerading for its traffic policy and then dispatches the same
// way. So an endpoint change only replaces map elements (and the dispatch element when N
// changes), and the table has a few dozen chains whatever the number of Services: nft 1.0.6
// reads every chain of the table before each transaction.
import { checkNftName, checkNftText, NftTokenError } from '../../src/netfilter/tokens.ts'
import { joinHostPort } from '../../src/util/host-port.ts'
import { parseCIDR, parseIP } from '../../src/util/ip-parse.ts'
import { loadBalancerSources } from '../source-ranges.ts'
import { hasExternal, noEndpointVerdict, usableEndpoints, type Endpoint, type Family, type L4Protocol, type ProxyState, type ServiceEntry } from '../model.ts'
import {
  CLUSTER_IPS,
  CLUSTER_IPS_CHECK_CHAIN,
  endpointBase,
  endpointsMap,
  EXTERNAL_CHAIN,
  EXTERNAL_IPS,
  EXTERNAL_LOCAL_CHAIN,
  EXTERNAL_LOCAL_IPS,
  EXTERNAL_LOCAL_NODEPORTS,
  EXTERNAL_NODEPORTS,
  familyWords,
  FIREWALL_CHECK_CHAIN,
  FIREWALL_IPS,
  HAIRPIN,
  MARK_MASQ_CHAIN,
  MASQUERADING_CHAIN,
  NO_ENDPOINT_NODEPORTS,
  NO_ENDPOINT_SERVICES,
  NODEPORT_ENDPOINTS_CHECK_CHAIN,
  NODEPORT_EXTERNAL_CHAIN,
  NODEPORT_EXTERNAL_LOCAL_CHAIN,
  PICK_KINDS,
  PICK_PROTOCOLS,
  pickChain,
  REJECT_CHAIN,
  SERVICE_ENDPOINTS_CHECK_CHAIN,
  SERVICE_IPS,
  SERVICE_NODEPORTS,
  servicePortBase,
  SERVICES_CHAIN,
  type PickKind,
} from './names.ts'

/** One element of a shared map or set; `value` is '' in a set. */
export interface NftElement {
  set: string
  key: string
  value: string
}

export interface SetSpec {
  kind: 'set' | 'map'
  spec: string
}

export interface BaseChain {
  name: string
  /** Inside the braces: `type nat hook output priority -100; policy accept;`. */
  spec: string
  rules: string[]
}

export interface BaseRules {
  baseChains: BaseChain[]
  /** Regular chains every table has, with their rules. */
  chains: Map<string, string[]>
  /** The shared maps and sets (filled by the services' elements). */
  sets: Map<string, SetSpec>
}

export interface ServiceRules {
  /** The port's own regular chains, name → rules in order: only ClientIP affinity and source ranges have any. */
  chains: Map<string, string[]>
  /** ClientIP-affinity sets, name → spec. */
  sets: Map<string, string>
  /** The shared pick chains its elements send traffic to, name → rules (the same for every port that uses them). */
  shared: Map<string, string[]>
  /** Its elements of the shared maps and sets. */
  elements: NftElement[]
  /** The endpoint IPs that traffic may be DNATed to (for conntrack cleanup). */
  endpointIPs: string[]
}

const MASQ_BIT = '0x4000'

/** The modulus in the endpoint maps' `typeof`: it gives the key's type only, any count of endpoints fits. */
const TYPEOF_MOD = 64

function baseChain(name: string, type: 'filter' | 'nat', hook: string, priority: number, rules: string[]): BaseChain {
  return { name, spec: `type ${type} hook ${hook} priority ${priority}; policy accept;`, rules }
}

export function baseRules(state: ProxyState): BaseRules {
  const w = familyWords(state.family)
  const tuple = `${w.addrType} . inet_proto . inet_service : verdict;`
  const portTuple = 'inet_proto . inet_service : verdict;'
  const vip = `${w.ip} daddr . meta l4proto . th dport`
  const nodePort = 'meta l4proto . th dport'
  const isNew = 'ct state new'
  const clusterIPsCheck = [`${w.ip} daddr @${CLUSTER_IPS} reject`]
  if (state.serviceCIDRs.length) clusterIPsCheck.push(`${w.ip} daddr { ${state.serviceCIDRs.join(', ')} } drop`)
  const pods = state.clusterCIDRs.length ? `{ ${state.clusterCIDRs.join(', ')} }` : undefined
  // Traffic policy Local: pods and the node itself still reach the Service through any
  // endpoint (as through an outside load balancer); the node's own traffic is masqueraded.
  const externalLocal = (key: string, cluster: string, local: string): string[] => [
    ...(pods ? [`${w.ip} saddr ${pods} ${key} vmap @${cluster}`] : []),
    `fib saddr type local jump ${MARK_MASQ_CHAIN}`,
    `fib saddr type local ${key} vmap @${cluster}`,
    `${key} vmap @${local}`,
  ]
  return {
    baseChains: [
      baseChain('filter-prerouting', 'filter', 'prerouting', -110, [`${isNew} jump ${FIREWALL_CHECK_CHAIN}`]),
      baseChain('filter-input', 'filter', 'input', -110, [`${isNew} jump ${NODEPORT_ENDPOINTS_CHECK_CHAIN}`, `${isNew} jump ${SERVICE_ENDPOINTS_CHECK_CHAIN}`]),
      baseChain('filter-forward', 'filter', 'forward', -110, [`${isNew} jump ${SERVICE_ENDPOINTS_CHECK_CHAIN}`, `${isNew} jump ${CLUSTER_IPS_CHECK_CHAIN}`]),
      baseChain('filter-output', 'filter', 'output', -110, [`${isNew} jump ${SERVICE_ENDPOINTS_CHECK_CHAIN}`, `${isNew} jump ${FIREWALL_CHECK_CHAIN}`]),
      baseChain('filter-output-post-dnat', 'filter', 'output', -90, [`${isNew} jump ${CLUSTER_IPS_CHECK_CHAIN}`]),
      baseChain('nat-prerouting', 'nat', 'prerouting', -100, [`jump ${SERVICES_CHAIN}`]),
      baseChain('nat-output', 'nat', 'output', -100, [`jump ${SERVICES_CHAIN}`]),
      baseChain('nat-postrouting', 'nat', 'postrouting', 100, [`jump ${MASQUERADING_CHAIN}`]),
    ],
    chains: new Map([
      [
        SERVICES_CHAIN,
        [
          `${vip} vmap @${SERVICE_IPS}`,
          `fib daddr type local ${w.ip} daddr != ${w.loopback} ${nodePort} vmap @${SERVICE_NODEPORTS}`,
        ],
      ],
      [EXTERNAL_CHAIN, [`jump ${MARK_MASQ_CHAIN}`, `${vip} vmap @${EXTERNAL_IPS}`]],
      [EXTERNAL_LOCAL_CHAIN, externalLocal(vip, EXTERNAL_IPS, EXTERNAL_LOCAL_IPS)],
      [NODEPORT_EXTERNAL_CHAIN, [`jump ${MARK_MASQ_CHAIN}`, `${nodePort} vmap @${EXTERNAL_NODEPORTS}`]],
      [NODEPORT_EXTERNAL_LOCAL_CHAIN, externalLocal(nodePort, EXTERNAL_NODEPORTS, EXTERNAL_LOCAL_NODEPORTS)],
      [
        MASQUERADING_CHAIN,
        [
          // Hairpin: an endpoint that reached itself through a Service must see the reply come from elsewhere.
          `ct status dnat ${w.ip} saddr . ${w.ip} daddr @${HAIRPIN} jump ${MARK_MASQ_CHAIN}`,
          // A ClusterIP reached from outside the pod networks (decided here, on what was DNATed:
          // a mark set in prerouting on traffic that is then rejected stops the rejection's ICMP).
          ...(pods ? [`ct status dnat ct original ${w.ip} daddr @${CLUSTER_IPS} ${w.ip} saddr != ${pods} jump ${MARK_MASQ_CHAIN}`] : []),
          `meta mark & ${MASQ_BIT} == 0 return`,
          `meta mark set meta mark ^ ${MASQ_BIT}`,
          'masquerade fully-random',
        ],
      ],
      [MARK_MASQ_CHAIN, [`meta mark set meta mark | ${MASQ_BIT}`]],
      [REJECT_CHAIN, ['reject']],
      [FIREWALL_CHECK_CHAIN, [`${vip} vmap @${FIREWALL_IPS}`]],
      [SERVICE_ENDPOINTS_CHECK_CHAIN, [`${vip} vmap @${NO_ENDPOINT_SERVICES}`]],
      [NODEPORT_ENDPOINTS_CHECK_CHAIN, [`fib daddr type local ${w.ip} daddr != ${w.loopback} ${nodePort} vmap @${NO_ENDPOINT_NODEPORTS}`]],
      [CLUSTER_IPS_CHECK_CHAIN, clusterIPsCheck],
    ]),
    sets: new Map<string, SetSpec>([
      [SERVICE_IPS, { kind: 'map', spec: `type ${tuple}` }],
      [SERVICE_NODEPORTS, { kind: 'map', spec: `type ${portTuple}` }],
      [EXTERNAL_IPS, { kind: 'map', spec: `type ${tuple}` }],
      [EXTERNAL_LOCAL_IPS, { kind: 'map', spec: `type ${tuple}` }],
      [EXTERNAL_NODEPORTS, { kind: 'map', spec: `type ${portTuple}` }],
      [EXTERNAL_LOCAL_NODEPORTS, { kind: 'map', spec: `type ${portTuple}` }],
      ...endpointMaps(state.family),
      [NO_ENDPOINT_SERVICES, { kind: 'map', spec: `type ${tuple}` }],
      [NO_ENDPOINT_NODEPORTS, { kind: 'map', spec: `type ${portTuple}` }],
      [FIREWALL_IPS, { kind: 'map', spec: `type ${tuple}` }],
      [CLUSTER_IPS, { kind: 'set', spec: `type ${w.addrType};` }],
      [HAIRPIN, { kind: 'set', spec: `type ${w.addrType} . ${w.addrType};` }],
    ]),
  }
}

/** The packet's key in an endpoint map, before the index (a map holds one protocol, which the pick rule matches). */
function pickKey(family: Family, kind: PickKind): string {
  return kind === 'service' || kind === 'service-local' ? `${familyWords(family).ip} daddr . th dport` : 'th dport'
}

/**
 * The endpoint maps, one per kind and protocol. The value's port is typed by the protocol's
 * own `dport`: nft 1.0.6 cannot add a rule that uses a map whose value is `th dport` once it
 * reads the map back from the kernel ("conflicting protocols specified: ip vs. th"), and a
 * protocol's `dport` makes nft add a match on that protocol to the rules using the map (when
 * it creates the map in the same run), which is right only for a map of that protocol.
 */
function endpointMaps(family: Family): Array<[string, SetSpec]> {
  const ip = familyWords(family).ip
  const out: Array<[string, SetSpec]> = []
  for (const kind of PICK_KINDS) {
    for (const protocol of PICK_PROTOCOLS) {
      out.push([endpointsMap(kind, protocol), { kind: 'map', spec: `typeof ${pickKey(family, kind)} . numgen random mod ${TYPEOF_MOD} : ${ip} daddr . ${protocol.toLowerCase()} dport;` }])
    }
  }
  return out
}

/**
 * The one rule of a pick chain: DNAT to entry `numgen random mod n` of the packet's Service
 * key in the endpoint map of the kind and protocol, which holds the entries 0..n-1 of every
 * Service port that sends traffic here: each of its n endpoints is taken with probability
 * exactly 1/n.
 */
export function pickRule(family: Family, kind: PickKind, protocol: L4Protocol, n: number): string {
  return `meta l4proto ${protocol.toLowerCase()} dnat ${familyWords(family).ip} addr . port to ${pickKey(family, kind)} . numgen random mod ${n} map @${endpointsMap(kind, protocol)}`
}

function verdictOf(v: 'reject' | 'drop'): string {
  return v === 'reject' ? `goto ${REJECT_CHAIN}` : 'drop'
}

/** Endpoints of the port under Cluster policy (usable anywhere, whatever the Local policies). */
function clusterEndpoints(entry: ServiceEntry): Endpoint[] {
  const p = entry.port
  if (!p.internalLocal) return usableEndpoints(entry, 'internal')
  if (!p.externalLocal) return usableEndpoints(entry, 'external')
  return usableEndpoints({ endpoints: entry.endpoints, port: { ...p, internalLocal: false } }, 'internal')
}

/**
 * Throws an NftTokenError unless the node facts (from configuration and the Node), as they
 * are rendered, are canonical addresses and CIDRs of the family: the CLI (--service-cidr,
 * --cluster-cidr, --node-ip) and nodeAddresses write them so. A value that is not would fail
 * every port's rules, or the base rules, so it fails the sync loudly instead.
 */
export function checkStateFacts(state: ProxyState): void {
  const v = `IPv${state.family}`
  // Canonical text is of one family: a colon is IPv6.
  const ofFamily = (text: string) => text.includes(':') === (state.family === 6)
  for (const c of state.serviceCIDRs) if (parseCIDR(c)?.text !== c || !ofFamily(c)) throw new NftTokenError(`the service network ${JSON.stringify(c)} is not an ${v} CIDR in canonical form: check --service-cidr`)
  for (const c of state.clusterCIDRs) if (parseCIDR(c)?.text !== c || !ofFamily(c)) throw new NftTokenError(`the pod network ${JSON.stringify(c)} is not an ${v} CIDR in canonical form: check --cluster-cidr`)
  for (const ip of state.nodeIPs) if (parseIP(ip)?.text !== ip || !ofFamily(ip)) throw new NftTokenError(`the node address ${JSON.stringify(ip)} is not an ${v} address in canonical form: check --node-ip and the Node's addresses`)
}

declare const checkedBrand: unique symbol
/** Rules that passed checkServiceRules: the diff hands their names and text to a Transaction as already checked. */
export type CheckedServiceRules = ServiceRules & { readonly [checkedBrand]: true }

/**
 * Throws an NftTokenError unless every name and text of `rules` is in weft's nft grammar
 * (what Transaction would refuse later, for the whole sync): one port's bad rules are
 * refused alone. Elements are checked as they are rendered (`key : value`).
 */
export function checkServiceRules(rules: ServiceRules): CheckedServiceRules {
  for (const chains of [rules.chains, rules.shared]) {
    for (const [name, chainRules] of chains) {
      checkNftName('chain name', name)
      for (const rule of chainRules) checkNftText('rule', rule)
    }
  }
  for (const [name, spec] of rules.sets) {
    checkNftName('set name', name)
    checkNftText('spec', spec)
  }
  for (const el of rules.elements) {
    checkNftName('set name', el.set)
    checkNftText('element', el.value === '' ? el.key : `${el.key} : ${el.value}`)
  }
  return rules as CheckedServiceRules
}

/**
 * The rules of one Service port for `state` (its family, pod networks and node IPs). The
 * entry's values are as service-entries.ts parsed them (canonical, of the family); the
 * output is checked against the nft grammar by checkServiceRules before it is applied.
 */
export function serviceRules(entry: ServiceEntry, state: ProxyState): ServiceRules {
  const p = entry.port
  const w = familyWords(state.family)
  const proto = p.protocol.toLowerCase()
  // The hash of the port's names, for the chains and sets of affinity and source ranges only.
  let base: string | undefined
  const named = (prefix: string): string => `${prefix}-${(base ??= servicePortBase(p))}`
  const external = hasExternal(p)
  const chains = new Map<string, string[]>()
  const sets = new Map<string, string>()
  const shared = new Map<string, string[]>()
  const elements: NftElement[] = []
  const endpointIPs: string[] = []

  const clusterEps = clusterEndpoints(entry)
  const usesLocal = p.internalLocal || (p.externalLocal && external)
  const localEps = !usesLocal ? [] : p.internalLocal ? usableEndpoints(entry, 'internal') : usableEndpoints(entry, 'external')
  const hasEndpoints = clusterEps.length > 0
  const internalVerdict = noEndpointVerdict(entry, 'internal')
  const externalVerdict = external ? noEndpointVerdict(entry, 'external') : undefined
  const usesExternal = hasEndpoints && external
  const affinity = p.affinitySeconds > 0

  // Hairpin (an endpoint whose connection is DNATed back to itself) happens where the
  // endpoint's own traffic is DNATed: on its node, for pods' traffic to any Service address.
  // Only through the external entries of a Local-policy port may a pod on another node reach
  // the Service here unmasqueraded: there every endpoint can come back to itself.
  const anyHairpin = external && p.externalLocal
  const seen = new Set<string>()
  const usedIPs = (eps: Endpoint[]): void => {
    for (const ep of eps) {
      if (seen.has(ep.ip)) continue
      seen.add(ep.ip)
      endpointIPs.push(ep.ip)
      if (ep.local || anyHairpin) elements.push({ set: HAIRPIN, key: `${ep.ip} . ${ep.ip}`, value: '' })
    }
  }

  // ClientIP affinity keeps kube-proxy's per-port chains (one per endpoint set) with a
  // dynamic set per endpoint: a remembered client must never be sent to an endpoint that is
  // gone, and deleting the endpoint's set is what forgets it. No per-endpoint chains.
  const affinityChain = (eps: Endpoint[], name: string): string => {
    if (chains.has(name)) return `goto ${name}`
    const sticky: string[] = []
    const pick: string[] = []
    eps.forEach((ep, i) => {
      const set = `affinity-${endpointBase(p, ep)}`
      sets.set(set, `type ${w.addrType}; flags dynamic,timeout; timeout ${p.affinitySeconds}s;`)
      const dnat = `update @${set} { ${w.ip} saddr } meta l4proto ${proto} dnat to ${joinHostPort(ep.ip, ep.port)}`
      sticky.push(`${w.ip} saddr @${set} ${dnat}`)
      // Endpoint i of n is taken with probability 1/(n-i) when none before it was: 1/n each.
      pick.push(i < eps.length - 1 ? `numgen random mod ${eps.length - i} 0 ${dnat}` : dnat)
    })
    chains.set(name, [...sticky, ...pick])
    return `goto ${name}`
  }
  /** What a dispatch element says to reach `eps`; their entries (`key . index`) go into the endpoint map of the kind. */
  const target = (eps: Endpoint[], local: boolean, kind: PickKind, key: string): string => {
    usedIPs(eps)
    if (affinity) return affinityChain(eps, named(local ? 'local' : 'service'))
    const chain = pickChain(kind, p.protocol, eps.length)
    shared.set(chain, [pickRule(state.family, kind, p.protocol, eps.length)])
    const map = endpointsMap(kind, p.protocol)
    eps.forEach((ep, i) => elements.push({ set: map, key: `${key} . ${i}`, value: `${ep.ip} . ${ep.port}` }))
    return `goto ${chain}`
  }

  const portKey = ` . ${proto} . ${p.port}`
  const clusterKey = p.clusterIP + portKey
  const endpointKey = (ip: string): string => `${ip} . ${p.port}`
  elements.push({ set: CLUSTER_IPS, key: p.clusterIP, value: '' })
  if (internalVerdict === undefined) {
    const eps = p.internalLocal ? localEps : clusterEps
    elements.push({ set: SERVICE_IPS, key: clusterKey, value: target(eps, p.internalLocal, 'service', endpointKey(p.clusterIP)) })
  } else elements.push({ set: NO_ENDPOINT_SERVICES, key: clusterKey, value: verdictOf(internalVerdict) })

  const withLocal = p.externalLocal && localEps.length > 0
  for (const ips of [p.externalIPs, p.loadBalancerIPs]) {
    for (const ip of ips) {
      const key = ip + portKey
      if (usesExternal) {
        elements.push({ set: SERVICE_IPS, key, value: `goto ${p.externalLocal ? EXTERNAL_LOCAL_CHAIN : EXTERNAL_CHAIN}` })
        elements.push({ set: EXTERNAL_IPS, key, value: target(clusterEps, false, 'service', endpointKey(ip)) })
        if (withLocal) elements.push({ set: EXTERNAL_LOCAL_IPS, key, value: target(localEps, true, 'service-local', endpointKey(ip)) })
      }
      if (externalVerdict !== undefined) elements.push({ set: NO_ENDPOINT_SERVICES, key, value: verdictOf(externalVerdict) })
    }
  }
  const firewallSources = loadBalancerSources(p, state.nodeIPs, state.family)
  if (firewallSources !== undefined) {
    const firewallChain = named('firewall')
    for (const ip of p.loadBalancerIPs) elements.push({ set: FIREWALL_IPS, key: ip + portKey, value: `goto ${firewallChain}` })
    // No sources (ranges were given, none of this family): nobody is let in, rather than everybody.
    chains.set(firewallChain, [firewallSources.length ? `${w.ip} saddr != { ${firewallSources.join(', ')} } drop` : 'drop'])
  }
  if (p.nodePort > 0) {
    const key = `${proto} . ${p.nodePort}`
    if (usesExternal) {
      elements.push({ set: SERVICE_NODEPORTS, key, value: `goto ${p.externalLocal ? NODEPORT_EXTERNAL_LOCAL_CHAIN : NODEPORT_EXTERNAL_CHAIN}` })
      elements.push({ set: EXTERNAL_NODEPORTS, key, value: target(clusterEps, false, 'nodeport', String(p.nodePort)) })
      if (withLocal) elements.push({ set: EXTERNAL_LOCAL_NODEPORTS, key, value: target(localEps, true, 'nodeport-local', String(p.nodePort)) })
    }
    if (externalVerdict !== undefined) elements.push({ set: NO_ENDPOINT_NODEPORTS, key, value: verdictOf(externalVerdict) })
  }

  return { chains, sets, shared, elements, endpointIPs }
}
