// HTTP/2 on the TLS listener against real loopback backends: request bodies without
// content-length, and the limits of the h2 server.
import { createServer } from 'node:http'
import { connect as h2connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2'
import t from 'tap'
import { CertStore } from '../../ingress/cert-store.ts'
import { UpstreamPools } from '../../ingress/proxy.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import type { IngressServer, IngressServerOptions } from '../../ingress/server.ts'
import { listenLoopback, loopbackEndpoints, startIngressServer } from './server-rig.ts'

/** Answers with what it received: the body's length and sha-less head facts. */
const echo = createServer((req, res) => {
  let length = 0
  req.on('data', (c: Buffer) => (length += c.length))
  req.on('end', async () => {
    if (req.url === '/slow') await new Promise((r) => setTimeout(r, 700))
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ length, contentLength: req.headers['content-length'] ?? null, chunked: req.headers['transfer-encoding'] === 'chunked' }))
  })
})
const echoPort = await listenLoopback(t, echo)
// Nothing listens there once it is closed: a refused connect.
const dead = createServer()
await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()))
const refusedPort = (dead.address() as { port: number }).port
await new Promise<void>((r) => dead.close(() => r()))

const ingress = (name: string, host: string, annotations: Record<string, string> = {}) => ({
  metadata: { name, namespace: 'default', creationTimestamp: new Date('2024-01-01T00:00:00Z'), annotations },
  spec: { rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } }] } }] },
})
const { table } = buildRouteTable([ingress('echo', 'h2.test', { 'weft.dev/proxy-body-size': '64k' }), ingress('flaky', 'flaky.test')])
const balancer = loopbackEndpoints(table, { echo: echoPort, flaky: [refusedPort, echoPort] })
const pools = new UpstreamPools()
t.teardown(() => pools.close())
const certs = new CertStore(await selfSigned(['h2.test']))

const start = (extra: Partial<IngressServerOptions> = {}): Promise<IngressServer> => startIngressServer(t, { table, balancer, certs, pools, httpListen: '', ...extra })
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

t.test('h2 settings weft announces: concurrent streams, header list size, no push', async (t) => {
  const s = session()
  t.teardown(() => s.close())
  const settings = await new Promise<Record<string, unknown>>((resolve) => s.once('remoteSettings', (r) => resolve(r as Record<string, unknown>)))
  t.equal(settings.maxConcurrentStreams, 128)
  t.equal(settings.maxHeaderListSize, 16 * 1024)
  t.equal(settings.enablePush, false)
})

/** A TLS connection that negotiated h2, for raw frames. */
async function rawH2(port: number): Promise<import('node:tls').TLSSocket> {
  const { connect } = await import('node:tls')
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'h2.test', rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => resolve(s))
    s.on('error', reject)
  })
}
const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream, 5)
  return Buffer.concat([head, payload])
}
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

/** What the server sends until it closes the connection (or `ms` pass): the frame types seen, and a GOAWAY's error code. */
function framesUntilClose(s: import('node:tls').TLSSocket, ms: number): Promise<{ types: number[]; goaway?: number; closed: boolean }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0)
    const types: number[] = []
    let goaway: number | undefined
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const length = buf.readUIntBE(0, 3)
        types.push(buf[3]!)
        if (buf[3] === 7) goaway = buf.readUInt32BE(9 + 4)
        buf = buf.subarray(9 + length)
      }
    })
    const timer = setTimeout(() => {
      s.destroy()
      resolve({ types, goaway, closed: false })
    }, ms)
    s.on('close', () => {
      clearTimeout(timer)
      resolve({ types, goaway, closed: true })
    })
  })
}

t.test('a SETTINGS frame with more entries than allowed ends the session', async (t) => {
  // Node sends the GOAWAY but keeps the connection: the idle timeout (here 300 ms) closes it.
  const quick = await start({ h2IdleTimeoutMs: 300 })
  const s = await rawH2(quick.httpsPort)
  const entries = Buffer.alloc(6 * 40)
  for (let i = 0; i < 40; i++) {
    entries.writeUInt16BE(0x4, i * 6) // INITIAL_WINDOW_SIZE, again and again
    entries.writeUInt32BE(65535, i * 6 + 2)
  }
  s.write(Buffer.concat([PREFACE, frame(4, 0, 0, entries)]))
  const seen = await framesUntilClose(s, 3000)
  t.equal(seen.goaway, 11, 'GOAWAY with ENHANCE_YOUR_CALM')
  t.ok(seen.closed, 'and the connection closes')
})

