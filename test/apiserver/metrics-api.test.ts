import t from 'tap'
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { cpuQuantity, goDuration, memoryQuantity } from '../../src/apiserver/metrics-api-format.ts'
import { SummaryCache } from '../../src/apiserver/metrics-api-cache.ts'
import { MetricsApi, metricsTable, type MetricsSources } from '../../src/apiserver/metrics-api.ts'
import { nodeMetricsResource, podMetricsResource, findMetricsResource } from '../../src/apiserver/metrics-api-resources.ts'
import { parseSummary, SummaryFormatError } from '../../src/apiserver/metrics-api-summary.ts'
import { parseLabelSelector, matchesLabels } from '../../src/api/selectors.ts'
import { parseFieldSelector, matchesFields } from '../../src/api/field-selectors.ts'
import { resources } from '../../src/api/registry.ts'
import type { ResourceRequest } from '../../src/apiserver/request-info.ts'
import { resolveRequest } from '../../src/apiserver/request-info.ts'
import { findByPlural } from '../../src/api/registry.ts'
import type { Summary } from '../../src/kubelet/stats/summary.ts'
import { notFound } from '../../src/util/errors.ts'

t.test('quantities as metrics-server writes them', async (t) => {
  const cpu: Array<[number, string]> = [
    [0, '0'],
    [123456, '123456n'],
    [1_500_000, '1500u'],
    [250_000_000, '250m'],
    [1_000_000_000, '1'],
    [2_500_000_000, '2500m'],
    [12_345_678_901, '12345678901n'],
    [1e12, '1k'],
  ]
  for (const [n, q] of cpu) t.equal(cpuQuantity(n), q, `${n} nano-cores`)
  const memory: Array<[number, string]> = [
    [0, '0'],
    [512, '512'],
    [1000, '1k'],
    [1023, '1023'],
    [1024, '1Ki'],
    [1500, '1500'],
    [4096 * 300, '1200Ki'],
    [20 * 1024 * 1024, '20Mi'],
    [20 * 1024 * 1024 + 4096, '20484Ki'],
    [3 * 1024 ** 3, '3Gi'],
  ]
  for (const [n, q] of memory) t.equal(memoryQuantity(n), q, `${n} bytes`)
  t.throws(() => cpuQuantity(-1), RangeError)
  t.throws(() => memoryQuantity(Number.NaN), RangeError)
  const durations: Array<[number, string]> = [
    [0, '0s'],
    [500, '500ms'],
    [10_000, '10s'],
    [10_500, '10.5s'],
    [15_009, '15.009s'],
    [60_000, '1m0s'],
    [90_250, '1m30.25s'],
    [3_600_000, '1h0m0s'],
  ]
  for (const [ms, text] of durations) t.equal(goDuration(ms), text, `${ms} ms`)
})

t.test('the metrics resources route like upstream paths', async (t) => {
  const find = (g: string, v: string, p: string) => findByPlural(g, v, p) ?? findMetricsResource(g, v, p)
  const q = new URLSearchParams()
  t.match(resolveRequest('GET', '/apis/metrics.k8s.io/v1beta1/nodes', q, find), { kind: 'resource', info: { kind: 'NodeMetrics' }, verb: 'list' })
  t.match(resolveRequest('GET', '/apis/metrics.k8s.io/v1beta1/nodes/n1', q, find), { info: { kind: 'NodeMetrics' }, name: 'n1', verb: 'get' })
  t.match(resolveRequest('GET', '/apis/metrics.k8s.io/v1beta1/pods', q, find), { info: { kind: 'PodMetrics' }, namespace: undefined, verb: 'list' })
  t.match(resolveRequest('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p', q, find), { info: { kind: 'PodMetrics' }, namespace: 'ns', name: 'p', verb: 'get' })
  t.throws(() => resolveRequest('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/ns/nodes', q, find), /could not find/, 'nodes are cluster-scoped')
  t.throws(() => resolveRequest('GET', '/apis/metrics.k8s.io/v1beta1/services', q, find), /could not find/)
  t.throws(() => resolveRequest('GET', '/apis/metrics.k8s.io/v1/nodes', q, find), /could not find/)
  t.throws(() => resolveRequest('GET', '/apis/metrics.k8s.io/v1beta1/nodes/n1/status', q, find), /not found/)
  t.throws(() => resolveRequest('GET', '/apis/metrics.k8s.io/v1beta1/nodes', q), /could not find/, 'the registry alone does not serve them')
})

