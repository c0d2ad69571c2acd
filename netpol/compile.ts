// The pure NetworkPolicy compiler: (policies, pods, namespaces, node) → what this node enforces
// for its own pods. Peers become named sets shared by every entry that means the same peers, so
// pods coming and going change set elements and leave the pods' entries as they were.
//
// Where upstream leaves the choice to the implementation, weft follows kube-network-policies
// (kubernetes-sigs, pkg/networkpolicy):
// - ipBlock matches by address, pod addresses included: an ipBlock covering a pod's IP admits it.
// - A named port in an ingress rule resolves against the protected (local) pod's containers by
//   name and protocol; in an egress rule, against each destination pod's containers (so the
//   allowed (address, port) pairs are per peer pod: an `addressPorts` set). With an ipBlock peer
//   it resolves against the pods whose addresses the block holds (kube-network-policies looks the
//   destination pod up by address before it checks ports), so an address outside every pod
//   matches no named port; with `to` absent, against every pod of the cluster.
// - hostNetwork pods are neither protected nor selector peers: their traffic carries the node's
//   address, which only an ipBlock can name. Terminal pods and pods without an IP are neither.
// - A namespace the caller did not list has no labels (only `namespaceSelector: {}` matches it).
// Malformed input fails closed and alone: a bad rule (peer, CIDR, port, protocol) is left out
// with a problem while its policy still isolates the pods it selects; a policy whose podSelector
// is unusable selects no pods (whom it would isolate cannot be known) and is reported.
import { matchesLabels } from '../src/api/selectors.ts'
import { bigIntToIp, cidrContains, type Cidr } from '../src/util/cidr.ts'
import type { AddressPort, AllowEntry, CompiledNode, Isolation, L4Protocol, LocalPod, PeerSet, PolicyProblem, PortMatch } from './model.ts'
import { setName, type SetKind } from './names.ts'
import { canonicalIP, namespaceLabels, parsePod, parsePolicy, type PeerSpec, type PodInfo, type PolicySpec, type PortSpec, type RuleSpec } from './parse.ts'

export interface CompileInput {
  /** NetworkPolicy objects of every namespace, as read from the API (not trusted). */
  policies: readonly unknown[]
  /** Pods of every node. */
  pods: readonly unknown[]
  namespaces: readonly unknown[]
  /** This node's name: its pods (spec.nodeName) are the ones it enforces for. */
  node: string
  /** This node's own addresses (invalid ones are dropped). */
  nodeIPs?: readonly string[]
}

/** Everything parsed once; compile each node from it (the shell keeps one per sync). */
export interface ClusterView {
  policies: PolicySpec[]
  pods: PodInfo[]
  namespaces: Map<string, Record<string, string>>
  problems: PolicyProblem[]
}

/**
 * What clusterView parsed, by input object: a caller that hands in the same objects sync after
 * sync (an informer's cache, whose objects are replaced, never changed in place) parses only
 * the ones that changed. Objects must not be mutated once parsed with a cache.
 */
export interface ParseCache {
  policies: WeakMap<object, { spec: PolicySpec | undefined; problems: PolicyProblem[] }>
  pods: WeakMap<object, PodInfo | undefined>
}

export function newParseCache(): ParseCache {
  return { policies: new WeakMap(), pods: new WeakMap() }
}

const isObj = (x: unknown): x is object => typeof x === 'object' && x !== null

export function clusterView(input: Omit<CompileInput, 'node'>, cache?: ParseCache): ClusterView {
  const problems: PolicyProblem[] = []
  const policies: PolicySpec[] = []
  for (const p of input.policies) {
    let hit = cache && isObj(p) ? cache.policies.get(p) : undefined
    if (!hit) {
      const own: PolicyProblem[] = []
      hit = { spec: parsePolicy(p, own), problems: own }
      if (cache && isObj(p)) cache.policies.set(p, hit)
    }
    problems.push(...hit.problems)
    if (hit.spec) policies.push(hit.spec)
  }
  policies.sort((a, b) => cmp(a.key, b.key))
  const pods: PodInfo[] = []
  for (const p of input.pods) {
    let parsed: PodInfo | undefined
    if (cache && isObj(p) && cache.pods.has(p)) parsed = cache.pods.get(p)
    else {
      parsed = parsePod(p)
      if (cache && isObj(p)) cache.pods.set(p, parsed)
    }
    if (parsed) pods.push(parsed)
  }
  pods.sort((a, b) => cmp(a.uid, b.uid))
  return { policies, pods, namespaces: namespaceLabels(input.namespaces), problems }
}

