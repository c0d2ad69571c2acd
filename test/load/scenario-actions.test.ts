// Scenario actions against a real weft API server with its scheduler and controllers. The test
// is the kubelet: fakeKubelet makes bound pods Running and Ready and finishes their deletion;
// for pods with readiness gates a stand-in here makes Ready follow the gates, as the kubelet does.
import t from 'tap'
import type { V1Deployment, V1EndpointSlice, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import { fakeKubelet, heartbeat, node, startCluster, until } from '../helpers/control-plane.ts'
import { executeAction } from '../../load/scenario/actions.ts'
import { newLedger, RUN_LABEL, type ActionContext, type ScenarioLedger } from '../../load/scenario/context.ts'
import type { ActionSpec } from '../../load/scenario/model.ts'
import { parseScenario } from '../../load/scenario/parse.ts'
import { preflight, PreflightError } from '../../load/scenario/preflight.ts'
import { GATE_HINT } from '../../load/scenario/readiness.ts'
import { RESTARTED_AT } from '../../load/scenario/workloads.ts'
import { cleanupScenario } from '../../load/scenario/run.ts'

const info = (kind: string, apiVersion?: string) => resources.find((r) => r.kind === kind && (!apiVersion || `${r.group ? `${r.group}/` : ''}${r.version}` === apiVersion))!
const podInfo = info('Pod')
const GATE = 'weft.dev/ready'

const c = await startCluster(t)
// Pool a: n1, n2 (workloads, readiness); pool b: d1, d2 (drain). d2 starts cordoned.
await c.client.create(info('Node'), node('n1', { labels: { pool: 'a' } }))
await c.client.create(info('Node'), node('n2', { labels: { pool: 'a' } }))
await c.client.create(info('Node'), node('d1', { labels: { pool: 'b' } }))
await c.client.create(info('Node'), { ...node('d2', { labels: { pool: 'b' } }), spec: { unschedulable: true } })
for (const n of ['n1', 'n2', 'd1', 'd2']) t.teardown(heartbeat(c.client, n))
let d2Ready = true
t.teardown(fakeKubelet(c.client, (p) => !p.spec.readinessGates && (p.spec.nodeName !== 'd2' || d2Ready)))
let gatesHonoured = true
t.teardown(gateKubelet())

function context(ledger: ScenarioLedger = newLedger(), timeoutMs = 60_000): ActionContext {
  return { client: c.client, namespace: 'default', runId: 'run-1', signal: AbortSignal.timeout(timeoutMs), ledger, pollMs: 50, evictionRetryMs: 100 }
}

function act(spec: ActionSpec, ctx: ActionContext = context()): Promise<string> {
  return executeAction(ctx, spec)
}

function deployment(name: string, replicas: number, opts: { pool?: string; gated?: boolean; namespace?: string } = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: opts.namespace ?? 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { pool: opts.pool ?? 'a' },
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'c', image: 'weft/echo', ports: [{ name: 'http', containerPort: 8080 }] }],
          ...(opts.gated ? { readinessGates: [{ conditionType: GATE }] } : {}),
        },
      },
    },
  }
}

const isReady = (p: V1Pod) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false
const active = (p: V1Pod) => !p.metadata?.deletionTimestamp
async function pods(selector: string, namespace = 'default'): Promise<V1Pod[]> {
  return (await c.client.list<V1Pod>(podInfo, { namespace, labelSelector: selector })).items
}

