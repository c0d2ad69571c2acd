// The namespaces of the NetworkPolicy bench: a "node" namespace (ip_forward on, where weft's
// table lives) with pod namespaces on veths, routed the way pods are routed through a node
// (a /32 route per pod veth, the node as every pod's gateway; traffic between two pods of the
// node goes pod → node forward hook → pod), as in test/netpol/nftables-kernel.test.ts's
// routed topology. The measured node carries the probe and bulk pods; a baseline node with
// the same bulk pods and addresses has no policy table (the data path without policy; run.ts
// gives it an empty NAT chain, so conntrack is on there as on every weft node).
//
//   pod ns (10.72.0.x/32 on eth0) ─veth─ pN in node ns (10.72.0.1 on lo, route 10.72.0.x/32 dev pN)
//
// Every namespace is registered with the Cleanup as soon as it exists; nothing is added to
// the root namespace (each veth is created from inside its node namespace).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { addNetns, deleteNetns, ipBatch, setSysctl } from '../../src/netlink/index.ts'
import type { Cleanup } from '../lib/cleanup.ts'

export const NODE_IP = '10.72.0.1'
/** The measured node's pod CIDR (the real pods' addresses and the synthetic local pods'). */
export const NODE_POD_CIDR = '10.72.0.0/16'

/** The pods with a network namespace, by role. */
export const REAL_PODS = {
  /** ns-01: probes the target (policy changes) and the new selected pod. */
  client: '10.72.0.2',
  /** ns-00: the target of policy changes (ingress). */
  target: '10.72.0.3',
  /** ns-01: comes and goes as a new peer pod. */
  newPeer: '10.72.0.4',
  /** ns-00: comes and goes as a new selected pod. */
  newTarget: '10.72.0.5',
  /** ns-01 → ns-00: the bulk and connection-rate pair. */
  sender: '10.72.0.6',
  receiver: '10.72.0.7',
} as const
export type RealPod = keyof typeof REAL_PODS

/** The port every probe pod serves (TCP and UDP). */
export const PROBE_PORT = 8080
export const IPERF_PORT = 5201
export const HTTP_PORT = 80

const POD_PROGRAM = resolve(import.meta.dirname, 'pod.ts')

export interface Probe {
  t: number
  proto: 0 | 1
  ok: boolean
}

export interface PodNs {
  role: RealPod
  ns: string
  ip: string
  /** The pod program (server on PROBE_PORT, prober on command); undefined for the bulk pods. */
  agent?: PodAgent
}

export interface PodAgent {
  pid: number
  /** Every probe result so far, in arrival order. */
  results: Probe[]
  send(cmd: Record<string, unknown>): void
}

export interface Node {
  ns: string
  pods: Map<RealPod, PodNs>
}

export async function netns(cleanup: Cleanup, name: string): Promise<string> {
  await addNetns(name)
  cleanup.add(() => deleteNetns(name))
  return name
}

/** Starts pod.ts in `ns` (stopped by pid, before its namespace goes). */
function startAgent(cleanup: Cleanup, ns: string, ports: number[]): Promise<PodAgent> {
  const child: ChildProcessWithoutNullStreams = spawn('ip', ['netns', 'exec', ns, process.execPath, '--disable-warning=ExperimentalWarning', POD_PROGRAM, ...ports.map(String)])
  const pid = child.pid!
  cleanup.add(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise((r) => child.once('exit', r))
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
    await gone
  })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)))
  const results: Probe[] = []
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`pod program in ${ns} exited with ${code}: ${stderr}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: boolean; r?: [number, 0 | 1, number][] }
      if (m.ready) resolvePromise({ pid, results, send: (cmd) => child.stdin.write(JSON.stringify(cmd) + '\n') })
      for (const [t, proto, ok] of m.r ?? []) results.push({ t, proto, ok: ok === 1 })
    })
  })
}

/**
 * A node namespace `name` and one pod namespace per role, each on its own veth; `agents`
 * says which roles run pod.ts. The pods' namespaces are `<name>-<role>`.
 */
export async function buildNode(cleanup: Cleanup, name: string, roles: readonly RealPod[], agents: ReadonlySet<RealPod>): Promise<Node> {
  const node = await netns(cleanup, name)
  const pods = new Map<RealPod, PodNs>()
  const nodeLines = [`addr add ${NODE_IP}/32 dev lo`]
  for (const [i, role] of roles.entries()) {
    const ns = await netns(cleanup, `${name}-${role}`)
    const ip = REAL_PODS[role]
    const veth = `p${i}`
    nodeLines.push(`link add ${veth} type veth peer name eth0 netns ${ns}`, `link set ${veth} up`, `route add ${ip}/32 dev ${veth}`)
    pods.set(role, { role, ns, ip })
  }
  await ipBatch(nodeLines, node)
  await setSysctl('net.ipv4.ip_forward', '1', node)
  for (const pod of pods.values()) {
    await ipBatch([`addr add ${pod.ip}/32 dev eth0`, 'link set eth0 up', `route add ${NODE_IP}/32 dev eth0`, `route add default via ${NODE_IP} dev eth0`], pod.ns)
    // Room for the probes' fixed source ports and the load tools' ephemeral ones.
    await setSysctl('net.ipv4.ip_local_port_range', '1024 19999', pod.ns)
  }
  for (const pod of pods.values()) if (agents.has(pod.role)) pod.agent = await startAgent(cleanup, pod.ns, [PROBE_PORT])
  return { ns: node, pods }
}
