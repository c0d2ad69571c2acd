// `weft load` end to end, as the issue asks: a real API server and controllers, two nodes
// running `weft agent` (kubelet, CNI, nftables proxy) in network namespaces, and the real
// command (`bin/weft load`) sending 500 req/s from 2 load pods through a ClusterIP:
//   1. a rolling update of a 4-replica Deployment whose pods are readiness-gated (a readiness
//      probe, a preStop delay so the endpoint is gone before the server stops, weft/echo
//      draining its keep-alive connections on SIGTERM) loses no request;
//   2. pods of a Deployment whose server stops at once on SIGTERM (weft/echo
//      --shutdown-seconds=0, answering after 50 ms so requests are in flight) and that has no
//      preStop delay, deleted under the same load: errors, in the seconds after the action and
//      not before it;
// and the HTML report of the rollout run opens in headless Chromium with every chart drawn.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import type { LoadResult } from '../../load/types.ts'
import { nodeInfo, podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { startUnderlay, weftBin } from '../helpers/nodes.ts'
import { chromiumMissing, openPage, RecordingProxy, renderedState } from '../load/fixtures/chromium.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const deploymentInfo = info('Deployment')
const serviceInfo = info('Service')

t.setTimeout(600_000)

function deployment(name: string, container: object, extra: object = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 15, containers: [container], ...extra } },
    },
  }
}

function service(name: string, targetPort: number): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort }] } }
}

interface Run {
  code: number | null
  output: string
  result: LoadResult
  outDir: string
}

await t.test('weft load --from-pods through a rollout and through killed pods', async (t) => {
  const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
  const client = cluster.client
  const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
  for (const name of ['node-1', 'node-2']) await underlay.addNode(name)
  for (const name of ['node-1', 'node-2'])
    await until(`${name} Ready`, async () => {
      const node = await client.get<any>(nodeInfo, name).catch(() => undefined)
      return node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
    }, 60_000)

  const work = mkdtempSync(join(tmpdir(), 'weft-load-e2e-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))

  // Readiness-gated: ready only when serving, out of the endpoints before it is told to stop.
  await client.create(deploymentInfo, deployment('web', {
    name: 'echo',
    image: 'weft/echo',
    args: ['--port=8080', '--drain-seconds=2'],
    ports: [{ containerPort: 8080 }],
    readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
    lifecycle: { preStop: { sleep: { seconds: 3 } } },
  }) as never)
  await client.create(serviceInfo, service('web', 8080) as never)
  // Stops at once on SIGTERM, and nothing delays that.
  await client.create(deploymentInfo, deployment('abrupt', {
    name: 'echo',
    image: 'weft/echo',
    args: ['--port=8080', '--shutdown-seconds=0'],
    ports: [{ containerPort: 8080 }],
    readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
  }) as never)
  await client.create(serviceInfo, service('abrupt', 8080) as never)
  for (const name of ['web', 'abrupt'])
    await until(`deployment ${name} available`, async () => {
      const d = await client.get<any>(deploymentInfo, name, 'default')
      return d.status?.availableReplicas === 4
    }, 120_000)

  async function load(tag: string, scenario: string, targetSpec: string, extra: string[] = []): Promise<Run> {
    const scenarioFile = join(work, `${tag}.yaml`)
    writeFileSync(scenarioFile, scenario)
    const outDir = join(work, tag)
    const child = spawn(weftBin, ['load', targetSpec, '--from-pods', '2', '-f', scenarioFile, '--out', outDir, '--kubeconfig', cluster.kubeconfig, '--progress', 'plain', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TAP: undefined } })
    let output = ''
    child.stdout.on('data', (b: Buffer) => (output += b))
    child.stderr.on('data', (b: Buffer) => (output += b))
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
    t.comment(`weft load ${tag}:\n${output}`)
    const result = JSON.parse(readFileSync(join(outDir, 'result.json'), 'utf8')) as LoadResult
    return { code, output, result, outDir }
  }

  await t.test('a rolling update of readiness-gated pods under 500 req/s from 2 pods loses no request', async (t) => {
    const run = await load('rollout', 'phases:\n  - {name: steady, rate: 500, duration: 30s}\nactions:\n  - {at: 3s, rollout: deployment/web}\n', 'svc/web')
    t.equal(run.code, 0)
    const r = run.result
    t.equal(r.generators.length, 2, 'two load pods')
    t.not(r.generators[0]!.node, r.generators[1]!.node, 'on different nodes')
    t.ok(Math.abs(r.totals.sent - 500 * 30) <= 500 * 30 * 0.02, `sent ${r.totals.sent} ≈ 15,000`)
    t.equal(r.totals.errors, 0, `no errors: ${JSON.stringify(r.errors)}`)
    const rollout = r.actions.find((a) => a.kind === 'rollout')
    t.ok(rollout?.ok, `the rollout completed: ${rollout?.message}`)
    t.ok(rollout?.completedSecond !== undefined && rollout.completedSecond > rollout.atSecond, 'its completion is on the timeline')
    t.ok(r.endpoints.length >= 5, `old and new pods answered (${r.endpoints.map((e) => e.name).join(', ')})`)
    t.equal(r.timeline.length, 30, 'one entry per second')

    const missing = chromiumMissing()
    if (missing) {
      t.fail(`headless Chromium is needed to check report.html: ${missing}`)
      return
    }
    const proxy = new RecordingProxy()
    await proxy.start()
    t.teardown(() => proxy.stop())
    const page = await openPage(join(run.outDir, 'report.html'), proxy, { screenshot: true })
    t.equal(renderedState(page.dom), 'ok', "the page's script drew every chart without an error")
    t.ok((page.dom.match(/<svg/g) ?? []).length >= 4, 'four charts')
    t.ok(page.screenshot !== undefined && page.screenshot.length > 10_000, 'a screenshot with content')
    t.same(proxy.pageRequests(), [], 'no network request from the page')
  })

  await t.test('pods that stop at once, deleted under the same load: errors from the action on, none before', async (t) => {
    const run = await load('killed', 'phases:\n  - {name: steady, rate: 500, duration: 15s}\nactions:\n  - {at: 5s, deletePods: {selector: app=abrupt, count: 2}}\n', 'svc/abrupt', ['--path', '/?delay=50ms'])
    t.equal(run.code, 0)
    const r = run.result
    const action = r.actions.find((a) => a.kind === 'deletePods')
    t.ok(action?.ok, `the pods were deleted: ${action?.message}`)
    const seconds = r.timeline.filter((s) => s.errors > 0).map((s) => s.second)
    t.ok(r.totals.errors > 0, `errors: ${JSON.stringify(r.errors)} in seconds ${seconds.join(', ')}`)
    // Seconds are by intended send time: requests sent just before the action and in flight when
    // the pods stopped count in the second before it.
    t.ok(seconds.every((s) => s >= Math.floor(action!.atSecond) - 1), 'none before the action')
    t.match(run.output, /errors at/, 'the summary names the seconds with errors')
  })

  // The load pods are gone.
  const left = await client.list<any>(podInfo, { namespace: 'default', labelSelector: 'app.kubernetes.io/name=weft-load' })
  t.equal(left.items.length, 0, 'no load pod left')
})
