// The proxy shell against a real API server, with a recording Proxier: what it syncs, when,
// how it recovers from failures, and what /healthz and /metrics say.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { ProxyHealthServer } from '../../proxy/health-server.ts'
import type { Family, ProxyState } from '../../proxy/model.ts'
import type { Proxier, SyncStats } from '../../proxy/proxier.ts'
import { ServiceProxy } from '../../proxy/service-proxy.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { until } from '../helpers/control-plane.ts'

const serviceInfo = resources.find((r) => r.kind === 'Service')!
const sliceInfo = resources.find((r) => r.kind === 'EndpointSlice')!
const nodeInfo = resources.find((r) => r.kind === 'Node')!

interface Call {
  family: Family
  changed: string[] | 'all'
  services: string[]
}

class RecordingProxier implements Proxier {
  readonly mode = 'nftables' as const
  readonly family: Family
  readonly calls: Call[]
  failNext = 0
  closed = false
  /** When each sync call came. */
  readonly times: number[] = []
  /** Endpoints per Service port in the first state this proxier was handed. */
  firstEndpoints: Record<string, number> | undefined
  constructor(family: Family, calls: Call[]) {
    this.family = family
    this.calls = calls
  }
  async sync(state: ProxyState, changed: ReadonlySet<string> | 'all'): Promise<SyncStats> {
    this.times.push(Date.now())
    this.firstEndpoints ??= Object.fromEntries([...state.services].map(([id, e]) => [id, e.endpoints.length]))
    // The API server's own `kubernetes` Service comes and changes as the server boots: left out.
    const ours = (ids: Iterable<string>) => [...ids].filter((id) => !id.startsWith('default/kubernetes:')).sort()
    if (changed === 'all' || ours(changed).length) this.calls.push({ family: this.family, changed: changed === 'all' ? 'all' : ours(changed), services: ours(state.services.keys()) })
    if (this.failNext > 0) {
      this.failNext--
      throw new Error('injected failure')
    }
    return { servicesChanged: changed === 'all' ? state.services.size : changed.size, operations: 1 }
  }
  async close(): Promise<void> {
    this.closed = true
  }
}

t.test('syncs: full at start, then partial with the changed ports, full again after a failure', async (t) => {
  const server = await startTestServer(t, { serviceCidrs: ['10.96.0.0/16', 'fd00:96::/112'] })
  const client = new RestClient(server.address)
  t.teardown(() => client.close())
  await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } } as never)
  await client.create(sliceInfo, {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'a-0', namespace: 'default', labels: { 'kubernetes.io/service-name': 'a' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: ['10.244.0.4'] }],
  } as never)
  const calls: Call[] = []
  const proxiers: RecordingProxier[] = []
  const proxy = new ServiceProxy({
    client,
    nodeName: 'n1',
    mode: 'auto',
    serviceCIDRs: ['10.96.0.0/16', 'fd00:96::/112'],
    clusterCIDRs: ['10.244.0.0/16'],
    createProxier: (_mode, family) => {
      const p = new RecordingProxier(family, calls)
      proxiers.push(p)
      return p
    },
    probe: async () => ({ ok: true }),
    minSyncMs: 10,
  })
  t.teardown(() => proxy.stop())
  t.notOk(proxy.health().healthy, 'unhealthy before the first sync')
  await proxy.start()
  t.same(proxy.families, [4, 6])
  t.equal(proxy.mode, 'nftables')
  t.same(calls, [
    { family: 4, changed: 'all', services: ['default/a:http/TCP'] },
    { family: 6, changed: 'all', services: [] },
  ], 'a full sync per family first, with what the informers listed')
  t.equal(proxiers[0]!.firstEndpoints?.['default/a:http/TCP'], 1, 'the first sync already sees the endpoints: nothing syncs before every informer has listed')
  t.ok(proxy.health().healthy)

  calls.length = 0
  await client.create(sliceInfo, {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'a-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'a' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: ['10.244.0.5'] }],
  } as never)
  await until('a partial sync', () => calls.length > 0, 5000)
  t.same(calls, [{ family: 4, changed: ['default/a:http/TCP'], services: ['default/a:http/TCP'] }], 'only the v4 proxier, only the changed port')

  calls.length = 0
  proxiers[0]!.failNext = 1
  await client.delete(serviceInfo, 'a', 'default')
  await until('a failed sync and its retry', () => calls.length >= 2, 5000)
  t.same(calls[0], { family: 4, changed: ['default/a:http/TCP'], services: [] })
  t.same(calls[1], { family: 4, changed: 'all', services: [] }, 'the retry is a full sync')
  const metrics = await proxy.metrics.registry.metrics()
  t.match(metrics, /weft_proxy_sync_proxy_rules_failures_total\{sync="partial",family="IPv4"\} 1/)
  t.match(metrics, /weft_proxy_sync_proxy_rules_duration_seconds_count\{sync="full",family="IPv4"\} 2/)
  const [failedAt, retriedAt] = proxiers[0]!.times.slice(-2)
  t.ok(retriedAt! - failedAt! >= 900, `the retry waited about a second (${retriedAt! - failedAt!} ms)`)
  t.match(metrics, /weft_proxy_mode\{mode="nftables",reason="nftables works"\} 1/)

  await proxy.stop()
  t.ok(proxiers.every((p) => p.closed), 'stop closes the proxiers')
})

