// The desired nftables state, as plain data: the rules every table has (baseRules) and
// the chains, affinity sets and map elements of one Service port (serviceRules). Pure; the
// diff turns two of these into a Transaction. Modelled on kube-proxy's nftables mode.
import { checkNftName, checkNftText, NftTokenError } from '../../src/netfilter/tokens.ts'
import { joinHostPort } from '../../src/util/host-port.ts'
import { parseCIDR, parseIP } from '../../src/util/ip-parse.ts'
import { loadBalancerSources } from '../source-ranges.ts'
import { hasExternal, noEndpointVerdict, usableEndpoints, type Endpoint, type Family, type ProxyState, type ServiceEntry } from '../model.ts'
import {
  CLUSTER_IPS,
  CLUSTER_IPS_CHECK_CHAIN,
  endpointBase,
  familyWords,
  FIREWALL_CHECK_CHAIN,
  FIREWALL_IPS,
  MARK_MASQ_CHAIN,
  MASQUERADING_CHAIN,
  NO_ENDPOINT_NODEPORTS,
  NO_ENDPOINT_SERVICES,
  NODEPORT_ENDPOINTS_CHECK_CHAIN,
  REJECT_CHAIN,
  SERVICE_ENDPOINTS_CHECK_CHAIN,
  SERVICE_IPS,
  SERVICE_NODEPORTS,
  servicePortBase,
  SERVICES_CHAIN,
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
  /** The port's regular chains, name → rules in order. */
  chains: Map<string, string[]>
  /** ClientIP-affinity sets, name → spec. */
  sets: Map<string, string>
  /** Its elements of the shared maps and sets. */
  elements: NftElement[]
  /** The endpoint IPs that traffic may be DNATed to (for conntrack cleanup). */
  endpointIPs: string[]
}

const MASQ_BIT = '0x4000'

/**
 * Above this many endpoints a port picks one with kube-proxy's `numgen … vmap { … }`; up to
 * it, with a rule per endpoint as iptables mode does. Each anonymous map costs the kernel a
 * walk of the whole transaction when it is bound (`__nft_set_trans_bind`), which made a
 * 10,000-Service full sync take minutes with a vmap in every Service.
 */
export const VMAP_MIN = 8

function baseChain(name: string, type: 'filter' | 'nat', hook: string, priority: number, rules: string[]): BaseChain {
  return { name, spec: `type ${type} hook ${hook} priority ${priority}; policy accept;`, rules }
}

