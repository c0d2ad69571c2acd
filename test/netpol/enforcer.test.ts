// The NetworkPolicy enforcer against an in-memory API (list/watch over HTTP) and a recording
// data plane: what it hands the data plane and when, how it recovers from failures, the
// Events on bad policies, health and metrics; and the agent's start-up of it (nft unusable,
// disabled).
import t from 'tap'
import { RestClient } from '../../src/client/index.ts'
import { NetworkPolicyEnforcer, slimPod, type NetworkPolicyEnforcerOptions } from '../../netpol/enforcer.ts'
import { netpolHealthRoute, startNetworkPolicy, defaultNetpolConfig, } from '../../netpol/run.ts'
import type { NetpolApplierOptions } from '../../netpol/nftables/applier.ts'
import { HttpEndpoints } from '../../src/util/http-endpoints.ts'
import { logger } from '../../src/util/log.ts'
import { FakeApi, type FakeObject } from '../client/fake-api.ts'
import { until } from '../client/helpers.ts'
import { FakeDataPlane } from './fake-data-plane.ts'
import { ipOf, namespace, pod, policy, type PodOptions } from './fixtures.ts'

const log = logger('test')
const fast = { initialMs: 30, maxMs: 200 }

function obj(x: unknown): FakeObject {
  return x as FakeObject
}

function putPod(fake: FakeApi, ns: string, name: string, o: PodOptions = {}): void {
  fake.put('pods', obj(pod(ns, name, { ips: [ipOf(ns, name)], ...o })))
}

interface Rig {
  fake: FakeApi
  client: RestClient
  dp: FakeDataPlane
  enforcer: NetworkPolicyEnforcer
}

async function rig(t: { teardown(fn: () => unknown): void }, opts: Partial<NetworkPolicyEnforcerOptions> = {}, seed: (fake: FakeApi) => void = () => {}): Promise<Rig> {
  const fake = await FakeApi.listen()
  for (const ns of ['x', 'y']) fake.put('namespaces', obj(namespace(ns)))
  for (const ns of ['x', 'y']) for (const name of ['a', 'b', 'c']) putPod(fake, ns, name, { node: name === 'c' ? 'node-2' : 'node-1' })
  seed(fake)
  const client = new RestClient({ server: fake.url })
  const dp = new FakeDataPlane()
  const enforcer = new NetworkPolicyEnforcer({ client, nodeName: 'node-1', nodeIPs: () => ['192.168.0.1'], dataPlane: dp, minSyncMs: 10, retry: fast, log, ...opts })
  t.teardown(async () => {
    await enforcer.stop()
    await client.destroy()
    await fake.close()
  })
  return { fake, client, dp, enforcer }
}

function events(fake: FakeApi): { reason: string; message: string; involvedObject: { kind: string; name: string; namespace: string }; source: { component: string; host: string } }[] {
  return [...fake.objects.entries()].filter(([k]) => k.startsWith('events/')).map(([, v]) => v as never)
}

const allowFromB = { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] }

