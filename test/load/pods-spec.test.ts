// The load pods as data: plan shares, node choice and spreading, the Pod object, pod states,
// and the live per-second merge across generators.
import t from 'tap'
import { chooseNodes, loadPodManifest, podName, podState, splitPlan, spreadOverNodes } from '../../load/pod-spec.ts'
import { parseJob } from '../../load/job.ts'
import { WindowMerger } from '../../load/window-merger.ts'
import type { LoadPlan, WindowSnapshot } from '../../load/types.ts'
import { mergeSnapshots, mergeWindows } from '../../load/recorder.ts'
import { createHistogram, decodeHistogram, encodeHistogram, recordMs } from '../../load/histogram.ts'

const plan: LoadPlan = { phases: [{ name: 'ramp', durationMs: 2000, rate: 100, rateTo: 300 }, { name: 'flat', durationMs: 3000, rate: 300 }], connections: 10, keepAlive: true, requests: 1001, warmupMs: 500, timeoutMs: 2000, identifyEndpoints: true }

t.test('the plan is shared out: rates divided, requests and connections split with the remainder first', async (t) => {
  const shares = splitPlan(plan, 3)
  t.equal(shares.length, 3)
  t.same(shares.map((s) => s.phases.map((p) => [p.rate, p.rateTo])), Array(3).fill([[100 / 3, 100], [100, undefined]]))
  t.same(shares.map((s) => s.requests), [334, 334, 333])
  t.equal(shares.reduce((sum, s) => sum + s.requests!, 0), 1001, 'no request lost')
  t.same(shares.map((s) => s.connections), [4, 3, 3])
  t.same(shares.map((s) => [s.warmupMs, s.timeoutMs, s.keepAlive, s.identifyEndpoints]), Array(3).fill([500, 2000, true, true]))
  t.notOk('rateTo' in shares[0]!.phases[1]!, 'no ramp where there was none')
  t.same(splitPlan({ ...plan, connections: 2, requests: undefined }, 4).map((s) => s.connections), [1, 1, 1, 1], 'at least one connection each')
  t.notOk('requests' in splitPlan({ ...plan, requests: undefined }, 2)[0]!)
  const closed = splitPlan({ ...plan, phases: [{ name: 'max', durationMs: 5000 }], connections: 64, requests: undefined }, 2)
  t.same(closed.map((s) => [s.phases, s.connections]), [[[{ name: 'max', durationMs: 5000 }], 32], [[{ name: 'max', durationMs: 5000 }], 32]])
  t.throws(() => splitPlan(plan, 0), { code: 'InvalidOption', message: /--from-pods must be 1 to 1000/ })
  t.throws(() => splitPlan(plan, 1.5), { code: 'InvalidOption' })
  t.throws(() => splitPlan({ ...plan, requests: 2 }, 3), { code: 'InvalidOption', message: /2 requests cannot be shared by 3 load pods/ })
})