t.test('/healthz turns 503 when changes wait too long; /metrics serves the registry', async (t) => {
  const server = await startTestServer(t)
  const client = new RestClient(server.address)
  t.teardown(() => client.close())
  const calls: Call[] = []
  let proxier: RecordingProxier | undefined
  const proxy = new ServiceProxy({
    client,
    nodeName: 'n1',
    mode: 'auto',
    serviceCIDRs: ['10.96.0.0/12'],
    clusterCIDRs: [],
    createProxier: (_mode, family) => (proxier = new RecordingProxier(family, calls)),
    probe: async () => ({ ok: false, reason: 'nft is not installed' }),
    minSyncMs: 10,
    healthTimeoutMs: 200,
  })
  t.teardown(() => proxy.stop())
  const http = new ProxyHealthServer(proxy)
  t.teardown(() => http.close())
  const [port] = await http.listen(['127.0.0.1:0'])
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: res.status, body: await res.text() }
  }
  t.equal((await get('/healthz')).status, 503, 'not synced yet')
  await proxy.start()
  t.equal(proxy.mode, 'userspace', 'nftables unusable: userspace')
  const ok = await get('/healthz')
  t.equal(ok.status, 200)
  t.match(JSON.parse(ok.body), { healthy: true, mode: 'userspace' })
  proxier!.failNext = 1000
  await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'b', namespace: 'default' }, spec: { ports: [{ port: 80 }] } } as never)
  await until('healthz fails', async () => (await get('/healthz')).status === 503, 10_000)
  t.pass('changes failing to sync for longer than the timeout fail /healthz')
  proxier!.failNext = 0
  await until('healthz recovers', async () => (await get('/livez')).status === 200, 10_000)
  t.pass('and it recovers with the next successful sync')
  const metrics = await get('/metrics')
  t.match(metrics.body, /weft_proxy_mode\{mode="userspace",reason="nftables cannot be used: nft is not installed"\} 1/)
  t.equal((await get('/nope')).status, 404)
})