t.test('a policy isolates the pod it selects; a pod that starts matching a peer selector changes set elements in an incremental sync', async (t) => {
  const { fake, dp, enforcer } = await rig(t)
  t.notOk(enforcer.health().healthy, 'unhealthy before the first sync')
  await enforcer.start()
  t.equal(dp.calls.length, 1)
  t.equal(dp.calls[0].kind, 'resync', 'the first sync is a full one')
  t.same([...dp.last!.pods.values()].map((p) => `${p.key} ${p.ingress.isolated} ${p.egress.isolated}`), ['x/a false false', 'x/b false false', 'y/a false false', 'y/b false false'], "only this node's pods, none isolated")
  t.same(dp.last!.nodeIPs, { v4: ['192.168.0.1'], v6: [] })
  t.ok(enforcer.health().healthy)

  fake.put('networkpolicies', obj({ ...policy('x', 'allow-b', allowFromB), metadata: { namespace: 'x', name: 'allow-b', generation: 1 } }))
  await until(() => dp.programmed?.pods.get('uid-x-a')?.ingress.isolated === true, 'x/a isolated')
  t.equal(dp.calls.at(-1)!.kind, 'sync', 'a change is an incremental sync')
  const a = dp.programmed!.pods.get('uid-x-a')!
  if (!a.ingress.isolated) throw new Error('unreachable')
  t.equal(a.ingress.allow.length, 1)
  t.equal(a.ingress.allow[0].policy, 'x/allow-b')
  const setName = a.ingress.allow[0].peers
  t.same(dp.programmed!.sets.get(setName)?.v4, [ipOf('x', 'b')], 'the peer set holds x/b')
  t.notOk(dp.programmed!.pods.get('uid-x-b')!.ingress.isolated, 'x/b is not selected')
  t.notOk(dp.programmed!.pods.get('uid-y-a')!.ingress.isolated, 'another namespace is not')

  // x/c (on node-2) gets the peer's label: only the set's elements change.
  putPod(fake, 'x', 'c', { node: 'node-2', labels: { pod: 'b' } })
  await until(() => (dp.programmed?.sets.get(setName)?.v4.length ?? 0) === 2, 'x/c in the peer set')
  t.same(dp.programmed!.sets.get(setName)?.v4, [ipOf('x', 'b'), ipOf('x', 'c')])
  t.same(dp.programmed!.pods.get('uid-x-a'), a, "x/a's entries are as they were")
  t.equal(dp.calls.at(-1)!.kind, 'sync')

  fake.remove('networkpolicies', 'x', 'allow-b')
  await until(() => dp.programmed?.pods.get('uid-x-a')?.ingress.isolated === false, 'x/a open again')
  t.equal(dp.programmed!.sets.size, 0)
  t.equal(await enforcer.metrics.rules.get().then((m) => m.values[0].value), 0)
})

t.test('a bad policy: one Event per problem and generation, the other policies still enforced', async (t) => {
  const { fake, dp, enforcer } = await rig(t)
  await enforcer.start()
  const bad = (generation: number) =>
    obj({
      ...policy('x', 'bad', {
        podSelector: { matchLabels: { pod: 'b' } },
        ingress: [{ from: [{ ipBlock: { cidr: 'not-a-cidr' } }] }, { from: [{ podSelector: {} }] }],
      }),
      metadata: { namespace: 'x', name: 'bad', generation },
    })
  const unusable = obj({ ...policy('y', 'unusable', { podSelector: { matchExpressions: [{ key: 'pod', operator: 'Sideways', values: ['a'] }] } }), metadata: { namespace: 'y', name: 'unusable', generation: 1 } })
  fake.put('networkpolicies', bad(1))
  fake.put('networkpolicies', unusable)
  fake.put('networkpolicies', obj({ ...policy('x', 'allow-b', allowFromB), metadata: { namespace: 'x', name: 'allow-b', generation: 1 } }))
  await until(() => dp.programmed?.pods.get('uid-x-a')?.ingress.isolated === true && dp.programmed?.pods.get('uid-x-b')?.ingress.isolated === true, 'both good policies')
  await enforcer.problems.flush()
  await until(() => events(fake).length === 2, 'two Events')
  const [rule, whole] = events(fake).sort((p, q) => p.reason.localeCompare(q.reason))
  t.match(rule, { reason: 'InvalidRule', message: /^spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: /, involvedObject: { kind: 'NetworkPolicy', name: 'bad', namespace: 'x' }, source: { component: 'weft-network-policy', host: 'node-1' } })
  t.match(whole, { reason: 'PolicyNotEnforced', message: /selects no pods/, involvedObject: { kind: 'NetworkPolicy', name: 'unusable', namespace: 'y' } })
  const xb = dp.programmed!.pods.get('uid-x-b')!
  t.ok(xb.ingress.isolated && xb.ingress.allow.length === 1 && xb.ingress.allow[0].peers !== 'any', "the bad policy's good rule is enforced, its bad one left out")

  // More syncs (pods come and go): no new Event.
  putPod(fake, 'x', 'd')
  await until(() => dp.programmed?.pods.has('uid-x-d') === true, 'x/d')
  putPod(fake, 'y', 'd')
  await until(() => dp.programmed?.pods.has('uid-y-d') === true, 'y/d')
  await enforcer.problems.flush()
  t.equal(events(fake).length, 2, 'still one Event per problem')
  t.equal((await enforcer.metrics.policyProblems.get()).values.reduce((s, v) => s + v.value, 0), 2)

  // A new generation with the same problem is reported again.
  fake.put('networkpolicies', bad(2))
  const calls = dp.calls.length
  await until(() => dp.calls.length > calls, 'a sync')
  await enforcer.problems.flush()
  await until(() => events(fake).length === 3, 'a third Event')
  t.equal(events(fake).filter((e) => e.reason === 'InvalidRule').length, 2)
})