const node = (name: string, o: { ready?: boolean; unschedulable?: boolean; taint?: string } = {}) => ({
  metadata: { name },
  spec: { ...(o.unschedulable ? { unschedulable: true } : {}), ...(o.taint ? { taints: [{ key: 'k', effect: o.taint }] } : {}) },
  status: { conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
})

t.test('nodes: Ready and schedulable ones by default, or the named ones, checked', async (t) => {
  const nodes = [node('node-c'), node('node-a'), node('down', { ready: false }), node('cordoned', { unschedulable: true }), node('master', { taint: 'NoSchedule' }), node('soft', { taint: 'PreferNoSchedule' })]
  t.same(chooseNodes(nodes), ['node-a', 'node-c', 'soft'])
  t.same(chooseNodes(nodes, ['cordoned', 'node-c']), ['cordoned', 'node-c'], 'named nodes may be cordoned, in the order given')
  t.throws(() => chooseNodes(nodes, ['node-z']), { code: 'NoNodes', message: /there is no node "node-z" \(nodes: cordoned, down, master, node-a, node-c, soft\)/ })
  t.throws(() => chooseNodes(nodes, ['down']), { code: 'NoNodes', message: '--nodes: node down is not Ready' })
  t.throws(() => chooseNodes(nodes, ['node-a', 'node-a']), { code: 'InvalidOption', message: /names node-a twice/ })
  t.throws(() => chooseNodes([node('x', { ready: false })]), { code: 'NoNodes', message: /no Ready, schedulable node to run load pods on \(1 node in all\)/ })
  t.same(spreadOverNodes(5, ['a', 'b']), ['a', 'b', 'a', 'b', 'a'])
  t.same(spreadOverNodes(1, ['a', 'b']), ['a'])
})

t.test('the Pod: weft/load with its job, stdin, no token, never restarted, on its node', async (t) => {
  const job = { generator: podName('ab12cd34', 0), target: { protocol: 'http1' as const, tls: false, endpoints: [{ host: '10.96.0.1', port: 80 }], authority: 'x', insecure: false, path: '/', method: 'GET', headers: [], description: 'd', spec: 's' }, plan: splitPlan(plan, 2)[0]! }
  const pod = loadPodManifest({ runId: 'ab12cd34', index: 0, namespace: 'load', node: 'node-2', job }) as any
  t.equal(pod.metadata.name, 'weft-load-ab12cd34-1')
  t.same(pod.metadata.labels, { 'app.kubernetes.io/name': 'weft-load', 'weft.dev/load-run': 'ab12cd34' })
  t.equal(pod.metadata.namespace, 'load')
  t.match(pod.spec, { nodeName: 'node-2', restartPolicy: 'Never', automountServiceAccountToken: false })
  const [c] = pod.spec.containers
  t.match(c, { name: 'load', image: 'weft/load', stdin: true, resources: { requests: { cpu: '100m', memory: '64Mi' } } })
  t.notOk(c.stdinOnce, 'stdin stays open for a stop line')
  t.same(parseJob(c.env.find((e: any) => e.name === 'WEFT_LOAD_JOB').value), job, 'the job travels whole and passes its own check')
})

t.test('pod states say why', async (t) => {
  t.equal(podState({ status: { phase: 'Running' } }), 'Running')
  t.equal(podState({}), 'Pending')
  t.equal(podState({ status: { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ContainerCreating' } } }] } }), 'Pending (ContainerCreating)')
  t.equal(podState({ status: { phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 2, reason: 'Error', message: 'bad flag' } } }] } }), 'Failed (exit code 2: Error: bad flag)')
  t.equal(podState({ status: { phase: 'Failed', reason: 'Evicted', message: 'low memory' } }), 'Failed (Evicted: low memory)')
})

/** A window of `sent` requests that each took `ms`. */
function window(second: number, sent: number, ms = 1): WindowSnapshot {
  const h = createHistogram()
  for (let i = 0; i < sent; i++) recordMs(h, ms)
  return { second, sent, ok: sent, errors: {}, histogram: encodeHistogram(h) }
}

t.test('seconds are merged and passed on once every generator is past them, in order', async (t) => {
  const out: WindowSnapshot[] = []
  const merger = new WindowMerger(3, mergeWindows, (w) => out.push(w))
  const seconds = () => out.map((w) => [w.second, w.sent])
  merger.add(0, window(0, 1, 5))
  merger.add(1, window(0, 10, 7))
  t.same(seconds(), [], 'generator 2 has not reported second 0')
  merger.add(0, window(1, 2))
  merger.add(2, window(0, 100, 9))
  t.same(seconds(), [[0, 111]])
  const first = decodeHistogram(out[0]!.histogram)
  t.equal(first.totalCount, 111, 'histograms added')
  const p1 = first.getValueAtPercentile(0.5)
  t.ok(p1 >= 4995 && p1 <= 5005 && first.maxValue >= 9000 && first.maxValue <= 9010, `5 to 9 ms in µs at 3 digits: ${p1}..${first.maxValue}`)
  merger.add(2, window(2, 300))
  merger.add(1, window(1, 20))
  t.same(seconds(), [[0, 111], [1, 22]], 'generator 2 had nothing in second 1: it went on to 2')
  merger.add(1, window(1, 999))
  merger.add(0, window(0, 999))
  t.same(seconds(), [[0, 111], [1, 22]], 'repeats and old seconds are ignored')
  const final = mergeSnapshots([
    { startedAtMs: 5, windows: [window(0, 1, 5), window(1, 2), window(3, 7)], endpoints: {} },
    { startedAtMs: 5, windows: [window(0, 10, 7), window(1, 20)], endpoints: {} },
    { startedAtMs: 5, windows: [window(0, 100, 9), window(2, 300)], endpoints: {} },
  ])
  merger.finish(final)
  t.same(seconds(), [[0, 111], [1, 22], [2, 300], [3, 7]], 'the rest comes from the final merge, each second once')
  t.equal(merger.next, 4)
})
