// Path normalisation on every listener: the HTTP/1.1 fast path, node:http (a request with a
// body), h2, a WebSocket upgrade and a gRPC route all route `/x/../admin` and `/%61dmin` to the
// `/admin` rule, forward the normalised path, and answer a malformed escape with 400.
import { createServer as createHttpServer, type IncomingMessage } from 'node:http'
import { connect as h2connect, createServer as createH2Server } from 'node:http2'
import t from 'tap'
import { CertStore } from '../../ingress/cert-store.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { listenLoopback, loopbackEndpoints, raw as rawTo, startIngressServer } from './server-rig.ts'

/** An HTTP backend that answers `<name> <path>` and 101 to upgrades (naming the path in a header). */
async function backend(name: string): Promise<number> {
  const server = createHttpServer((req: IncomingMessage, res) => {
    req.resume()
    req.on('end', () => res.end(`${name} ${req.url}`))
  })
  server.on('upgrade', (req, socket) => {
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Seen: ${name} ${req.url}\r\n\r\n`)
  })
  return listenLoopback(t, server)
}

const adminPort = await backend('admin')
const publicPort = await backend('public')
const grpcBackend = createH2Server((req, res) => {
  res.writeHead(200, { 'content-type': 'application/grpc', 'x-seen': req.url })
  res.end()
})
const grpcPort = await listenLoopback(t, grpcBackend)

const path = (p: string, service: string) => ({ path: p, pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } })
const { table, errors } = buildRouteTable([
  { metadata: { name: 'web', namespace: 'default' }, spec: { rules: [{ host: 'n.test', http: { paths: [path('/admin', 'admin'), path('/', 'public')] } }] } },
  { metadata: { name: 'rpc', namespace: 'default', annotations: { 'weft.dev/backend-protocol': 'GRPC' } }, spec: { rules: [{ host: 'g.test', http: { paths: [path('/pkg.Svc', 'grpc'), path('/', 'public')] } }] } },
])
if (errors.length > 0) throw new Error(JSON.stringify(errors))
const balancer = loopbackEndpoints(table, { admin: adminPort, grpc: grpcPort, public: publicPort })
const server = await startIngressServer(t, { table, balancer, certs: new CertStore(await selfSigned(['n.test'])) })

/** Every request below says Connection: close. */
const raw = (bytes: string) => rawTo(server.httpPort, bytes, 5000)
const body = (answer: string) => answer.slice(answer.indexOf('\r\n\r\n') + 4)

const targets: [string, string][] = [
  ['/x/../admin', 'admin /admin'],
  ['/%61dmin', 'admin /admin'],
  ['/%2e%2e/admin/./x?q=/../', 'admin /admin/x?q=/../'],
  ['/admin%2f..%2Fpublic', 'public /admin%2F..%2Fpublic'],
  ['/admin/sub%2F..%2F..%2Fx', 'admin /admin/sub%2F..%2F..%2Fx'],
  ['/public/../admin/', 'admin /admin/'],
  ['/admin/../public', 'public /public'],
]

t.test('HTTP/1.1 fast path (GET)', async (t) => {
  for (const [target, want] of targets) {
    const answer = await raw(`GET ${target} HTTP/1.1\r\nHost: n.test\r\nConnection: close\r\n\r\n`)
    t.match(answer, /^HTTP\/1\.1 200 /, target)
    t.equal(body(answer), want, target)
  }
})

t.test('node:http (POST with a body)', async (t) => {
  for (const [target, want] of targets) {
    const answer = await raw(`POST ${target} HTTP/1.1\r\nHost: n.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`)
    t.match(answer, /^HTTP\/1\.1 200 /, target)
    t.equal(body(answer), want, target)
  }
})

t.test('malformed escapes get 400 on both HTTP/1.1 paths, with a reason', async (t) => {
  for (const target of ['/%zz', '/admin%2', '/%', '/a/%4g?x']) {
    for (const method of ['GET', 'POST']) {
      const answer = await raw(`${method} ${target} HTTP/1.1\r\nHost: n.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
      t.match(answer, /^HTTP\/1\.1 400 /, `${method} ${target}`)
      t.match(body(answer), /malformed percent-escape/, `${method} ${target}`)
    }
  }
})

t.test('a WebSocket upgrade', async (t) => {
  const answer = await raw('GET /x/../admin HTTP/1.1\r\nHost: n.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  t.match(answer, /^HTTP\/1\.1 101 /)
  t.match(answer, /x-seen: admin \/admin\r\n/i)
  const bad = await raw('GET /%zz HTTP/1.1\r\nHost: n.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
  t.match(bad, /^HTTP\/1\.1 400 /)
})

t.test('h2, and a gRPC route over h2', async (t) => {
  const session = h2connect(`https://127.0.0.1:${server.httpsPort}`, { rejectUnauthorized: false, servername: 'n.test' })
  t.teardown(() => session.close())
  const request = (authority: string, path: string) =>
    new Promise<{ status: number; seen: string; body: string }>((resolve, reject) => {
      const s = session.request({ ':path': path, ':authority': authority, 'content-type': authority === 'g.test' ? 'application/grpc' : 'text/plain' })
      let status = 0
      let seen = ''
      let text = ''
      s.on('response', (h) => {
        status = Number(h[':status'])
        seen = String(h['x-seen'] ?? '')
      })
      s.setEncoding('utf8')
      s.on('data', (d) => (text += d))
      s.on('end', () => resolve({ status, seen, body: text }))
      s.on('error', reject)
      s.end()
    })
  for (const [target, want] of targets) {
    const r = await request('n.test', target)
    t.equal(r.status, 200, target)
    t.equal(r.body, want, target)
  }
  const bad = await request('n.test', '/%zz')
  t.equal(bad.status, 400)
  const rpc = await request('g.test', '/x/../pkg.Svc/%4Dethod')
  t.equal(rpc.status, 200)
  t.equal(rpc.seen, '/pkg.Svc/Method', 'the gRPC endpoint gets the normalised :path')
})