t.test('a failed sync: retried with backoff as a full resync, unhealthy meanwhile, counted', async (t) => {
  const { fake, dp, enforcer } = await rig(t, { healthTimeoutMs: 40, retry: { initialMs: 150, maxMs: 300 } })
  await enforcer.start()
  dp.failNext = 2
  fake.put('networkpolicies', obj({ ...policy('x', 'deny', { podSelector: {} }), metadata: { namespace: 'x', name: 'deny', generation: 1 } }))
  await until(() => dp.calls.length === 2, 'the failed sync')
  t.equal(dp.calls[1].kind, 'sync')
  t.ok(dp.calls[1].failed)
  await new Promise((r) => setTimeout(r, 60))
  t.match(enforcer.health(), { healthy: false, enforcing: true, reason: /failed/ }, 'unhealthy while the change waits past the timeout')
  await until(() => dp.calls.length === 4, 'two retries')
  t.same(dp.calls.slice(2).map((c) => `${c.kind} ${c.failed}`), ['resync true', 'resync false'], 'retries are full resyncs')
  t.ok(dp.calls[2].at - dp.calls[1].at >= 140, 'the first retry waits')
  t.ok(dp.calls[3].at - dp.calls[2].at >= 290, 'the second waits twice as long')
  t.ok(enforcer.health().healthy, 'healthy again')
  t.ok(dp.programmed?.pods.get('uid-x-a')?.ingress.isolated)
  const failures = await enforcer.metrics.syncFailures.get()
  t.same(failures.values.map((v) => `${v.labels.sync} ${v.value}`).sort(), ['full 1', 'partial 1'])
  const text = await enforcer.metrics.registry.metrics()
  t.match(text, /weft_netpol_sync_duration_seconds_count\{sync="full"\} 2/)
  t.match(text, /weft_netpol_last_sync_timestamp_seconds \d/)
})

t.test('a failed first sync leaves the enforcer unhealthy until a retry succeeds', async (t) => {
  const { dp, enforcer } = await rig(t)
  dp.failNext = 1
  await enforcer.start()
  t.match(enforcer.health(), { healthy: false, reason: 'the rules have not been synced yet' })
  await until(() => dp.programmed !== undefined, 'the retry')
  t.ok(enforcer.health().healthy)
})

t.test('bursts are coalesced: 100 changes, a few syncs', async (t) => {
  const { fake, dp, enforcer } = await rig(t, { minSyncMs: 150 })
  await enforcer.start()
  fake.put('networkpolicies', obj({ ...policy('x', 'allow-b', allowFromB), metadata: { namespace: 'x', name: 'allow-b', generation: 1 } }))
  for (let i = 0; i < 100; i++) fake.put('pods', obj(pod('x', `p${i}`, { ips: [`10.9.${i >> 8}.${i & 255}`], labels: { pod: 'b' }, node: 'node-2' })))
  const peers = () => {
    const a = dp.programmed?.pods.get('uid-x-a')
    return a?.ingress.isolated ? (dp.programmed!.sets.get(a.ingress.allow[0].peers)?.v4.length ?? 0) : 0
  }
  await until(() => peers() === 101, 'every new pod in the peer set')
  t.ok(dp.calls.length - 1 <= 5, `${dp.calls.length - 1} syncs for 101 changes`)
  for (let i = 2; i < dp.calls.length; i++) t.ok(dp.calls[i].at - dp.calls[i - 1].at >= 140, 'syncs at least minSyncMs apart')
})