t.test('the Node getting addresses and the full-sync period each bring a full sync', async (t) => {
  const server = await startTestServer(t)
  const client = new RestClient(server.address)
  t.teardown(() => client.close())
  const calls: Call[] = []
  const proxy = new ServiceProxy({
    client,
    nodeName: 'n1',
    mode: 'auto',
    serviceCIDRs: ['10.96.0.0/12'],
    clusterCIDRs: [],
    createProxier: (_mode, family) => new RecordingProxier(family, calls),
    probe: async () => ({ ok: true }),
    minSyncMs: 10,
    fullSyncMs: 400,
  })
  t.teardown(() => proxy.stop())
  await proxy.start()
  t.same(calls.map((c) => c.changed), ['all'])
  await client.create(nodeInfo, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.7' }] } } as never)
  await until('a full sync for the node addresses', () => calls.length >= 2, 5000)
  t.equal(calls[1]!.changed, 'all')
  const before = calls.length
  await until('a periodic full sync', () => calls.length > before, 5000)
  t.equal(calls[before]!.changed, 'all', 'the period brings a full sync without any change')
})

/** Writes `obj` straight into the store, as an older store or a direct etcd write would hold it: no validation. */
async function writeUnvalidated(store: import('../../src/store/store.ts').Store, plural: string, obj: any): Promise<void> {
  const key = `/registry/core/${plural}/${obj.metadata.namespace}/${obj.metadata.name}`
  const kv = (await store.get(key))!
  const { resourceVersion: _rv, ...metadata } = obj.metadata
  const { metadata: _m, ...rest } = obj
  await store.update(key, JSON.stringify({ metadata, ...rest }), kv.modRevision)
}

class StateProxier implements Proxier {
  readonly mode = 'nftables' as const
  readonly family: Family
  last: ProxyState | undefined
  syncs = 0
  refused: Map<string, { namespace: string; name: string; message: string }> | undefined
  constructor(family: Family) {
    this.family = family
  }
  async sync(state: ProxyState): Promise<SyncStats> {
    this.last = state
    this.syncs++
    return { servicesChanged: 0, operations: 0, refused: this.refused }
  }
  async close(): Promise<void> {}
}

t.test('values that do not parse are dropped, the rest still programmed, each problem an Event once and a metric', async (t) => {
  const server = await startTestServer(t)
  const client = new RestClient(server.address)
  t.teardown(() => client.close())
  const eventInfo = resources.find((r) => r.kind === 'Event')!
  await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'good', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } } as never)
  const lb: any = await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bad', namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }] } } as never)
  lb.spec.externalIPs = ['192.0.2.1', '192.0.2.2\nflush ruleset']
  lb.spec.loadBalancerSourceRanges = ['10.0.0.0/8; flush ruleset', '192.168.0.0/16']
  lb.status = { loadBalancer: { ingress: [{ ip: '203.0.113.9 } ; flush ruleset', ipMode: 'VIP' }, { ip: '203.0.113.10', ipMode: 'VIP' }] } }
  await writeUnvalidated(server.store, 'services', lb)
  await client.create(nodeInfo, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.50\ndelete table ip weft-proxy' }, { type: 'InternalIP', address: '192.0.2.51' }, { type: 'Hostname', address: 'n1' }] } } as never)
  let proxier: StateProxier | undefined
  const proxy = new ServiceProxy({
    client,
    nodeName: 'n1',
    mode: 'auto',
    serviceCIDRs: ['10.96.0.0/12'],
    clusterCIDRs: [],
    createProxier: (_mode, family) => (proxier = new StateProxier(family)),
    probe: async () => ({ ok: true }),
    minSyncMs: 10,
  })
  t.teardown(() => proxy.stop())
  await proxy.start()
  await until('the node addresses', () => proxier!.last!.nodeIPs.length > 0, 5000)
  const state = proxier!.last!
  t.same(state.nodeIPs, ['192.0.2.51'], 'the Node address that does not parse is dropped')
  const bad = state.services.get('default/bad:http/TCP')!.port
  t.same(bad.externalIPs, ['192.0.2.1'])
  t.same(bad.loadBalancerIPs, ['203.0.113.10'])
  t.same(bad.loadBalancerSourceRanges, ['192.168.0.0/16'])
  t.ok(state.services.has('default/good:http/TCP'), 'the other Service is programmed')

  const events = async () => (await client.list<any>(eventInfo, { namespace: 'default' })).items.filter((e: any) => e.involvedObject?.name === 'bad')
  await until('three Events', async () => (await events()).length === 3, 5000)
  const got = await events()
  t.same(got.map((e: any) => e.reason), ['InvalidServiceField', 'InvalidServiceField', 'InvalidServiceField'])
  t.ok(got.every((e: any) => e.type === 'Warning' && e.source?.component === 'weft-proxy' && e.involvedObject.kind === 'Service' && e.involvedObject.uid === lb.metadata.uid))
  t.same(got.map((e: any) => e.message).sort(), [
    'spec.externalIPs[1]: "192.0.2.2\\nflush ruleset" is not an IP address; it is ignored (correct or remove the value)',
    'spec.loadBalancerSourceRanges[0]: "10.0.0.0/8; flush ruleset" is not a CIDR (e.g. 10.0.0.0/8); it is ignored, and while no range is valid the load balancer admits no one (correct or remove the value)',
    'status.loadBalancer.ingress[0].ip: "203.0.113.9 } ; flush ruleset" is not an IP address; it is ignored (correct or remove the value)',
  ])

  // Another change to the bad Service (the API refuses an update of it now), and a sync: no second Event for the same problems.
  const syncs = proxier!.syncs
  await writeUnvalidated(server.store, 'services', { ...lb, metadata: { ...lb.metadata, labels: { touched: 'yes' } } })
  await until('a sync', () => proxier!.syncs > syncs, 5000)
  await proxy.problems.flush()
  t.equal((await events()).length, 3, 'each distinct problem is reported once')
  const metrics = await proxy.metrics.registry.metrics()
  t.match(metrics, /weft_proxy_invalid_service_fields_total\{field="spec.externalIPs"\} 1/)
  t.match(metrics, /weft_proxy_invalid_service_fields_total\{field="status.loadBalancer.ingress.ip"\} 1/)
  t.match(metrics, /weft_proxy_invalid_service_fields_total\{field="spec.loadBalancerSourceRanges"\} 1/)
  t.match(metrics, /weft_proxy_invalid_node_addresses_total 1/)

  // A refusal by the data plane is its own Event, confined to its Service.
  proxier!.refused = new Map([['default/good:http/TCP', { namespace: 'default', name: 'good', message: 'refused for the test' }]])
  await client.patch(serviceInfo, 'good', 'default', { metadata: { labels: { touched: 'yes' } } }, 'merge')
  await until('the refusal Event', async () => (await client.list<any>(eventInfo, { namespace: 'default' })).items.some((e: any) => e.involvedObject?.name === 'good' && e.reason === 'ServiceRulesRefused' && e.message === 'refused for the test'), 5000)
  t.match(await proxy.metrics.registry.metrics(), /weft_proxy_refused_service_rules_total\{family="IPv4"\} 1/)
})

