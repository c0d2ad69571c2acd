// svc/, ingress/ and pod/ targets resolved against a real API server: ClusterIP, node
// ports, every ready endpoint, load balancers, Ingress hosts and TLS, pod IPs, and the
// errors that say what to do instead.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { resolveTarget } from '../../load/target.ts'
import { startTestServer } from '../helpers/apiserver.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind && (kind !== 'Ingress' || r.group === 'networking.k8s.io'))!
const server = await startTestServer(t)
const client = new RestClient(server.address)
t.teardown(() => client.close())

async function create(kind: string, body: Record<string, unknown>, namespace = 'default'): Promise<any> {
  return client.create(info(kind), body as never, { namespace })
}

async function setStatus(kind: string, name: string, namespace: string | undefined, status: unknown): Promise<void> {
  await client.patch(info(kind), name, namespace, { status }, 'merge', { subresource: 'status' })
}

await create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }, '')
const web = await create('Service', {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web' },
  spec: {
    type: 'NodePort',
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
      { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
      { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
    ],
  },
})
const webIP: string = web.spec.clusterIP
const slice = (name: string, endpoints: object[], ports: object[]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints,
  ports,
})
await create('EndpointSlice', slice('web-a', [
  { addresses: ['10.244.1.5'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'web-1', namespace: 'default' } },
  { addresses: ['10.244.1.6'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'web-2', namespace: 'default' } },
], [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }]))
await create('EndpointSlice', slice('web-b', [
  { addresses: ['10.244.2.7'], targetRef: { kind: 'Pod', name: 'web-3', namespace: 'default' } },
  { addresses: ['10.244.1.5'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'web-1', namespace: 'default' } },
], [{ name: 'http', port: 8080, protocol: 'TCP' }]))
for (const [name, ip, ready] of [['node-b', '172.31.0.3', true], ['node-a', '172.31.0.2', true], ['node-c', '172.31.0.4', false]] as const) {
  await create('Node', { apiVersion: 'v1', kind: 'Node', metadata: { name } }, '')
  await setStatus('Node', name, undefined, { addresses: [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] })
}

const resolve = (spec: string, options: Parameters<typeof resolveTarget>[1] = {}) => resolveTarget(spec, options, client)

