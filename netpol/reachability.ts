// What the compiled state lets through, evaluated the way the nftables rules will: the oracle
// for unit-test matrices and for the kernel e2e test's expected matrix.
import { cidrContains, parseCidr } from '../src/util/cidr.ts'
import type { AllowEntry, CompiledNode, Isolation, L4Protocol, LocalPod, PeerSet } from './model.ts'
import { canonicalIP } from './parse.ts'

function inSet(set: PeerSet, ip: string, family: 4 | 6, protocol: L4Protocol, port: number): boolean {
  if (set.kind === 'addressPorts') return (family === 4 ? set.v4 : set.v6).some((e) => e.ip === ip && e.protocol === protocol && e.port === port)
  return (family === 4 ? set.v4 : set.v6).some((e) => (e.includes('/') ? cidrContains(parseCidr(e), ip) : e === ip))
}

/** Whether `entry` allows traffic with `peer` (the other end) on `protocol`/`port` (the destination port). */
export function entryAllows(entry: AllowEntry, sets: ReadonlyMap<string, PeerSet>, peer: string, protocol: L4Protocol, port: number): boolean {
  const c = canonicalIP(peer)
  if (!c) return false
  if (entry.ports !== 'any' && !entry.ports.some((p) => p.protocol === protocol && p.from <= port && port <= p.to)) return false
  if (entry.peers === 'any') return true
  const set = sets.get(entry.peers)
  return set !== undefined && inSet(set, c.ip, c.family, protocol, port)
}

function isolationAllows(iso: Isolation, sets: ReadonlyMap<string, PeerSet>, peer: string, protocol: L4Protocol, port: number): boolean {
  return !iso.isolated || iso.allow.some((e) => entryAllows(e, sets, peer, protocol, port))
}

function isOwnNode(node: CompiledNode, ip: string): boolean {
  const c = canonicalIP(ip)
  return c !== undefined && (c.family === 4 ? node.nodeIPs.v4 : node.nodeIPs.v6).includes(c.ip)
}

function findPod(nodes: Iterable<CompiledNode>, ip: string): { node: CompiledNode; pod: LocalPod } | undefined {
  const c = canonicalIP(ip)
  if (!c) return undefined
  for (const node of nodes) {
    for (const pod of node.pods.values()) if ((c.family === 4 ? pod.ips.v4 : pod.ips.v6).includes(c.ip)) return { node, pod }
  }
  return undefined
}

/**
 * Whether a connection from `src` to `dst` on `protocol`/`port` is allowed: the source pod's
 * egress (on the node that has it) and the destination pod's ingress must both allow it. An
 * address no node enforces for (outside the cluster, a hostNetwork pod) is not restricted on
 * its side; a pod may always reach itself, and talk with the node it runs on.
 */
export function allowed(nodes: Iterable<CompiledNode>, src: string, dst: string, protocol: L4Protocol, port: number): boolean {
  const list = [...nodes]
  const from = findPod(list, src)
  // A pod talking to itself never leaves its network namespace (upstream's e2e allows loopback).
  if (from && from.pod === findPod(list, dst)?.pod) return true
  if (from && !isOwnNode(from.node, dst) && !isolationAllows(from.pod.egress, from.node.sets, dst, protocol, port)) return false
  const to = findPod(list, dst)
  if (to && !isOwnNode(to.node, src) && !isolationAllows(to.pod.ingress, to.node.sets, src, protocol, port)) return false
  return true
}