const T0 = Date.parse('2024-05-01T10:00:00Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()

function node(name: string, labels: Record<string, string> = {}): V1Node {
  return { metadata: { name, labels } }
}

function pod(namespace: string, name: string, nodeName: string | undefined, labels: Record<string, string> = {}, uid = `uid-${name}`): V1Pod {
  return { metadata: { namespace, name, labels, uid }, spec: { nodeName, containers: [] } }
}

function summaryOf(nodeName: string, nanoCores: number, bytes: number, pods: Array<{ ns: string; name: string; uid?: string; containers: Array<[string, number | undefined, number | undefined]> }>): Summary {
  return {
    node: { nodeName, startTime: at(-3600), cpu: { time: at(0), usageNanoCores: nanoCores }, memory: { time: at(0), workingSetBytes: bytes } },
    pods: pods.map((p) => ({
      podRef: { namespace: p.ns, name: p.name, uid: p.uid ?? `uid-${p.name}` },
      startTime: at(-60),
      containers: p.containers.map(([name, cpu, mem], i) => ({ name, startTime: at(-60), cpu: { time: at(-i), usageNanoCores: cpu }, memory: { time: at(0), workingSetBytes: mem } })),
    })),
  }
}

/** Sources over fixed objects, selecting as the API server does. */
function sources(nodes: V1Node[], pods: V1Pod[]): MetricsSources {
  const nodeInfo = resources.find((r) => r.kind === 'Node')!
  const podInfo = resources.find((r) => r.kind === 'Pod')!
  const select = <T extends object>(items: T[], query: URLSearchParams, info: typeof nodeInfo) => {
    const labels = parseLabelSelector(query.get('labelSelector') ?? '')
    const fields = parseFieldSelector(query.get('fieldSelector') ?? '', info)
    return items.filter((o) => matchesLabels(labels, (o as V1Node).metadata?.labels) && matchesFields(fields, o))
  }
  return {
    listNodes: async (q) => select(nodes, q, nodeInfo),
    getNode: async (name) => nodes.find((n) => n.metadata?.name === name) ?? Promise.reject(notFound({ group: '', resource: 'nodes' }, name)),
    listPods: async (ns, q) => select(pods.filter((p) => ns === undefined || p.metadata?.namespace === ns), q, podInfo),
    getPod: async (ns, name) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name) ?? Promise.reject(notFound({ group: '', resource: 'pods' }, name)),
  }
}

function req(info: typeof nodeMetricsResource, verb: 'get' | 'list' | 'watch' | 'create', namespace?: string, name?: string): ResourceRequest {
  return { kind: 'resource', info, namespace, name, subresource: undefined, verb }
}

