// HTTP/2 on the TLS listener against real loopback backends: request bodies without
// content-length, and the limits of the h2 server.
import { createServer, type Server } from 'node:http'
import { connect as h2connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Balancer } from '../../ingress/balancer.ts'
import { CertStore } from '../../ingress/cert-store.ts'
import { backendKey } from '../../ingress/endpoints.ts'
import { IngressMetrics } from '../../ingress/metrics.ts'
import { UpstreamPools } from '../../ingress/proxy.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { IngressServer, type IngressServerOptions } from '../../ingress/server.ts'
import { logger } from '../../src/util/log.ts'

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((r) => server.close(() => r()))
  })
  return (server.address() as AddressInfo).port
}

/** Answers with what it received: the body's length and sha-less head facts. */
const echo = createServer((req, res) => {
  let length = 0
  req.on('data', (c: Buffer) => (length += c.length))
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ length, contentLength: req.headers['content-length'] ?? null, chunked: req.headers['transfer-encoding'] === 'chunked' }))
  })
})
const echoPort = await listen(echo)
const deadPort = await listen(createServer())
// Nothing listens there once it is closed: a refused connect.
const dead = createServer()
await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()))
const refusedPort = (dead.address() as AddressInfo).port
await new Promise<void>((r) => dead.close(() => r()))
void deadPort

const ingress = (name: string, host: string, annotations: Record<string, string> = {}) => ({
  metadata: { name, namespace: 'default', creationTimestamp: new Date('2024-01-01T00:00:00Z'), annotations },
  spec: { rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } }] } }] },
})
const { table } = buildRouteTable([ingress('echo', 'h2.test', { 'weft.dev/proxy-body-size': '64k' }), ingress('flaky', 'flaky.test')])
const balancer = new Balancer()
balancer.setEndpoints(backendKey(table.routes().find((r) => r.backend.service === 'echo')!.backend), [{ address: '127.0.0.1', port: echoPort }])
balancer.setEndpoints(backendKey(table.routes().find((r) => r.backend.service === 'flaky')!.backend), [
  { address: '127.0.0.1', port: refusedPort },
  { address: '127.0.0.1', port: echoPort },
])
const pools = new UpstreamPools()
const certs = new CertStore(await selfSigned(['h2.test']))

async function start(extra: Partial<IngressServerOptions> = {}): Promise<IngressServer> {
  const server = new IngressServer({ httpListen: '', httpsListen: '127.0.0.1:0', certs, balancer, pools, metrics: new IngressMetrics(), log: logger('h2-test'), ...extra })
  server.setTable(table)
  await server.start()
  t.teardown(() => server.close())
  return server
}
t.teardown(() => pools.close())
const server = await start()

function session(port = server.httpsPort): ClientHttp2Session {
  const s = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'h2.test' })
  s.on('error', () => {})
  return s
}

interface Answer {
  status: number
  body: string
  error?: string
}

/** One request; `chunks` are written with a pause between them and no content-length. */
function request(s: ClientHttp2Session, headers: OutgoingHttpHeaders, chunks: Buffer[] = []): Promise<Answer> {
  return new Promise((resolve) => {
    const stream = s.request({ ':method': 'POST', ':authority': 'h2.test', ':path': '/', ...headers }, { endStream: chunks.length === 0 })
    let status = 0
    let body = ''
    stream.on('response', (h) => (status = Number(h[':status'])))
    stream.setEncoding('utf8')
    stream.on('data', (d) => (body += d))
    stream.on('end', () => resolve({ status, body }))
    stream.on('error', (err) => resolve({ status, body, error: err.message }))
    void (async () => {
      for (const [i, c] of chunks.entries()) {
        if (stream.destroyed) return
        stream.write(c)
        if (i < chunks.length - 1) await new Promise((r) => setTimeout(r, 5))
      }
      if (chunks.length > 0 && !stream.destroyed) stream.end()
    })()
  })
}

t.test('a request body without content-length is forwarded whole (chunked upstream)', async (t) => {
  const s = session()
  t.teardown(() => s.close())
  const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(1000 + i, 97 + i))
  const r = await request(s, {}, chunks)
  t.equal(r.status, 200)
  t.same(JSON.parse(r.body), { length: chunks.reduce((n, c) => n + c.length, 0), contentLength: null, chunked: true })
  const withLength = await request(s, { 'content-length': '5' }, [Buffer.from('hello')])
  t.same(JSON.parse(withLength.body), { length: 5, contentLength: '5', chunked: false })
  const none = await request(s, { ':method': 'GET' })
  t.same(JSON.parse(none.body), { length: 0, contentLength: null, chunked: false }, 'a request that ends with its headers has no body')
})

t.test('the body limit applies to a body without content-length', async (t) => {
  const s = session()
  t.teardown(() => s.close())
  const r = await request(s, {}, Array.from({ length: 20 }, () => Buffer.alloc(8 * 1024, 120)))
  t.equal(r.status, 413, JSON.stringify(r))
  t.match(r.body, /Content Too Large/)
})

t.test('a request with a body of unknown length is not retried on another endpoint', async (t) => {
  const s = session()
  t.teardown(() => s.close())
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    const r = await request(s, { ':authority': 'flaky.test' }, [Buffer.from('part one,'), Buffer.from('part two')])
    statuses.push(r.status)
    if (r.status === 200) t.equal(JSON.parse(r.body).length, 17, 'never an emptied body')
  }
  t.ok(statuses.includes(502), `the refused endpoint answers 502, not a retry: ${statuses.join(' ')}`)
  t.ok(statuses.includes(200), `the good endpoint serves: ${statuses.join(' ')}`)
})
