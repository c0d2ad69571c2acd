// The REST client's HTTP transport: keep-alive, limits on silence, abort, close and destroy,
// IPv6 origins and TLS over a unix socket.
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HttpTransport, TransportClosedError } from '../../src/client/http-transport.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function serve(t: Test, handler: Handler, host = '127.0.0.1'): Promise<{ server: Server; origin: string; sockets: () => number }> {
  let sockets = 0
  const server = createServer(handler)
  server.on('connection', () => sockets++)
  await new Promise<void>((r) => server.listen(0, host, r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r()) && server.closeAllConnections()))
  const { port } = server.address() as AddressInfo
  return { server, origin: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, sockets: () => sockets }
}

const get = (path: string, extra: Partial<Parameters<HttpTransport['request']>[0]> = {}) => ({ path, method: 'GET' as const, headers: {}, headersTimeout: 5000, bodyTimeout: 5000, ...extra })

t.test('keep-alive: sequential requests share one connection; bodies and statuses arrive', async (t) => {
  const srv = await serve(t, (req, res) => {
    let body = ''
    req.on('data', (c) => (body += c)).on('end', () => res.writeHead(req.url === '/missing' ? 404 : 200).end(`${req.method} ${req.url} ${body}`))
  })
  const tr = new HttpTransport({ origin: srv.origin })
  t.teardown(() => tr.destroy())
  for (let i = 0; i < 5; i++) {
    const res = await tr.request({ ...get(`/x${i}`), method: 'POST', body: `é${i}` })
    t.equal(res.statusCode, 200)
    t.equal(await res.text(), `POST /x${i} é${i}`)
  }
  const missing = await tr.request(get('/missing'))
  t.equal(missing.statusCode, 404)
  t.equal(await missing.text(), 'GET /missing ')
  t.equal(srv.sockets(), 1, 'one connection for all of them')
})

t.test('an IPv6 origin', async (t) => {
  const srv = await serve(t, (_req, res) => res.end('six'), '::1')
  const tr = new HttpTransport({ origin: srv.origin })
  t.teardown(() => tr.destroy())
  t.equal(await (await tr.request(get('/'))).text(), 'six')
})

t.test('no headers in time: a HEADERS_TIMEOUT error; a stalled body: BODY_TIMEOUT; a watch (0) waits', async (t) => {
  const srv = await serve(t, (req, res) => {
    if (req.url === '/slow-headers') return void setTimeout(() => res.end('late'), 1000)
    res.writeHead(200)
    res.write('first')
    if (req.url === '/stall') return
    setTimeout(() => res.end(' then more'), 400)
  })
  const tr = new HttpTransport({ origin: srv.origin })
  t.teardown(() => tr.destroy())
  await t.rejects(tr.request(get('/slow-headers', { headersTimeout: 150 })), { name: 'TimeoutError', code: 'HEADERS_TIMEOUT' })
  const stalled = await tr.request(get('/stall', { bodyTimeout: 150 }))
  await t.rejects(stalled.text(), { name: 'TimeoutError', code: 'BODY_TIMEOUT' })
  const watch = await tr.request(get('/slow-body', { bodyTimeout: 0 }))
  t.equal(await watch.text(), 'first then more', 'a body that pauses longer than the last limit still arrives without one')
})

t.test('abort: before the headers, and while the body streams', async (t) => {
  const srv = await serve(t, (req, res) => {
    if (req.url === '/hang') return
    res.writeHead(200)
    res.write('line\n')
  })
  const tr = new HttpTransport({ origin: srv.origin })
  t.teardown(() => tr.destroy())
  const early = new AbortController()
  const pending = tr.request(get('/hang', { signal: early.signal, headersTimeout: 0 }))
  setTimeout(() => early.abort(), 50)
  await t.rejects(pending, { name: 'AbortError' })
  const late = new AbortController()
  const res = await tr.request(get('/stream', { signal: late.signal, bodyTimeout: 0 }))
  const chunks: string[] = []
  const reading = (async () => {
    for await (const c of res.body) {
      chunks.push(String(c))
      late.abort()
    }
  })()
  await t.rejects(reading)
  t.same(chunks, ['line\n'])
})

t.test('close waits for requests in flight and refuses new ones; destroy fails them at once', async (t) => {
  let release!: () => void
  const srv = await serve(t, (_req, res) => {
    res.writeHead(200)
    res.write('a')
    release = () => res.end('b')
  })
  const tr = new HttpTransport({ origin: srv.origin })
  const res = await tr.request(get('/'))
  let closed = false
  const closing = tr.close().then(() => (closed = true))
  t.ok(tr.closed)
  await t.rejects(tr.request(get('/')), TransportClosedError)
  await new Promise((r) => setTimeout(r, 100))
  t.notOk(closed, 'still open while a body is on its way')
  const text = res.text()
  release()
  t.equal(await text, 'ab')
  await closing
  t.ok(closed)

  const tr2 = new HttpTransport({ origin: srv.origin })
  const res2 = await tr2.request(get('/'))
  const text2 = res2.text()
  await tr2.destroy()
  await t.rejects(text2)
  t.ok(tr2.destroyed)
})

t.test('TLS over a unix socket, the server name and CA checked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-transport-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ca = await createCA('transport-test-ca')
  const leaf = await issueCertificate(ca, { commonName: 'api.test', dnsNames: ['api.test'], usages: ['server'] })
  const server = createTlsServer({ key: leaf.keyPem, cert: leaf.certPem }, (_req, res) => res.end('secret'))
  const socketPath = join(dir, 'api.sock')
  await new Promise<void>((r) => server.listen(socketPath, r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const good = new HttpTransport({ origin: 'https://localhost', socketPath, tls: { ca: ca.certPem, servername: 'api.test' } })
  t.teardown(() => good.destroy())
  t.equal(await (await good.request(get('/'))).text(), 'secret')
  const wrongName = new HttpTransport({ origin: 'https://localhost', socketPath, tls: { ca: ca.certPem, servername: 'other.test' } })
  t.teardown(() => wrongName.destroy())
  await t.rejects(wrongName.request(get('/')), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
  const noCA = new HttpTransport({ origin: 'https://localhost', socketPath, tls: { servername: 'api.test' } })
  t.teardown(() => noCA.destroy())
  await t.rejects(noCA.request(get('/')))
})