export function compile(input: CompileInput): CompiledNode {
  return compileNode(clusterView(input), input.node, input.nodeIPs)
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

const protoOrder: Record<L4Protocol, number> = { TCP: 0, UDP: 1, SCTP: 2 }

/** The prefixes that cover `block` minus `holes` (sorted, disjoint). */
export function cutHoles(block: Cidr, holes: readonly Cidr[]): string[] {
  const width = block.family === 4 ? 32 : 128
  const out: string[] = []
  const visit = (base: bigint, prefix: number): void => {
    const size = 1n << BigInt(width - prefix)
    let partial = false
    for (const h of holes) {
      const hEnd = h.base + h.size
      if (h.base <= base && base + size <= hEnd) return // wholly cut out
      if (h.base < base + size && base < hEnd) partial = true
    }
    if (!partial) {
      out.push(`${bigIntToIp(base, block.family)}/${prefix}`)
      return
    }
    visit(base, prefix + 1)
    visit(base + (size >> 1n), prefix + 1)
  }
  visit(block.base, block.prefix)
  return out
}

/** How to build the set of a name again: the peer (and named ports) it was first built for. */
type SetMaker = { kind: 'addresses'; peer: PeerSpec } | { kind: 'addressPorts'; peer: PeerSpec | 'any'; named: readonly (PortSpec & { kind: 'named' })[] }

/**
 * What one node's compiles reuse from the last one (compileNode's `cache`; the enforcer keeps
 * one next to its ParseCache). Everything is keyed by the parsed objects themselves, so it only
 * pays off together with a ParseCache, and it never changes a result:
 * - a local pod's entries, when its PodInfo and the policies of its namespace are the very same
 *   objects as last time (its entries depend on nothing else);
 * - a peer set's contents, when the pods it is made of are the very same PodInfo objects
 *   (an ipBlock set depends on its descriptor alone).
 * What is reused keeps its identity, so the diff passes over it at once.
 */
export interface CompileCache {
  node?: string
  pods: WeakMap<PodInfo, { policies: PolicySpec[]; pod: LocalPod }>
  sets: Map<string, { pods?: PodInfo[]; set: PeerSet }>
  makers: Map<string, SetMaker>
}

export function newCompileCache(): CompileCache {
  return { pods: new WeakMap(), sets: new Map(), makers: new Map() }
}

const samePods = (a: readonly PodInfo[] | undefined, b: readonly PodInfo[]) => a !== undefined && a.length === b.length && a.every((p, i) => p === b[i])

class Builder {
  readonly sets = new Map<string, PeerSet>()
  private readonly view: ClusterView
  private readonly peerPods = new Map<string, PodInfo[]>()
  /** Usable pods by namespace, in uid order. */
  private readonly usableByNamespace = new Map<string, PodInfo[]>()
  /** Set names by kind and descriptor (each a hash: worked out once per compile). */
  private readonly names = new Map<string, string>()
  /** The entries of rules whose entries do not depend on the pod they protect. */
  readonly ruleEntries = new Map<RuleSpec, AllowEntry[]>()

  private readonly cache: CompileCache | undefined

  constructor(view: ClusterView, cache?: CompileCache) {
    this.view = view
    this.cache = cache
    for (const p of view.pods) {
      if (!p.usable) continue
      const list = this.usableByNamespace.get(p.namespace)
      if (list) list.push(p)
      else this.usableByNamespace.set(p.namespace, [p])
    }
  }

  name(kind: SetKind, descriptor: string): string {
    const k = `${kind}\n${descriptor}`
    let name = this.names.get(k)
    if (name === undefined) this.names.set(k, (name = setName(kind, descriptor)))
    return name
  }

  /** The usable pods a selector peer stands for, anywhere in the cluster (in uid order). */
  podsOf(peer: PeerSpec & { kind: 'pods' }): PodInfo[] {
    let pods = this.peerPods.get(peer.descriptor)
    if (pods) return pods
    const ns = peer.namespaces
    if ('own' in ns) pods = (this.usableByNamespace.get(ns.own) ?? []).filter((p) => matchesLabels(peer.pods, p.labels))
    else {
      pods = []
      for (const [name, list] of this.usableByNamespace) {
        if (!matchesLabels(ns.selector, this.view.namespaces.get(name) ?? {})) continue
        for (const p of list) if (matchesLabels(peer.pods, p.labels)) pods.push(p)
      }
      pods.sort((a, b) => cmp(a.uid, b.uid))
    }
    this.peerPods.set(peer.descriptor, pods)
    return pods
  }

  /** The set of a peer's addresses. */
  addresses(peer: PeerSpec): string {
    if (peer.kind === 'ipBlock') {
      const name = this.name('cidrs', peer.descriptor)
      if (!this.sets.has(name)) {
        this.cache?.makers.set(name, { kind: 'addresses', peer })
        const cached = this.cache?.sets.get(name)
        if (cached) this.sets.set(name, cached.set)
        else {
          const prefixes = cutHoles(peer.cidr, peer.except)
          this.keep(name, undefined, { name, kind: 'addresses', describe: peer.descriptor, intervals: true, v4: peer.cidr.family === 4 ? prefixes : [], v6: peer.cidr.family === 6 ? prefixes : [] })
        }
      }
      return name
    }
    const name = this.name('pods', peer.descriptor)
    if (!this.sets.has(name)) {
      this.cache?.makers.set(name, { kind: 'addresses', peer })
      const pods = this.podsOf(peer)
      const cached = this.cache?.sets.get(name)
      if (cached && samePods(cached.pods, pods)) this.sets.set(name, cached.set)
      else {
        const v4 = new Set<string>()
        const v6 = new Set<string>()
        for (const p of pods) {
          for (const ip of p.ips.v4) v4.add(ip)
          for (const ip of p.ips.v6) v6.add(ip)
        }
        this.keep(name, pods, { name, kind: 'addresses', describe: peer.descriptor, intervals: false, v4: [...v4].sort(), v6: [...v6].sort() })
      }
    }
    return name
  }

  /** Adds a freshly built set, and remembers it for the next compile. */
  private keep(name: string, pods: PodInfo[] | undefined, set: PeerSet): void {
    this.sets.set(name, set)
    this.cache?.sets.set(name, { pods, set })
  }

  /** Builds (or takes from the cache) the set `name` that an entry taken from the cache refers to. */
  ensure(name: string): void {
    if (this.sets.has(name)) return
    const maker = this.cache?.makers.get(name)
    if (!maker) throw new Error(`compile cache: no way to build set ${name}`)
    if (maker.kind === 'addresses') this.addresses(maker.peer)
    else this.addressPorts(maker.peer, maker.named)
  }

  /** Forgets the cached sets no entry of this compile referred to. */
  sweep(): void {
    if (!this.cache) return
    for (const name of this.cache.sets.keys()) if (!this.sets.has(name)) this.cache.sets.delete(name)
    for (const name of this.cache.makers.keys()) if (!this.sets.has(name)) this.cache.makers.delete(name)
  }

  /** The set of (address, protocol, port) of the peer pods that define the named ports. */
  addressPorts(peer: PeerSpec | 'any', named: readonly (PortSpec & { kind: 'named' })[]): string {
    const wanted = [...new Set(named.map((n) => `${n.protocol}/${n.name}`))].sort()
    const descriptor = `${peer === 'any' ? 'any pod' : peer.descriptor} ports=${wanted.join(',')}`
    const name = this.name('ports', descriptor)
    if (this.sets.has(name)) return name
    this.cache?.makers.set(name, { kind: 'addressPorts', peer, named })
    const pods = peer === 'any' || peer.kind === 'ipBlock' ? this.view.pods.filter((p) => p.usable) : this.podsOf(peer)
    const cached = this.cache?.sets.get(name)
    if (cached && samePods(cached.pods, pods)) {
      this.sets.set(name, cached.set)
      return name
    }
    // An ipBlock names pods by address: only their addresses inside it (and outside its holes) count.
    const inBlock = (ip: string) => peer === 'any' || peer.kind === 'pods' || (cidrContains(peer.cidr, ip) && !peer.except.some((h) => cidrContains(h, ip)))
    const seen = new Set<string>()
    const v4: AddressPort[] = []
    const v6: AddressPort[] = []
    for (const p of pods) {
      for (const cp of p.ports) {
        if (!wanted.includes(`${cp.protocol}/${cp.name}`)) continue
        for (const [ips, into] of [[p.ips.v4, v4], [p.ips.v6, v6]] as const) {
          for (const ip of ips) {
            if (!inBlock(ip)) continue
            const k = `${ip} ${cp.protocol} ${cp.port}`
            if (seen.has(k)) continue
            seen.add(k)
            into.push({ ip, protocol: cp.protocol, port: cp.port })
          }
        }
      }
    }
    const order = (a: AddressPort, b: AddressPort) => cmp(a.ip, b.ip) || protoOrder[a.protocol] - protoOrder[b.protocol] || a.port - b.port
    this.keep(name, pods, { name, kind: 'addressPorts', describe: descriptor, v4: v4.sort(order), v6: v6.sort(order) })
    return name
  }
}

function ranges(ports: readonly PortSpec[]): PortMatch[] {
  return ports.filter((p) => p.kind === 'range').map((p) => ({ protocol: p.protocol, from: p.from, to: p.to }))
}

/** Ingress: named ports resolve against the pod being protected. Empty: the rule's ports match nothing here. */
function resolveLocal(ports: readonly PortSpec[], pod: PodInfo): PortMatch[] {
  const out: PortMatch[] = []
  for (const p of ports) {
    if (p.kind === 'range') out.push({ protocol: p.protocol, from: p.from, to: p.to })
    else for (const cp of pod.ports) if (cp.name === p.name && cp.protocol === p.protocol) out.push({ protocol: p.protocol, from: cp.port, to: cp.port })
  }
  return out
}

function ingressEntries(b: Builder, policy: string, rule: RuleSpec, pod: PodInfo): AllowEntry[] {
  // Without named ports the entries are the same for every pod the rule protects.
  const shared = rule.ports === 'any' || rule.ports.every((p) => p.kind === 'range')
  if (shared) {
    const cached = b.ruleEntries.get(rule)
    if (cached) return cached
  }
  let ports: 'any' | PortMatch[] = 'any'
  if (rule.ports !== 'any') {
    ports = resolveLocal(rule.ports, pod)
    if (!ports.length) return []
  }
  const out: AllowEntry[] = rule.peers === 'any' ? [{ policy, peers: 'any', ports }] : rule.peers.map((peer) => ({ policy, peers: b.addresses(peer), ports }))
  if (shared) b.ruleEntries.set(rule, out)
  return out
}

/** Egress entries never depend on the pod they are for (named ports resolve against the peers). */
function egressEntries(b: Builder, policy: string, rule: RuleSpec): AllowEntry[] {
  const cached = b.ruleEntries.get(rule)
  if (cached) return cached
  const out = egressEntriesOf(b, policy, rule)
  b.ruleEntries.set(rule, out)
  return out
}

function egressEntriesOf(b: Builder, policy: string, rule: RuleSpec): AllowEntry[] {
  const numeric: 'any' | PortMatch[] = rule.ports === 'any' ? 'any' : ranges(rule.ports)
  const named = rule.ports === 'any' ? [] : rule.ports.filter((p): p is PortSpec & { kind: 'named' } => p.kind === 'named')
  const out: AllowEntry[] = []
  const peers: ('any' | PeerSpec)[] = rule.peers === 'any' ? ['any'] : rule.peers
  for (const peer of peers) {
    if (numeric === 'any' || numeric.length) out.push({ policy, peers: peer === 'any' ? 'any' : b.addresses(peer), ports: numeric })
    // A named port resolves against the destination pod: for an ipBlock, the pods whose addresses it holds.
    if (named.length) out.push({ policy, peers: b.addressPorts(peer, named), ports: 'any' })
  }
  return out
}

const entryKeys = new WeakMap<AllowEntry, string>()

function entryKey(e: AllowEntry): string {
  let k = entryKeys.get(e)
  if (k === undefined) entryKeys.set(e, (k = JSON.stringify(e)))
  return k
}

function dedupe(entries: AllowEntry[]): AllowEntry[] {
  const seen = new Set<string>()
  return entries.filter((e) => {
    const k = entryKey(e)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

/**
 * What `node` enforces for its pods, from a parsed cluster. `cache` (newCompileCache, one per
 * node) lets a compile reuse what has not changed since the last one; the result is the same.
 */
export function compileNode(view: ClusterView, node: string, nodeIPs: readonly string[] = [], cache?: CompileCache): CompiledNode {
  if (cache && cache.node !== node) {
    Object.assign(cache, newCompileCache())
    cache.node = node
  }
  const b = new Builder(view, cache)
  const pods = new Map<string, LocalPod>()
  const policiesByNamespace = new Map<string, PolicySpec[]>()
  for (const p of view.policies) {
    const list = policiesByNamespace.get(p.namespace)
    if (list) list.push(p)
    else policiesByNamespace.set(p.namespace, [p])
  }
  for (const pod of view.pods) {
    if (!pod.usable || pod.node !== node) continue
    const nsPolicies = policiesByNamespace.get(pod.namespace) ?? []
    const hit = cache?.pods.get(pod)
    if (hit && hit.policies.length === nsPolicies.length && hit.policies.every((p, i) => p === nsPolicies[i])) {
      for (const iso of [hit.pod.ingress, hit.pod.egress]) if (iso.isolated) for (const e of iso.allow) if (e.peers !== 'any') b.ensure(e.peers)
      pods.set(pod.uid, hit.pod)
      continue
    }
    const selecting = nsPolicies.filter((p) => matchesLabels(p.podSelector, pod.labels))
    let ingress: Isolation = { isolated: false }
    let egress: Isolation = { isolated: false }
    const inPolicies = selecting.filter((p) => p.ingress)
    if (inPolicies.length) ingress = { isolated: true, allow: dedupe(inPolicies.flatMap((p) => p.ingress!.flatMap((r) => ingressEntries(b, p.key, r, pod)))) }
    const outPolicies = selecting.filter((p) => p.egress)
    if (outPolicies.length) egress = { isolated: true, allow: dedupe(outPolicies.flatMap((p) => p.egress!.flatMap((r) => egressEntries(b, p.key, r)))) }
    const local: LocalPod = { uid: pod.uid, key: `${pod.namespace}/${pod.name}`, ips: pod.ips, ingress, egress }
    cache?.pods.set(pod, { policies: nsPolicies, pod: local })
    pods.set(pod.uid, local)
  }
  b.sweep()
  const sets = new Map([...b.sets.entries()].sort((x, y) => cmp(x[0], y[0])))
  const v4 = new Set<string>()
  const v6 = new Set<string>()
  for (const raw of nodeIPs) {
    const c = canonicalIP(raw)
    if (c) (c.family === 4 ? v4 : v6).add(c.ip)
  }
  return { node, nodeIPs: { v4: [...v4].sort(), v6: [...v6].sort() }, pods, sets, problems: view.problems }
}
