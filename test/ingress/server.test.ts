// `startIngress` against a real API server, on loopback, with curl and openssl as clients:
// plain HTTP to TLS hosts (served; redirected with sslRedirect), h2 with ALPN, a certificate per SNI name, 404 for unknown hosts,
// and a new Ingress served without a restart.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { defaultIngressConfig, startIngress } from '../../ingress/run.ts'
import { logger } from '../../src/util/log.ts'
import { startTestServer } from '../helpers/apiserver.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!
const b64 = (s: string) => Buffer.from(s).toString('base64')

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }))
    // A command that exits without reading its stdin (openssl req) must not crash the test with EPIPE.
    child.stdin?.on('error', () => {})
    child.stdin?.end(input ?? '')
  })
}

// The backend: answers with its name and what it was asked.
const backend = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ backend: 'echo', path: req.url, proto: req.headers['x-forwarded-proto'], host: req.headers.host }))
})
await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()))
t.teardown(() => new Promise<void>((r) => backend.close(() => r())))
const backendPort = (backend.address() as AddressInfo).port

const api = await startTestServer(t)
const client = new RestClient(api.address)
t.teardown(() => client.destroy())
await client.create(kind('IngressClass'), { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'weft', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'weft.dev/ingress' } } as never)
await client.create(kind('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80, targetPort: backendPort }] } } as never)
await client.create(kind('EndpointSlice'), {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'echo-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'echo' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  ports: [{ name: 'http', port: backendPort, protocol: 'TCP' }],
} as never)
for (const host of ['a.test', 'b.test']) {
  const c = await selfSigned([host])
  await client.create(kind('Secret'), { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${host[0]}-tls`, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(c.cert), 'tls.key': b64(c.key) } } as never)
}
const rule = (host: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'echo', port: { name: 'http' } } } }] } })
await client.create(kind('Ingress'), { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'echo', namespace: 'default' }, spec: { tls: [{ hosts: ['a.test'], secretName: 'a-tls' }, { hosts: ['b.test'], secretName: 'b-tls' }], rules: [rule('a.test'), rule('b.test')] } } as never)

const ingress = await startIngress({ ...defaultIngressConfig, httpListen: '127.0.0.1:0', httpsListen: '127.0.0.1:0', statusListen: '127.0.0.1:0' }, client, logger('ingress-test'))
t.teardown(() => ingress.stop())
const http = ingress.server.httpPort
const https = ingress.server.httpsPort

const curl = (...args: string[]) => run('curl', ['-s', '--max-time', '10', ...args])

t.test('plain HTTP to a TLS host is served; with sslRedirect (--ssl-redirect) it gets a 308', async (t) => {
  const served = await curl('-w', '\n%{http_code}', '--resolve', `a.test:${http}:127.0.0.1`, `http://a.test:${http}/x?y=1`)
  t.match(served.out, /"proto":"http"[\s\S]*\n200$/)
  const redirecting = await startIngress({ ...defaultIngressConfig, httpListen: '127.0.0.1:0', httpsListen: '127.0.0.1:0', statusListen: '', sslRedirect: true }, client, logger('ingress-test'))
  t.teardown(() => redirecting.stop())
  const r = await curl('-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '--resolve', `a.test:${redirecting.server.httpPort}:127.0.0.1`, `http://a.test:${redirecting.server.httpPort}/x?y=1`)
  t.equal(r.out, `308 https://a.test:${redirecting.server.httpsPort}/x?y=1`)
})

t.test('HTTPS over h2, proxied to the endpoint', async (t) => {
  const r = await curl('-k', '--http2', '-w', '\n%{http_version}', '--resolve', `a.test:${https}:127.0.0.1`, `https://a.test:${https}/hello`)
  const [body, version] = r.out.split('\n')
  t.equal(version, '2')
  t.same(JSON.parse(body!), { backend: 'echo', path: '/hello', proto: 'https', host: `a.test:${https}` })
  const h1 = await curl('-k', '--http1.1', '-w', '\n%{http_version}', '--resolve', `a.test:${https}:127.0.0.1`, `https://a.test:${https}/`)
  t.equal(h1.out.split('\n')[1], '1.1')
})

t.test('each SNI name gets its certificate; others the default', async (t) => {
  for (const [name, cn] of [['a.test', 'a.test'], ['b.test', 'b.test'], ['nothing.test', 'weft-ingress-default']]) {
    const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${https}`, '-servername', name!, '-alpn', 'h2'], '')
    t.match(r.out, new RegExp(`subject=CN ?= ?${cn!.replace('.', '\\.')}`), name)
    t.match(r.out, /ALPN protocol: h2/)
  }
})

t.test('404 for a host without rules; a new Ingress is served without a restart', async (t) => {
  const none = await curl('-w', '\n%{http_code}', '--resolve', `c.test:${http}:127.0.0.1`, `http://c.test:${http}/`)
  t.match(none.out, /Not Found: no Ingress rule for host "c\.test"/)
  t.match(none.out, /404$/)
  await client.create(kind('Ingress'), { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'c', namespace: 'default' }, spec: { rules: [rule('c.test')] } } as never)
  let code = ''
  for (let i = 0; i < 100 && code !== '200'; i++) {
    code = (await curl('-o', '/dev/null', '-w', '%{http_code}', '--resolve', `c.test:${http}:127.0.0.1`, `http://c.test:${http}/`)).out
    if (code !== '200') await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(code, '200')
})

t.test('status endpoints and metrics', async (t) => {
  const status = ingress.statusPorts[0]
  t.equal((await fetch(`http://127.0.0.1:${status}/readyz`)).status, 200)
  const text = await (await fetch(`http://127.0.0.1:${status}/metrics`)).text()
  t.match(text, /weft_ingress_requests_total\{ingress="default\/echo",service="default\/echo",status="200"\} \d+/)
  t.match(text, /weft_ingress_request_duration_seconds_bucket/)
})

/** A raw HTTP/1.1 exchange: what the server sends back until it closes (or `ms` pass). */
function raw(port: number, chunks: { data: string; afterMs?: number }[], ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    let out = ''
    const done = () => resolve(out)
    s.on('data', (d) => (out += d))
    s.on('close', done)
    s.on('error', done)
    s.on('connect', async () => {
      for (const c of chunks) {
        if (c.afterMs) await new Promise((r) => setTimeout(r, c.afterMs))
        if (!s.destroyed) s.write(c.data)
      }
    })
    setTimeout(() => s.destroy(), ms)
  })
}

t.test('bad clients: an oversized head gets 431, a head that never ends gets 408, the rest keeps serving', async (t) => {
  const big = await raw(http, [{ data: `GET / HTTP/1.1\r\nHost: c.test\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n` }])
  t.match(big, /^HTTP\/1\.1 431/)
  const slowServer = await startIngress({ ...defaultIngressConfig, httpListen: '127.0.0.1:0', httpsListen: '', statusListen: '', headersTimeoutMs: 600 }, client, logger('ingress-test'))
  t.teardown(() => slowServer.stop())
  const slow = await raw(slowServer.server.httpPort, [{ data: 'GET / HTTP/1.1\r\nHost: c.test\r\n' }, { data: 'X-A: 1\r\n', afterMs: 300 }, { data: 'X-B: 1\r\n', afterMs: 300 }, { data: 'X-C: 1\r\n', afterMs: 300 }], 5000)
  t.match(slow, /^HTTP\/1\.1 408/, 'slowloris is cut off')
  const ok = await curl('-o', '/dev/null', '-w', '%{http_code}', '--resolve', `c.test:${http}:127.0.0.1`, `http://c.test:${http}/`)
  t.equal(ok.out, '200')
})

t.test('a WebSocket upgrade is tunnelled to the endpoint', async (t) => {
  // The endpoint answers 101 and then echoes raw bytes back.
  const ws = createServer()
  const upgraded = new Set<import('node:stream').Duplex>()
  ws.on('upgrade', (req, socket) => {
    upgraded.add(socket)
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')}\r\n\r\n`)
    socket.on('data', (d) => socket.write(d))
  })
  await new Promise<void>((r) => ws.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => {
    for (const s of upgraded) s.destroy()
    return new Promise<void>((r) => ws.close(() => r()))
  })
  const wsPort = (ws.address() as AddressInfo).port
  await client.create(kind('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ws', namespace: 'default' }, spec: { ports: [{ port: 80, targetPort: wsPort }] } } as never)
  await client.create(kind('EndpointSlice'), {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'ws-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'ws' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    ports: [{ port: wsPort, protocol: 'TCP' }],
  } as never)
  await client.create(kind('Ingress'), { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'ws', namespace: 'default' }, spec: { rules: [{ host: 'ws.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'ws', port: { number: 80 } } } }] } }] } } as never)
  let out = ''
  for (let i = 0; i < 10 && !out.includes('101'); i++) {
    out = await raw(http, [{ data: 'GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' }, { data: 'ping-through-the-tunnel', afterMs: 100 }], 800)
    if (!out.includes('101')) await new Promise((r) => setTimeout(r, 50))
  }
  t.match(out, /^HTTP\/1\.1 101/, JSON.stringify(out.slice(0, 300)))
  t.match(out, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i)
  t.match(out, /ping-through-the-tunnel$/, 'bytes flow both ways')
})

t.test('the metric series of a deleted Ingress go with it', async (t) => {
  const status = ingress.statusPorts[0]
  t.match(await (await fetch(`http://127.0.0.1:${status}/metrics`)).text(), /ingress="default\/c"/)
  await client.delete(kind('Ingress'), 'c', 'default')
  let gone = false
  for (let i = 0; i < 100 && !gone; i++) {
    gone = !(await (await fetch(`http://127.0.0.1:${status}/metrics`)).text()).includes('ingress="default/c"')
    if (!gone) await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(gone, 'the deleted Ingress has no series left')
})