/** For pods with readiness gates: Running, an IP, and Ready exactly when every gate's condition is True (strategic merge: the gates' conditions stay). */
function gateKubelet(): () => void {
  let stopped = false
  let next = 2
  const ips = new Map<string, string>()
  void (async () => {
    while (!stopped) {
      try {
        if (gatesHonoured) {
          for (const pod of await pods('app')) {
            if (!pod.spec?.readinessGates || !pod.spec.nodeName || pod.metadata?.deletionTimestamp) continue
            const uid = pod.metadata!.uid!
            if (!ips.has(uid)) ips.set(uid, `10.245.0.${next++}`)
            const ready = pod.spec.readinessGates.every((g) => pod.status?.conditions?.some((x) => x.type === g.conditionType && x.status === 'True'))
            if (pod.status?.phase === 'Running' && isReady(pod) === ready) continue
            const status = (ok: boolean) => (ok ? 'True' : 'False')
            const conditions = [
              { type: 'Initialized', status: 'True' },
              { type: 'ContainersReady', status: 'True' },
              { type: 'Ready', status: status(ready) },
              { type: 'PodScheduled', status: 'True' },
            ]
            const ip = ips.get(uid)
            await c.client.patch(podInfo, pod.metadata!.name!, 'default', { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions } }, 'strategic', { subresource: 'status' }).catch(() => undefined)
          }
        }
      } catch {}
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  return () => {
    stopped = true
  }
}

t.test('scale and rollout wait for what kubectl rollout status waits for', async (t) => {
  await c.client.create(info('Deployment'), deployment('web', 2))
  t.equal(await act({ kind: 'scale', deployment: { name: 'web' }, replicas: 4 }), 'deployment web has 4 ready replicas')
  const scaled = await c.client.get<V1Deployment>(info('Deployment'), 'web', 'default')
  t.equal(scaled.status?.readyReplicas, 4, 'complete only once 4 replicas are ready')
  t.equal(scaled.status?.observedGeneration, scaled.metadata?.generation)

  t.equal(await act({ kind: 'rollout', deployment: { name: 'web' } }), 'deployment web rolled out: 4 new replicas available')
  const rolled = await c.client.get<V1Deployment>(info('Deployment'), 'web', 'default')
  const restartedAt = rolled.spec?.template?.metadata?.annotations?.[RESTARTED_AT]
  t.ok(restartedAt && Date.now() - Date.parse(restartedAt) < 60_000, `the template carries ${RESTARTED_AT} (${restartedAt})`)
  const sets = (await c.client.list<V1ReplicaSet>(info('ReplicaSet'), { namespace: 'default', labelSelector: 'app=web' })).items
  const live = sets.filter((rs) => (rs.spec?.replicas ?? 0) > 0)
  t.equal(live.length, 1, 'one ReplicaSet has replicas: the new one')
  t.equal(live[0].spec?.template?.metadata?.annotations?.[RESTARTED_AT], restartedAt)
  t.equal(sets.length, 2, 'and the old one is scaled to 0')
  const hash = live[0].metadata?.labels?.['pod-template-hash']
  const now = (await pods('app=web')).filter(active)
  t.equal(now.length, 4)
  t.ok(now.every((p) => p.metadata?.labels?.['pod-template-hash'] === hash && isReady(p)), 'every running pod is a new, ready one')

  t.equal(await act({ kind: 'scale', deployment: { name: 'web' }, replicas: 1 }), 'deployment web has 1 ready replica')
  t.equal((await c.client.get<V1Deployment>(info('Deployment'), 'web', 'default')).status?.replicas, 1, 'scaled down: the others are gone from the count')
  await t.rejects(act({ kind: 'scale', deployment: { name: 'nope' }, replicas: 1 }), { name: 'ActionFailed', message: 'there is no Deployment nope in namespace default' })
  await t.rejects(act({ kind: 'rollout', deployment: { name: 'web', namespace: 'other' } }), { message: 'there is no Deployment web in namespace other' })
  await c.client.patch(info('Deployment'), 'web', 'default', { spec: { paused: true } }, 'merge')
  await t.rejects(act({ kind: 'rollout', deployment: { name: 'web' } }), { message: 'deployment web is paused: resume it (kubectl rollout resume) before restarting it' })
  await c.client.patch(info('Deployment'), 'web', 'default', { spec: { paused: false } }, 'merge')
})

t.test('deletePods deletes pods picked from those matching and waits until they are gone', async (t) => {
  await c.client.create(info('Deployment'), deployment('del', 3))
  await until('3 del pods ready', async () => (await pods('app=del')).filter((p) => isReady(p) && active(p)).length === 3, 30_000)
  const before = new Map((await pods('app=del')).map((p) => [p.metadata!.uid!, p.metadata!.name!]))
  const message = await act({ kind: 'deletePods', selector: 'app=del', count: 2, gracePeriodSeconds: 0 })
  const m = /^deleted (del-\S+), (del-\S+); gone$/.exec(message)
  t.ok(m, message)
  const after = await pods('app=del')
  for (const name of [m![1], m![2]]) {
    const uid = [...before].find(([, n]) => n === name)![0]
    t.notOk(after.some((p) => p.metadata?.uid === uid), `${name} is gone`)
  }
  t.ok(after.some((p) => before.has(p.metadata!.uid!)), 'the third pod was left alone')
  await t.rejects(act({ kind: 'deletePods', selector: 'app=del', count: 9 }), { message: /^only [1-5] running pods in namespace default match app=del; the action deletes 9$/ })
  await t.rejects(act({ kind: 'deletePods', selector: 'app=nothing', count: 1 }), { message: 'no running pods in namespace default match app=nothing; the action deletes 1' })
})

t.test('cordon and uncordon patch spec.unschedulable; the ledger keeps what the run cordoned', async (t) => {
  const ledger = newLedger()
  const unschedulable = async () => (await c.client.get<any>(info('Node'), 'n2')).spec?.unschedulable
  t.equal(await act({ kind: 'cordon', node: 'n2' }, context(ledger)), 'node n2 cordoned')
  t.equal(await unschedulable(), true)
  t.same([...ledger.cordoned], ['n2'])
  t.equal(await act({ kind: 'cordon', node: 'n2' }, context(ledger)), 'node n2 was cordoned already')
  t.equal(await act({ kind: 'uncordon', node: 'n2' }, context(ledger)), 'node n2 uncordoned')
  t.notOk(await unschedulable())
  t.same([...ledger.cordoned], [], 'uncordoned: nothing left to undo')
  t.equal(await act({ kind: 'uncordon', node: 'n2' }, context(ledger)), 'node n2 was schedulable already')
  await t.rejects(act({ kind: 'cordon', node: 'n9' }), { message: 'there is no node n9' })
  t.equal(await act({ kind: 'cordon', node: 'n2' }, context(ledger)), 'node n2 cordoned')
  const cleaned = await cleanupScenario({ client: c.client, runId: 'run-1', ledger })
  t.same(cleaned.done, ['uncordoned node n2'])
  t.notOk(await unschedulable(), 'cleanup uncordons what the run cordoned')
})

t.test('drain evicts all but DaemonSet and mirror pods within the disruption budget, and waits until they are gone', async (t) => {
  await c.client.create(info('Namespace'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })
  await c.client.create(info('Deployment'), deployment('web', 2, { pool: 'b', namespace: 'shop' }))
  await c.client.create(info('DaemonSet'), {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'shop' },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { nodeSelector: { pool: 'b' }, containers: [{ name: 'a', image: 'weft/echo' }] } } },
  })
  await c.client.create(info('PodDisruptionBudget'), { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web', namespace: 'shop' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } })
  await c.client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lonely', namespace: 'shop', labels: { app: 'lonely' } }, spec: { nodeName: 'd1', terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'weft/echo' }] } })
  await c.client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'static-d1', namespace: 'shop', labels: { app: 'static' }, annotations: { 'kubernetes.io/config.mirror': 'abc' } }, spec: { nodeName: 'd1', containers: [{ name: 'c', image: 'weft/echo' }] } })
  const onD1 = async () => (await c.client.list<V1Pod>(podInfo, { fieldSelector: 'spec.nodeName=d1' })).items.filter(active)
  await until('the web pods, the DaemonSet pod, the bare and the mirror pod Ready on d1', async () => {
    const here = await onD1()
    return here.length === 5 && here.every(isReady)
  }, 30_000)
  await until('the budget allows one disruption', async () => (await c.client.get<any>(info('PodDisruptionBudget'), 'web', 'shop')).status?.disruptionsAllowed === 1)

  const ledger = newLedger()
  await t.rejects(act({ kind: 'drain', node: 'd1', force: false }, context(ledger)), {
    message: 'node d1 cordoned, but cannot evict pods that declare no controller: shop/lonely (write drain: {node: d1, force: true} to evict them anyway)',
  })
  t.same([...ledger.cordoned], ['d1'], 'cordoned all the same, as kubectl drain does')
  t.equal((await onD1()).length, 5, 'nothing was evicted')

  // The web pods' replacements land on d2 and are not Ready until the test says so: the budget holds the second pod.
  d2Ready = false
  await c.client.patch(info('Node'), 'd2', undefined, { spec: { unschedulable: null } }, 'merge')
  const draining = act({ kind: 'drain', node: 'd1', force: true, gracePeriodSeconds: 1 }, context(ledger))
  let done = false
  void draining.then(() => (done = true), () => (done = true))
  await until('one web pod evicted, its replacement waiting on d2', async () => (await onD1()).filter((p) => p.metadata?.labels?.app === 'web').length === 1 && (await pods('app=web', 'shop')).some((p) => p.spec?.nodeName === 'd2'), 30_000)
  await new Promise((r) => setTimeout(r, 1000))
  t.equal((await onD1()).filter((p) => p.metadata?.labels?.app === 'web').length, 1, 'the budget keeps the second web pod while its replacement is not Ready (evictions retried)')
  t.notOk(done, 'so the drain is not complete')
  d2Ready = true
  t.equal(await draining, 'node d1 was cordoned already; evicted 3 pods from d1 (1 DaemonSet pod ignored); all gone')
  t.same((await onD1()).map((p) => p.metadata?.labels?.app).sort(), ['agent', 'static'], "only the DaemonSet's and the mirror pod are left")
  t.same([...ledger.cordoned], ['d1'])
  await t.rejects(act({ kind: 'drain', node: 'd9', force: false }), { message: 'there is no node d9' })
})

