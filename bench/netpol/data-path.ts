// The data path with the policy table vs without: the same sender → node → receiver pair on
// the measured node (weft's table with every policy loaded; the receiver isolated by its
// namespace's policies, the sender by its namespace's egress lock-down, each with an allow that
// matches the other) and on a baseline node with no policy table (conntrack on, as on every
// weft node). Per round, back to back (the order alternating by round): iperf3 bulk TCP (one
// stream), wrk with a new connection per request against nginx in the receiver (bench/proxy's
// backend), and curl connect times; the load tools run through bench/proxy/load.ts.
import { join } from 'node:path'
import { startBackend } from '../proxy/backend.ts'
import { connectTimes, inClient, wrk, type WrkResult } from '../proxy/load.ts'
import type { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { startProcess } from '../lib/process.ts'
import { HTTP_PORT, IPERF_PORT, type Node } from './topology.ts'

/** Kills (by pid) the iperf3 clients, wrk and curl still running. */
export { stopLoad } from '../proxy/load.ts'

export type Side = 'policy' | 'none'

export interface DataPathSamples {
  bulkGbps: Record<Side, number[]>
  newConnection: Record<Side, WrkResult[]>
  connectMs: Record<Side, number[]>
}

export interface DataPathOptions {
  bulkSeconds: number
  closeSeconds: number
  connections: number
  threads: number
  connects: number
}

function pair(node: Node): { sender: string; receiver: string; ip: string } {
  const s = node.pods.get('sender')
  const r = node.pods.get('receiver')
  if (!s || !r) throw new Error(`node ${node.ns} has no sender/receiver pair`)
  return { sender: s.ns, receiver: r.ns, ip: r.ip }
}

/** nginx and an iperf3 server in the receiver (stopped by pid at cleanup); checks both answer through the node. */
export async function startReceivers(cleanup: Cleanup, node: Node, dir: string): Promise<void> {
  const { sender, receiver, ip } = pair(node)
  await startBackend(cleanup, receiver, ip, join(dir, `nginx-${receiver}`), 1)
  startProcess(cleanup, 'nsenter', [`--net=/run/netns/${receiver}`, '--', 'iperf3', '-s', '-B', ip, '-p', String(IPERF_PORT)], { logFile: join(dir, `iperf3-${receiver}.log`) })
  for (let waited = 0; ; waited += 100) {
    const body = await inClient(sender, 'curl', ['-s', '--max-time', '1', `http://${ip}:${HTTP_PORT}/`]).catch(() => '')
    if (body === 'ok\n') break
    if (waited > 10_000) throw new Error(`nginx in ${receiver} does not answer ${sender} through ${node.ns}`)
    await sleep(100)
  }
  await bulk(node, 1)
}

async function bulk(node: Node, seconds: number): Promise<number> {
  const { sender, ip } = pair(node)
  for (let attempt = 0; ; attempt++) {
    try {
      const out = JSON.parse(await inClient(sender, 'iperf3', ['-c', ip, '-p', String(IPERF_PORT), '-t', String(seconds), '-O', '1', '-J'])) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string }
      const bps = out.end?.sum_received?.bits_per_second
      if (typeof bps !== 'number') throw new Error(`iperf3 printed no throughput: ${out.error ?? ''}`)
      return bps / 1e9
    } catch (err) {
      // The server takes one client at a time and may still be finishing the last one.
      if (attempt >= 3) throw err
      await sleep(500)
    }
  }
}

export function emptyDataPathSamples(): DataPathSamples {
  return { bulkGbps: { policy: [], none: [] }, newConnection: { policy: [], none: [] }, connectMs: { policy: [], none: [] } }
}

/** One round: each measurement on both nodes back to back, `policyFirst` deciding the order. */
export async function dataPathRound(nodes: Record<Side, Node>, s: DataPathSamples, o: DataPathOptions, policyFirst: boolean): Promise<void> {
  const order: Side[] = policyFirst ? ['policy', 'none'] : ['none', 'policy']
  for (const side of order) s.bulkGbps[side].push(await bulk(nodes[side], o.bulkSeconds))
  for (const side of order) {
    const { sender, ip } = pair(nodes[side])
    s.newConnection[side].push(await wrk(sender, `http://${ip}:${HTTP_PORT}/`, { seconds: o.closeSeconds, threads: o.threads, connections: o.connections, close: true }))
  }
  // Connect times in small batches, alternating, so a burst of noise lands on both alike.
  const batches = 5
  for (let b = 0; b < batches; b++) {
    for (const side of b % 2 === 0 ? order : [...order].reverse()) {
      const { sender, ip } = pair(nodes[side])
      s.connectMs[side].push(...(await connectTimes(sender, `http://${ip}:${HTTP_PORT}/`, Math.ceil(o.connects / batches))))
    }
  }
}