t.test('the resync period brings full resyncs', async (t) => {
  const { dp, enforcer } = await rig(t, { resyncMs: 100 })
  await enforcer.start()
  await until(() => dp.calls.filter((c) => c.kind === 'resync').length >= 3, 'two periodic resyncs')
  t.ok(dp.calls.every((c) => c.kind === 'resync'), 'nothing changed: only the periodic resyncs')
  t.ok(enforcer.health().healthy)
})

t.test('metrics: rules programmed, isolated pods, drops per pod read on scrape', async (t) => {
  const { fake, dp, enforcer } = await rig(t)
  await enforcer.start()
  fake.put('networkpolicies', obj({ ...policy('x', 'allow-b', { ...allowFromB, policyTypes: ['Ingress', 'Egress'], egress: [{ to: [{ podSelector: {} }] }, { ports: [{ port: 53, protocol: 'UDP' }] }] }), metadata: { namespace: 'x', name: 'allow-b', generation: 1 } }))
  await until(() => dp.programmed?.pods.get('uid-x-a')?.egress.isolated === true, 'x/a isolated')
  dp.drops.set('x/a', { packets: 7, bytes: 420 })
  dp.drops.set('x/b', { packets: Number.NaN, bytes: 0 })
  const text = await enforcer.metrics.registry.metrics()
  t.match(text, /weft_netpol_rules 3\n/)
  t.match(text, /weft_netpol_isolated_pods\{direction="ingress"\} 1\n/)
  t.match(text, /weft_netpol_isolated_pods\{direction="egress"\} 1\n/)
  t.match(text, /weft_netpol_dropped_packets_total\{namespace="x",pod="a"\} 7\n/)
  t.notMatch(text, /pod="b"/, 'a counter that is not a number is left out, not a failed scrape')
  dp.drops.clear()
  t.notMatch(await enforcer.metrics.registry.metrics(), /weft_netpol_dropped_packets_total\{/, 'a pod gone from the counters is gone from the metric')
})

t.test('the pod cache keeps only what the compiler reads', async (t) => {
  const full = pod('x', 'a', { ips: ['10.0.1.1', 'fd00::1:1'], ports: [{ name: 'http', containerPort: 80 }] })
  full.metadata!.annotations = { big: 'x'.repeat(1000) }
  full.metadata!.managedFields = [{ manager: 'kubectl' }]
  full.spec!.containers[0].env = [{ name: 'SECRET', value: 's' }]
  full.spec!.containers[0].image = 'img'
  full.status!.conditions = [{ type: 'Ready', status: 'True' }]
  const slim = slimPod(full)
  t.same(slim, {
    apiVersion: undefined,
    kind: undefined,
    metadata: { name: 'a', namespace: 'x', uid: 'uid-x-a', resourceVersion: undefined, labels: { pod: 'a' } },
    spec: { nodeName: 'node-1', hostNetwork: undefined, containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80, protocol: undefined }] }] },
    status: { phase: 'Running', podIP: '10.0.1.1', podIPs: [{ ip: '10.0.1.1' }, { ip: 'fd00::1:1' }] },
  })
})

