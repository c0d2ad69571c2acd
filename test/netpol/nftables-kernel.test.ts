// NetworkPolicy in the real kernel, with real traffic: a "node" namespace and four "pod"
// namespaces on veths (IPv4 and IPv6), weft's table loaded into the node namespace, and
// TCP/UDP probes between the pods, in two topologies: the pods on a bridge (bridged traffic
// reaches the inet forward hook through br_netfilter) and routed through the node (L3, as
// traffic from other nodes arrives). Everything is created inside the test's own namespaces,
// which are removed at the end (and on exit).
import t, { type Test } from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { NftClient } from '../../src/netfilter/client.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { nftList } from '../../src/netfilter/nft.ts'
import { probeNftables } from '../../src/netfilter/probe.ts'
import type { Transaction } from '../../src/netfilter/transaction.ts'
import { run } from '../../src/netlink/exec.ts'
import { compile, type CompileInput } from '../../netpol/compile.ts'
import type { CompiledNode } from '../../netpol/model.ts'
import { NetpolApplier, type NetpolApplierOptions } from '../../netpol/nftables/applier.ts'
import { testNetns } from '../helpers/netns.ts'
import { namespace, pod, policy } from './fixtures.ts'

const AGENT = new URL('./programs/pod-agent.ts', import.meta.url).pathname
const NODE_V4 = '10.77.0.254'
const NODE_V6 = 'fd77::fe'
/** Long enough for a SYN to be answered on an idle 2-core box; a drop shows as this timeout. */
const DENY_MS = 700
const ALLOW_MS = 3000

interface Pod {
  key: string
  ns: string
  v4: string
  v6: string
  labels: Record<string, string>
  ask(cmd: Record<string, unknown>): Promise<{ ok: boolean; error?: string; ms: number }>
}

const PODS = [
  { key: 'x/a', labels: { pod: 'a' } },
  { key: 'x/b', labels: { pod: 'b' } },
  { key: 'y/c', labels: { pod: 'c' } },
  { key: 'x/d', labels: { pod: 'd' } },
]

async function ip(...args: string[]): Promise<void> {
  await run('ip', args)
}

