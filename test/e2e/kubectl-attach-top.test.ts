// kubectl attach, run -i/-it --rm, top and autoscale end to end: the real kubectl against a
// test API server and a real node agent. Attach reaches a container's live stdin and output
// (its attach relay); top and the HorizontalPodAutoscaler read metrics.k8s.io, which the API
// server builds from the kubelet's /stats/summary, which reads the pod's cgroups.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { resources } from '../../src/api/registry.ts'
import { detectLayout } from '../../src/kubelet/cgroups/index.ts'
import { call } from '../helpers/apiserver.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { startUnderlay } from '../helpers/nodes.ts'

const run = promisify(execFile)
t.setTimeout(240_000)

const cluster = await startCluster(t, { hpaSyncPeriodMs: 2_000 }, { socket: true, kubeletSocketsInDir: true })
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
const node = await underlay.addNode('node-1')
const k = (args: string[], input?: string) => kubectl(cluster.kubeconfig, args, input)
const onNode = JSON.stringify({ spec: { nodeName: 'node-1' } })

async function createPod(name: string, spec: object): Promise<void> {
  await cluster.client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 1, ...spec } } as never)
  t.teardown(() => cluster.client.delete(podInfo, name, 'default', { gracePeriodSeconds: 0 }).catch(() => undefined))
}

await createPod('reader', { restartPolicy: 'Never', containers: [{ name: 'c', image: 'debian', stdin: true, stdinOnce: true, command: ['sh', '-c', 'echo ready; while read line; do echo "got $line"; done'] }] })
await until('the kubelet answers for the pod', async () => (await k(['logs', 'reader'])).stdout.includes('ready'), 120_000)

await t.test('kubectl attach -i: stdin reaches the running container, its answers come back live; stdinOnce ends its stdin', async (t) => {
  const r = await k(['attach', '-i', 'reader'], 'one\ntwo\n')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /got one\ngot two\n/)
  t.notMatch(r.stdout, /ready/, 'output from before the attach is not replayed')
  t.match((await k(['logs', 'reader'])).stdout, /ready\ngot one\ngot two\n/, 'the log has it all')
})

await t.test('kubectl run -i --rm: a one-off pod reads stdin, prints, and is deleted', async (t) => {
  const r = await k(['run', 'once', '-i', '--rm', '--restart=Never', '--image=busybox', `--overrides=${onNode}`, '--command', '--', 'sh', '-c', 'read x; echo "got $x"'], 'hello\n')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /got hello/)
  t.match(r.stdout, /pod "once" deleted/)
  await until('the pod is gone', async () => (await k(['get', 'pod', 'once'])).code !== 0, 20_000)
})

await t.test('kubectl run -it --rm: a shell on a terminal', async (t) => {
  const cmd = `kubectl --kubeconfig ${cluster.kubeconfig} run tty -it --rm --restart=Never --image=busybox '--overrides=${onNode}' --command -- sh`
  // script gives kubectl a terminal; the input arrives once the shell has had time to start.
  const { stdout } = await run('sh', ['-c', `(sleep 8; printf 'tty; echo term=$TERM; echo $((6*7))\\nexit\\n'; sleep 5) | script -q -e -c "${cmd.replaceAll('"', '\\"')}" /dev/null`], { timeout: 90_000 })
  t.match(stdout, /\/dev\/pts\/\d+/, 'the container has a terminal')
  t.match(stdout, /term=xterm/, 'TERM is set for a tty container')
  t.match(stdout, /42/)
})

