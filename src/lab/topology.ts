// The lab's names and addresses: pure functions of the data dir and the node count.
// Everything lives in network namespaces named `wl-<id>…`, where the id is a short hash
// of the absolute data dir, so labs with different data dirs never share a name.
import { createHash } from 'node:crypto'
import { join } from 'node:path'

/** The underlay: one bridge in the lab namespace; node n is 172.31.0.(n+1)/24. */
export const UNDERLAY_PREFIX = '172.31.0'
export const UNDERLAY_CIDR = `${UNDERLAY_PREFIX}.0/24`
export const UNDERLAY_BRIDGE = 'underlay'
export const MAX_NODES = 100

export interface LabNodePlan {
  index: number
  name: string
  netns: string
  /** Underlay address, without the prefix length. */
  ip: string
  /** The agent's `--netns-prefix`: pod sandboxes are `<prefix>-<pod uid>`. */
  podNetnsPrefix: string
  /** The veth end in the lab namespace (the node's end is `eth0`). */
  labLink: string
  dataDir: string
  log: string
}

export interface LabPlan {
  id: string
  dataDir: string
  labNetns: string
  socket: string
  kubeconfig: string
  serverDataDir: string
  serverLog: string
  statePath: string
  nodes: LabNodePlan[]
}

export function labId(absDataDir: string): string {
  return createHash('sha256').update(absDataDir).digest('hex').slice(0, 8)
}

export function labNetnsName(id: string): string {
  return `wl-${id}`
}

export function nodeName(index: number): string {
  return `node-${index}`
}

export function nodeNetnsName(id: string, index: number): string {
  return `wl-${id}-${index}`
}

export function podNetnsPrefix(id: string, index: number): string {
  return `${nodeNetnsName(id, index)}-pod`
}

/** The lab namespace's own address on the underlay: the nodes' default gateway, "the outside". */
export const UNDERLAY_GATEWAY = `${UNDERLAY_PREFIX}.1`

export function underlayAddress(index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > MAX_NODES) throw new RangeError(`node index ${index} is outside 1..${MAX_NODES}`)
  return `${UNDERLAY_PREFIX}.${index + 1}`
}

/** Whether a namespace name belongs to lab `id` (the lab, its nodes, its pods). */
export function isLabNetns(id: string, name: string): boolean {
  const base = labNetnsName(id)
  return name === base || name.startsWith(`${base}-`)
}

export function planLab(absDataDir: string, nodes: number): LabPlan {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) throw new RangeError(`--nodes must be a whole number from 1 to ${MAX_NODES}, not ${nodes}`)
  const id = labId(absDataDir)
  return {
    id,
    dataDir: absDataDir,
    labNetns: labNetnsName(id),
    socket: join(absDataDir, 'apiserver.sock'),
    kubeconfig: join(absDataDir, 'kubeconfig'),
    serverDataDir: join(absDataDir, 'server'),
    serverLog: join(absDataDir, 'logs', 'server.log'),
    statePath: join(absDataDir, 'lab.json'),
    nodes: Array.from({ length: nodes }, (_, i) => {
      const index = i + 1
      const name = nodeName(index)
      return {
        index,
        name,
        netns: nodeNetnsName(id, index),
        ip: underlayAddress(index),
        podNetnsPrefix: podNetnsPrefix(id, index),
        labLink: `n${index}`,
        dataDir: join(absDataDir, 'nodes', name),
        log: join(absDataDir, 'logs', `${name}.log`),
      }
    }),
  }
}

/** `ip -batch` lines for the lab namespace: the underlay bridge with the gateway address, and one veth per node (the peer moves into the node). */
export function labNetnsCommands(plan: LabPlan): string[] {
  return [
    `link add ${UNDERLAY_BRIDGE} type bridge`,
    `addr add ${UNDERLAY_GATEWAY}/24 dev ${UNDERLAY_BRIDGE}`,
    `link set ${UNDERLAY_BRIDGE} up`,
    ...plan.nodes.flatMap((n) => [
      `link add ${n.labLink} type veth peer name eth0 netns ${n.netns}`,
      `link set ${n.labLink} master ${UNDERLAY_BRIDGE}`,
      `link set ${n.labLink} up`,
    ]),
  ]
}

/**
 * `ip -batch` lines for a node namespace once its eth0 has arrived. Like a real host, a node
 * has a default route: the node's own traffic to a ClusterIP needs a route to leave by
 * before nftables rewrites its destination.
 */
export function nodeNetnsCommands(node: LabNodePlan): string[] {
  return [`addr add ${node.ip}/24 dev eth0`, 'link set eth0 up', 'link set lo up', `route add default via ${UNDERLAY_GATEWAY}`]
}

/** Unix socket paths are limited to 107 bytes; the paths the lab serves on must fit. */
export function socketPaths(plan: LabPlan): string[] {
  return [plan.socket, ...plan.nodes.map((n) => join(n.dataDir, 'kubelet.sock'))]
}

/** A lab node's cgroup root: its namespace's name, unique to the lab (weft down removes the tree). */
export function labCgroupRoot(netns: string): string {
  return `/${netns}`
}