t.test('addServices creates 200 labelled ClusterIP Services; removeServices deletes them', async (t) => {
  const message = await act({ kind: 'addServices', prefix: 'load-svc', count: 200, port: 80, targetPort: 'http', selector: { app: 'web' } })
  t.equal(message, 'created 200 of 200 Services load-svc-0…load-svc-199 in default')
  const created = (await c.client.listAll<V1Service>(info('Service'), { namespace: 'default', labelSelector: `${RUN_LABEL}=run-1` })).items
  t.equal(created.length, 200)
  t.ok(created.every((s) => s.spec?.type === 'ClusterIP' && /^10\./.test(s.spec.clusterIP ?? '') && s.spec.ports?.[0]?.port === 80 && s.spec.ports[0].targetPort === 'http' && s.spec.selector?.app === 'web'), 'each has a ClusterIP, the port and the selector')
  t.same(new Set(created.map((s) => s.metadata?.name)), new Set(Array.from({ length: 200 }, (_, i) => `load-svc-${i}`)))
  t.equal(await act({ kind: 'removeServices', prefix: 'load-svc' }), 'removed 200 Services load-svc-* from default')
  t.equal((await c.client.list(info('Service'), { namespace: 'default', labelSelector: `${RUN_LABEL}=run-1` })).items.length, 0)

  // A Service of the same name made by someone else: that one fails, the others are made; cleanup removes only the run's.
  await c.client.create(info('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'dup-1', namespace: 'default' }, spec: { ports: [{ port: 80 }] } })
  await t.rejects(act({ kind: 'addServices', prefix: 'dup', count: 3, port: 81 }), { message: /^created 2 of 3 Services dup-0…dup-2 in default; 1 failed, the first: dup-1: .*already exists/ })
  const cleaned = await cleanupScenario({ client: c.client, runId: 'run-1', ledger: newLedger() })
  t.same(cleaned, { done: ['removed 2 Services the run added'], failed: [] })
  const left = (await c.client.list<V1Service>(info('Service'), { namespace: 'default' })).items.map((s) => s.metadata?.name)
  t.ok(left.includes('dup-1') && !left.includes('dup-0') && !left.includes('dup-2'), `the other's Service stays (${left.join(' ')})`)
})

t.test('setReady flips readiness through the pods\' readiness gate; the endpoints follow', async (t) => {
  await c.client.create(info('Deployment'), deployment('gated', 3, { gated: true }))
  await c.client.create(info('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'gated', namespace: 'default' }, spec: { selector: { app: 'gated' }, ports: [{ port: 80, targetPort: 8080 }] } })
  await until('3 gated pods running, not ready: their gate has no condition yet', async () => {
    const now = (await pods('app=gated')).filter(active)
    return now.length === 3 && now.every((p) => p.status?.phase === 'Running' && !isReady(p))
  }, 30_000)
  const readyEndpoints = async () => {
    const slices = (await c.client.list<V1EndpointSlice>(info('EndpointSlice'), { namespace: 'default', labelSelector: 'kubernetes.io/service-name=gated' })).items
    return slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).length
  }

  const ledger = newLedger()
  t.match(await act({ kind: 'setReady', selector: 'app=gated', count: 3, ready: true }, context(ledger)), /^gated-\S+, gated-\S+, gated-\S+ Ready by readiness gate$/)
  t.ok((await pods('app=gated')).every((p) => isReady(p) && p.status?.conditions?.some((x) => x.type === GATE && x.status === 'True')), 'the gate is True and the pods Ready')
  await until('3 ready endpoints', async () => (await readyEndpoints()) === 3)

  const message = await act({ kind: 'setReady', selector: 'app=gated', count: 1, ready: false }, context(ledger))
  const name = /^(gated-\S+) not Ready by readiness gate$/.exec(message)?.[1]
  t.ok(name, message)
  const flipped = (await pods('app=gated')).find((p) => p.metadata?.name === name)!
  t.match(flipped.status?.conditions?.find((x) => x.type === GATE), { status: 'False', reason: 'LoadScenarioNotReady', message: 'set by weft load (run run-1)' })
  t.notOk(isReady(flipped))
  await until('the endpoint of the pod set not ready is not ready', async () => (await readyEndpoints()) === 2)
  t.same([...ledger.unready.keys()], [`default/${name}`])

  await t.rejects(act({ kind: 'setReady', selector: 'app=gated', count: 5, ready: false }), { message: 'only 2 of the 3 running pods matching app=gated in default can be set not ready: the others are already; the action sets 5' })
  const ungated: Error = await act({ kind: 'setReady', selector: 'app=web', count: 1, ready: false }).then(() => new Error('no error'), (err: Error) => err)
  t.match(ungated.message, new RegExp(`^pod default/web-\\S+ declares no readiness gate: ${GATE_HINT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
  await t.rejects(act({ kind: 'setReady', selector: 'app=gated', count: 1, ready: false, conditionType: 'example.com/other' }), { message: /^pod default\/gated-\S+ has no readiness gate example\.com\/other \(its gates: weft\.dev\/ready\)$/ })

  // A status write from a stale copy puts the gate back: the action sets it again and still completes.
  gatesHonoured = false
  const pending = act({ kind: 'setReady', selector: 'app=gated', count: 1, ready: false }, context(ledger))
  const gateOf = async (pod: string) => (await c.client.get<V1Pod>(podInfo, pod, 'default')).status?.conditions?.find((x) => x.type === GATE)?.status
  let second = ''
  await until('a second pod\'s gate set False', async () => {
    const candidates = (await pods('app=gated')).filter((p) => p.metadata?.name !== name && p.status?.conditions?.some((x) => x.type === GATE && x.status === 'False'))
    second = candidates[0]?.metadata?.name ?? ''
    return candidates.length === 1
  })
  await c.client.patch(podInfo, second, 'default', { status: { conditions: [{ type: GATE, status: 'True' }] } }, 'strategic', { subresource: 'status' })
  await until('the action to set it False again', async () => (await gateOf(second)) === 'False')
  gatesHonoured = true
  t.equal(await pending, `${second} not Ready by readiness gate`)

  const cleaned = await cleanupScenario({ client: c.client, runId: 'run-1', ledger })
  t.same(cleaned.done.sort(), [`set readiness gate ${GATE} of pod default/${name} back to True`, `set readiness gate ${GATE} of pod default/${second} back to True`].sort())
  await until('every endpoint ready again', async () => (await readyEndpoints()) === 3)
})

t.test('preflight finds every missing object at once, before the load starts', async (t) => {
  const scenario = parseScenario(
    `phases:
  - {rate: 10, duration: 1m}
actions:
  - {at: 1s, rollout: deployment/web}
  - {at: 2s, scale: {deployment: ghost, replicas: 2}}
  - {at: 3s, cordon: n1}
  - {at: 4s, drain: nowhere}
  - {at: 5s, restartAgent: n1}
  - {at: 6s, addServices: {count: 1, prefix: p, namespace: missing}}
  - {at: 7s, setReady: {selector: app=web, ready: false}}
  - {at: 8s, setReady: {selector: app=gated, ready: false}}
  - {at: 9s, deletePods: {selector: app=x, namespace: shop}}
`,
    'scenario.yaml',
  )
  const error = await preflight(scenario, { client: c.client, namespace: 'default' }).then(() => undefined, (err: unknown) => err)
  t.ok(error instanceof PreflightError)
  const problems = (error as PreflightError).problems
  t.equal(problems.length, 5, problems.join('\n'))
  t.equal(problems[0], 'scenario.yaml:5:5: scale deployment/ghost to 2: there is no Deployment ghost in namespace default')
  t.equal(problems[1], 'scenario.yaml:7:5: drain nowhere: there is no node nowhere')
  t.equal(problems[2], "scenario.yaml:8:5: restart the agent on n1: restartAgent works only in a lab made by weft up (the agent's process is restarted): this run has no lab")
  t.equal(problems[3], 'scenario.yaml:9:5: add 1 Service p-* in missing: there is no namespace missing')
  t.match(problems[4], /^scenario\.yaml:10:5: set 1 pod app=web not ready: pod default\/web-\S+ declares no readiness gate: add spec\.readinessGates/)
  t.match((error as Error).message, /^the scenario cannot run:\n {2}scenario\.yaml:5:5: /)

  const fine = parseScenario('phases:\n  - {rate: 10, duration: 1m}\nactions:\n  - {at: 1s, rollout: deployment/web}\n  - {at: 2s, cordon: n1}\n  - {at: 3s, setReady: {selector: app=gated, ready: false}}\n', 'ok.yaml')
  await preflight(fine, { client: c.client, namespace: 'default' })
  t.pass('a scenario whose objects exist passes')
})