await t.test('kubectl top: figures from the pod\'s cgroups (memory within 10 %, a CPU limit honoured)', async (t) => {
  await createPod('hog', { containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', 'x=$(head -c 40000000 /dev/zero | tr "\\0" a); sleep 3600'] }] })
  await createPod('burner', { containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', 'while :; do :; done'], resources: { limits: { cpu: '250m', memory: '64Mi' } } }] })
  const uid = (await cluster.client.get<{ metadata: { uid: string } }>(podInfo, 'hog', 'default')).metadata.uid
  // Two samples of the collector (every 10 s) after the pods settled.
  let top = ''
  await until('kubectl top pod shows both pods', async () => {
    const r = await k(['top', 'pod', '--no-headers'])
    top = r.stdout
    return r.code === 0 && /^hog\s/m.test(top) && /^burner\s+\d+m/m.test(top)
  }, 60_000)
  await new Promise((r) => setTimeout(r, 12_000))
  top = (await k(['top', 'pod', '--no-headers'])).stdout
  const row = (name: string) => new RegExp(`^${name}\\s+(\\d+)m\\s+(\\d+)Mi`, 'm').exec(top)
  const memory = detectLayout().mounts.memory!
  const podDir = findPodCgroup(join(memory, `/${node.netns}`), uid)!
  const stat = Object.fromEntries(readFileSync(join(podDir, 'memory.stat'), 'utf8').trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]))
  const workingSet = Number(readFileSync(join(podDir, 'memory.usage_in_bytes'), 'utf8')) - (stat.total_inactive_file ?? 0)
  const shown = Number(row('hog')![2]) * 1024 * 1024
  t.ok(Math.abs(shown - workingSet) <= workingSet * 0.1 + 1024 * 1024, `hog: ${row('hog')![2]}Mi shown, ${(workingSet / 1048576).toFixed(1)}Mi in its cgroup`)
  const cpu = Number(row('burner')![1])
  t.ok(cpu >= 200 && cpu <= 280, `burner: ${cpu}m under a 250m limit`)
  const nodes = await k(['top', 'node', '--no-headers'])
  t.match(nodes.stdout, /^node-1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%/m)
})

await t.test('kubectl autoscale: a Deployment of CPU hogs is scaled up on what the pods\' cgroups report', async (t) => {
  const deploymentInfo = resources.find((r) => r.kind === 'Deployment')!
  await cluster.client.create(deploymentInfo, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'spinner', namespace: 'default' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'spinner' } },
      template: {
        metadata: { labels: { app: 'spinner' } },
        // Each pod burns what its 100m limit lets it: twice its 50m request.
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', 'while :; do :; done'], resources: { requests: { cpu: '50m' }, limits: { cpu: '100m' } } }] },
      },
    },
  } as never)
  t.teardown(() => cluster.client.delete(deploymentInfo, 'spinner', 'default').catch(() => undefined))
  const made = await k(['autoscale', 'deployment', 'spinner', '--cpu-percent=50', '--min=1', '--max=3'])
  t.equal(made.code, 0, made.stderr)
  t.equal(made.stdout.trim(), 'horizontalpodautoscaler.autoscaling/spinner autoscaled')
  const replicas = async () => (await cluster.client.get<any>(deploymentInfo, 'spinner', 'default')).spec.replicas
  // About 200 % of the request against a 50 % target wants 4 pods; 3 is the maximum.
  await until('the autoscaler scales the Deployment to its maximum', async () => (await replicas()) === 3, 150_000)
  const { status } = (await call(cluster.url, 'GET', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/spinner')).body
  const used = status.currentMetrics?.[0]?.resource?.current?.averageUtilization
  t.ok(used >= 120, `the pods used ${used}% of their CPU request`)
  t.match(status.conditions, [{ type: 'AbleToScale', status: 'True' }, { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound' }, { type: 'ScalingLimited', status: 'True', reason: 'TooManyReplicas' }])
  const table = await k(['get', 'hpa', 'spinner', '--no-headers'])
  t.match(table.stdout, /^spinner\s+Deployment\/spinner\s+cpu: \d+%\/50%\s+1\s+3\s+\d\s+/)
})

function findPodCgroup(dir: string, uid: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue
    if (e.name === `pod${uid}`) return join(dir, e.name)
    const found = findPodCgroup(join(dir, e.name), uid)
    if (found) return found
  }
  return undefined
}
