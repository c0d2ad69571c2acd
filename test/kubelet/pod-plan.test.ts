import t from 'tap'
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node'
import { planPod, type PlanContext } from '../../src/kubelet/pod-plan.ts'
import { podStatus } from '../../src/kubelet/pod-status.ts'
import { containerSpecHash, emptyObservedPod, type ObservedContainer, type ObservedPod } from '../../src/kubelet/pod-state.ts'

const app = { name: 'app', image: 'weft/echo' }
const side = { name: 'side', image: 'weft/echo', args: ['--port', '9000'] }
function pod(extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return { metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers: [app, side], ...extra } as V1Pod['spec'] }
}
function ctx(over: Partial<PlanContext> = {}): PlanContext {
  return { nowMs: 1_000_000, backoffUntil: () => undefined, probes: () => ({}), ...over }
}
function ran(name: string, over: Partial<ObservedContainer> = {}): ObservedContainer {
  const spec = [app, side, { name: 'init', image: 'x', command: ['true'] }].find((c) => c.name === name)!
  return { name, running: true, startedAt: new Date(0), restartCount: 0, specHash: containerSpecHash(spec), ...over }
}
function observed(containers: ObservedContainer[], over: Partial<ObservedPod> = {}): ObservedPod {
  return { ...emptyObservedPod(), sandbox: { ips: ['10.244.0.5'] }, containers: Object.fromEntries(containers.map((c) => [c.name, c])), ...over }
}

t.test('a new pod gets a sandbox and every container', async (t) => {
  const plan = planPod(pod(), emptyObservedPod(), ctx())
  t.same(plan.steps, [{ type: 'CreateSandbox' }, { type: 'StartContainer', name: 'app', init: false }, { type: 'StartContainer', name: 'side', init: false }])
  t.equal(plan.finished, undefined)
})

t.test('a running pod needs nothing', async (t) => {
  t.same(planPod(pod(), observed([ran('app'), ran('side')]), ctx()).steps, [])
})

t.test('init containers run one at a time before the app containers', async (t) => {
  const p = pod({ initContainers: [{ name: 'init', image: 'x', command: ['true'] }] })
  let plan = planPod(p, emptyObservedPod(), ctx())
  t.same(plan.steps, [{ type: 'CreateSandbox' }, { type: 'StartContainer', name: 'init', init: true }])
  t.equal(plan.waiting.app?.reason, 'PodInitializing')
  plan = planPod(p, observed([ran('init')]), ctx())
  t.same(plan.steps, [], 'waits while the init container runs')
  plan = planPod(p, observed([ran('init', { running: false, exitCode: 0 })]), ctx())
  t.same(plan.steps.map((s) => s.type === 'StartContainer' && s.name), ['app', 'side'])
  plan = planPod({ ...p, spec: { ...p.spec!, restartPolicy: 'Never' } }, observed([ran('init', { running: false, exitCode: 1 })]), ctx())
  t.equal(plan.finished, 'Failed', 'a failed init container under Never fails the pod')
})

t.test('restart policy decides what happens to exited containers', async (t) => {
  const exited = [ran('app', { running: false, exitCode: 1 }), ran('side', { running: false, exitCode: 0 })]
  t.same(planPod(pod(), observed(exited), ctx()).steps.map((s) => s.type === 'StartContainer' && s.name), ['app', 'side'], 'Always restarts both')
  const onFailure = planPod(pod({ restartPolicy: 'OnFailure' }), observed(exited), ctx())
  t.same(onFailure.steps.map((s) => s.type === 'StartContainer' && s.name), ['app'], 'OnFailure restarts only the failed one')
  const never = planPod(pod({ restartPolicy: 'Never' }), observed(exited), ctx())
  t.same(never.steps, [])
  t.equal(never.finished, 'Failed')
  const ok = planPod(pod({ restartPolicy: 'Never' }), observed(exited.map((c) => ({ ...c, exitCode: 0 }))), ctx())
  t.equal(ok.finished, 'Succeeded')
})

t.test('crash loops back off', async (t) => {
  const plan = planPod(pod(), observed([ran('app', { running: false, exitCode: 2, restartCount: 3 }), ran('side')]), ctx({ backoffUntil: (n) => (n === 'app' ? 1_040_000 : undefined) }))
  t.same(plan.steps, [])
  t.equal(plan.waiting.app?.reason, 'CrashLoopBackOff')
  t.match(plan.waiting.app?.message, /back-off 40s restarting failed container=app/)
  t.equal(plan.retryAtMs, 1_040_000)
})

