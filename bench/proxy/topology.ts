// The namespaces of the data-path bench: one backend "pod" namespace shared by every path,
// and per path two client namespaces routed through their own "node" namespace (ip_forward
// on, where the proxy lives) to the pod, the way pod-to-Service traffic goes through a node.
//
//   direct client (10.64.2k.2)    ── veth ── node k ── veth ── (10.65.k.2) pod
//   clusterIP client (10.64.2k+1.2) ── veth ──┘   (10.65.k.1)      POD_IP on lo
//
// Direct and ClusterIP load come from different client addresses: TCP timestamps are offset
// per (source, destination) address pair, so a connection to the ClusterIP that reuses the
// source port of a recent direct one would carry timestamps older than the pod's TIME_WAIT
// socket for that port remembers, be dropped by PAWS, and wait a second for a SYN retransmit.
//
// Every namespace is registered with the Cleanup as soon as it exists; nothing is added
// to the root namespace (each veth is created from inside its node namespace).
import { addNetns, deleteNetns, ipBatch, setSysctl } from '../../src/netlink/index.ts'
import type { Cleanup } from '../lib/cleanup.ts'

export const POD_IP = '10.66.0.2'

export interface Path {
  index: number
  node: string
  /** The client namespace of each target. */
  clients: { direct: string; clusterIP: string }
  /** The node's addresses (its ends of the links). */
  nodeIPs: string[]
}

export async function netns(cleanup: Cleanup, name: string): Promise<string> {
  await addNetns(name)
  cleanup.add(() => deleteNetns(name))
  return name
}

/** A namespace for a while: the returned function removes it now (it is removed at cleanup otherwise). */
export async function scratchNetns(cleanup: Cleanup, name: string): Promise<() => Promise<void>> {
  await addNetns(name)
  return cleanup.add(() => deleteNetns(name))
}

export async function podNamespace(cleanup: Cleanup, name: string): Promise<string> {
  const pod = await netns(cleanup, name)
  await ipBatch([`addr add ${POD_IP}/32 dev lo`], pod)
  return pod
}

/** Path `index` (1..100): its node and client namespaces, linked to `pod`. */
export async function addPath(cleanup: Cleanup, pod: string, prefix: string, index: number): Promise<Path> {
  const node = await netns(cleanup, `${prefix}-n${index}`)
  const direct = await netns(cleanup, `${prefix}-c${index}d`)
  const clusterIP = await netns(cleanup, `${prefix}-c${index}s`)
  const podLink = `n${index}`
  const nodeLines: string[] = []
  const nodeIPs: string[] = []
  for (const [i, client] of [direct, clusterIP].entries()) {
    const subnet = `10.64.${2 * index + i}`
    nodeLines.push(`link add to-client${i} type veth peer name eth0 netns ${client}`, `addr add ${subnet}.1/24 dev to-client${i}`, `link set to-client${i} up`)
    nodeIPs.push(`${subnet}.1`)
  }
  await ipBatch(
    [
      ...nodeLines,
      `link add to-pod type veth peer name ${podLink} netns ${pod}`,
      `addr add 10.65.${index}.1/24 dev to-pod`,
      'link set to-pod up',
      `route add ${POD_IP}/32 via 10.65.${index}.2`,
    ],
    node,
  )
  for (const [i, client] of [direct, clusterIP].entries()) {
    const subnet = `10.64.${2 * index + i}`
    await ipBatch([`addr add ${subnet}.2/24 dev eth0`, 'link set eth0 up', `route add default via ${subnet}.1`], client)
  }
  await ipBatch(
    [`addr add 10.65.${index}.2/24 dev ${podLink}`, `link set ${podLink} up`, `route add 10.64.${2 * index}.0/23 via 10.65.${index}.1`],
    pod,
  )
  await setSysctl('net.ipv4.ip_forward', '1', node)
  nodeIPs.push(`10.65.${index}.1`)
  return { index, node, clients: { direct, clusterIP }, nodeIPs }
}
