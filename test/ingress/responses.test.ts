// What clients see from weft itself: `Server: weft` on every answer (weft's own and the
// endpoints', whose Server header it replaces), plain HTTP to TLS hosts served unless
// weft.dev/ssl-redirect or the server's sslRedirect asks for the 308, and 5xx bodies that
// name no endpoint address or internal error.
import { createServer as createHttpServer } from 'node:http'
import { connect as h2connect } from 'node:http2'
import { connect, createServer as createTcpServer } from 'node:net'
import t from 'tap'
import { CertStore } from '../../ingress/cert-store.ts'
import { UpstreamPools } from '../../ingress/proxy.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import type { IngressServer, IngressServerOptions } from '../../ingress/server.ts'
import { listenLoopback, loopbackEndpoints, raw, startIngressServer } from './server-rig.ts'

const backend = createHttpServer((req, res) => {
  req.resume()
  req.on('end', () => {
    if (req.url === '/slow') return setTimeout(() => res.end('late'), 1500)
    res.writeHead(200, { server: 'gunicorn/20.0', 'x-powered-by': 'app' })
    res.end('ok')
  })
})
backend.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nServer: ws-app\r\n\r\n'))
const backendPort = await listenLoopback(t, backend)
// An endpoint that accepts and then hangs up without answering: a 502.
const hangupPort = await listenLoopback(t, createTcpServer((s) => s.destroy()))

const rule = (host: string, service: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } }] } })
const ing = (name: string, spec: object, annotations: Record<string, string> = {}) => ({ metadata: { name, namespace: 'default', annotations }, spec })
const { table, errors } = buildRouteTable([
  ing('web', { tls: [{ hosts: ['tls.test'], secretName: 's' }], rules: [rule('web.test', 'web'), rule('tls.test', 'web')] }, { 'weft.dev/proxy-read-timeout': '300ms' }),
  ing('forced', { tls: [{ hosts: ['forced.test'], secretName: 's' }], rules: [rule('forced.test', 'web')] }, { 'weft.dev/ssl-redirect': 'true' }),
  ing('exempt', { tls: [{ hosts: ['exempt.test'], secretName: 's' }], rules: [rule('exempt.test', 'web')] }, { 'weft.dev/ssl-redirect': 'false' }),
  ing('empty', { rules: [rule('empty.test', 'none')] }),
  ing('broken', { rules: [rule('broken.test', 'hangup')] }),
  ing('rpc', { rules: [rule('rpc.test', 'none')] }, { 'weft.dev/backend-protocol': 'GRPC' }),
])
if (errors.length > 0) throw new Error(JSON.stringify(errors))
const balancer = loopbackEndpoints(table, { web: backendPort, hangup: hangupPort })
const pools = new UpstreamPools()
t.teardown(() => pools.close())
const certs = new CertStore(await selfSigned(['default.test']))

const start = (extra: Partial<IngressServerOptions> = {}): Promise<IngressServer> => startIngressServer(t, { table, balancer, certs, pools, headersTimeoutMs: 500, ...extra })
const server = await start()

const get = (host: string, path = '/', extra = '') => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${extra}\r\n`

function servers(answer: string): string[] {
  return [...answer.matchAll(/^server: *(.*)\r$/gim)].map((m) => m[1]!)
}

t.test('Server: weft on every HTTP/1.1 answer, replacing the endpoint’s', async (t) => {
  const http = server.httpPort
  const cases: [string, string, RegExp][] = [
    ['fast path, proxied', get('web.test'), /^HTTP\/1\.1 200 /],
    ['node:http, proxied', `POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`, /^HTTP\/1\.1 200 /],
    ['404', get('nothing.test'), /^HTTP\/1\.1 404 /],
    ['400 malformed path', get('web.test', '/%zz'), /^HTTP\/1\.1 400 /],
    ['400 unparsable', 'GARBAGE\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['431', get('web.test', '/', `X-Big: ${'x'.repeat(20_000)}\r\n`), /^HTTP\/1\.1 431 /],
    ['408 on the fast path', 'GET / HTTP/1.1\r\nHost: web', /^HTTP\/1\.1 408 /],
    ['503 fast path', get('empty.test'), /^HTTP\/1\.1 503 /],
    ['503 node:http', `DELETE / HTTP/1.1\r\nHost: empty.test\r\nConnection: close\r\n\r\n`, /^HTTP\/1\.1 503 /],
    ['502 fast path', get('broken.test'), /^HTTP\/1\.1 502 /],
    ['504 fast path', get('web.test', '/slow'), /^HTTP\/1\.1 504 /],
    ['505 gRPC over HTTP/1.1', get('rpc.test'), /^HTTP\/1\.1 505 /],
    ['upgrade refused', 'GET / HTTP/1.1\r\nHost: nothing.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', /^HTTP\/1\.1 404 /],
    ['upgrade 503', 'GET / HTTP/1.1\r\nHost: empty.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', /^HTTP\/1\.1 503 /],
    ['upgrade 101', 'GET / HTTP/1.1\r\nHost: web.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', /^HTTP\/1\.1 101 /],
  ]
  for (const [what, bytes, status] of cases) {
    const answer = await raw(http, bytes)
    t.match(answer, status, what)
    t.same(servers(answer.split('\r\n\r\n')[0]! + '\r\n'), ['weft'], `${what}: one Server header, weft's`)
  }
})

