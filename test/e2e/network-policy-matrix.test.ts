// NetworkPolicy end to end, in the style of upstream's netpol e2e suite
// (kubernetes/test/e2e/network/netpol): a real API server and controllers, two nodes running
// `weft agent` (kubelet, CNI, nftables proxy, NetworkPolicy enforcer) in network namespaces,
// three namespaces x, y, z with pods a, b, c each, spread over both nodes, and real traffic.
// Each scenario creates policies, then probes every pod pair (9×9, a pod to itself included)
// on the ports it is about and compares the observed matrix with the one the scenario's
// meaning gives, written out by hand with the declarative helpers of ../helpers/netpol-matrix.ts
// (never computed with netpol/compile.ts or netpol/reachability.ts: this test is how their
// mistakes would show). Enforcement is asynchronous: like upstream, a matrix is probed again
// (for a bounded time) until it equals the expected one; a mismatch is never accepted. After
// each scenario its policies and labels go and every matrix must be all-allowed again before
// the next one starts, so a scenario cannot pass on what the previous one left.
//
// Each pod serves TCP and UDP on ports 80 and 81 with upstream's port names (serve-80-tcp,
// serve-80-udp, serve-81-tcp, serve-81-udp), from two agnhost serve-hostname containers (one per
// port, each with --tcp --udp; upstream has one per port and protocol). Probes run from inside
// each pod's network namespace (the kubelet names it `<--netns-prefix>-<pod uid>`; the test
// nodes' prefix is `<node netns>-pod`), and from each node's, through one long-lived prober
// process per namespace (helpers/programs/netpol-prober.ts), all in parallel. An answer counts
// only if it is the destination pod's name.
//
// Self traffic: a pod connecting to its own address never leaves its network namespace (the
// kernel delivers it on lo), so no policy can deny it; upstream's docs say the same ("pods
// cannot block localhost access"). The diagonal is probed like every other cell and expected
// allowed in every scenario.
//
// IPv6: the lab's nodes (helpers/nodes.ts, src/lab) are IPv4-only (one 172.31.0.x address,
// IPv4 pod CIDRs), so the IPv6 scenario is skipped; test/netpol/nftables-kernel.test.ts covers
// the rules over IPv6 in the kernel.
import t, { type Test } from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { resources } from '../../src/api/registry.ts'
import { nodeInfo, podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { anyPeer, comparison, Matrix, peerOf, type Peer } from '../helpers/netpol-matrix.ts'
import { execIn, startUnderlay, type TestNode } from '../helpers/nodes.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const npInfo = info('NetworkPolicy')
const nsInfo = info('Namespace')
const serviceInfo = info('Service')
const agnhost = 'registry.k8s.io/e2e-test-images/agnhost:2.53'
const programs = resolve(import.meta.dirname, '../helpers/programs')
const PROBER = join(programs, 'netpol-prober.ts')

/** Long enough for an allowed connection on a busy machine; a dropped one shows as this timeout. */
const PROBE_MS = 1000
/** How long a matrix is probed again before a mismatch fails the scenario. */
const DEADLINE_MS = 20_000

const NAMESPACES = ['x', 'y', 'z'] as const
const POD_NAMES = ['a', 'b', 'c'] as const
const KEYS = NAMESPACES.flatMap((ns) => POD_NAMES.map((p) => `${ns}/${p}`))
// Spread over the two nodes: x/a and x/c share node-1, x/a and x/b do not, and so on.
const NODE_OF = new Map(KEYS.map((k, i) => [k, i % 2 === 0 ? 'node-1' : 'node-2']))

type Proto = 'TCP' | 'UDP'

interface ProbeAnswer {
  ok: boolean
  reply?: string
  error?: string
  ms: number
}

interface Prober {
  ask(cmd: Record<string, unknown>): Promise<ProbeAnswer>
  stop(): void
  child: ChildProcessWithoutNullStreams
}

interface PodState {
  key: string
  name: string
  uid: string
  ip: string
  node: string
  netns: string
  prober: Prober
}

t.setTimeout(600_000)

await t.test('NetworkPolicy reachability matrices in the lab', async (t) => {
  const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true, dnsReplicas: 1 })
  const client = cluster.client
  const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir, agentArgs: ['--healthz-bind-address', '0.0.0.0:10256'] })
  const nodes = new Map<string, TestNode>()
  for (const name of ['node-1', 'node-2']) nodes.set(name, await underlay.addNode(name))
  for (const name of nodes.keys())
    await until(`${name} Ready`, async () => {
      const node = await client.get<any>(nodeInfo, name).catch(() => undefined)
      return node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
    }, 60_000)

  // Every node enforces, and nothing keeps same-node traffic from the forward hook.
  for (const [name, node] of nodes) {
    let body = ''
    await until(`${name} /healthz/netpol healthy`, async () => {
      body = await execIn(node.netns, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:10256/healthz/netpol']).catch(() => '')
      return body.includes('"healthy":true')
    }, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${body}`)
    })
    t.match(JSON.parse(body), { healthy: true, enforcing: true }, `${name} enforces NetworkPolicy (${body.trim()})`)
  }

  for (const ns of NAMESPACES) await client.create(nsInfo, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ns } } } as never)
  const xNamespace = await client.get<any>(nsInfo, 'x')
  t.equal(xNamespace.metadata.labels['kubernetes.io/metadata.name'], 'x', 'the API server labels namespaces with kubernetes.io/metadata.name')

  /** Upstream's pod: one agnhost serve-hostname container per port, each serving TCP and UDP, with upstream's port names. */
  function podSpec(key: string, node = NODE_OF.get(key)): object {
    const [ns, name] = key.split('/') as [string, string]
    const containers: object[] = [80, 81].map((port) => ({
      name: `cont-${port}`,
      image: agnhost,
      args: ['serve-hostname', '--tcp', '--udp', '--http=false', '--port', String(port)],
      ports: [
        { name: `serve-${port}-tcp`, containerPort: port, protocol: 'TCP' },
        { name: `serve-${port}-udp`, containerPort: port, protocol: 'UDP' },
      ],
      readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
    }))
    // x/a also serves HTTP on 8080 (kept-alive connections, for the policy update scenario).
    if (key === 'x/a') containers.push({ name: 'cont-8080', image: agnhost, args: ['serve-hostname', '--port', '8080'], ports: [{ name: 'http-8080', containerPort: 8080 }] })
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { pod: name } }, spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers } }
  }
  for (const key of KEYS) await client.create(podInfo, podSpec(key) as never)

  function startProber(netns: string): Promise<Prober> {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '--disable-warning=ExperimentalWarning', PROBER])
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill()
    })
    const waiting = new Map<number, (r: ProbeAnswer) => void>()
    let next = 0
    let exited = false
    return new Promise((resolveProber, reject) => {
      child.stderr.on('data', () => undefined)
      child.once('error', reject)
      child.once('exit', (code) => {
        exited = true
        for (const done of waiting.values()) done({ ok: false, error: `prober exited (${code})`, ms: 0 })
        waiting.clear()
        reject(new Error(`the prober in ${netns} exited with ${code}`))
      })
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = JSON.parse(line) as ProbeAnswer & { ready?: boolean; id?: number }
        if (m.ready) {
          resolveProber({
            child,
            stop: () => {
              if (child.exitCode === null && child.signalCode === null) child.kill()
            },
            ask: (cmd) =>
              new Promise((done) => {
                if (exited) return done({ ok: false, error: 'prober exited', ms: 0 })
                const id = ++next
                waiting.set(id, done)
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

  /** Waits for the pod to be Ready; starts a prober in its network namespace. */
  async function readyPod(key: string): Promise<PodState> {
    const [ns, name] = key.split('/') as [string, string]
    let pod: any
    await until(`${key} Ready`, async () => {
      pod = await client.get<any>(podInfo, name, ns).catch(() => undefined)
      return pod?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
    }, 120_000)
    const node = nodes.get(pod.spec.nodeName)!
    // The kubelet names a pod's network namespace `<--netns-prefix>-<uid>`.
    const netns = `${node.netns}-pod-${pod.metadata.uid}`
    return { key, name, uid: pod.metadata.uid, ip: pod.status.podIP, node: node.name, netns, prober: await startProber(netns) }
  }

  const pods = new Map<string, PodState>()
  for (const key of KEYS) pods.set(key, await readyPod(key))
  /** Who probes: each pod, and each node from its own network namespace. */
  const probers = new Map<string, Prober>([...pods.values()].map((p) => [p.key, p.prober]))
  for (const [name, node] of nodes) probers.set(name, await startProber(node.netns))
  t.comment(`pods: ${[...pods.values()].map((p) => `${p.key} ${p.ip} on ${p.node}`).join(', ')}`)
  const pod = (key: string) => pods.get(key)!

  // The cluster DNS: the bootstrap `coredns` Deployment behind kube-dns.
  let dnsPod: any
  await until('a Ready kube-dns pod', async () => {
    const list = await client.list<any>(podInfo, { namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' })
    dnsPod = list.items.find((p: any) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'))
    return dnsPod !== undefined
  }, 120_000)
  const dnsServiceIP: string = (await client.get<any>(serviceInfo, 'kube-dns', 'kube-system')).spec.clusterIP
  const kubernetesIP: string = (await client.get<any>(serviceInfo, 'kubernetes', 'default')).spec.clusterIP

  // ---- probing ----

  interface Target {
    ip: string
    port?: number
    /** What serve-hostname answers: the pod's name. */
    name: string
  }

  interface Case {
    proto: Proto
    port: number
    expected: Matrix
    /** The columns' addresses (default: the pods'). */
    targets?: ReadonlyMap<string, Target>
  }

  const podTargets = new Map<string, Target>(KEYS.map((k) => [k, { ip: pod(k).ip, name: pod(k).name }]))

  async function probeCase(c: Case): Promise<{ observed: Matrix; notes: Map<string, string>; odd: string[] }> {
    const targets = c.targets ?? podTargets
    const observed = new Matrix(c.expected.froms, c.expected.tos, false)
    const notes = new Map<string, string>()
    const odd: string[] = []
    await Promise.all(
      c.expected.froms.flatMap((from) =>
        c.expected.tos.map(async (to) => {
          const target = targets.get(to)!
          const r = await probers.get(from)!.ask({ op: c.proto === 'TCP' ? 'tcp' : 'udp', host: target.ip, port: target.port ?? c.port, timeoutMs: PROBE_MS })
          observed.set(from, to, r.ok)
          if (!r.ok) notes.set(`${from} ${to}`, `${r.error} after ${r.ms} ms`)
          else if (r.reply !== target.name) odd.push(`${from} -> ${to}: answered ${JSON.stringify(r.reply)}, not ${JSON.stringify(target.name)}`)
        }),
      ),
    )
    return { observed, notes, odd }
  }

  /**
   * Probes every case's matrix, all at once, again and again until each equals its expected
   * matrix (the diagonal, a pod to itself, is always expected allowed) or `deadlineMs` passes,
   * which fails with upstream's printout. Returns whether they matched, and how long it took.
   */
  async function check(t: Test, what: string, cases: Case[], deadlineMs = DEADLINE_MS): Promise<{ ok: boolean; ms: number }> {
    const start = Date.now()
    for (const c of cases) c.expected.allowLoopback()
    for (let attempt = 1; ; attempt++) {
      const results = await Promise.all(cases.map(probeCase))
      const wrong = results.reduce((n, r, i) => n + cases[i]!.expected.differences(r.observed).length + r.odd.length, 0)
      const ms = Date.now() - start
      const label = cases.map((c) => `${c.proto}/${c.port}`).join(', ')
      if (wrong === 0) {
        t.pass(`${what}: ${label} as expected (attempt ${attempt}, ${ms} ms)`)
        return { ok: true, ms }
      }
      if (ms > deadlineMs) {
        const text = results.map((r, i) => {
          const c = cases[i]!
          return [comparison(`${what} ${c.proto}/${c.port}`, c.expected, r.observed, r.notes), ...r.odd].join('\n')
        })
        t.fail(`${what}: ${label}: ${wrong} wrong after ${attempt} attempts in ${ms} ms`, { diagnostic: true, matrices: text.join('\n\n'), pods: await podDiagnostics() })
        return { ok: false, ms }
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  /** What might explain a failure other than policy: containers that restarted, ports not listening. */
  async function podDiagnostics(): Promise<string> {
    const lines: string[] = []
    for (const p of pods.values()) {
      const [namespace, name] = p.key.split('/') as [string, string]
      const obj = await client.get<any>(podInfo, name, namespace).catch(() => undefined)
      const statuses = (obj?.status?.containerStatuses ?? []).map((c: any) => `${c.name} ready=${c.ready} restarts=${c.restartCount}${c.lastState?.terminated ? ` last exit ${c.lastState.terminated.exitCode} (${c.lastState.terminated.reason})` : ''}`)
      const listening = await execIn(p.netns, 'ss', ['-Hltun']).catch((err: Error) => err.message)
      lines.push(`${p.key} ${obj?.status?.podIP} ${obj?.status?.phase}: ${statuses.join('; ')}; listening: ${listening.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/).slice(0, 5).join(' ')).join(', ')}`)
    }
    return lines.join('\n')
  }

  const allowed = () => new Matrix(KEYS, KEYS, true)
  const denied = () => new Matrix(KEYS, KEYS, false)
  const ns = (name: string): Peer => ({ ns: name })
  const one = (key: string): Peer => peerOf(key)
  const tcp = (port: number, expected: Matrix): Case => ({ proto: 'TCP', port, expected })
  const udp = (port: number, expected: Matrix): Case => ({ proto: 'UDP', port, expected })
  const onNode = (node: string) => KEYS.filter((k) => pod(k).node === node)

  // ---- policies, labels, and the reset between scenarios ----

  const created = new Set<string>()
  const labelUndo = new Map<string, () => Promise<unknown>>()
  const servicesMade = new Set<string>()
  const podsMade = new Set<string>()

  function policy(namespace: string, name: string, spec: object): object {
    return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec }
  }

  async function create(namespace: string, name: string, spec: object): Promise<void> {
    created.add(`${namespace}/${name}`)
    await client.create(npInfo, policy(namespace, name, spec) as never)
  }

  /** Replaces the spec of a policy (an update of the same object, not delete and create). */
  async function replace(namespace: string, name: string, spec: object): Promise<void> {
    const current = await client.get<any>(npInfo, name, namespace)
    await client.update(npInfo, { ...current, spec } as never)
  }

  async function remove(namespace: string, name: string): Promise<void> {
    created.delete(`${namespace}/${name}`)
    await client.delete(npInfo, name, namespace)
  }

  /** Sets (or with null, removes) labels of a pod; the reset puts the old ones back. */
  async function labelPod(key: string, labels: Record<string, string | null>): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string]
    if (!labelUndo.has(`pod ${key}`)) {
      const old = (await client.get<any>(podInfo, name, namespace)).metadata.labels ?? {}
      labelUndo.set(`pod ${key}`, async () => {
        const now = (await client.get<any>(podInfo, name, namespace)).metadata.labels ?? {}
        const back: Record<string, string | null> = { ...old }
        for (const k of Object.keys(now)) if (!(k in old)) back[k] = null
        return client.patch(podInfo, name, namespace, { metadata: { labels: back } }, 'merge')
      })
    }
    await client.patch(podInfo, name, namespace, { metadata: { labels } }, 'merge')
  }

  async function labelNamespace(name: string, labels: Record<string, string | null>): Promise<void> {
    if (!labelUndo.has(`ns ${name}`)) {
      const old = (await client.get<any>(nsInfo, name)).metadata.labels ?? {}
      labelUndo.set(`ns ${name}`, async () => {
        const now = (await client.get<any>(nsInfo, name)).metadata.labels ?? {}
        const back: Record<string, string | null> = { ...old }
        for (const k of Object.keys(now)) if (!(k in old)) back[k] = null
        return client.patch(nsInfo, name, undefined, { metadata: { labels: back } }, 'merge')
      })
    }
    await client.patch(nsInfo, name, undefined, { metadata: { labels } }, 'merge')
  }

  /** Every policy, label and Service a scenario made goes; then everything must flow again. */
  async function reset(t: Test): Promise<boolean> {
    for (const key of [...created]) {
      const [namespace, name] = key.split('/') as [string, string]
      await remove(namespace, name).catch(() => undefined)
    }
    for (const undo of labelUndo.values()) await undo()
    labelUndo.clear()
    for (const key of servicesMade) {
      const [namespace, name] = key.split('/') as [string, string]
      await client.delete(serviceInfo, name, namespace).catch(() => undefined)
    }
    servicesMade.clear()
    for (const key of podsMade) {
      const [namespace, name] = key.split('/') as [string, string]
      probers.get(key)?.stop()
      probers.delete(key)
      await client.delete(podInfo, name, namespace).catch(() => undefined)
      await until(`${key} gone`, async () => (await client.get(podInfo, name, namespace).catch(() => undefined)) === undefined, 60_000)
    }
    podsMade.clear()
    return (await check(t, 'after the reset everything flows', [tcp(80, allowed()), tcp(81, allowed()), udp(80, allowed()), udp(81, allowed())])).ok
  }

  // NETPOL_SCENARIOS=regex runs only the scenarios whose names match (for development).
  const only = process.env.NETPOL_SCENARIOS ? new RegExp(process.env.NETPOL_SCENARIOS) : undefined
  // A scenario after a failed reset would judge what the last one left: the rest fail at once.
  let broken: string | undefined
  async function scenario(name: string, body: (t: Test) => Promise<void>, opts: { skip?: string } = {}): Promise<void> {
    const skip = opts.skip ?? (only && !only.test(name) ? `not in NETPOL_SCENARIOS=${process.env.NETPOL_SCENARIOS}` : undefined)
    await t.test(name, skip ? { skip } : {}, async (t) => {
      if (broken) return void t.fail(`not run: ${broken}`)
      try {
        await body(t)
      } finally {
        if (!(await reset(t))) broken = `the reset after "${name}" left pods unreachable`
      }
    })
  }

  // ---- the scenarios ----

  const started = Date.now()

  await scenario('no policies: every pod reaches every pod on TCP and UDP 80 and 81, same node and across nodes', async (t) => {
    t.ok(onNode('node-1').length > 0 && onNode('node-2').length > 0, `pods on both nodes (node-1: ${onNode('node-1')}; node-2: ${onNode('node-2')})`)
    await check(t, 'no policies', [tcp(80, allowed()), tcp(81, allowed()), udp(80, allowed()), udp(81, allowed())])
  })

  await scenario('default deny ingress in x', async (t) => {
    await create('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })
    const m = () => allowed().deny(anyPeer, ns('x'))
    await check(t, 'deny ingress x', [tcp(80, m()), udp(81, m())])
  })

  await scenario('default deny egress in x', async (t) => {
    await create('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })
    const m = () => allowed().deny(ns('x'), anyPeer)
    await check(t, 'deny egress x', [tcp(80, m()), udp(80, m())])
  })

  await scenario('allow all egress (one empty rule) on top of a default deny egress', async (t) => {
    await create('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })
    await check(t, 'deny egress x', [tcp(80, allowed().deny(ns('x'), anyPeer))])
    await create('x', 'allow-all-egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] })
    await check(t, 'deny + allow all egress x', [tcp(80, allowed()), udp(81, allowed())])
  })

  await scenario('default deny all (ingress and egress) in x', async (t) => {
    await create('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })
    const m = () => allowed().deny(anyPeer, ns('x')).deny(ns('x'), anyPeer)
    await check(t, 'deny all x', [tcp(80, m()), udp(80, m())])
  })

  await scenario('default deny ingress in every namespace', async (t) => {
    for (const n of NAMESPACES) await create(n, 'deny-ingress', { podSelector: {} })
    await check(t, 'deny ingress everywhere', [tcp(80, denied()), udp(81, denied())])
  })

  await scenario('allow all ingress (one empty rule) on top of a default deny: policies add up', async (t) => {
    await create('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })
    await check(t, 'deny ingress x', [tcp(80, allowed().deny(anyPeer, ns('x')))])
    await create('x', 'allow-all-ingress', { podSelector: {}, ingress: [{}] })
    await check(t, 'deny + allow all ingress x', [tcp(80, allowed()), udp(81, allowed())])
  })

  await scenario('allow ingress from the same namespace only', async (t) => {
    await create('x', 'allow-same-ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })
    await check(t, 'same namespace', [tcp(80, allowed().deny(anyPeer, ns('x')).allow(ns('x'), ns('x')))])
  })

  await scenario('allow ingress from a namespace by label (ns=y)', async (t) => {
    await create('x', 'allow-from-y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })
    await check(t, 'from ns=y', [tcp(80, allowed().deny(anyPeer, ns('x')).allow(ns('y'), ns('x')))])
  })

  await scenario('allow ingress from namespaces by kubernetes.io/metadata.name (In [y, z])', async (t) => {
    await create('x', 'allow-from-yz', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['y', 'z'] }] } }] }] })
    await check(t, 'from y and z by name', [tcp(80, allowed().deny(ns('x'), ns('x')))])
  })

  await scenario('allow ingress to x/a from pods by label in the same namespace (pod=b)', async (t) => {
    await create('x', 'a-from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })
    await check(t, 'x/a from x/b', [tcp(80, allowed().deny(anyPeer, one('x/a')).allow(one('x/b'), one('x/a')))])
  })

  await scenario('namespaceSelector AND podSelector in one peer: only y/b reaches x/a', async (t) => {
    await create('x', 'a-from-y-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] })
    await check(t, 'AND', [tcp(80, allowed().deny(anyPeer, one('x/a')).allow(one('y/b'), one('x/a')))])
  })

  await scenario('namespaceSelector OR podSelector as two peers: all of y, and x/b, reach x/a', async (t) => {
    await create('x', 'a-from-y-or-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }] }] })
    await check(t, 'OR', [tcp(80, allowed().deny(anyPeer, one('x/a')).allow(ns('y'), one('x/a')).allow(one('x/b'), one('x/a')))])
  })

  await scenario('matchExpressions: x/c from pods a or b of namespaces not y', async (t) => {
    await create('x', 'c-from-expr', {
      podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['c'] }] },
      ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['y'] }] }, podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'b'] }] } }] }],
    })
    await check(t, 'expressions', [tcp(80, allowed().deny(anyPeer, one('x/c')).allow(['x/a', 'x/b', 'z/a', 'z/b'], one('x/c')))])
  })

  await scenario('a policy in y with an empty podSelector isolates only y, and its peer (every pod of z) is z', async (t) => {
    await create('y', 'y-from-z', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } }, podSelector: {} }] }] })
    await check(t, 'y from all of z', [tcp(80, allowed().deny(anyPeer, ns('y')).allow(ns('z'), ns('y')))])
  })

  await scenario('named port: ingress to x/a on serve-80-tcp from y', async (t) => {
    await create('x', 'a-named-80', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 'serve-80-tcp' }] }] })
    const onlyY = () => allowed().deny(anyPeer, one('x/a')).allow(ns('y'), one('x/a'))
    const none = () => allowed().deny(anyPeer, one('x/a'))
    await check(t, 'named serve-80-tcp', [tcp(80, onlyY()), tcp(81, none()), udp(80, none())])
  })

  await scenario('named UDP port: ingress to x on serve-81-udp (protocol UDP)', async (t) => {
    await create('x', 'named-81-udp', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 'serve-81-udp' }] }] })
    const none = () => allowed().deny(anyPeer, ns('x'))
    await check(t, 'named serve-81-udp', [udp(81, allowed()), udp(80, none()), tcp(81, none())])
  })

  await scenario('a named port with the wrong protocol (serve-81-udp as TCP) allows nothing', async (t) => {
    await create('x', 'named-wrong-proto', { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 'serve-81-udp' }] }] })
    const none = () => allowed().deny(anyPeer, ns('x'))
    await check(t, 'serve-81-udp as TCP', [tcp(81, none()), udp(81, none())])
  })

  await scenario('named port in egress: x/a may connect only to serve-81-tcp (resolved on each destination)', async (t) => {
    await create('x', 'a-egress-named', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-81-tcp' }] }] })
    await check(t, 'egress to serve-81-tcp', [tcp(81, allowed()), tcp(80, allowed().deny(one('x/a'), anyPeer)), udp(81, allowed().deny(one('x/a'), anyPeer))])
  })

  await scenario('endPort: ingress to x/a from y on TCP 80-81', async (t) => {
    await create('x', 'a-range', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ protocol: 'TCP', port: 80, endPort: 81 }] }] })
    const onlyY = () => allowed().deny(anyPeer, one('x/a')).allow(ns('y'), one('x/a'))
    await check(t, 'range 80-81', [tcp(80, onlyY()), tcp(81, onlyY()), udp(80, allowed().deny(anyPeer, one('x/a')))])
  })

  await scenario('a policy on port 81 only: 80 is denied', async (t) => {
    await create('x', 'only-81', { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 81 }] }] })
    await check(t, 'port 81 only', [tcp(80, allowed().deny(anyPeer, ns('x'))), tcp(81, allowed())])
  })

  await scenario('UDP-only allow: UDP 80 into x, TCP 80 and UDP 81 denied; then every UDP port (a protocol without a port)', async (t) => {
    await create('x', 'udp-80', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 80 }] }] })
    const none = () => allowed().deny(anyPeer, ns('x'))
    await check(t, 'UDP 80 only', [tcp(80, none()), udp(80, allowed()), udp(81, none())])
    // A port rule with a protocol and no port: every port of that protocol.
    await replace('x', 'udp-80', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }] }] })
    await check(t, 'every UDP port', [tcp(80, none()), tcp(81, none()), udp(80, allowed()), udp(81, allowed())])
  })

  await scenario('both policyTypes: x/a takes ingress from z only and may send only to y', async (t) => {
    await create('x', 'a-both', {
      podSelector: { matchLabels: { pod: 'a' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }],
      egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
    })
    const m = () => allowed().deny(anyPeer, one('x/a')).allow(ns('z'), one('x/a')).deny(one('x/a'), anyPeer).allow(one('x/a'), ns('y'))
    await check(t, 'both types', [tcp(80, m()), udp(80, m())])
  })

  await scenario('several policies on one pod add up', async (t) => {
    await create('x', 'a-from-y-80', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ protocol: 'TCP', port: 80 }] }] })
    await create('x', 'a-from-c', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'c' } } }] }] })
    await create('x', 'a-from-z-81', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }], ports: [{ protocol: 'TCP', port: 81 }] }] })
    await check(t, 'additive', [
      tcp(80, allowed().deny(anyPeer, one('x/a')).allow(ns('y'), one('x/a')).allow(one('x/c'), one('x/a'))),
      tcp(81, allowed().deny(anyPeer, one('x/a')).allow(ns('z'), one('x/a')).allow(one('x/c'), one('x/a'))),
    ])
  })

  await scenario('ipBlock with except: every pod address but y/b and z/c (as /32s) reaches x/a', async (t) => {
    const holes = [`${pod('y/b').ip}/32`, `${pod('z/c').ip}/32`]
    for (const p of pods.values()) t.ok(p.ip.startsWith('10.244.'), `${p.key} ${p.ip} is in 10.244.0.0/16`)
    await create('x', 'a-from-block', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: holes } }] }] })
    await check(t, `ipBlock except ${holes}`, [tcp(80, allowed().deny(['y/b', 'z/c'], one('x/a'))), udp(81, allowed().deny(['y/b', 'z/c'], one('x/a')))])
  })

  await scenario("ipBlock except one node's pod CIDR: that node's pods are denied", async (t) => {
    const node2 = await client.get<any>(nodeInfo, 'node-2')
    const cidr: string = node2.spec.podCIDR
    t.ok(cidr, `node-2's pod CIDR is ${cidr}`)
    await create('x', 'a-not-node-2', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: [cidr] } }] }] })
    await check(t, `except ${cidr}`, [tcp(80, allowed().deny(onNode('node-2'), one('x/a')))])
  })

  await scenario('egress to one ipBlock /32: x/a may reach y/a only', async (t) => {
    await create('x', 'a-to-ya', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: `${pod('y/a').ip}/32` } }] }] })
    await check(t, 'egress to y/a', [tcp(80, allowed().deny(one('x/a'), anyPeer).allow(one('x/a'), one('y/a')))])
  })

  await scenario("traffic from a pod's own node always passes; another node's is judged as any peer (an ipBlock names it)", async (t) => {
    const nodeRows = [...nodes.keys()]
    for (const n of nodes.values()) t.ok(n.ip.startsWith('172.31.0.'), `${n.name} is ${n.ip}, in the underlay 172.31.0.0/24`)
    const fromNodes = () => new Matrix(nodeRows, KEYS, true)
    const ownOnly = fromNodes()
    for (const n of nodeRows) ownOnly.deny([n], KEYS.filter((k) => k.startsWith('x/') && pod(k).node !== n))
    await create('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })
    await check(t, 'deny ingress x, from the nodes', [{ proto: 'TCP', port: 80, expected: ownOnly }, tcp(80, allowed().deny(anyPeer, ns('x')))])
    await replace('x', 'deny-ingress', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '172.31.0.0/24' } }] }] })
    await check(t, 'x open to the underlay block, from the nodes', [{ proto: 'TCP', port: 80, expected: fromNodes() }, tcp(80, allowed().deny(anyPeer, ns('x')))])
  })

  await scenario('egress only to the cluster DNS: x/a resolves names, and reaches no pod', async (t) => {
    t.comment(`kube-dns ${dnsServiceIP}, its pod ${dnsPod.status.podIP} on ${dnsPod.spec.nodeName}`)
    const ask = (from: string, host: string, transport: 'udp' | 'tcp') => pod(from).prober.ask({ op: 'dns', host, port: 53, transport, name: 'kubernetes.default.svc.cluster.local', timeoutMs: 2000 })
    const resolves = async (from: string, host: string, transport: 'udp' | 'tcp') => {
      let r: ProbeAnswer = { ok: false, ms: 0 }
      await until(`${from} resolves through ${host} over ${transport}`, async () => (r = await ask(from, host, transport)).ok, DEADLINE_MS).catch(() => undefined)
      t.same({ ok: r.ok, reply: r.reply }, { ok: true, reply: kubernetesIP }, `${from} resolves kubernetes.default over ${transport} through ${host} (${r.error ?? r.reply})`)
    }
    await resolves('x/a', dnsServiceIP, 'udp')
    // First deny all egress: DNS must fail, or the allow below would prove nothing.
    await create('x', 'a-egress', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'] })
    await check(t, 'no egress for x/a', [tcp(80, allowed().deny(one('x/a'), anyPeer))])
    for (const transport of ['udp', 'tcp'] as const) {
      const r = await ask('x/a', dnsServiceIP, transport)
      t.notOk(r.ok, `with no egress x/a cannot resolve over ${transport} (${r.error ?? r.reply})`)
    }
    await resolves('x/b', dnsServiceIP, 'udp')
    await replace('x', 'a-egress', {
      podSelector: { matchLabels: { pod: 'a' } },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    })
    // The Service address is translated to the DNS pod's before the policy judges it.
    await resolves('x/a', dnsServiceIP, 'udp')
    await resolves('x/a', dnsServiceIP, 'tcp')
    await resolves('x/a', dnsPod.status.podIP, 'udp')
    await check(t, 'DNS only for x/a', [tcp(80, allowed().deny(one('x/a'), anyPeer)), udp(80, allowed().deny(one('x/a'), anyPeer))])
  })

  await scenario('deleting a policy restores reachability', async (t) => {
    await create('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })
    await check(t, 'deny all x', [tcp(80, allowed().deny(anyPeer, ns('x')).deny(ns('x'), anyPeer))])
    await remove('x', 'deny-all')
    const { ms } = await check(t, 'deleted', [tcp(80, allowed()), udp(80, allowed())], 10_000)
    t.ok(ms < 10_000, `reachable again ${ms} ms after the deletion`)
  })

  await scenario('updating a policy while a connection flows: still allowed, it keeps working; denied, new connections stop', async (t) => {
    const spec = (from: object[]) => ({ podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from, ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 8080 }] }] })
    const fromB = { podSelector: { matchLabels: { pod: 'b' } } }
    const fromY = { namespaceSelector: { matchLabels: { ns: 'y' } } }
    await create('x', 'a-ingress', spec([fromB]))
    await check(t, 'x/a from x/b', [tcp(80, allowed().deny(anyPeer, one('x/a')).allow(one('x/b'), one('x/a')))])
    // x/b (node-2) holds one kept-alive HTTP connection to x/a:8080 (node-1), a request every 500 ms.
    const kept = spawn('ip', ['netns', 'exec', pod('x/b').netns, process.execPath, join(programs, 'keepalive-client.ts'), `http://${pod('x/a').ip}:8080/`], { stdio: ['pipe', 'pipe', 'inherit'] })
    t.teardown(() => {
      if (kept.exitCode === null && kept.signalCode === null) kept.kill()
    })
    const lines = createInterface({ input: kept.stdout! })[Symbol.asyncIterator]()
    const first = JSON.parse(String((await lines.next()).value))
    t.equal(first.status, 200, 'x/b holds a connection to x/a:8080')
    // An update that still allows x/b (and now y too).
    await replace('x', 'a-ingress', spec([fromB, fromY]))
    await check(t, 'updated: x/b and y', [tcp(80, allowed().deny(anyPeer, one('x/a')).allow(one('x/b'), one('x/a')).allow(ns('y'), one('x/a')))])
    await new Promise((r) => setTimeout(r, 1200))
    // An update that denies x/b: new connections stop.
    const denyAt = Date.now()
    await replace('x', 'a-ingress', spec([fromY]))
    const { ok, ms } = await check(t, 'updated: y only', [tcp(80, allowed().deny(anyPeer, one('x/a')).allow(ns('y'), one('x/a')))], 10_000)
    if (ok) t.ok(Date.now() - denyAt < 10_000, `x/b's new connections were denied ${ms} ms after the update`)
    const fresh = await pod('x/b').prober.ask({ op: 'tcp', host: pod('x/a').ip, port: 8080, timeoutMs: PROBE_MS })
    t.notOk(fresh.ok, `a new connection from x/b to x/a:8080 is denied (${fresh.error})`)
    kept.stdin!.end()
    const summary = JSON.parse(String((await lines.next()).value))
    // Established connections pass on conntrack state (README, NetworkPolicy: "a policy change
    // that still allows a connection never cuts it"); weft does not cut them on a deny either.
    t.equal(summary.failed, 0, `every request on the kept connection was answered through both updates (${summary.ok} answered; ${JSON.stringify(summary.errors)})`)
    t.same(summary.localPorts, [first.localPort], 'all on the one connection, never reopened')
  })

  await scenario('a ClusterIP Service in front of x/a is judged after DNAT, by x/a\'s policy', async (t) => {
    await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc-a', namespace: 'x' }, spec: { selector: { pod: 'a' }, ports: [{ name: 'tcp', port: 9000, targetPort: 'serve-80-tcp', protocol: 'TCP' }] } } as never)
    servicesMade.add('x/svc-a')
    const ip: string = (await client.get<any>(serviceInfo, 'svc-a', 'x')).spec.clusterIP
    const column = `svc x/svc-a ${ip}:9000`
    // x/a reaching itself through its own Service (hairpin) is left out: the API says nothing of it.
    const froms = KEYS.filter((k) => k !== 'x/a')
    const svc = (allowedFrom: (from: string) => boolean): Case => {
      const m = new Matrix(froms, [column], true)
      for (const f of froms) m.set(f, column, allowedFrom(f))
      return { proto: 'TCP', port: 9000, expected: m, targets: new Map([[column, { ip, name: 'a' }]]) }
    }
    await check(t, 'the Service with no policy', [svc(() => true)])
    // The policy names the pod's port (80), not the Service's (9000).
    await create('x', 'a-from-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ protocol: 'TCP', port: 80 }] }] })
    await check(t, 'the Service, x/a from y on 80', [svc((f) => f.startsWith('y/')), tcp(80, allowed().deny(anyPeer, one('x/a')).allow(ns('y'), one('x/a')))])
    await replace('x', 'a-from-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ protocol: 'TCP', port: 9000 }] }] })
    await check(t, "the Service, x/a open on 9000 (the Service's port, not the pod's)", [svc(() => false)])
  })

  await scenario('a pod that starts matching a peer selector later is covered, and uncovered when it stops', async (t) => {
    await create('x', 'from-clients', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }] }] })
    await check(t, 'no clients yet', [tcp(80, allowed().deny(anyPeer, ns('x')))])
    await labelPod('y/b', { role: 'client' })
    await labelPod('z/c', { role: 'client' })
    await check(t, 'y/b and z/c are clients', [tcp(80, allowed().deny(anyPeer, ns('x')).allow(['y/b', 'z/c'], ns('x')))])
    await labelPod('y/b', { role: null })
    await check(t, 'y/b is no longer a client', [tcp(80, allowed().deny(anyPeer, ns('x')).allow(['z/c'], ns('x')))])
  })

  await scenario("a pod that starts matching a policy's podSelector later is isolated", async (t) => {
    await create('y', 'isolate-marked', { podSelector: { matchLabels: { isolated: 'yes' } }, policyTypes: ['Ingress'] })
    await labelPod('y/c', { isolated: 'yes' })
    await check(t, 'y/c marked', [tcp(80, allowed().deny(anyPeer, one('y/c'))), udp(80, allowed().deny(anyPeer, one('y/c')))])
    // y/c leaves the selector, y/b (on the other node) joins it; x/b carries the label too, but
    // a policy selects pods of its own namespace only.
    await labelPod('y/c', { isolated: null })
    await labelPod('y/b', { isolated: 'yes' })
    await labelPod('x/b', { isolated: 'yes' })
    await check(t, 'y/b and x/b marked, y/c not', [tcp(80, allowed().deny(anyPeer, one('y/b'))), udp(80, allowed().deny(anyPeer, one('y/b')))])
  })

  await scenario('a namespace that starts matching a namespaceSelector later is covered', async (t) => {
    await create('x', 'from-blue', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }] })
    await check(t, 'no blue namespace', [tcp(80, allowed().deny(anyPeer, ns('x')))])
    await labelNamespace('z', { team: 'blue' })
    await check(t, 'z is blue', [tcp(80, allowed().deny(anyPeer, ns('x')).allow(ns('z'), ns('x')))])
  })

  await scenario('a pod created after the policies is covered, as a protected pod and as a peer', async (t) => {
    await create('x', 'd-from-a', { podSelector: { matchLabels: { pod: 'd' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'a' } } }] }] })
    await create('x', 'a-from-d', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'd' } } }] }] })
    await check(t, 'before x/d exists', [tcp(80, allowed().deny(anyPeer, one('x/a')))])
    podsMade.add('x/d')
    await client.create(podInfo, podSpec('x/d', 'node-2') as never)
    const d = await readyPod('x/d')
    probers.set('x/d', d.prober)
    const keys = [...KEYS, 'x/d']
    const targets = new Map<string, Target>([...podTargets, ['x/d', { ip: d.ip, name: 'd' }]])
    const m = new Matrix(keys, keys, true).deny(anyPeer, one('x/a')).allow(one('x/d'), one('x/a')).deny(anyPeer, one('x/d')).allow(one('x/a'), one('x/d'))
    await check(t, `x/d (${d.ip} on ${d.node}) running`, [{ proto: 'TCP', port: 80, expected: m, targets }])
  })

  await scenario("an agent restart: the stopped node's rules stay, and what changed meanwhile is applied when it is back", async (t) => {
    const one = nodes.get('node-1')!
    const xOn = (node: string) => KEYS.filter((k) => k.startsWith('x/') && pod(k).node === node)
    await create('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })
    await check(t, 'deny ingress x', [tcp(80, allowed().deny(anyPeer, ns('x')))])
    await one.stop()
    t.teardown(() => {
      if (one.pid === undefined) one.start()
    })
    await check(t, "node-1's agent stopped: its rules stay", [tcp(80, allowed().deny(anyPeer, ns('x')))])
    await replace('x', 'deny-ingress', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })
    await check(t, 'changed while node-1 is down: node-2 applies it, node-1 keeps the old rules', [tcp(80, allowed().deny(anyPeer, ns('x')).allow(ns('y'), xOn('node-2')))])
    one.start()
    let body = ''
    await until('node-1 /healthz/netpol healthy again', async () => (body = await execIn(one.netns, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:10256/healthz/netpol']).catch(() => '')).includes('"healthy":true'), 60_000)
    t.match(JSON.parse(body), { healthy: true, enforcing: true }, 'node-1 enforces again')
    await check(t, 'node-1 back', [tcp(80, allowed().deny(anyPeer, ns('x')).allow(ns('y'), ns('x')))])
  })

  await scenario('IPv6', async () => undefined, { skip: "the lab's nodes are IPv4-only (one 172.31.0.x address each, IPv4 pod CIDRs); test/netpol/nftables-kernel.test.ts covers IPv6 rules in the kernel" })

  t.comment(`scenarios took ${Math.round((Date.now() - started) / 1000)} s`)
})