t.test('NodeMetrics and PodMetrics: figures, selection, what is left out', async (t) => {
  const nodes = [node('n1', { zone: 'a' }), node('n2', { zone: 'b' }), node('n3', { zone: 'a' })]
  const pods = [
    pod('default', 'web', 'n1', { app: 'web' }),
    pod('default', 'db', 'n2', { app: 'db' }),
    pod('kube-system', 'dns', 'n1', { app: 'dns' }),
    pod('default', 'half', 'n1'),
    pod('default', 'pending', undefined),
    pod('default', 'reborn', 'n1', {}, 'uid-new'),
  ]
  const summaries: Record<string, Summary> = {
    n1: summaryOf('n1', 1_250_000_000, 2 * 1024 ** 3, [
      { ns: 'default', name: 'web', containers: [['app', 5_000_000, 30 * 1024 * 1024], ['sidecar', 123456, 4096 * 3]] },
      { ns: 'kube-system', name: 'dns', containers: [['coredns', 2_000_000, 20 * 1024 * 1024]] },
      { ns: 'default', name: 'half', containers: [['a', 1, 4096], ['b', undefined, 4096]] },
      { ns: 'default', name: 'reborn', uid: 'uid-old', containers: [['a', 1, 4096]] },
      { ns: 'default', name: 'static', containers: [['a', 1, 4096]] },
    ]),
    n2: summaryOf('n2', 500_000_000, 1024 ** 3, [{ ns: 'default', name: 'db', containers: [['postgres', 300_000_000, 512 * 1024 * 1024]] }]),
  }
  const scraped: string[] = []
  const cache = new SummaryCache(async (n) => {
    scraped.push(n.metadata!.name!)
    const s = summaries[n.metadata!.name!]
    if (!s) throw new Error('connection refused')
    return s
  })
  const now = new Date(T0 + 5000)
  const api = new MetricsApi(sources(nodes, pods), cache, { windowMs: 10_000, now: () => now })

  const list = await api.answer(req(nodeMetricsResource, 'list'), new URLSearchParams())
  t.same(list, {
    kind: 'NodeMetricsList',
    apiVersion: 'metrics.k8s.io/v1beta1',
    metadata: {},
    items: [
      { metadata: { name: 'n1', creationTimestamp: '2024-05-01T10:00:05Z', labels: { zone: 'a' } }, timestamp: '2024-05-01T10:00:00Z', window: '10s', usage: { cpu: '1250m', memory: '2Gi' } },
      { metadata: { name: 'n2', creationTimestamp: '2024-05-01T10:00:05Z', labels: { zone: 'b' } }, timestamp: '2024-05-01T10:00:00Z', window: '10s', usage: { cpu: '500m', memory: '1Gi' } },
    ],
  }, 'n3 does not answer and is left out')
  t.same(scraped.sort(), ['n1', 'n2', 'n3'])

  const zoneA = await api.answer(req(nodeMetricsResource, 'list'), new URLSearchParams({ labelSelector: 'zone=a' }))
  t.same('items' in zoneA && zoneA.items.map((i) => i.metadata.name), ['n1'])
  const byField = await api.answer(req(nodeMetricsResource, 'list'), new URLSearchParams({ fieldSelector: 'metadata.name=n2' }))
  t.same('items' in byField && byField.items.map((i) => i.metadata.name), ['n2'])

  const one = await api.answer(req(nodeMetricsResource, 'get', undefined, 'n2'), new URLSearchParams())
  t.match(one, { kind: 'NodeMetrics', apiVersion: 'metrics.k8s.io/v1beta1', metadata: { name: 'n2' }, usage: { cpu: '500m' } })
  await t.rejects(api.answer(req(nodeMetricsResource, 'get', undefined, 'n3'), new URLSearchParams()), { code: 404, message: 'nodemetrics.metrics.k8s.io "n3" not found' })
  await t.rejects(api.answer(req(nodeMetricsResource, 'get', undefined, 'nope'), new URLSearchParams()), { code: 404, message: 'nodes "nope" not found' })

  const all = await api.answer(req(podMetricsResource, 'list'), new URLSearchParams())
  t.same('items' in all && all.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`), ['default/db', 'default/web', 'kube-system/dns'], 'half-measured, unscheduled, recreated and unknown pods are left out')
  const web = 'items' in all ? all.items.find((i) => i.metadata.name === 'web') : undefined
  t.same(web, {
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-05-01T10:00:05Z', labels: { app: 'web' } },
    timestamp: '2024-05-01T09:59:59Z',
    window: '10s',
    containers: [
      { name: 'app', usage: { cpu: '5m', memory: '30Mi' } },
      { name: 'sidecar', usage: { cpu: '123456n', memory: '12Ki' } },
    ],
  }, "a pod's timestamp is its earliest container sample")
  const inDefault = await api.answer(req(podMetricsResource, 'list', 'default'), new URLSearchParams({ labelSelector: 'app in (web,db)' }))
  t.same('items' in inDefault && inDefault.items.map((i) => i.metadata.name), ['db', 'web'])
  const byNs = await api.answer(req(podMetricsResource, 'list'), new URLSearchParams({ fieldSelector: 'metadata.namespace=kube-system' }))
  t.same('items' in byNs && byNs.items.map((i) => i.metadata.name), ['dns'])
  const notWeb = await api.answer(req(podMetricsResource, 'list', 'default'), new URLSearchParams({ fieldSelector: 'metadata.name!=web' }))
  t.same('items' in notWeb && notWeb.items.map((i) => i.metadata.name), ['db'])

  t.match(await api.answer(req(podMetricsResource, 'get', 'default', 'web'), new URLSearchParams()), { kind: 'PodMetrics', metadata: { name: 'web' } })
  await t.rejects(api.answer(req(podMetricsResource, 'get', 'default', 'half'), new URLSearchParams()), { code: 404, message: 'podmetrics.metrics.k8s.io "default/half" not found' })
  await t.rejects(api.answer(req(podMetricsResource, 'get', 'default', 'ghost'), new URLSearchParams()), { code: 404, message: 'pods "ghost" not found' })

  await t.rejects(api.answer(req(podMetricsResource, 'list'), new URLSearchParams({ fieldSelector: 'spec.nodeName=n1' })), { code: 400, message: /"spec.nodeName" is not a known field selector/ }, 'only metadata fields, as metrics-server')
  await t.rejects(api.answer(req(podMetricsResource, 'list'), new URLSearchParams({ labelSelector: 'a in b' })), { code: 400 })
  await t.rejects(api.answer(req(podMetricsResource, 'watch'), new URLSearchParams()), { code: 405 })
  await t.rejects(api.answer(req(nodeMetricsResource, 'create'), new URLSearchParams()), { code: 405, message: /takes get, list/ })
})

t.test('the Table metrics-server prints', async (t) => {
  const items = [
    { metadata: { name: 'web', namespace: 'default', creationTimestamp: 'x' }, timestamp: 'x', window: '10s', containers: [{ name: 'a', usage: { cpu: '5m', memory: '30Mi' } }, { name: 'b', usage: { cpu: '123456n', memory: '12Ki' } }] },
  ]
  const table = metricsTable(items, 'None')
  t.same(table.columnDefinitions.map((c) => c.name), ['Name', 'cpu', 'memory', 'Window'])
  t.same(table.rows, [{ cells: ['web', '5123456n', '30732Ki', '10s'] }], "a pod's row sums its containers")
  t.same(metricsTable(items, 'Metadata').rows[0]?.object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: items[0]!.metadata })
  t.same(metricsTable([], 'None').rows, [])
})

t.test('the cache: fresh summaries are reused, stale ones fetched once, a silent node times out', async (t) => {
  let clock = 0
  const calls: string[] = []
  let hang = false
  const fetch = async (n: V1Node, signal: AbortSignal): Promise<Summary> => {
    const name = n.metadata!.name!
    calls.push(name)
    if (name === 'slow' || hang) {
      // A kubelet that accepts and never answers; only the abort ends the wait.
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
    }
    if (name === 'deaf') await new Promise(() => {})
    return summaryOf(name, clock, 4096, [])
  }
  const cache = new SummaryCache(fetch, { maxAgeMs: 10_000, timeoutMs: 50, now: () => clock })
  const a = node('a')

  const first = await cache.summaries([a])
  t.equal(first.get('a')?.node.cpu?.usageNanoCores, 0)
  clock = 9_999
  t.equal((await cache.summaries([a])).get('a')?.node.cpu?.usageNanoCores, 0, 'younger than 10 s: from the cache')
  t.same(calls, ['a'])
  clock = 10_000
  const [x, y] = await Promise.all([cache.summaries([a]), cache.summaries([a])])
  t.equal(x.get('a')?.node.cpu?.usageNanoCores, 10_000, 'stale: fetched again')
  t.equal(y.get('a'), x.get('a'), 'two requests at once share one fetch')
  t.same(calls, ['a', 'a'])

  const started = Date.now()
  const mixed = await cache.summaries([a, node('slow'), node('deaf')])
  t.same([...mixed.keys()], ['a'], 'nodes that do not answer are left out')
  t.ok(Date.now() - started < 5_000, 'the timeout bounds the wait, even for a fetch that ignores its signal')
  await cache.summaries([node('slow')])
  t.same(calls.filter((c) => c === 'slow'), ['slow'], 'a failure is remembered for the window too')
  clock = 20_000
  hang = true
  t.same([...(await cache.summaries([a])).keys()], [], 'a node that stops answering is left out once its summary is stale')
})

t.test('summaries from a kubelet are checked', async (t) => {
  const good = summaryOf('n1', 1, 2, [{ ns: 'a', name: 'b', containers: [['c', 3, 4]] }])
  t.same(parseSummary(JSON.parse(JSON.stringify(good))).pods[0]?.containers[0]?.cpu?.usageNanoCores, 3)
  const extra = parseSummary({ ...good, node: { ...good.node, network: { rxBytes: 1 } }, evil: true }) as unknown as Record<string, unknown>
  t.notOk('evil' in extra || 'network' in (extra.node as object), 'fields the API does not use are dropped')
  const bad: Array<[unknown, RegExp]> = [
    [null, /the summary is not an object/],
    [[], /the summary is not an object/],
    [{ node: {} }, /node.nodeName is not a string/],
    [{ ...good, pods: {} }, /pods is not a list/],
    [{ ...good, node: { ...good.node, cpu: { time: 't', usageNanoCores: -1 } } }, /node.cpu.usageNanoCores is not a non-negative number/],
    [{ ...good, node: { ...good.node, memory: { time: 't', workingSetBytes: '1' } } }, /node.memory.workingSetBytes/],
    [{ ...good, pods: [{ podRef: { name: 'x' } }] }, /pods\[0\].podRef.namespace is not a string/],
    [{ ...good, pods: [{ podRef: { name: 'x', namespace: 'y' }, containers: [{ name: 7 }] }] }, /pods\[0\].containers\[0\].name/],
    [{ ...good, node: { ...good.node, nodeName: 'x'.repeat(5000) } }, /node.nodeName/],
  ]
  for (const [value, message] of bad) t.throws(() => parseSummary(value), { message }, String(message))
  let caught: unknown
  try {
    parseSummary(1)
  } catch (err) {
    caught = err
  }
  t.ok(caught instanceof SummaryFormatError, 'a SummaryFormatError')
})