function startAgent(ns: string): Promise<{ child: ChildProcessWithoutNullStreams; ask: Pod['ask'] }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, AGENT, '80', '81'])
  const waiting = new Map<number, (r: { ok: boolean; error?: string; ms: number }) => void>()
  let next = 0
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`pod agent in ${ns} exited with ${code}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: boolean; id?: number; ok: boolean; error?: string; ms: number }
      if (m.ready) {
        resolve({
          child,
          ask: (cmd) =>
            new Promise((res) => {
              const id = ++next
              waiting.set(id, res)
              child.stdin.write(JSON.stringify({ ...cmd, id }) + '\n')
            }),
        })
        return
      }
      waiting.get(m.id!)?.(m)
      waiting.delete(m.id!)
    })
  })
}

/** An NftClient that records each transaction it sends. */
class Recording implements NftClient {
  readonly sent: Transaction[] = []
  private readonly inner: NftExec
  constructor(inner: NftExec) {
    this.inner = inner
  }
  async apply(tx: Transaction): Promise<void> {
    this.sent.push(tx)
    await this.inner.apply(tx)
  }
  listTable(...args: Parameters<NftClient['listTable']>) {
    return this.inner.listTable(...args)
  }
}

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root'
  const probe = await probeNftables()
  return probe.ok ? undefined : probe.reason
}
const reason = await skipReason()

type Topology = 'bridged' | 'routed'

/**
 * The node namespace and its pods, each with an agent serving TCP and UDP 80 and 81.
 * 'bridged': the pods' veths on a bridge (one L2 segment), judged in the inet forward hook
 * through br_netfilter. 'routed': no bridge, a /32 (/128) route per pod veth and the node as
 * every pod's gateway (as pods on other nodes reach this one).
 */
async function buildNode(t: Test, topology: Topology): Promise<{ node: string; pods: Pod[] }> {
  const node = await testNetns(t, 'npnode')
  const pods: Pod[] = []
  const agents: ChildProcessWithoutNullStreams[] = []
  for (const [i, p] of PODS.entries()) {
    // The agent goes before its namespace does.
    const ns = await testNetns(t, 'nppod', async () => void agents[i]?.kill())
    pods.push({ ...p, ns, v4: `10.77.0.${i + 1}`, v6: `fd77::${i + 1}`, ask: async () => ({ ok: false, ms: 0 }) })
  }
  await ip('-n', node, 'link', 'set', 'lo', 'up')
  if (topology === 'bridged') {
    await ip('-n', node, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', node, 'addr', 'add', `${NODE_V4}/24`, 'dev', 'br0')
    await ip('-n', node, 'addr', 'add', `${NODE_V6}/64`, 'dev', 'br0', 'nodad')
    await ip('-n', node, 'link', 'set', 'br0', 'up')
    // br_netfilter's switches are per namespace (on by default where the module is loaded).
    await run('ip', ['netns', 'exec', node, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1'])
  } else {
    await ip('-n', node, 'addr', 'add', `${NODE_V4}/32`, 'dev', 'lo')
    await ip('-n', node, 'addr', 'add', `${NODE_V6}/128`, 'dev', 'lo')
    await run('ip', ['netns', 'exec', node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'])
  }
  for (const [i, p] of pods.entries()) {
    const veth = `vp${i + 1}`
    await ip('-n', node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.ns)
    await ip('-n', p.ns, 'link', 'set', 'lo', 'up')
    if (topology === 'bridged') {
      await ip('-n', node, 'link', 'set', veth, 'master', 'br0', 'up')
      await ip('-n', p.ns, 'addr', 'add', `${p.v4}/24`, 'dev', 'eth0')
      await ip('-n', p.ns, 'addr', 'add', `${p.v6}/64`, 'dev', 'eth0', 'nodad')
      await ip('-n', p.ns, 'link', 'set', 'eth0', 'up')
    } else {
      // The node answers ARP for its address on lo; for IPv6 the gateway is fe80::1 on each veth.
      await ip('-n', node, 'addr', 'add', 'fe80::1/64', 'dev', veth, 'nodad')
      await ip('-n', node, 'link', 'set', veth, 'up')
      await ip('-n', node, 'route', 'add', `${p.v4}/32`, 'dev', veth)
      await ip('-n', node, 'route', 'add', `${p.v6}/128`, 'dev', veth)
      await ip('-n', p.ns, 'addr', 'add', `${p.v4}/32`, 'dev', 'eth0')
      await ip('-n', p.ns, 'addr', 'add', `${p.v6}/128`, 'dev', 'eth0', 'nodad')
      await ip('-n', p.ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', p.ns, 'route', 'add', `${NODE_V4}/32`, 'dev', 'eth0')
      await ip('-n', p.ns, 'route', 'add', 'default', 'via', NODE_V4, 'dev', 'eth0')
      await ip('-n', p.ns, '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0')
    }
    const agent = await startAgent(p.ns)
    agents[i] = agent.child
    p.ask = agent.ask
  }
  return { node, pods }
}

for (const topology of ['bridged', 'routed'] as const) {
  const noBrNetfilter = topology === 'bridged' && !existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables') ? 'br_netfilter is not loaded: bridged traffic would not reach the inet forward hook' : undefined
  t.test(`NetworkPolicy enforced by the kernel on ${topology} pod traffic`, { skip: reason ?? noBrNetfilter }, (t) => policies(t, topology))
}

async function policies(t: Test, topology: Topology): Promise<void> {
  const { node, pods } = await buildNode(t, topology)
  const [a, b, c, d] = pods as [Pod, Pod, Pod, Pod]

  const input = (policies: unknown[], labels: Partial<Record<string, Record<string, string>>> = {}): CompiledNode => {
    const compileInput: CompileInput = {
      node: 'node-1',
      nodeIPs: [NODE_V4, NODE_V6],
      namespaces: [namespace('x'), namespace('y')],
      pods: pods.map((p) => {
        const [ns, name] = p.key.split('/') as [string, string]
        return pod(ns, name, { ips: [p.v4, p.v6], labels: labels[p.key] ?? p.labels, ports: [{ name: 'http', containerPort: 80 }] })
      }),
      policies,
    }
    return compile(compileInput)
  }
  const nft = new Recording(new NftExec(node))
  // The recording wrapper is not an NftExec: tell the applier how to read the table.
  const readTable = () => nftList(['list', 'table', 'inet', 'weft-netpol'], node)
  const applier = (opts: Partial<NetpolApplierOptions> = {}) => new NetpolApplier({ nft, readTable, ...opts })
  t.teardown(() => applier().cleanup().catch(() => undefined))

  const tcp = (from: Pod, to: Pod, port = 80, family: 4 | 6 = 4, timeoutMs = ALLOW_MS) => from.ask({ op: 'tcp', host: family === 4 ? to.v4 : to.v6, port, timeoutMs })
  const udp = (from: Pod, to: Pod, port = 80, family: 4 | 6 = 4, timeoutMs = ALLOW_MS) => from.ask({ op: 'udp', host: family === 4 ? to.v4 : to.v6, port, timeoutMs })
  const allowed = async (what: string, p: Promise<{ ok: boolean; error?: string }>) => {
    const r = await p
    t.ok(r.ok, `${what}: allowed`, { error: r.error })
  }
  const denied = async (what: string, p: Promise<{ ok: boolean; error?: string; ms: number }>, error = 'timeout') => {
    const r = await p
    t.notOk(r.ok, `${what}: denied`)
    t.equal(r.error, error, `${what}: ${error}`)
    return r
  }

  const np = applier()
  // No policy: everything flows, both families.
  t.equal((await np.sync(input([]))).full, true)
  await allowed('no policy, x/b -> x/a TCP 80', tcp(b, a))
  await allowed('no policy, x/b -> x/a TCP 80 over IPv6', tcp(b, a, 80, 6))
  await allowed('no policy, y/c -> x/a UDP 81', udp(c, a, 81))

  // Default deny ingress in x.
  const denyAll = policy('x', 'default-deny', { podSelector: {} })
  await np.sync(input([denyAll]))
  await denied('default deny, x/b -> x/a TCP', tcp(b, a, 80, 4, DENY_MS))
  await denied('default deny, y/c -> x/a TCP over IPv6', tcp(c, a, 80, 6, DENY_MS))
  await denied('default deny, y/c -> x/d UDP', udp(c, d, 80, 4, DENY_MS))
  await allowed('default deny in x, x/a -> y/c (y not isolated, replies pass)', tcp(a, c))
  await allowed('and over IPv6', tcp(a, c, 80, 6))
  const drops = await np.dropCounters()
  t.ok(drops.get('x/a')!.packets > 0, 'x/a counted its drops', { drops: [...drops] })
  t.ok(drops.get('x/a')!.bytes > 0)
  t.equal(drops.get('y/c'), undefined, 'y/c is not isolated: no counter')

  // Allow from one pod only, on TCP 80 only (a port rule).
  const fromB = policy('x', 'a-from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ protocol: 'TCP', port: 80 }] }] })
  const before = nft.sent.length
  await np.sync(input([denyAll, fromB]))
  t.equal(nft.sent.length, before + 1, 'one transaction')
  await allowed('x/b -> x/a TCP 80', tcp(b, a))
  await allowed('x/b -> x/a TCP 80 over IPv6', tcp(b, a, 80, 6))
  await denied('x/b -> x/a TCP 81 (port rule)', tcp(b, a, 81, 4, DENY_MS))
  await denied('x/b -> x/a UDP 80 (port rule)', udp(b, a, 80, 4, DENY_MS))
  await denied('x/d -> x/a TCP 80 (not the allowed pod)', tcp(d, a, 80, 4, DENY_MS))
  await denied('x/d -> x/a TCP 80 over IPv6', tcp(d, a, 80, 6, DENY_MS))

  // A pod joins the allowed set: only set elements change, and its new connections work.
  const fromClients = policy('x', 'a-from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: 80 }] }] })
  const client = { 'x/b': { pod: 'b', role: 'client' } }
  await np.sync(input([denyAll, fromClients], client))
  await allowed('x/b (role=client) -> x/a', tcp(b, a))
  await denied('x/d -> x/a before it is a client', tcp(d, a, 80, 4, DENY_MS))
  const mark = nft.sent.length
  const stats = await np.sync(input([denyAll, fromClients], { ...client, 'x/d': { pod: 'd', role: 'client' } }))
  t.match(stats, { full: false, podsChanged: 0, elementsAdded: 2, elementsRemoved: 0 })
  const lines = nft.sent.slice(mark).flatMap((tx) => tx.render().trim().split('\n'))
  t.ok(lines.length > 0 && lines.every((l) => /^add element inet weft-netpol np-pods-[a-z2-7]{16}-v[46] \{ [0-9a-f.:]+ \}$/.test(l)), 'the transaction holds only element additions', { lines })
  await allowed('x/d -> x/a once it is a client, no chain rewritten', tcp(d, a))
  await allowed('and over IPv6', tcp(d, a, 80, 6))

  // An established connection survives a policy change that still allows it.
  const open = await b.ask({ op: 'open', name: 'kept', host: a.v4, port: 80, timeoutMs: ALLOW_MS })
  t.ok(open.ok, 'x/b holds a connection to x/a', { error: open.error })
  const wider = policy('x', 'a-from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 81 }] }] })
  t.match(await np.sync(input([denyAll, wider], client)), { full: false, podsChanged: 1 })
  t.ok((await b.ask({ op: 'talk', name: 'kept', timeoutMs: ALLOW_MS })).ok, 'the connection still carries data after x/a chain was refilled')
  await allowed('x/b -> x/a TCP 81 is now allowed', tcp(b, a, 81))
  await denied('x/d (no longer a client) -> x/a', tcp(d, a, 80, 4, DENY_MS))
  t.match(await np.resync(input([denyAll, wider], client)), { full: true })
  t.ok((await b.ask({ op: 'talk', name: 'kept', timeoutMs: ALLOW_MS })).ok, 'and after a full resync')

  // Egress deny: y/c may send nothing new; replies to connections it accepted still go out.
  const cNoEgress = policy('y', 'c-no-egress', { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Egress'] })
  await np.sync(input([denyAll, wider, cNoEgress], client))
  await denied('egress deny, y/c -> x/b TCP', tcp(c, b, 80, 4, DENY_MS))
  await denied('egress deny, y/c -> x/b UDP over IPv6', udp(c, b, 80, 6, DENY_MS))
  await allowed('x/a -> y/c (the reply leaves y/c)', tcp(a, c))
  const cEgressDns = policy('y', 'c-no-egress', { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { pod: 'd' } }, namespaceSelector: { matchLabels: { ns: 'x' } } }], ports: [{ protocol: 'UDP', port: 81 }] }] })
  await np.sync(input([cEgressDns], client))
  await allowed('egress allowed to x/d on UDP 81', udp(c, d, 81))
  await denied('but not on UDP 80', udp(c, d, 80, 4, DENY_MS))
  await denied('nor to x/b', udp(c, b, 81, 4, DENY_MS))
  const egressDrops = (await np.dropCounters()).get('y/c')!
  t.ok(egressDrops.packets >= 2, 'y/c counted its egress drops', { egressDrops })

  // Reject: a denied TCP connection fails at once with a reset, UDP with port unreachable.
  const rejecting = applier({ deny: 'reject', logRate: 5 })
  t.match(await rejecting.sync(input([denyAll])), { full: true })
  const r = await denied('reject, x/b -> x/a TCP', tcp(b, a, 80, 4, ALLOW_MS), 'ECONNREFUSED')
  t.ok(r.ms < 500, `the reset came at once (${r.ms} ms)`)
  await denied('reject, x/b -> x/a TCP over IPv6', tcp(b, a, 80, 6, ALLOW_MS), 'ECONNREFUSED')
  await denied('reject, x/b -> x/a UDP', udp(b, a, 80, 4, ALLOW_MS), 'ECONNREFUSED')
  t.ok((await rejecting.dropCounters()).get('x/a')!.packets >= 3, 'rejects are counted too')

  await rejecting.cleanup()
  await allowed('after cleanup everything flows again', tcp(b, a))
  const left = await nft.listTable('inet', 'weft-netpol')
  t.equal(left, undefined, 'the table is gone')
}