t.test('svc/ via ClusterIP: the first port by default, or by number or name', async (t) => {
  const r = await resolve('svc/web')
  t.same(r.endpoints, [{ host: webIP, port: 80, label: 'ClusterIP' }])
  t.match(r, { protocol: 'http1', tls: false, authority: 'web.default.svc', path: '/', method: 'GET', description: `svc/web.default:http → ClusterIP ${webIP}:80`, spec: 'svc/web' })
  const https = await resolve('svc/web.default:https', { insecure: true, path: '/healthz' })
  t.match(https, { tls: true, servername: 'web.default.svc', authority: 'web.default.svc', path: '/healthz', insecure: true, endpoints: [{ host: webIP, port: 443 }] })
  const dns = await resolve('svc/web:53', { dns: { name: 'web.default.svc.cluster.local', type: 'a' } })
  t.match(dns, { protocol: 'dns', dns: { name: 'web.default.svc.cluster.local', type: 'A' }, endpoints: [{ port: 53 }] })
  const h2 = await resolve('svc/web:80', { protocol: 'http2', host: 'shop.test' })
  t.match(h2, { protocol: 'http2', authority: 'shop.test' })
  await t.rejects(resolve('svc/web:8080'), { code: 'UnknownPort', message: 'Service default/web has no port 8080 (its ports: http 80/TCP, https 443/TCP, dns 53/UDP)' })
  await t.rejects(resolve('svc/web:metrics'), { code: 'UnknownPort', message: /no port "metrics" \(its ports: http 80\/TCP/ })
  await t.rejects(resolve('svc/web:dns', { protocol: 'http1' }), { code: 'InvalidOption', message: /is UDP; http1 does not run over it/ })
})

t.test('svc/ via endpoints: every ready endpoint once, labelled with its pod', async (t) => {
  const r = await resolve('svc/web', { via: 'endpoints' })
  t.same(r.endpoints, [
    { host: '10.244.1.5', port: 8080, label: 'pod web-1' },
    { host: '10.244.2.7', port: 8080, label: 'pod web-3' },
  ], 'not-ready web-2 left out, web-1 listed once, an absent condition counts as ready')
  t.equal(r.description, 'svc/web.default:http → 2 ready endpoints directly')
  const udp = await resolve('svc/web:dns', { via: 'endpoints', protocol: 'udp' })
  t.same(udp.endpoints, [{ host: '10.244.1.5', port: 5353, label: 'pod web-1' }])
  await t.rejects(resolve('svc/web:https', { via: 'endpoints' }), { code: 'NoEndpoints', message: 'Service default/web has no ready endpoints: no endpoint serves port https' })
  await create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cold' }, spec: { selector: { app: 'cold' }, ports: [{ port: 80 }] } })
  await create('EndpointSlice', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'cold-a', labels: { 'kubernetes.io/service-name': 'cold' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.3.3'], conditions: { ready: false } }], ports: [{ port: 80, protocol: 'TCP' }] })
  await t.rejects(resolve('svc/cold', { via: 'endpoints' }), { code: 'NoEndpoints', message: 'Service default/cold has no ready endpoints: 1 endpoint is not ready' })
})

t.test('svc/ via nodeport: every Ready node once, by its InternalIP', async (t) => {
  const svc = await client.get<any>(info('Service'), 'web', 'default')
  const nodePort = svc.spec.ports[0].nodePort
  t.ok(nodePort >= 30000, 'the API server allocated node ports')
  const r = await resolve('svc/web', { via: 'nodeport' })
  t.same(r.endpoints, [
    { host: '172.31.0.2', port: nodePort, label: 'node node-a' },
    { host: '172.31.0.3', port: nodePort, label: 'node node-b' },
  ])
  t.equal(r.description, `svc/web.default:http → NodePort ${nodePort} on 2 Ready nodes`)
})

t.test('svc/ via loadbalancer, headless and ExternalName Services, and errors', async (t) => {
  await create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', selector: { app: 'x' }, ports: [{ port: 8080 }] } })
  await t.rejects(resolve('svc/lb', { via: 'loadbalancer' }), { code: 'NoAddress', message: /no load-balancer address yet/ })
  await setStatus('Service', 'lb', 'default', { loadBalancer: { ingress: [{ ip: '192.0.2.10' }, { hostname: 'lb.example.test' }] } })
  const r = await resolve('svc/lb', { via: 'loadbalancer' })
  t.same(r.endpoints, [{ host: '192.0.2.10', port: 8080, label: 'load balancer 192.0.2.10' }, { host: 'lb.example.test', port: 8080, label: 'load balancer lb.example.test' }])
  t.equal(r.authority, 'lb.default.svc:8080')
  await t.rejects(resolve('svc/web', { via: 'loadbalancer' }), { code: 'Unsupported', message: /of type NodePort: it has no load balancer/ })

  await create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'shop' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] } }, 'shop')
  await t.rejects(resolve('svc/db.shop'), { code: 'Headless', message: 'Service shop/db is headless (clusterIP: None): it has no ClusterIP to load; use --via endpoints to load every ready endpoint directly' })
  await t.rejects(resolve('svc/db', { namespace: 'shop', via: 'endpoints' }), { code: 'NoEndpoints', message: /has no EndpointSlices/ })
  await t.rejects(resolve('svc/db.shop', { via: 'nodeport' }), { code: 'Unsupported', message: /of type ClusterIP: it has no node ports/ })
  await create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'api.example.test' } })
  await t.rejects(resolve('svc/ext'), { code: 'Unsupported', message: /ExternalName \(externalName: "api.example.test"\).*load api.example.test directly by URL/ })
  await t.rejects(resolve('svc/nope'), { code: 'NotFound', message: /^Service default\/nope not found/ })
  await t.rejects(resolve('svc/web.nowhere'), { code: 'NotFound', message: /^Service nowhere\/web not found/ })
})

