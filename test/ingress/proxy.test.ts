// Forwarding to real backends on loopback: forwarded headers, balancing, another endpoint
// when a connect fails, and the error answers (503 no endpoints, 502, 504, 413, 400).
import { createServer, request as httpRequest, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { defaultRouteOptions } from '../../ingress/annotations.ts'
import { Balancer } from '../../ingress/balancer.ts'
import { proxyRequest, UpstreamPools, type ProxyTarget } from '../../ingress/proxy.ts'

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return (server.address() as AddressInfo).port
}

function backend(name: string, delayMs = 0): Server {
  return createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () =>
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'x-backend': name })
        res.end(JSON.stringify({ name, path: req.url, headers: req.headers, body }))
      }, delayMs),
    )
  })
}

const a = await listen(backend('a'))
const b = await listen(backend('b'))
const slow = await listen(backend('slow', 2000))
const closed = await listen(createServer())
const closedPort = closed
// A port nothing listens on: bind, then close before use.
await new Promise<void>((r) => setTimeout(r, 0))

const balancer = new Balancer()
const pools = new UpstreamPools()
t.teardown(() => pools.close())
const targets: Record<string, ProxyTarget> = {
  web: { key: 'default/web:80', name: 'service default/web port 80', options: { ...defaultRouteOptions, connectTimeoutMs: 1000, readTimeoutMs: 500, maxBodyBytes: 1024 } },
  slow: { key: 'default/slow:80', name: 'service default/slow port 80', options: { ...defaultRouteOptions, readTimeoutMs: 300 } },
  none: { key: 'default/none:80', name: 'service default/none port 80', options: defaultRouteOptions },
}
balancer.setEndpoints(targets.web.key, [{ address: '127.0.0.1', port: a }, { address: '127.0.0.1', port: b }])
balancer.setEndpoints(targets.slow.key, [{ address: '127.0.0.1', port: slow }])

const front = createServer((req, res) => {
  const target = targets[(req.headers['x-target'] as string) ?? 'web']!
  void proxyRequest(req, res, target, { remoteAddress: req.socket.remoteAddress ?? '', scheme: 'http', host: req.headers.host ?? '', httpVersion: req.httpVersion }, balancer, pools)
})
const port = await listen(front)

async function get(path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers: { host: 'web.test', ...headers } }, (res) => {
      let text = ''
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('forwards with X-Forwarded-*, Forwarded and Via, balancing over the endpoints', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 4; i++) {
    const r = await get('/hello?x=1', { 'x-forwarded-for': '203.0.113.9', connection: 'keep-alive, x-drop', 'x-drop': 'secret' })
    t.equal(r.status, 200)
    const echo = JSON.parse(r.text)
    seen.add(echo.name)
    t.equal(echo.path, '/hello?x=1')
    t.equal(echo.headers.host, 'web.test')
    t.equal(echo.headers['x-forwarded-for'], '127.0.0.1', "the client's X-Forwarded-For is overwritten")
    t.equal(echo.headers['x-forwarded-proto'], 'http')
    t.equal(echo.headers['x-forwarded-host'], 'web.test')
    t.match(echo.headers.forwarded, /for=127\.0\.0\.1;host=web\.test;proto=http/)
    t.match(echo.headers.via, /1\.1 weft/)
    t.notOk(echo.headers['x-drop'], 'a header named in Connection is hop-by-hop')
    t.match(r.headers.via, /weft/)
  }
  t.same([...seen].sort(), ['a', 'b'], 'both endpoints served')
})

t.test('a refused connect goes to another endpoint for a GET; a POST gets 502', async (t) => {
  balancer.setEndpoints(targets.web.key, [{ address: '127.0.0.1', port: a }, { address: '127.0.0.1', port: 1 }])
  for (let i = 0; i < 4; i++) t.equal((await get('/')).status, 200, `GET ${i}`)
  balancer.setEndpoints(targets.web.key, [{ address: '127.0.0.1', port: 1 }])
  const post = await get('/', {}, 'data')
  t.equal(post.status, 502)
  t.match(post.text, /Bad Gateway: service default\/web port 80/)
  balancer.setEndpoints(targets.web.key, [{ address: '127.0.0.1', port: a }, { address: '127.0.0.1', port: b }])
  void closedPort
})

t.test('503 without endpoints, 504 past the read timeout, 413 over the body limit, 400 for smuggling', async (t) => {
  const none = await get('/', { 'x-target': 'none' })
  t.equal(none.status, 503)
  t.match(none.text, /service default\/none port 80 has no ready endpoints/)
  const late = await get('/', { 'x-target': 'slow' })
  t.equal(late.status, 504)
  t.match(late.text, /did not answer within 300 ms/)
  const big = await get('/', {}, 'x'.repeat(2000))
  t.equal(big.status, 413)
  const raw = await new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'))
    let out = ''
    s.on('data', (d) => (out += d))
    s.on('close', () => resolve(out))
    s.on('error', () => resolve(out))
    setTimeout(() => s.end(), 500)
  })
  t.match(raw, /^HTTP\/1\.1 400/, 'Content-Length with Transfer-Encoding is refused')
})
