// The real `kubectl top` against a weft API server whose nodes' kubelets (real kubelet API
// servers over TLS) serve summaries the test sets: the printed figures are the served ones,
// as kubectl rounds them (CPU in millicores rounded up, memory in whole MiB rounded down).
import t from 'tap'
import { call, startTestServer } from '../helpers/apiserver.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { makeSummary, startStatsKubelet } from '../helpers/stats-kubelet.ts'

const MiB = 1024 * 1024
const api = await startTestServer(t, { kubeletSocketsInDir: true, metrics: { timeoutMs: 500 } })

const served = {
  'node-a': { nanoCores: 1_234_567_890, bytes: 2048 * MiB + 300 * 1024, allocatable: { cpu: '2', memory: '4Gi' } },
  'node-b': { nanoCores: 250_000_000, bytes: 700 * MiB, allocatable: { cpu: '4', memory: '2Gi' } },
}
const pods = {
  web: { namespace: 'default', node: 'node-a', containers: [['app', 15_000_000, 40 * MiB], ['proxy', 2_500_000, 12 * MiB + 4096]] as Array<[string, number, number]> },
  dns: { namespace: 'kube-system', node: 'node-a', containers: [['coredns', 3_000_001, 18 * MiB - 1]] as Array<[string, number, number]> },
  db: { namespace: 'default', node: 'node-b', containers: [['postgres', 120_000_000, 300 * MiB]] as Array<[string, number, number]> },
}
const podsOn = (node: string) => Object.entries(pods).filter(([, p]) => p.node === node).map(([name, p]) => ({ namespace: p.namespace, name, containers: p.containers }))
await startStatsKubelet(t, api.dir, 'node-a', makeSummary('node-a', served['node-a'], podsOn('node-a')))
await startStatsKubelet(t, api.dir, 'node-b', makeSummary('node-b', served['node-b'], podsOn('node-b')))

async function ok(method: string, path: string, body: unknown): Promise<void> {
  const res = await call(api.url, method, path, body, method === 'PATCH' ? { 'content-type': 'application/merge-patch+json' } : {})
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`)
}
for (const [name, s] of Object.entries(served)) {
  await ok('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name } })
  await ok('PATCH', `/api/v1/nodes/${name}/status`, { status: { allocatable: s.allocatable, capacity: s.allocatable } })
}
// A node whose kubelet is gone: kubectl shows it as <unknown>.
await ok('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-z' } })
for (const [name, p] of Object.entries(pods)) {
  await ok('POST', `/api/v1/namespaces/${p.namespace}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: p.namespace, labels: { app: name } }, spec: { nodeName: p.node, containers: p.containers.map(([c]) => ({ name: c, image: 'weft/echo' })) } })
}

/** kubectl's figures: ceil(nano-cores / 10^6) m, floor(bytes / MiB) Mi. */
const milli = (nanoCores: number) => `${Math.ceil(nanoCores / 1e6)}m`
const mebi = (bytes: number) => `${Math.floor(bytes / MiB)}Mi`
const rows = (stdout: string) => stdout.trim().split('\n').map((l) => l.trim().split(/\s+/))

t.test('kubectl top node', async (t) => {
  const res = await kubectl(api.kubeconfig, ['top', 'node'])
  t.equal(res.code, 0, res.stderr)
  const [header, ...lines] = rows(res.stdout)
  t.same(header, ['NAME', 'CPU(cores)', 'CPU(%)', 'MEMORY(bytes)', 'MEMORY(%)'])
  const a = served['node-a']
  const b = served['node-b']
  t.same(lines, [
    ['node-a', milli(a.nanoCores), `${Math.floor((Math.ceil(a.nanoCores / 1e6) / 2000) * 100)}%`, mebi(a.bytes), `${Math.floor((a.bytes / (4 * 1024 * MiB)) * 100)}%`],
    ['node-b', milli(b.nanoCores), `${Math.floor((Math.ceil(b.nanoCores / 1e6) / 4000) * 100)}%`, mebi(b.bytes), `${Math.floor((b.bytes / (2 * 1024 * MiB)) * 100)}%`],
    ['node-z', '<unknown>', '<unknown>', '<unknown>', '<unknown>'],
  ])
  t.same(lines[0]!.slice(1), ['1235m', '61%', '2048Mi', '50%'], 'the figures spelled out')
  const one = await kubectl(api.kubeconfig, ['top', 'node', 'node-b', '--no-headers'])
  t.same(rows(one.stdout), [['node-b', '250m', '6%', '700Mi', '34%']])
})

t.test('kubectl top pod -A', async (t) => {
  const res = await kubectl(api.kubeconfig, ['top', 'pod', '-A'])
  t.equal(res.code, 0, res.stderr)
  const [header, ...lines] = rows(res.stdout)
  t.same(header, ['NAMESPACE', 'NAME', 'CPU(cores)', 'MEMORY(bytes)'])
  const expected = Object.entries(pods)
    .map(([name, p]) => {
      const cpu = p.containers.reduce((s, [, c]) => s + c, 0)
      const mem = p.containers.reduce((s, [, , m]) => s + m, 0)
      return [p.namespace, name, milli(cpu), mebi(mem)]
    })
    .sort((x, y) => (x[0] + '/' + x[1] < y[0] + '/' + y[1] ? -1 : 1))
  t.same(lines, expected)
  t.same(lines.find((l) => l[1] === 'web'), ['default', 'web', '18m', '52Mi'])
  const labelled = await kubectl(api.kubeconfig, ['top', 'pod', '-l', 'app=db', '--no-headers'])
  t.same(rows(labelled.stdout), [['db', '120m', '300Mi']])
})

t.test('kubectl top pod NAME -n NS --containers', async (t) => {
  const res = await kubectl(api.kubeconfig, ['top', 'pod', 'web', '-n', 'default', '--containers'])
  t.equal(res.code, 0, res.stderr)
  t.same(rows(res.stdout), [
    ['POD', 'NAME', 'CPU(cores)', 'MEMORY(bytes)'],
    ...pods.web.containers.map(([c, cpu, mem]) => ['web', c, milli(cpu), mebi(mem)]),
  ])
  const dns = await kubectl(api.kubeconfig, ['top', 'pod', 'dns', '-n', 'kube-system', '--containers', '--no-headers'])
  t.same(rows(dns.stdout), [['dns', 'coredns', '4m', '17Mi']], 'rounded as kubectl rounds')
  const missing = await kubectl(api.kubeconfig, ['top', 'pod', 'nope', '-n', 'default'])
  t.not(missing.code, 0)
  t.match(missing.stderr, /pods "nope" not found/)
})