t.test('liveness failures and spec changes restart a running container', async (t) => {
  let plan = planPod(pod(), observed([ran('app'), ran('side')]), ctx({ probes: (n) => (n === 'side' ? { liveness: 'failure' } : {}) }))
  t.same(plan.steps, [{ type: 'KillContainer', name: 'side', reason: 'Container side failed liveness probe, will be restarted' }, { type: 'StartContainer', name: 'side', init: false }])
  plan = planPod(pod(), observed([ran('app', { specHash: 'old' }), ran('side')]), ctx())
  t.equal(plan.steps[0]?.type, 'KillContainer')
  t.same(plan.steps[1], { type: 'StartContainer', name: 'app', init: false })
})

t.test('a lost sandbox is recreated and every container starts again', async (t) => {
  const plan = planPod(pod(), observed([ran('app'), ran('side')], { sandbox: undefined }), ctx())
  t.same(plan.steps.map((s) => s.type), ['CreateSandbox', 'StartContainer', 'StartContainer'])
})

t.test('status: phase, conditions and container states', async (t) => {
  const now = new Date('2026-01-01T00:00:10Z')
  const sctx = { hostIPs: ['172.31.0.2'], now, startTime: new Date('2026-01-01T00:00:00Z'), probes: (n: string) => (n === 'side' ? { readiness: 'failure' as const } : {}) }
  const p = pod({ containers: [app, { ...side, readinessProbe: { tcpSocket: { port: 9000 } } }] })
  const o = observed([ran('app'), ran('side')])
  let s = podStatus(p, o, planPod(p, o, ctx()), sctx)
  t.equal(s.phase, 'Running')
  t.equal(s.podIP, '10.244.0.5')
  t.same(s.podIPs, [{ ip: '10.244.0.5' }])
  t.equal(s.hostIP, '172.31.0.2')
  t.equal(s.conditions?.find((c) => c.type === 'Ready')?.status, 'False')
  t.equal(s.containerStatuses?.find((c) => c.name === 'app')?.ready, true)
  t.equal(s.containerStatuses?.find((c) => c.name === 'side')?.ready, false)
  t.equal(s.qosClass, 'BestEffort')
  s = podStatus(p, o, planPod(p, o, ctx()), { ...sctx, probes: () => ({ readiness: 'success' }) })
  t.equal(s.conditions?.find((c) => c.type === 'Ready')?.status, 'True')

  const crashed = observed([ran('app', { running: false, exitCode: 2, restartCount: 4, finishedAt: now }), ran('side')], { previous: {} })
  const plan = planPod(p, crashed, ctx({ backoffUntil: () => 2_000_000 }))
  s = podStatus(p, crashed, plan, sctx)
  const st = s.containerStatuses?.find((c) => c.name === 'app')
  t.equal(st?.state?.waiting?.reason, 'CrashLoopBackOff')
  t.equal(st?.lastState?.terminated?.exitCode, 2)
  t.equal(st?.restartCount, 4)

  const fresh = emptyObservedPod()
  s = podStatus(p, fresh, planPod(p, fresh, ctx()), sctx)
  t.equal(s.phase, 'Pending')
  t.equal(s.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating')
  t.equal(s.podIP, undefined)

  const never = pod({ restartPolicy: 'Never' })
  const doneObs = observed([ran('app', { running: false, exitCode: 0 }), ran('side', { running: false, exitCode: 0 })])
  s = podStatus(never, doneObs, planPod(never, doneObs, ctx()), sctx)
  t.equal(s.phase, 'Succeeded')
  t.equal(s.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed')
})

t.test('ephemeral containers start once in a running pod, are never restarted, never ready, and do not end the pod', async (t) => {
  const dbg = { name: 'dbg', image: 'busybox', command: ['sh'], targetContainerName: 'app' }
  const p = pod({ ephemeralContainers: [dbg] })
  t.same(planPod(p, emptyObservedPod(), ctx()).steps.map((s) => s.type === 'StartContainer' && s.name), [false, 'app', 'side'], 'not with a new sandbox')
  t.same(planPod(p, observed([ran('app'), ran('side')]), ctx()).steps, [{ type: 'StartContainer', name: 'dbg', init: false }])
  const gone = { name: 'dbg', running: false, startedAt: new Date(0), exitCode: 1, restartCount: 0, specHash: 'x' }
  const plan = planPod(p, observed([ran('app'), ran('side'), gone]), ctx())
  t.same(plan.steps, [], 'an ended ephemeral container stays ended')
  t.equal(plan.finished, undefined)
  const status = podStatus(p, observed([ran('app'), ran('side'), { ...gone, running: true }]), planPod(p, observed([ran('app'), ran('side')]), ctx()), { hostIPs: ['10.0.0.1'], now: new Date(0), startTime: new Date(0), probes: () => ({}) })
  t.same(status.ephemeralContainerStatuses?.map((s) => [s.name, s.ready, 'started' in s, Boolean(s.state?.running)]), [['dbg', false, false, true]])
})

t.test('status: Ready follows the readiness gates, whose conditions the kubelet keeps as others set them', async (t) => {
  const sctx = { hostIPs: ['10.0.0.1'], now: new Date('2026-01-01T00:00:10Z'), startTime: new Date(0), probes: () => ({}) }
  const o = observed([ran('app'), ran('side')])
  const gated = (conditions: { type: string; status: string }[] | undefined): V1Pod => ({
    ...pod({ readinessGates: [{ conditionType: 'weft.dev/ready' }, { conditionType: 'example.com/lb' }] }),
    status: conditions ? { conditions: conditions as V1PodCondition[] } : undefined,
  })
  const statusOf = (p: V1Pod) => podStatus(p, o, planPod(p, o, ctx()), sctx)
  const conditionOf = (p: V1Pod, type: string) => statusOf(p).conditions?.find((c) => c.type === type)

  t.match(conditionOf(gated(undefined), 'Ready'), {
    status: 'False',
    reason: 'ReadinessGatesNotReady',
    message: 'corresponding condition of pod readiness gate "weft.dev/ready" does not exist., corresponding condition of pod readiness gate "example.com/lb" does not exist.',
  })
  t.equal(conditionOf(gated(undefined), 'ContainersReady')?.status, 'True', 'the containers are ready all the same')
  const oneFalse = gated([{ type: 'weft.dev/ready', status: 'False' }, { type: 'example.com/lb', status: 'True' }])
  t.match(conditionOf(oneFalse, 'Ready'), { status: 'False', reason: 'ReadinessGatesNotReady', message: 'the status of pod readiness gate "weft.dev/ready" is not "True", but False' })
  const bothTrue = gated([{ type: 'weft.dev/ready', status: 'True' }, { type: 'example.com/lb', status: 'True' }])
  const ready = conditionOf(bothTrue, 'Ready')
  t.equal(ready?.status, 'True')
  t.notOk(ready?.reason || ready?.message, 'a ready pod has no reason or message')

  const kept = statusOf(oneFalse).conditions!
  t.same(
    kept.filter((c) => c.type.includes('/')).map((c) => [c.type, c.status]),
    [['weft.dev/ready', 'False'], ['example.com/lb', 'True']],
    "the gates' conditions go back to the API as they are",
  )
  t.equal(new Set(kept.map((c) => c.type)).size, kept.length, 'no condition twice')
  const disrupted = { ...pod(), status: { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' }, { type: 'Ready', status: 'True' }] as V1PodCondition[] } }
  t.match(statusOf(disrupted).conditions?.find((c) => c.type === 'DisruptionTarget'), { status: 'True', reason: 'EvictionByEvictionAPI' }, 'another writer\'s condition is kept')
  t.equal(statusOf(disrupted).conditions?.filter((c) => c.type === 'Ready').length, 1, 'the kubelet\'s own conditions are its own, not copied')

  const sideUnready = { ...bothTrue, spec: { ...bothTrue.spec!, containers: [app, { ...side, readinessProbe: { tcpSocket: { port: 9000 } } }] } }
  t.match(podStatus(sideUnready, o, planPod(sideUnready, o, ctx()), { ...sctx, probes: (n: string) => (n === 'side' ? { readiness: 'failure' as const } : {}) }).conditions?.find((c) => c.type === 'Ready'), { status: 'False', reason: 'ContainersNotReady' }, 'unready containers come first, as upstream')
})
