// status.loadBalancer.ingress: which addresses are published (pure), the flags that choose
// them, and the writer against a real API server: served Ingresses get the addresses, others
// are left alone, and a published Service's new address reaches every served Ingress.
import type { V1Pod } from '@kubernetes/client-node'
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { ingressConfigFrom } from '../../src/cli/ingress.ts'
import { defaultIngressConfig, startIngress } from '../../ingress/run.ts'
import { siblingSelector, statusAddresses, statusIsCurrent } from '../../ingress/status-addresses.ts'
import { logger } from '../../src/util/log.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { until } from '../helpers/control-plane.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!

function pod(name: string, hostIP: string, ready: boolean, labels: Record<string, string> = { app: 'weft-ingress' }): V1Pod {
  return { metadata: { name, labels }, status: { phase: 'Running', hostIP, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }
}

t.test('the addresses of each publish source', async (t) => {
  t.same(statusAddresses({ kind: 'addresses', addresses: ['10.0.0.2', 'lb.example.com', '10.0.0.1', '10.0.0.2'] }, {}), [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { hostname: 'lb.example.com' }])
  t.same(statusAddresses({ kind: 'listeners', listen: ['0.0.0.0:80', '192.0.2.7:443', ''] }, {}), [{ ip: '192.0.2.7' }], 'wildcards name no address')
  t.same(statusAddresses({ kind: 'listeners', listen: ['[::]:80', '[2001:db8::1]:443'] }, {}), [{ ip: '2001:db8::1' }])
  t.same(statusAddresses({ kind: 'pods', namespace: 'n', podName: 'a' }, { pods: [pod('a', '172.31.0.3', true), pod('b', '172.31.0.2', true), pod('c', '172.31.0.4', false), pod('d', '172.31.0.2', true)] }), [{ ip: '172.31.0.2' }, { ip: '172.31.0.3' }], 'only Ready pods, one entry per node')
  const svc = { spec: { externalIPs: ['198.51.100.9'] }, status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }, { hostname: 'x.example' }] } } }
  t.same(statusAddresses({ kind: 'service', namespace: 'n', name: 's' }, { service: svc }), [{ ip: '198.51.100.1' }, { ip: '198.51.100.9' }, { hostname: 'x.example' }])
  t.same(statusAddresses({ kind: 'service', namespace: 'n', name: 's' }, {}), [], 'a missing Service publishes nothing')
  t.equal(statusAddresses({ kind: 'none' }, {}), undefined)
})

t.test('pods like this one: revision labels do not count', async (t) => {
  t.equal(siblingSelector(pod('a', '', true, { 'controller-revision-hash': 'abc', app: 'weft-ingress', tier: 'edge', 'pod-template-generation': '2' })), 'app=weft-ingress,tier=edge')
  t.equal(siblingSelector(pod('a', '', true, {})), '')
})

t.test('a status is current regardless of order', async (t) => {
  t.ok(statusIsCurrent([{ ip: '10.0.0.2' }, { ip: '10.0.0.1' }], [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]))
  t.notOk(statusIsCurrent([{ ip: '10.0.0.1' }], [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]))
  t.notOk(statusIsCurrent(undefined, [{ ip: '10.0.0.1' }]))
  t.ok(statusIsCurrent(undefined, []))
})

t.test('the publish flags', async (t) => {
  t.same(ingressConfigFrom({ 'publish-service': 'weft-ingress/weft-ingress' }).publish, { kind: 'service', namespace: 'weft-ingress', name: 'weft-ingress' })
  t.same(ingressConfigFrom({ 'publish-status-address': '10.0.0.1, lb.example.com' }).publish, { kind: 'addresses', addresses: ['10.0.0.1', 'lb.example.com'] })
  t.same(ingressConfigFrom({ 'update-status': 'false', 'publish-service': 'a/b' }).publish, { kind: 'none' })
  t.same(ingressConfigFrom({ 'http-listen': '10.1.1.1:80' }).publish, { kind: 'listeners', listen: ['10.1.1.1:80', defaultIngressConfig.httpsListen] })
  t.throws(() => ingressConfigFrom({ 'publish-service': 'nonamespace' }), /--publish-service "nonamespace" must be NAMESPACE\/NAME/)
  t.throws(() => ingressConfigFrom({ 'publish-status-address': 'not an address!' }), /"not an address!" is neither/)
  t.throws(() => ingressConfigFrom({ 'publish-service': 'a/b', 'publish-status-address': '10.0.0.1' }), /give one/)
  t.throws(() => ingressConfigFrom({ 'update-status': 'yes' }), /--update-status "yes" must be true or false/)
  const saved = { ...process.env }
  process.env.POD_NAME = 'ing-1'
  process.env.POD_NAMESPACE = 'weft-ingress'
  t.teardown(() => {
    process.env.POD_NAME = saved.POD_NAME
    process.env.POD_NAMESPACE = saved.POD_NAMESPACE
    if (saved.POD_NAME === undefined) delete process.env.POD_NAME
    if (saved.POD_NAMESPACE === undefined) delete process.env.POD_NAMESPACE
  })
  t.same(ingressConfigFrom({}).publish, { kind: 'pods', namespace: 'weft-ingress', podName: 'ing-1' })
})

