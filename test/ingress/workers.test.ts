// --workers: what a worker thread is sent (pure: stateDelta), and `startIngress` with a worker
// thread beside the main thread against a real API server: both threads serve (HTTP and TLS,
// SNI certificate included), a new Ingress reaches both, /metrics adds both threads' counts
// up, and a worker thread that dies is started again with the whole state and serves.
import { createServer as createHttpServer, request } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { V1Ingress, V1Secret } from '@kubernetes/client-node'
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { defaultIngressConfig, startIngress } from '../../ingress/run.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { emptySent, stateDelta } from '../../ingress/workers.ts'
import { logger } from '../../src/util/log.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { until } from '../helpers/control-plane.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!
const ing = (name: string, secretName?: string): V1Ingress => ({ metadata: { name, namespace: 'default' }, spec: { tls: secretName ? [{ hosts: [`${name}.test`], secretName }] : undefined } })
const secret = (name: string): V1Secret => ({ metadata: { name, namespace: 'default' }, type: 'kubernetes.io/tls' })

t.test('a worker thread is sent what changed since its last state', async (t) => {
  const a = ing('a', 'a-tls')
  const b = ing('b')
  const aTls = secret('a-tls')
  const secrets = new Map([['default/a-tls', aTls], ['default/unbound', secret('unbound')]])
  const sent = emptySent()
  const first = stateDelta(sent, { served: [a, b], secrets, endpoints: new Map([['k1', [{ address: '10.0.0.1', port: 80 }]]]) }, 1)
  t.same(first, { seq: 1, ingresses: [a, b], removedIngresses: [], secrets: [['default/a-tls', aTls]], removedSecrets: [], endpoints: [['k1', [{ address: '10.0.0.1', port: 80 }]]], removedEndpoints: [] }, 'everything, but the Secrets no served Ingress names')
  const same = stateDelta(sent, { served: [a, b], secrets: new Map(secrets), endpoints: new Map([['k1', [{ address: '10.0.0.1', port: 80 }]]]) }, 2)
  t.same(same, { seq: 2, ingresses: [], removedIngresses: [], secrets: [], removedSecrets: [], endpoints: [], removedEndpoints: [] }, 'equal endpoint lists in new arrays are not sent again')
  const a2 = ing('a')
  const next = stateDelta(sent, { served: [a2], secrets, endpoints: new Map([['k2', []]]) }, 3)
  t.same(next, { seq: 3, ingresses: [a2], removedIngresses: ['default/b'], secrets: [], removedSecrets: ['default/a-tls'], endpoints: [['k2', []]], removedEndpoints: ['k1'] }, 'a new version, and what went away')
})

t.test('startIngress with a worker thread', async (t) => {
  const api = await startTestServer(t)
  const client = new RestClient(api.address)
  t.teardown(() => client.destroy())
  const backend = createHttpServer((req, res) => res.end(`backend ${req.headers.host}`))
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => backend.close(() => resolve())))
  const backendPort = (backend.address() as AddressInfo).port
  const cert = await selfSigned(['a.test'])
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  await client.create(kind('IngressClass'), { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'weft' }, spec: { controller: 'weft.dev/ingress' } } as never)
  await client.create(kind('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } } as never)
  await client.create(kind('EndpointSlice'), { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: backendPort, protocol: 'TCP' }] } as never)
  await client.create(kind('Secret'), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'a-tls', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(cert.cert), 'tls.key': b64(cert.key) } } as never)
  const ingress = (host: string, tls?: string) =>
    client.create(kind('Ingress'), { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: host.split('.')[0], namespace: 'default' }, spec: { ingressClassName: 'weft', tls: tls ? [{ hosts: [host], secretName: tls }] : undefined, rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } } as never)
  await ingress('a.test', 'a-tls')

  const running = await startIngress({ ...defaultIngressConfig, httpListen: '127.0.0.1:0', httpsListen: '127.0.0.1:0', statusListen: '127.0.0.1:0', publish: { kind: 'none' }, workers: 2 }, client, logger('ingress-test'))
  t.teardown(() => running.stop())
  const workers = running.workers!
  t.equal(workers.count, 1, 'one worker thread beside the main thread')
  const { httpPort, httpsPort } = running.server

  /** `n` requests, each on a new connection (SO_REUSEPORT spreads connections, not requests). */
  const get = (host: string, n: number, tls = false) =>
    Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<string>((resolve, reject) => {
            const options = { host: '127.0.0.1', port: tls ? httpsPort : httpPort, path: '/', headers: { host, connection: 'close' }, agent: false, servername: host, rejectUnauthorized: false }
            const req = (tls ? httpsRequest : request)(options, (res) => {
              let body = ''
              res.on('data', (d: Buffer) => (body += d))
              res.on('end', () => resolve(`${res.statusCode} ${body}`))
            })
            req.on('error', reject)
            req.end()
          }),
      ),
    )
  const metricsText = async () => {
    const res = await fetch(`http://127.0.0.1:${running.statusPorts[0]}/metrics`)
    return res.text()
  }
  const count = (text: string, host: string) => Number(new RegExp(`^weft_ingress_requests_total\\{ingress="default/${host}",service="default/web",status="200"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
  /** The worker thread's own count of 200s for `host`. */
  const workerCount = async (host: string) => {
    const [json] = (await workers.metrics()) as { name: string; values: { value: number; labels: Record<string, string> }[] }[][]
    return json!.find((m) => m.name === 'weft_ingress_requests_total')?.values.find((v) => v.labels.ingress === `default/${host}` && v.labels.status === '200')?.value ?? 0
  }

  t.same(new Set(await get('a.test', 40)), new Set(['200 backend a.test']))
  t.same(new Set(await get('a.test', 10, true)), new Set(['200 backend a.test']), 'TLS too')
  const inWorker = await workerCount('a')
  t.ok(inWorker > 0 && inWorker < 50, `both threads served (the worker thread ${inWorker} of 50)`)
  t.equal(count(await metricsText(), 'a'), 50, '/metrics adds up both threads')

  await ingress('b.test')
  await until('the main thread routes b.test', () => running.source.table?.routes().some((r) => r.host === 'b.test') === true)
  await workers.applied()
  t.same(new Set(await get('b.test', 40)), new Set(['200 backend b.test']), 'a new Ingress reaches every thread')
  t.ok((await workerCount('b')) > 0, 'the worker thread served it')

  await workers.workers[0]!.terminate()
  t.same(new Set(await get('a.test', 10)), new Set(['200 backend a.test']), 'the main thread serves while the worker thread is down')
  await until('the worker thread is started again', () => workers.restarts === 1 && workers.ready)
  await workers.applied()
  t.match(await metricsText(), /^weft_ingress_worker_restarts_total 1$/m)
  t.same(new Set(await get('b.test', 40)), new Set(['200 backend b.test']))
  t.ok((await workerCount('b')) > 0, 'the new worker thread has the whole state and serves')
})