export function baseRules(state: ProxyState): BaseRules {
  const w = familyWords(state.family)
  const tuple = `${w.addrType} . inet_proto . inet_service : verdict;`
  const portTuple = 'inet_proto . inet_service : verdict;'
  const isNew = 'ct state new'
  const clusterIPsCheck = [`${w.ip} daddr @${CLUSTER_IPS} reject`]
  if (state.serviceCIDRs.length) clusterIPsCheck.push(`${w.ip} daddr { ${state.serviceCIDRs.join(', ')} } drop`)
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
          `${w.ip} daddr . meta l4proto . th dport vmap @${SERVICE_IPS}`,
          `fib daddr type local ${w.ip} daddr != ${w.loopback} meta l4proto . th dport vmap @${SERVICE_NODEPORTS}`,
        ],
      ],
      [MASQUERADING_CHAIN, [`meta mark & ${MASQ_BIT} == 0 return`, `meta mark set meta mark ^ ${MASQ_BIT}`, 'masquerade fully-random']],
      [MARK_MASQ_CHAIN, [`meta mark set meta mark | ${MASQ_BIT}`]],
      [REJECT_CHAIN, ['reject']],
      [FIREWALL_CHECK_CHAIN, [`${w.ip} daddr . meta l4proto . th dport vmap @${FIREWALL_IPS}`]],
      [SERVICE_ENDPOINTS_CHECK_CHAIN, [`${w.ip} daddr . meta l4proto . th dport vmap @${NO_ENDPOINT_SERVICES}`]],
      [NODEPORT_ENDPOINTS_CHECK_CHAIN, [`fib daddr type local ${w.ip} daddr != ${w.loopback} meta l4proto . th dport vmap @${NO_ENDPOINT_NODEPORTS}`]],
      [CLUSTER_IPS_CHECK_CHAIN, clusterIPsCheck],
    ]),
    sets: new Map<string, SetSpec>([
      [SERVICE_IPS, { kind: 'map', spec: `type ${tuple}` }],
      [SERVICE_NODEPORTS, { kind: 'map', spec: `type ${portTuple}` }],
      [NO_ENDPOINT_SERVICES, { kind: 'map', spec: `type ${tuple}` }],
      [NO_ENDPOINT_NODEPORTS, { kind: 'map', spec: `type ${portTuple}` }],
      [FIREWALL_IPS, { kind: 'map', spec: `type ${tuple}` }],
      [CLUSTER_IPS, { kind: 'set', spec: `type ${w.addrType};` }],
    ]),
  }
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
  for (const [name, chainRules] of rules.chains) {
    checkNftName('chain name', name)
    for (const rule of chainRules) checkNftText('rule', rule)
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
  const base = servicePortBase(p)
  const external = hasExternal(p)
  const chains = new Map<string, string[]>()
  const sets = new Map<string, string>()
  const elements: NftElement[] = []
  const endpointIPs: string[] = []

  const clusterEps = clusterEndpoints(entry)
  const usesLocal = p.internalLocal || (p.externalLocal && external)
  const localEps = !usesLocal ? [] : p.internalLocal ? usableEndpoints(entry, 'internal') : usableEndpoints(entry, 'external')
  const hasEndpoints = clusterEps.length > 0
  const clusterChain = `service-${base}`
  const localChain = `local-${base}`
  const externalChain = `external-${base}`
  const usesClusterChain = hasEndpoints && (!p.internalLocal || external)
  const usesLocalChain = localEps.length > 0
  const internalChain = p.internalLocal ? localChain : clusterChain
  const internalVerdict = noEndpointVerdict(entry, 'internal')
  const externalVerdict = external ? noEndpointVerdict(entry, 'external') : undefined
  const usesExternalChain = hasEndpoints && external

  // Shared map and set elements.
  const portKey = ` . ${proto} . ${p.port}`
  elements.push({ set: CLUSTER_IPS, key: p.clusterIP, value: '' })
  if (internalVerdict === undefined) elements.push({ set: SERVICE_IPS, key: p.clusterIP + portKey, value: `goto ${internalChain}` })
  else elements.push({ set: NO_ENDPOINT_SERVICES, key: p.clusterIP + portKey, value: verdictOf(internalVerdict) })
  const firewallSources = loadBalancerSources(p, state.nodeIPs, state.family)
  const usesFirewall = firewallSources !== undefined
  const firewallChain = `firewall-${base}`
  for (const ips of [p.externalIPs, p.loadBalancerIPs]) {
    for (const ip of ips) {
      if (usesExternalChain) elements.push({ set: SERVICE_IPS, key: ip + portKey, value: `goto ${externalChain}` })
      if (externalVerdict !== undefined) elements.push({ set: NO_ENDPOINT_SERVICES, key: ip + portKey, value: verdictOf(externalVerdict) })
    }
  }
  if (usesFirewall) for (const ip of p.loadBalancerIPs) elements.push({ set: FIREWALL_IPS, key: ip + portKey, value: `goto ${firewallChain}` })
  if (p.nodePort > 0) {
    const key = `${proto} . ${p.nodePort}`
    if (usesExternalChain) elements.push({ set: SERVICE_NODEPORTS, key, value: `goto ${externalChain}` })
    if (externalVerdict !== undefined) elements.push({ set: NO_ENDPOINT_NODEPORTS, key, value: verdictOf(externalVerdict) })
  }

  // Endpoint chains: those of the cluster chain, then the local ones it does not have.
  const affinity = p.affinitySeconds > 0
  const epChains = new Map<Endpoint, string>()
  const addEndpoint = (ep: Endpoint): void => {
    if (epChains.has(ep)) return
    const epBase = endpointBase(p, ep)
    const name = `endpoint-${epBase}`
    epChains.set(ep, name)
    const rules = [`${w.ip} saddr ${ep.ip} jump ${MARK_MASQ_CHAIN}`]
    if (affinity) {
      const set = `affinity-${epBase}`
      sets.set(set, `type ${w.addrType}; flags dynamic,timeout; timeout ${p.affinitySeconds}s;`)
      rules.push(`update @${set} { ${w.ip} saddr }`)
    }
    rules.push(`meta l4proto ${proto} dnat to ${joinHostPort(ep.ip, ep.port)}`)
    chains.set(name, rules)
    if (!endpointIPs.includes(ep.ip)) endpointIPs.push(ep.ip)
  }
  if (usesClusterChain) for (const ep of clusterEps) addEndpoint(ep)
  if (usesLocalChain) for (const ep of localEps) addEndpoint(ep)

  const policyRules = (eps: Endpoint[], chain: string): string[] => {
    const rules: string[] = []
    if (chain === internalChain && internalVerdict === undefined && state.clusterCIDRs.length) {
      rules.push(`${w.ip} daddr ${p.clusterIP} ${proto} dport ${p.port} ${w.ip} saddr != { ${state.clusterCIDRs.join(', ')} } jump ${MARK_MASQ_CHAIN}`)
    }
    if (affinity) for (const ep of eps) rules.push(`${w.ip} saddr @affinity-${epChains.get(ep)!.slice('endpoint-'.length)} goto ${epChains.get(ep)!}`)
    if (eps.length > VMAP_MIN) {
      let vmap = ''
      for (let i = 0; i < eps.length; i++) vmap += `${i ? ', ' : ''}${i} : goto ${epChains.get(eps[i]!)!}`
      rules.push(`numgen random mod ${eps.length} vmap { ${vmap} }`)
      return rules
    }
    // Endpoint i of n is taken with probability 1/(n-i) when none before it was: 1/n each.
    for (let i = 0; i < eps.length - 1; i++) rules.push(`numgen random mod ${eps.length - i} 0 goto ${epChains.get(eps[i]!)!}`)
    rules.push(`goto ${epChains.get(eps[eps.length - 1]!)!}`)
    return rules
  }
  if (usesClusterChain) chains.set(clusterChain, policyRules(clusterEps, clusterChain))
  if (usesLocalChain) chains.set(localChain, policyRules(localEps, localChain))

  if (usesExternalChain) {
    const rules: string[] = []
    if (!p.externalLocal) {
      rules.push(`jump ${MARK_MASQ_CHAIN}`, `goto ${clusterChain}`)
    } else {
      // Pods and the node itself reach the Service as if through an outside load balancer:
      // any endpoint will do; the node's own traffic needs masquerading (its source is local).
      if (state.clusterCIDRs.length) rules.push(`${w.ip} saddr { ${state.clusterCIDRs.join(', ')} } goto ${clusterChain}`)
      rules.push(`fib saddr type local jump ${MARK_MASQ_CHAIN}`, `fib saddr type local goto ${clusterChain}`)
      if (usesLocalChain) rules.push(`goto ${localChain}`)
    }
    chains.set(externalChain, rules)
  }

  if (firewallSources !== undefined) {
    // No sources (ranges were given, none of this family): nobody is let in, rather than everybody.
    chains.set(firewallChain, [firewallSources.length ? `${w.ip} saddr != { ${firewallSources.join(', ')} } drop` : 'drop'])
  }

  return { chains, sets, elements, endpointIPs }
}

