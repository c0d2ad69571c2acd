// `--from-pods` end to end with real pods: two `weft agent` nodes in network namespaces, a
// weft/echo Deployment (one replica per node) behind a Service, and weft/load pods on both
// nodes loading svc/echo through its ClusterIP from inside the pod network. The merged result
// has every request, no errors, both generators and both echo pods; the load pods are gone
// afterwards, after an abort, after a failed generator, when they never get ready, and when
// the controlling process gets Ctrl-C.
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { runFromPods } from '../../load/pods.ts'
import { resolveTarget } from '../../load/target.ts'
import type { LoadPlan, WindowSnapshot } from '../../load/types.ts'
import { nodeInfo, podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { execIn, startUnderlay } from '../helpers/nodes.ts'

t.setTimeout(900_000)

const info = (kind: string) => resources.find((r) => r.kind === kind)!

await t.test('--from-pods with real pods in the lab', async (t) => {
  const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
  const client = cluster.client
  const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
  const nodes = [await underlay.addNode('node-1'), await underlay.addNode('node-2')]
  for (const node of nodes) {
    await until(`${node.name} Ready`, async () => {
      const n = await client.get<any>(nodeInfo, node.name).catch(() => undefined)
      return n?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
    }, 60_000)
  }

  const labels = { app: 'echo' }
  await client.create(info('Deployment'), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'echo', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 1,
          affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' }] } },
          containers: [{ name: 'echo', image: 'weft/echo', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 } }],
        },
      },
    },
  } as never, { namespace: 'default' })
  await client.create(info('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'default' }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } as never, { namespace: 'default' })

  await until('two ready echo endpoints', async () => (await resolveTarget('svc/echo', { via: 'endpoints' }, client).catch(() => undefined))?.endpoints.length === 2, 180_000)
  const echoPods = (await client.list<any>(podInfo, { namespace: 'default', labelSelector: 'app=echo' })).items.map((p) => p.metadata.name).sort()
  t.same((await client.list<any>(podInfo, { namespace: 'default', labelSelector: 'app=echo' })).items.map((p) => p.spec.nodeName).sort(), ['node-1', 'node-2'], 'one echo pod per node')
  const target = await resolveTarget('svc/echo', {}, client)
  const clusterIP = target.endpoints[0]!.host
  // Each node's proxy has the Service before the load starts.
  for (const node of nodes) {
    await until(`svc/echo answers on ${node.name}`, async () => (await execIn(node.netns, 'curl', ['-s', '--max-time', '2', `http://${clusterIP}/`]).catch(() => '')).includes('"pod"'), 60_000)
  }

  const loadPods = async (): Promise<string[]> => (await client.list<any>(podInfo, { labelSelector: 'app.kubernetes.io/name=weft-load' })).items.map((p) => p.metadata.name)
  const plan = (durationMs: number, rate: number, keepAlive = true): LoadPlan => ({ phases: [{ name: 'main', durationMs, rate }], connections: 8, keepAlive, warmupMs: 0, timeoutMs: 2000, identifyEndpoints: true })
  const base = { client, address: cluster.address, namespace: 'default', count: 2, target, handleSignals: false, onStatus: (m: string) => t.comment(m) }

  await t.test('2 load pods on 2 nodes at 200 req/s, a connection per request: every request, no errors, both generators, both echo pods', async (t) => {
    const windows: WindowSnapshot[] = []
    // A new connection per request: the proxy picks a backend per connection, so both echo pods answer.
    const result = await runFromPods({ ...base, plan: plan(5000, 200, false), onWindow: (w) => windows.push(w) })
    const sum = (f: (w: WindowSnapshot) => number) => result.snapshot.windows.reduce((s, w) => s + f(w), 0)
    const sent = sum((w) => w.sent)
    const errors = sum((w) => Object.values(w.errors).reduce((a, b) => a + (b ?? 0), 0))
    t.ok(sent >= 990 && sent <= 1010, `${sent} requests for 200/s over 5 s`)
    t.equal(errors, 0, 'no errors')
    t.equal(sum((w) => w.ok), sent, 'every request answered')
    t.same(result.generators.map((g) => g.node).sort(), ['node-1', 'node-2'], 'a generator on each node')
    for (const g of result.generators) t.ok(g.sent >= 495 && g.sent <= 505, `${g.name} on ${g.node} sent ${g.sent}, half the load`)
    t.same(Object.keys(result.snapshot.endpoints).sort(), echoPods, 'both echo pods answered')
    for (const pod of echoPods) t.ok(result.snapshot.endpoints[pod]! > sent / 5, `${pod} answered ${result.snapshot.endpoints[pod]} of ${sent}`)
    t.equal(Object.values(result.snapshot.endpoints).reduce((a, b) => a + b, 0), sent, 'every answer names its pod')
    t.equal(result.aborted, false)
    t.same(windows.map((w) => w.second), result.snapshot.windows.map((w) => w.second), 'every merged second was passed on live, once, in order')
    t.ok(windows.length >= 5, `${windows.length} seconds`)
    t.same(await loadPods(), [], 'the load pods are gone')
  })

  await t.test('an abort stops the pods and returns what they recorded; the pods are gone', async (t) => {
    const stop = new AbortController()
    const result = await runFromPods({ ...base, plan: plan(120_000, 100), signal: stop.signal, onWindow: (w) => w.second >= 1 && stop.abort() })
    const sent = result.snapshot.windows.reduce((s, w) => s + w.sent, 0)
    t.equal(result.aborted, true)
    t.ok(sent > 0 && sent < 100 * 60, `${sent} requests before the stop`)
    t.same(await loadPods(), [], 'the load pods are gone')
  })

  await t.test('a load pod deleted mid-run fails the run, naming it and its node; the rest are deleted', async (t) => {
    let deleted = false
    const run = runFromPods({
      ...base,
      plan: plan(120_000, 50),
      onWindow: () => {
        if (deleted) return
        deleted = true
        void loadPods().then((names) => client.delete(podInfo, names.sort()[0]!, 'default'))
      },
    })
    await t.rejects(run, { name: 'PodsError', code: 'GeneratorFailed', message: /^load pod weft-load-[0-9a-f]{8}-1 on node node-1 failed: / })
    t.same(await loadPods(), [], 'the load pods are gone')
  })

  await t.test('pods that never say they are ready: a clear error after the timeout, pods deleted', async (t) => {
    await t.rejects(runFromPods({ ...base, plan: plan(1000, 10), image: 'weft/echo', readyTimeoutMs: 20_000 }), {
      code: 'NotReady',
      message: /^load pods not ready within 20 s: weft-load-[0-9a-f]{8}-1 on node-1: Running, no ready line yet; weft-load-[0-9a-f]{8}-2 on node-2: Running, no ready line yet$/,
    })
    t.same(await loadPods(), [], 'the load pods are gone')
  })

  await t.test('Ctrl-C of the controlling process deletes the load pods', async (t) => {
    const spec = JSON.stringify({ namespace: 'default', count: 2, target, plan: plan(120_000, 50) })
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(import.meta.dirname, 'pods-run-child.ts'), cluster.kubeconfig, spec], { stdio: ['ignore', 'pipe', 'pipe'] })
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b))
    child.stderr.on('data', (b: Buffer) => (out += b))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await until('the child started its pods', () => out.includes('started:'), 120_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${out}`)
    })
    t.equal((await loadPods()).length, 2, 'two load pods run')
    child.kill('SIGINT')
    t.equal(await exited, 130, 'exit code 130')
    t.match(out, /SIGINT: deleting the load pods of run [0-9a-f]{8}/)
    t.notMatch(out, /finished:/)
    t.same(await loadPods(), [], 'the load pods are gone')
  })
})