t.test('ingress/: the rule host, its path and TLS, its address or the controller Service', async (t) => {
  await create('Ingress', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'front', namespace: 'shop' },
    spec: {
      tls: [{ hosts: ['*.shop.test'], secretName: 'shop-tls' }],
      rules: [
        { host: 'www.shop.test', http: { paths: [{ path: '/store', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } },
        { host: 'plain.example.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } },
      ],
    },
  }, 'shop')
  await t.rejects(resolve('ingress/front.shop'), { code: 'NoAddress', message: /has no address yet.*no weft-ingress\/weft-ingress Service/ })
  await create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'weft-ingress' } }, '')
  const controller = await create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'weft-ingress', namespace: 'weft-ingress' }, spec: { selector: { app: 'ingress' }, ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] } }, 'weft-ingress')
  const viaController = await resolve('ingress/front.shop')
  t.match(viaController, { protocol: 'http1', tls: true, servername: 'www.shop.test', authority: 'www.shop.test', path: '/store', endpoints: [{ host: controller.spec.clusterIP, port: 443, label: `ingress controller ${controller.spec.clusterIP}` }] })
  t.match(viaController.description, /^ingress\/front\.shop → https:\/\/www\.shop\.test\/store via weft-ingress\/weft-ingress ClusterIP/)
  await setStatus('Ingress', 'front', 'shop', { loadBalancer: { ingress: [{ ip: '172.31.0.2' }, { ip: '172.31.0.3' }] } })
  const plain = await resolve('ingress/front', { namespace: 'shop', host: 'plain.example.test' })
  t.match(plain, { tls: false, authority: 'plain.example.test', path: '/', endpoints: [{ host: '172.31.0.2', port: 80, label: 'ingress 172.31.0.2' }, { host: '172.31.0.3', port: 80 }] })
  t.notOk('servername' in plain)
  const forced = await resolve('ingress/front.shop', { host: 'plain.example.test', tls: true, path: '/x?y=1' })
  t.match(forced, { tls: true, servername: 'plain.example.test', path: '/x?y=1', endpoints: [{ port: 443 }] })
  await t.rejects(resolve('ingress/front.shop', { host: 'other.test' }), { code: 'NotFound', message: /no rule for host other.test \(its hosts: www.shop.test, plain.example.test\)/ })
  await t.rejects(resolve('ingress/front.shop', { protocol: 'tcp' }), { code: 'InvalidOption', message: /an Ingress speaks HTTP/ })
  await t.rejects(resolve('ingress/front.shop', { via: 'endpoints' }), { code: 'InvalidOption', message: /--via applies to svc\/ targets only/ })
  await t.rejects(resolve('ingress/back.shop'), { code: 'NotFound', message: /^Ingress shop\/back not found/ })
})

t.test('pod/: its IP and first or named containerPort', async (t) => {
  const pod = (name: string, ports: object[]) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'weft/echo', ports }] } })
  await create('Pod', pod('echo-1', [{ name: 'http', containerPort: 8080 }, { name: 'grpc', containerPort: 9090 }]))
  await t.rejects(resolve('pod/echo-1'), { code: 'NoAddress', message: 'Pod default/echo-1 is Pending, not Running' })
  await setStatus('Pod', 'echo-1', 'default', { phase: 'Running', podIP: '10.244.1.9', podIPs: [{ ip: '10.244.1.9' }] })
  const r = await resolve('pod/echo-1')
  t.match(r, { protocol: 'http1', endpoints: [{ host: '10.244.1.9', port: 8080, label: 'pod echo-1' }], authority: '10.244.1.9:8080', description: 'pod/echo-1.default:http → 10.244.1.9:8080' })
  t.match(await resolve('pod/echo-1:grpc'), { protocol: 'grpc', path: '/grpc.health.v1.Health/Check', endpoints: [{ port: 9090 }] })
  t.match(await resolve('pod/echo-1:7000', { protocol: 'tcp' }), { protocol: 'tcp', endpoints: [{ port: 7000 }] }, 'any port by number')
  await t.rejects(resolve('pod/echo-1:admin'), { code: 'UnknownPort', message: 'Pod default/echo-1 has no port named "admin" (its ports: http 8080/TCP, grpc 9090/TCP)' })
  await create('Pod', pod('bare', []))
  await setStatus('Pod', 'bare', 'default', { phase: 'Running', podIP: '10.244.1.10' })
  await t.rejects(resolve('pod/bare'), { code: 'UnknownPort', message: /declares no containerPorts: name the port, pod\/bare.default:PORT/ })
  await t.rejects(resolve('pod/ghost'), { code: 'NotFound' })
})