t.test('start-up: nft unusable means enforcement off, loudly; disabled means no rules (an earlier run\'s removed); stop with cleanup', async (t) => {
  const fake = await FakeApi.listen()
  const client = new RestClient({ server: fake.url })
  t.teardown(async () => {
    await client.destroy()
    await fake.close()
  })
  const lines: string[] = []
  const capture = { ...log, error: (o: object, m?: string) => lines.push(`${JSON.stringify(o)} ${m}`), info: () => undefined, warn: () => undefined, debug: () => undefined, child: () => capture } as unknown as typeof log
  const deps = { client, nodeName: 'node-1', nodeIPs: () => [], log: capture }
  let created = 0
  const createDataPlane = async () => {
    created++
    return new FakeDataPlane()
  }

  const broken = await startNetworkPolicy(defaultNetpolConfig, { ...deps, probe: async () => ({ ok: false, reason: 'nft is not installed (apt-get install nftables)' }), createDataPlane })
  t.equal(broken.enforcer, undefined)
  t.equal(created, 0)
  t.match(broken.health(), { healthy: false, enforcing: false, reason: 'nftables cannot be used: nft is not installed (apt-get install nftables)' })
  t.match(lines.join('\n'), /NetworkPolicy enforcement is OFF: nftables cannot be used: nft is not installed.*--network-policy=false/)
  t.match(await broken.metrics.registry.metrics(), /weft_netpol_enforcing\{reason="nftables cannot be used: nft is not installed \(apt-get install nftables\)"\} 0/)

  const noApplier = await startNetworkPolicy(defaultNetpolConfig, { ...deps, probe: async () => ({ ok: true }), createDataPlane: async () => Promise.reject(new Error('no such module')) })
  t.match(noApplier.health(), { healthy: false, enforcing: false, reason: /could not be set up: no such module/ })

  let leftover: FakeDataPlane | undefined
  const disabled = await startNetworkPolicy({ ...defaultNetpolConfig, enabled: false }, { ...deps, probe: async () => ({ ok: true }), createDataPlane: async () => (leftover = new FakeDataPlane()) })
  t.equal(disabled.enforcer, undefined, 'no enforcer')
  t.ok(leftover?.cleanedUp, "an earlier run's tables are removed")
  t.equal(leftover?.calls.length, 0, 'and no rule written')
  t.match(disabled.health(), { healthy: true, enforcing: false, reason: 'disabled by --network-policy=false' })
  const disabledNoNft = await startNetworkPolicy({ ...defaultNetpolConfig, enabled: false }, { ...deps, probe: async () => ({ ok: false, reason: 'no nft' }), createDataPlane })
  t.equal(created, 0, 'without nft nothing is created')
  t.match(disabledNoNft.health(), { healthy: true, enforcing: false })

  let seen: NetpolApplierOptions | undefined
  let dp: FakeDataPlane | undefined
  const running = await startNetworkPolicy({ ...defaultNetpolConfig, deny: 'reject', logRate: 5 }, {
    ...deps,
    probe: async () => ({ ok: true }),
    createDataPlane: async (o) => {
      seen = o
      return (dp = new FakeDataPlane())
    },
  })
  t.match(seen, { deny: 'reject', logRate: 5 })
  t.ok(running.enforcer)
  t.ok(running.health().healthy)
  t.equal(dp!.calls.length, 1)
  t.match(await running.metrics.registry.metrics(), /weft_netpol_enforcing\{reason="enforcing"\} 1/)
  await running.stop()
  t.notOk(dp!.cleanedUp, 'stopping leaves the rules in place')
  await running.stop({ cleanup: true })
  t.ok(dp!.cleanedUp, 'unless asked to clean up')

  const gap = 'bridged IPv6 pod traffic does not reach netfilter'
  const partial = await startNetworkPolicy(defaultNetpolConfig, { ...deps, coverageGap: gap, probe: async () => ({ ok: true }), createDataPlane: async () => new FakeDataPlane() })
  t.ok(partial.enforcer, 'what can be enforced is')
  t.match(partial.health(), { healthy: false, enforcing: true, reason: gap }, 'but the node is unhealthy, saying why')
  t.match(lines.join('\n'), /NetworkPolicy enforcement is INCOMPLETE: bridged IPv6/)
  await partial.stop()
})