t.test('healthCheckNodePort: the API allocates it, the proxy serves it with the local ready endpoints', async (t) => {
  const server = await startTestServer(t)
  const client = new RestClient(server.address)
  t.teardown(() => client.close())
  const svc: any = await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb', namespace: 'default' }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] } } as never)
  const port: number = svc.spec.healthCheckNodePort
  t.ok(port >= 30000 && port <= 32767, `allocated from the NodePort range (${port})`)
  const slice = (name: string, endpoints: object[]) => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': 'lb' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }, { name: 'https', port: 8443 }], endpoints,
  })
  await client.create(sliceInfo, slice('lb-0', [
    { addresses: ['10.244.0.4'], nodeName: 'n1' },
    { addresses: ['10.244.0.5'], nodeName: 'n1', conditions: { ready: false, serving: true, terminating: true } },
    { addresses: ['10.244.1.4'], nodeName: 'n2' },
  ]) as never)
  const proxy = new ServiceProxy({
    client,
    nodeName: 'n1',
    mode: 'auto',
    serviceCIDRs: ['10.96.0.0/12'],
    clusterCIDRs: [],
    createProxier: (_mode, family) => new StateProxier(family),
    probe: async () => ({ ok: true }),
    minSyncMs: 10,
    serviceHealthChecks: true,
    serviceHealthHosts: ['127.0.0.1'],
  })
  t.teardown(() => proxy.stop())
  await proxy.start()
  const get = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined)
    return res && { status: res.status, body: JSON.parse(await res.text()) }
  }
  t.same(await get(), { status: 200, body: { service: { namespace: 'default', name: 'lb' }, localEndpoints: 1, serviceProxyHealthy: true } }, 'one ready endpoint here (two ports, counted once; the terminating one not)')
  await client.patch(sliceInfo, 'lb-0', 'default', { endpoints: [{ addresses: ['10.244.1.4'], nodeName: 'n2' }] }, 'merge')
  await until('503', async () => (await get())?.status === 503, 5000)
  t.same((await get())?.body.localEndpoints, 0, 'no local endpoint: 503, so the load balancer skips this node')
  await client.patch(serviceInfo, 'lb', 'default', { spec: { externalTrafficPolicy: 'Cluster' } }, 'merge')
  await until('the listener closed', async () => (await get()) === undefined, 5000)
  t.pass('a Service that no longer needs a health check loses its listener')
})