t.test('Server: weft over h2, proxied, answered and gRPC-shaped', async (t) => {
  const session = h2connect(`https://127.0.0.1:${server.httpsPort}`, { rejectUnauthorized: false })
  t.teardown(() => session.close())
  for (const [authority, extra, status] of [['web.test', {}, 200], ['nothing.test', {}, 404], ['rpc.test', { 'content-type': 'application/grpc' }, 200]] as const) {
    const head = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const s = session.request({ ':path': '/', ':authority': authority, ...extra })
      s.on('response', (h) => resolve(h))
      s.on('error', reject)
      s.resume()
      s.end()
    })
    t.equal(head[':status'], status, authority)
    t.equal(head.server, 'weft', `${authority}: Server`)
  }
})

t.test('plain HTTP to a TLS host is served unless a redirect is asked for', async (t) => {
  t.match(await raw(server.httpPort, get('tls.test', '/x?y=1')), /^HTTP\/1\.1 200 /, 'a TLS host is served over plain HTTP by default')
  const forced = await raw(server.httpPort, get('forced.test', '/x?y=1'))
  t.match(forced, /^HTTP\/1\.1 308 /, 'weft.dev/ssl-redirect: "true"')
  t.match(forced, new RegExp(`\\r\\nlocation: https://forced\\.test:${server.httpsPort}/x\\?y=1\\r\\n`, 'i'))
  t.match(await raw(server.httpPort, get('web.test')), /^HTTP\/1\.1 200 /, 'a host without TLS is never redirected')

  const redirecting = await start({ sslRedirect: true })
  t.match(await raw(redirecting.httpPort, get('tls.test', '/x')), /^HTTP\/1\.1 308 /, 'sslRedirect on the server: TLS hosts get 308')
  t.match(await raw(redirecting.httpPort, get('exempt.test', '/x')), /^HTTP\/1\.1 200 /, 'weft.dev/ssl-redirect: "false" overrides it')
  t.match(await raw(redirecting.httpPort, get('web.test', '/x')), /^HTTP\/1\.1 200 /, 'hosts without TLS are served')
})

t.test('5xx bodies name the Service, never an endpoint address or an internal error', async (t) => {
  for (const bytes of [get('broken.test'), `POST / HTTP/1.1\r\nHost: broken.test\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`, get('web.test', '/slow'), `POST /slow HTTP/1.1\r\nHost: web.test\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`, get('empty.test')]) {
    const answer = await raw(server.httpPort, bytes)
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4)
    t.match(answer, /^HTTP\/1\.1 50[234] /, bytes.split('\r\n')[0])
    t.match(body, /service default\/(hangup|web|none) port 80/, `names the Service: ${body.trim()}`)
    t.notMatch(body, /127\.0\.0\.1|:\d{4,5}\b|ECONN|socket|EPROTO|closed the connection/i, `no address or internal error: ${body.trim()}`)
  }
})

t.test('an upgrade refused to a client that has already reset the connection is no uncaught error', async (t) => {
  // Found by h1.fuzz.test.ts (seed 7, 1200 cases): node:http stops handling an upgrade socket's
  // errors, so writing the refusal to a reset connection threw from the socket (a crash).
  const stray: string[] = []
  const onError = (err: Error) => stray.push(err.message)
  process.on('uncaughtException', onError)
  t.teardown(() => process.off('uncaughtException', onError))
  for (let i = 0; i < 50; i++) {
    await new Promise<void>((resolve) => {
      const s = connect(server.httpPort, '127.0.0.1', () => {
        s.write('GET / HTTP/1.1\r\nHost: nothing.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
        s.resetAndDestroy()
      })
      s.on('error', () => {})
      s.on('close', () => resolve())
    })
  }
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(stray, [], 'no uncaught exception')
  t.match(await raw(server.httpPort, get('web.test')), /^HTTP\/1\.1 200 /, 'the server goes on serving')
})