t.test('/healthz/netpol beside the proxy\'s endpoints, added while they listen', async (t) => {
  const endpoints = new HttpEndpoints({ '/healthz': (res) => void res.writeHead(200).end('ok\n') })
  const [port] = await endpoints.listen(['127.0.0.1:0'])
  t.teardown(() => endpoints.close())
  let healthy = false
  endpoints.setRoute('/healthz/netpol', netpolHealthRoute({ health: () => ({ healthy, enforcing: healthy, ...(healthy ? {} : { reason: 'nftables cannot be used: x' }), currentTime: 'now' }) }))
  const get = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz/netpol`)
    return { status: res.status, body: (await res.json()) as unknown }
  }
  t.same(await get(), { status: 503, body: { healthy: false, enforcing: false, reason: 'nftables cannot be used: x', currentTime: 'now' } })
  healthy = true
  t.same(await get(), { status: 200, body: { healthy: true, enforcing: true, currentTime: 'now' } })
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, "the proxy's own route is untouched")
})

t.test('start-up does not wait forever for lists the node may not make: enforcement starts in the background', async (t) => {
  const fake = await FakeApi.listen()
  fake.put('namespaces', obj(namespace('x')))
  putPod(fake, 'x', 'a')
  const client = new RestClient({ server: fake.url })
  const forbidden = { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403, message: 'pods is forbidden' }
  for (let i = 0; i < 3; i++) fake.failNext(403, forbidden)
  const warnings: string[] = []
  const capture = { ...log, warn: (_o: object, m?: string) => warnings.push(m ?? ''), info: () => undefined, error: () => undefined, debug: () => undefined, child: () => capture } as unknown as typeof log
  const dp = new FakeDataPlane()
  const started = Date.now()
  const running = await startNetworkPolicy(defaultNetpolConfig, { client, nodeName: 'node-1', nodeIPs: () => [], log: capture, probe: async () => ({ ok: true }), createDataPlane: async () => dp, startTimeoutMs: 100 })
  t.teardown(async () => {
    await running.stop()
    await client.destroy()
    await fake.close()
  })
  t.ok(Date.now() - started < 400, 'the agent goes on after startTimeoutMs')
  t.equal(dp.calls.length, 0, 'nothing synced yet')
  t.match(running.health(), { healthy: false, enforcing: true, reason: 'the rules have not been synced yet' })
  t.ok(warnings.some((w) => /has not listed NetworkPolicies, Namespaces and Pods yet/.test(w)))
  await until(() => dp.programmed !== undefined, 'the first sync once the lists succeed')
  t.ok(dp.programmed!.pods.has('uid-x-a'))
  t.ok(running.health().healthy)
})

t.test('judge(): the verdict the userspace relays ask, across nodes, from the state last synced', async (t) => {
  const { fake, dp, enforcer } = await rig(t)
  t.ok(enforcer.judge(ipOf('y', 'a'), ipOf('x', 'a'), 'TCP', 80), 'before the first sync everything is allowed, as in the kernel')
  await enforcer.start()
  fake.put('networkpolicies', obj(policy('x', 'allow-b', allowFromB)))
  // x/c on node-2: isolated for egress to x/a only on TCP 80.
  fake.put('networkpolicies', obj(policy('x', 'c-out', { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { pod: 'a' } } }], ports: [{ port: 80 }] }] })))
  await until(() => dp.programmed?.pods.get('uid-x-a')?.ingress.isolated === true, 'x/a isolated')
  t.ok(enforcer.judge(ipOf('x', 'b'), ipOf('x', 'a'), 'TCP', 80), 'x/b → x/a: allowed by the policy')
  t.notOk(enforcer.judge(ipOf('y', 'a'), ipOf('x', 'a'), 'TCP', 80), 'y/a → x/a: x/a is isolated')
  t.ok(enforcer.judge('192.168.0.1', ipOf('x', 'a'), 'TCP', 80), 'the node itself → its own pod: allowed')
  t.notOk(enforcer.judge('192.168.9.9', ipOf('x', 'a'), 'TCP', 80), 'another address → x/a: denied')
  t.ok(enforcer.judge(ipOf('x', 'b'), ipOf('y', 'a'), 'UDP', 53), 'x/b → y/a: nothing isolated')
  // The source on another node: its egress is judged from that node's compiled state.
  t.notOk(enforcer.judge(ipOf('x', 'c'), ipOf('y', 'b'), 'TCP', 80), "x/c (node-2) → y/b: x/c's egress denies it")
  t.notOk(enforcer.judge(ipOf('x', 'c'), ipOf('x', 'a'), 'TCP', 81), 'x/c → x/a:81: not in its egress ports')
  t.notOk(enforcer.judge(ipOf('x', 'c'), ipOf('x', 'a'), 'TCP', 80), "x/c → x/a:80: its egress allows it, x/a's ingress does not")
  t.notOk(enforcer.judge(ipOf('x', 'c'), ipOf('y', 'c'), 'TCP', 80), 'x/c → y/c: denied by its egress')
  t.ok(enforcer.judge(ipOf('y', 'c'), ipOf('x', 'b'), 'TCP', 80), 'y/c (node-2) → x/b: neither isolated')
})