t.test('a protocol error while a stream is open: the connection is still closed', async (t) => {
  // Found by h2.fuzz.test.ts (seed 9): a request, then RST_STREAM on stream 0. The session sends
  // GOAWAY, Node stops reading the connection, and the stream it had answered never closed.
  const quick = await start({ h2IdleTimeoutMs: 300 })
  const s = await rawH2(quick.httpsPort)
  const lit = (name: string, value: string) => Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([Buffer.byteLength(value)]), Buffer.from(value)])
  // PRI: the endpoint (node:http) hangs up on it, so weft answers 502 a little later.
  const headers = Buffer.concat([lit(':method', 'PRI'), lit(':scheme', 'https'), lit(':authority', 'h2.test'), lit(':path', '/x')])
  s.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x5, 1, headers), frame(3, 0, 0, Buffer.alloc(3))]))
  const begun = Date.now()
  const seen = await framesUntilClose(s, 4000)
  t.ok(seen.closed, `closed after ${Date.now() - begun} ms`)
  t.equal(seen.goaway, 6, 'GOAWAY with FRAME_SIZE_ERROR')
})

t.test('a header list over the limit is refused; the session goes on', async (t) => {
  const s = session()
  t.teardown(() => s.close())
  const big = await request(s, { ':method': 'GET', 'x-big': 'x'.repeat(20_000) })
  t.not(big.status, 200, `refused: ${JSON.stringify(big)}`)
  const after = await request(s, { ':method': 'GET' })
  t.equal(after.status, 200, 'the next request on the same session is served')
})

t.test('idle sessions and stalled streams are reaped; TLS connections that never finish a handshake too', async (t) => {
  const quick = await start({ h2IdleTimeoutMs: 300, handshakeTimeoutMs: 300 })
  const s = session(quick.httpsPort)
  const served = await request(s, { ':method': 'GET' })
  t.equal(served.status, 200)
  const started = Date.now()
  await new Promise<void>((resolve) => s.once('close', () => resolve()))
  t.ok(Date.now() - started < 3000, `an idle session is closed (${Date.now() - started} ms)`)

  const s2 = session(quick.httpsPort)
  t.teardown(() => s2.destroy())
  const stalled = await new Promise<{ status: number; error?: string; ms: number }>((resolve) => {
    const begun = Date.now()
    const stream = s2.request({ ':method': 'POST', ':authority': 'h2.test', ':path': '/' }, { endStream: false })
    stream.write('a first part, and then nothing')
    let status = 0
    stream.on('response', (h) => (status = Number(h[':status'])))
    stream.resume()
    stream.on('close', () => resolve({ status, ms: Date.now() - begun }))
    stream.on('error', (err) => resolve({ status, error: err.message, ms: Date.now() - begun }))
  })
  t.ok(stalled.ms < 3000, `a request body that stalls is cut off (${stalled.ms} ms)`)
  t.not(stalled.status, 200)

  const { connect } = await import('node:net')
  for (const bytes of ['', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03']) {
    const begun = Date.now()
    await new Promise<void>((resolve) => {
      const c = connect(quick.httpsPort, '127.0.0.1', () => c.write(bytes))
      c.on('error', () => {})
      c.on('close', () => resolve())
      setTimeout(() => c.destroy(), 5000)
    })
    t.ok(Date.now() - begun < 3000, `${bytes ? 'a partial ClientHello' : 'silence'}: closed after the handshake timeout (${Date.now() - begun} ms)`)
  }
})

t.test('the idle timeout never cuts a request that has arrived whole while its endpoint takes longer', async (t) => {
  const quick = await start({ h2IdleTimeoutMs: 300 })
  const s = session(quick.httpsPort)
  t.teardown(() => s.close())
  for (const headers of [{ ':method': 'GET', ':path': '/slow' }, { ':method': 'POST', ':path': '/slow', 'content-length': '2' }]) {
    const r = await request(s, headers, headers[':method'] === 'POST' ? [Buffer.from('hi')] : [])
    t.equal(r.status, 200, `${headers[':method']}: ${JSON.stringify(r)}`)
  }
})

t.test('maxConcurrentStreams is enforced: the endpoint never sees more at once', async (t) => {
  let now = 0
  let peak = 0
  const slow = createServer((req, res) => {
    now++
    peak = Math.max(peak, now)
    req.resume()
    setTimeout(() => {
      now--
      res.end('done')
    }, 150)
  })
  const slowPort = await listenLoopback(t, slow)
  const { table: slowTable } = buildRouteTable([ingress('slow', 'h2.test')])
  const limited = await startIngressServer(t, { table: slowTable, balancer: loopbackEndpoints(slowTable, { slow: slowPort }), certs, pools, httpListen: '', h2MaxConcurrentStreams: 2 })
  const s = session(limited.httpsPort)
  t.teardown(() => s.close())
  await new Promise<void>((resolve) => s.once('remoteSettings', () => resolve()))
  const answers = await Promise.all(Array.from({ length: 6 }, () => request(s, { ':method': 'GET' })))
  const served = answers.filter((a) => a.status === 200).length
  t.ok(served >= 2, `the streams within the limit are served (${served})`)
  for (const a of answers.filter((x) => x.status !== 200)) t.match(a.error, /REFUSED_STREAM|NGHTTP2_REFUSED_STREAM|code 7/, 'the rest are refused, not queued')
  t.ok(peak <= 2, `at most 2 at once (peak ${peak})`)
  const after = await request(s, { ':method': 'GET' })
  t.equal(after.status, 200, 'the session goes on')
})
