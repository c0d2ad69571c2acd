// The Ingress source against a real API server: served Ingresses become routes, TLS Secrets
// certificates, EndpointSlices endpoints; conflicts, missing backends and bad certificates
// become Events on the Ingress; changes apply without a restart.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { Balancer } from '../../ingress/balancer.ts'
import { CertStore } from '../../ingress/cert-store.ts'
import { backendKey } from '../../ingress/endpoints.ts'
import { defaultIngressClassConfig } from '../../ingress/ingress-class.ts'
import { IngressSource } from '../../ingress/ingress-source.ts'
import type { RouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { logger } from '../../src/util/log.ts'
import { startTestServer } from '../helpers/apiserver.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const server = await startTestServer(t)
const client = new RestClient(server.address)
t.teardown(() => client.destroy())
const b64 = (s: string) => Buffer.from(s).toString('base64')

await client.create(kind('IngressClass'), { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'weft', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'weft.dev/ingress' } } as never)
await client.create(kind('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 'http' }] } } as never)
await client.create(kind('EndpointSlice'), {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true } }, { addresses: ['10.244.0.6'], conditions: { ready: true } }, { addresses: ['10.244.0.7'], conditions: { ready: false } }],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
} as never)
const good = await selfSigned(['web.test'])
await client.create(kind('Secret'), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'web-tls', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(good.cert), 'tls.key': b64(good.key) } } as never)
const ingress = (name: string, spec: object) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default' }, spec }) as never
await client.create(kind('Ingress'), ingress('web', {
  tls: [{ hosts: ['web.test'], secretName: 'web-tls' }],
  rules: [{ host: 'web.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
}))
await client.create(kind('Ingress'), ingress('other-class', { ingressClassName: 'nginx', rules: [{ host: 'nginx.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] }))

const defaultCert = await selfSigned(['weft-ingress-default'])
const certs = new CertStore(defaultCert)
const balancer = new Balancer()
let table: RouteTable | undefined
const source = new IngressSource({ client, classes: defaultIngressClassConfig, certs, balancer, onTable: (x) => (table = x), log: logger('ingress-test') })
await source.start()
t.teardown(() => source.stop())

const events = async (reason: string) => (await client.list<any>(kind('Event'), { namespace: 'default' })).items.filter((e) => e.reason === reason)

t.test('a served Ingress is routed, with its certificate and the ready endpoints', async (t) => {
  t.ok(source.ready)
  const r = table!.route('web.test', '/anything') as any
  t.equal(r.route?.ingress, 'default/web')
  t.equal(r.tlsHost, true)
  t.equal(certs.describe('web.test'), 'default/web-tls')
  t.equal(certs.describe('other.test'), 'default')
  const key = backendKey(r.route.backend)
  t.same(balancer.state(key).map((s) => s.endpoint).sort(), ['10.244.0.5:8080', '10.244.0.6:8080'], 'the ready endpoints at the slice port of the Service port name')
  t.ok('notFound' in table!.route('nginx.test', '/'), 'an Ingress of another class is not served')
})

t.test('a conflicting newer Ingress loses and is told so; a missing backend is reported', async (t) => {
  await new Promise((r) => setTimeout(r, 1100)) // a later creationTimestamp (whole seconds)
  await client.create(kind('Ingress'), ingress('copycat', { rules: [{ host: 'web.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'elsewhere', port: { number: 80 } } } }, { path: '/new', pathType: 'Prefix', backend: { service: { name: 'missing', port: { number: 80 } } } }] } }] }))
  const conflict = await until('a RuleConflict event', async () => (await events('RuleConflict'))[0])
  t.equal(conflict.involvedObject.name, 'copycat')
  t.match(conflict.message, /default\/web/)
  const missing = await until('a BackendNotFound event', async () => (await events('BackendNotFound'))[0])
  t.match(missing.message, /missing/)
  t.equal((table!.route('web.test', '/') as any).route.ingress, 'default/web', 'the older Ingress keeps the path')
  t.equal((table!.route('web.test', '/new/x') as any).route.ingress, 'default/copycat', 'the new path of the merged host is served')
})

t.test('an invalid certificate is reported and the previous one keeps serving; endpoints follow the slices', async (t) => {
  const secret = await client.get<any>(kind('Secret'), 'web-tls', 'default')
  const other = await selfSigned(['other.test'])
  await client.update(kind('Secret'), { ...secret, data: { 'tls.crt': b64(good.cert), 'tls.key': b64(other.key) } } as never)
  const bad = await until('an InvalidCertificate event', async () => (await events('InvalidCertificate'))[0])
  t.equal(bad.involvedObject.name, 'web')
  t.equal(certs.describe('web.test'), 'default/web-tls', 'still served with the last good certificate')

  const servedKeys = source.servedKeys
  t.same([...servedKeys].sort(), ['default/copycat', 'default/web'])
  const slice = await client.get<any>(kind('EndpointSlice'), 'web-1', 'default')
  slice.endpoints[2].conditions.ready = true
  await client.update(kind('EndpointSlice'), slice)
  const key = backendKey((table!.route('web.test', '/') as any).route.backend)
  await until('the third endpoint', () => (balancer.state(key).length === 3 ? true : undefined))
  t.pass('a newly ready endpoint is used')
  t.equal(source.servedKeys, servedKeys, 'the served set is the same object while the same Ingresses are served')

  await client.delete(kind('Ingress'), 'web', 'default')
  await until('the route of the deleted Ingress to go', () => ((table!.route('web.test', '/') as any).route?.ingress === 'default/copycat' ? true : undefined))
  t.pass('a deleted Ingress stops serving; the remaining one takes the path')
  t.same([...source.servedKeys], ['default/copycat'], 'and a new served set says so')
})