t.test('the writer against an API server', async (t) => {
  const api = await startTestServer(t)
  const client = new RestClient(api.address)
  t.teardown(() => client.destroy())
  await client.create(kind('IngressClass'), { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'weft' }, spec: { controller: 'weft.dev/ingress' } } as never)
  await client.create(kind('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'front', namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ port: 443 }] } } as never)
  const ingress = (name: string, className: string) =>
    client.create(kind('Ingress'), { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default' }, spec: { ingressClassName: className, defaultBackend: { service: { name: 'front', port: { number: 443 } } } } } as never)
  await ingress('ours', 'weft')
  await ingress('theirs', 'nginx')
  const running = await startIngress({ ...defaultIngressConfig, httpListen: '127.0.0.1:0', httpsListen: '', statusListen: '', publish: { kind: 'service', namespace: 'default', name: 'front' } }, client, logger('ingress-test'))
  t.teardown(() => running.stop())
  const statusOf = async (name: string) => (await client.get<any>(kind('Ingress'), name, 'default')).status?.loadBalancer?.ingress

  // Another controller assigns the Service its address: every served Ingress follows.
  await client.patch(kind('Service'), 'front', 'default', { status: { loadBalancer: { ingress: [{ ip: '198.51.100.5' }] } } }, 'merge', { subresource: 'status' })
  await until('the served Ingress names the Service address', async () => JSON.stringify(await statusOf('ours')) === JSON.stringify([{ ip: '198.51.100.5' }]))
  await ingress('later', 'weft')
  await until('a new Ingress gets it too', async () => JSON.stringify(await statusOf('later')) === JSON.stringify([{ ip: '198.51.100.5' }]))
  t.equal(await statusOf('theirs'), undefined, "another class's Ingress is left alone")

  // A status someone else overwrote is put back; an address that goes away is cleared.
  await client.patch(kind('Ingress'), 'ours', 'default', { status: { loadBalancer: { ingress: [{ ip: '203.0.113.66' }] } } }, 'merge', { subresource: 'status' })
  await until('the status is restored', async () => JSON.stringify(await statusOf('ours')) === JSON.stringify([{ ip: '198.51.100.5' }]))
  await client.patch(kind('Service'), 'front', 'default', { status: { loadBalancer: { ingress: null } } }, 'merge', { subresource: 'status' })
  await until('the address is cleared', async () => ((await statusOf('ours')) ?? []).length === 0)
  t.equal(running.server.httpPort > 0, true)
})

t.test('by default a standalone controller publishes the address it listens on', async (t) => {
  const api = await startTestServer(t)
  const client = new RestClient(api.address)
  t.teardown(() => client.destroy())
  await client.create(kind('Ingress'), { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'x', namespace: 'default' }, spec: { ingressClassName: 'weft', rules: [{ host: 'x.test' }] } } as never)
  await client.create(kind('IngressClass'), { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'weft' }, spec: { controller: 'weft.dev/ingress' } } as never)
  const running = await startIngress({ ...defaultIngressConfig, httpListen: '127.0.0.1:0', httpsListen: '', statusListen: '' }, client, logger('ingress-test'))
  t.teardown(() => running.stop())
  await until('the status names 127.0.0.1', async () => JSON.stringify((await client.get<any>(kind('Ingress'), 'x', 'default')).status?.loadBalancer?.ingress) === JSON.stringify([{ ip: '127.0.0.1' }]))
  t.pass()
})
