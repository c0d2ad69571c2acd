// weft load's HTTP/2 client against node:http2 servers on loopback: h2c and h2 over TLS (SNI,
// --insecure, a certificate that does not verify, a peer without h2), request shape, status
// classes, endpoint identity, the peer's stream limit, GOAWAY, a dropped connection, refused,
// timeouts and close().
import { constants, createSecureServer, createServer, type Http2Server, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders, type Http2Session } from 'node:http2'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import t from 'tap'
import { errnoClass } from '../../load/protocols/errno-class.ts'
import { createHttp2Client, statusClass } from '../../load/protocols/http2.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { drive, run, sleep, target } from './proto-rig.ts'

type Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Buffer) => void

interface Rig {
  port: number
  sessions: Http2Session[]
  /** Most streams open at once on one session. */
  peakStreams: number
  requests: { headers: IncomingHttpHeaders; body: Buffer }[]
  sockets: Set<Socket>
  handler: Handler
}

async function serve(server: Http2Server | Http2SecureServer, handler: Handler): Promise<Rig> {
  const rig: Rig = { port: 0, sessions: [], peakStreams: 0, requests: [], sockets: new Set(), handler }
  const open = new Map<Http2Session, number>()
  server.on('session', (session: Http2Session) => {
    rig.sessions.push(session)
    session.on('error', () => {})
  })
  server.on('connection', (socket: Socket) => {
    rig.sockets.add(socket)
    socket.on('close', () => rig.sockets.delete(socket))
  })
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const session = stream.session!
    const now = (open.get(session) ?? 0) + 1
    open.set(session, now)
    rig.peakStreams = Math.max(rig.peakStreams, now)
    stream.on('close', () => open.set(session, (open.get(session) ?? 1) - 1))
    stream.on('error', () => {})
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      const body = Buffer.concat(chunks)
      rig.requests.push({ headers, body })
      rig.handler(stream, headers, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  rig.port = (server.address() as { port: number }).port
  t.teardown(() => {
    for (const s of rig.sockets) s.destroy()
    server.close()
  })
  return rig
}

function reply(stream: ServerHttp2Stream, status: number, body: string): void {
  if (stream.destroyed) return
  stream.respond({ ':status': status, 'content-type': 'application/json' })
  stream.end(body)
}

const podReply = (name: string) => `{"pod":"${name}","namespace":"default","headers":{}}\n`

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createTcpServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

t.test('h2c: requests carry the target; answers are classed; the body names the pod', async (t) => {
  const rig = await serve(createServer(), (stream, headers) => {
    const path = String(headers[':path'])
    if (path.startsWith('/status/')) return reply(stream, Number(path.slice(8)), 'no')
    reply(stream, 200, podReply('web-7c9f-abcde'))
  })
  const base = { protocol: 'http2' as const, endpoints: [{ host: '127.0.0.1', port: rig.port }], authority: 'web.example:8080', method: 'POST', path: '/echo?x=1' }
  const d = drive(createHttp2Client, target({ ...base, headers: [['X-Load', 'yes'], ['x-load', 'twice']], body: Buffer.from('hello').toString('base64') }), {
    connections: 2,
    identifyEndpoints: true,
  })
  t.teardown(() => d.client.close())
  await run(d, 200)
  t.same(d.collected.tally(), { ok: 200 })
  t.same(d.collected.repeated, [])
  t.equal(d.client.inFlight, 0)
  t.ok([...d.collected.results.values()].every((o) => o.endpoint === 'web-7c9f-abcde'), 'every answer names the pod')
  t.equal(rig.sessions.length, 2, 'one session per connection')
  const first = rig.requests[0]
  t.equal(first.headers[':method'], 'POST')
  t.equal(first.headers[':path'], '/echo?x=1')
  t.equal(first.headers[':authority'], 'web.example:8080')
  t.equal(first.headers[':scheme'], 'http')
  t.equal(first.headers['x-load'], 'yes, twice')
  t.equal(first.body.toString(), 'hello')

  for (const [status, expected] of [
    [404, 'http-4xx'],
    [503, 'http-5xx'],
    [302, undefined],
  ] as const) {
    const s = drive(createHttp2Client, target({ ...base, path: `/status/${status}` }))
    await run(s, 3)
    t.same([...s.collected.results.values()].map((o) => o.error), [expected, expected, expected], `status ${status}`)
    await s.client.close()
  }
})

t.test('identification off: no endpoint is reported', async (t) => {
  const rig = await serve(createServer(), (stream) => reply(stream, 200, podReply('web-1')))
  const d = drive(createHttp2Client, target({ protocol: 'http2', endpoints: [{ host: '127.0.0.1', port: rig.port }] }))
  t.teardown(() => d.client.close())
  await run(d, 5)
  t.same([...d.collected.results.values()], Array.from({ length: 5 }, () => ({ error: undefined, endpoint: undefined })))
})

t.test('TLS: ALPN h2 with SNI; --insecure accepts a self-signed certificate, else it is a tls error', async (t) => {
  const { cert, key } = await selfSigned(['h2.load.test'])
  const servernames: (string | false)[] = []
  const server = createSecureServer({ cert, key })
  server.on('secureConnection', (socket: { servername: string | false }) => servernames.push(socket.servername))
  const rig = await serve(server, (stream) => reply(stream, 200, podReply('tls-pod')))
  const tlsTarget = target({ protocol: 'http2', tls: true, servername: 'h2.load.test', insecure: true, endpoints: [{ host: '127.0.0.1', port: rig.port }] })

  const insecure = drive(createHttp2Client, tlsTarget, { identifyEndpoints: true })
  await run(insecure, 20)
  await insecure.client.close()
  t.same(insecure.collected.tally(), { ok: 20 })
  t.equal(insecure.collected.results.get(0)?.endpoint, 'tls-pod')
  t.same(servernames, ['h2.load.test'], 'SNI carries target.servername')
  t.equal(rig.requests[0].headers[':scheme'], 'https')

  const verified = drive(createHttp2Client, { ...tlsTarget, insecure: false })
  await run(verified, 3)
  await verified.client.close()
  t.same(verified.collected.tally(), { tls: 3 }, 'a certificate that does not verify is a tls error')
})

t.test('TLS: a peer that does not negotiate h2 ends the requests at once, not by timeout', async (t) => {
  const { cert, key } = await selfSigned(['h1.load.test'])
  for (const [alpn, expected] of [
    [['http/1.1'], { tls: 4 }],
    [undefined, { protocol: 4 }],
  ] as const) {
    const server = createTlsServer({ cert, key, ALPNProtocols: alpn ? [...alpn] : undefined }, (socket) => socket.on('error', () => {}))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => server.close())
    const port = (server.address() as { port: number }).port
    const d = drive(createHttp2Client, target({ protocol: 'http2', tls: true, insecure: true, servername: 'h1.load.test', endpoints: [{ host: '127.0.0.1', port }] }), { timeoutMs: 3000 })
    await run(d, 4)
    await d.client.close()
    t.same(d.collected.tally(), expected, alpn ? 'the peer refuses ALPN h2: a failed handshake' : 'the peer ignores ALPN: not HTTP/2')
  }
})

t.test("the peer's SETTINGS_MAX_CONCURRENT_STREAMS holds; beyond it requests queue and all complete", async (t) => {
  const held: ServerHttp2Stream[] = []
  const rig = await serve(createServer({ settings: { maxConcurrentStreams: 3 } }), (stream) => {
    held.push(stream)
    setTimeout(() => reply(stream, 200, 'ok'), 20)
  })
  const d = drive(createHttp2Client, target({ protocol: 'http2', endpoints: [{ host: '127.0.0.1', port: rig.port }] }))
  t.teardown(() => d.client.close())
  for (let i = 0; i < 30; i++) d.client.send(i)
  t.equal(d.client.inFlight, 30, 'queued requests count as in flight')
  await d.collected.waitFor(30)
  t.same(d.collected.tally(), { ok: 30 })
  t.equal(rig.peakStreams, 3, 'never more streams than the peer allows')
  t.equal(rig.sessions.length, 1)
})

t.test('GOAWAY: the session is replaced and no request is lost', async (t) => {
  let count = 0
  const rig = await serve(createServer(), (stream) => {
    count++
    reply(stream, 200, 'ok')
    if (count === 10) stream.session!.goaway(constants.NGHTTP2_NO_ERROR)
  })
  const d = drive(createHttp2Client, target({ protocol: 'http2', endpoints: [{ host: '127.0.0.1', port: rig.port }] }))
  t.teardown(() => d.client.close())
  for (let i = 0; i < 40; i++) {
    await run(d, 1, i)
  }
  t.same(d.collected.tally(), { ok: 40 })
  t.equal(rig.sessions.length, 2, 'a new session after the GOAWAY')
})

t.test('a dropped connection fails its open streams as reset; later requests reconnect', async (t) => {
  const rig = await serve(createServer(), (stream, headers) => {
    if (headers[':path'] === '/hang') return
    reply(stream, 200, 'ok')
  })
  const endpoints = [{ host: '127.0.0.1', port: rig.port }]
  const hang = drive(createHttp2Client, target({ protocol: 'http2', endpoints, path: '/hang' }))
  t.teardown(() => hang.client.close())
  for (let i = 0; i < 5; i++) hang.client.send(i)
  while (rig.requests.length < 5) await sleep(5)
  for (const s of rig.sockets) s.destroy()
  await hang.collected.waitFor(5)
  t.same(hang.collected.tally(), { reset: 5 })
  rig.handler = (stream) => reply(stream, 200, 'ok')
  await run(hang, 5, 100)
  t.same(hang.collected.tally(), { reset: 5, ok: 5 }, 'a new session serves what comes next')
  t.same(hang.collected.repeated, [])
})

t.test('RST_STREAM from the peer: reset; a refused stream: refused', async (t) => {
  const rig = await serve(createServer(), (stream, headers) => {
    stream.close(headers[':path'] === '/refuse' ? constants.NGHTTP2_REFUSED_STREAM : constants.NGHTTP2_INTERNAL_ERROR)
  })
  const endpoints = [{ host: '127.0.0.1', port: rig.port }]
  const reset = drive(createHttp2Client, target({ protocol: 'http2', endpoints, path: '/rst' }))
  const refused = drive(createHttp2Client, target({ protocol: 'http2', endpoints, path: '/refuse' }))
  await run(reset, 3)
  await run(refused, 3)
  await reset.client.close()
  await refused.client.close()
  t.same(reset.collected.tally(), { reset: 3 })
  t.same(refused.collected.tally(), { refused: 3 })
})

t.test('nothing listening: refused, for every request', async (t) => {
  const port = await closedPort()
  const d = drive(createHttp2Client, target({ protocol: 'http2', endpoints: [{ host: '127.0.0.1', port }] }), { connections: 3 })
  await run(d, 50)
  await d.client.close()
  t.same(d.collected.tally(), { refused: 50 })
  t.same(d.collected.repeated, [])
})

t.test('one dead endpoint of two: its requests go to the live one', async (t) => {
  const rig = await serve(createServer(), (stream) => reply(stream, 200, 'ok'))
  const port = await closedPort()
  const d = drive(createHttp2Client, target({ protocol: 'http2', endpoints: [{ host: '127.0.0.1', port }, { host: '127.0.0.1', port: rig.port }] }), { connections: 2 })
  t.teardown(() => d.client.close())
  await run(d, 1)
  await sleep(20)
  await run(d, 50, 1)
  t.same(d.collected.tally(), { ok: 51 }, 'a failed connect does not fail requests another session can carry')
})

t.test('timeouts: a stream never answered, and a peer that never speaks HTTP/2', async (t) => {
  const rig = await serve(createServer(), () => {})
  const silent = createTcpServer((socket) => socket.on('error', () => {}))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => silent.close())
  const silentPort = (silent.address() as { port: number }).port
  for (const port of [rig.port, silentPort]) {
    const d = drive(createHttp2Client, target({ protocol: 'http2', endpoints: [{ host: '127.0.0.1', port }] }), { timeoutMs: 300 })
    const started = performance.now()
    await run(d, 10)
    const took = performance.now() - started
    await d.client.close()
    t.same(d.collected.tally(), { timeout: 10 }, `port ${port === rig.port ? 'answering nothing' : 'silent'}`)
    t.ok(took >= 290, `not before the timeout (${took.toFixed(0)} ms)`)
  }
})

t.test('close() ends queued and in-flight requests without reporting them and closes the sessions', async (t) => {
  const rig = await serve(createServer({ settings: { maxConcurrentStreams: 2 } }), () => {})
  const d = drive(createHttp2Client, target({ protocol: 'http2', endpoints: [{ host: '127.0.0.1', port: rig.port }] }), { connections: 2 })
  for (let i = 0; i < 10; i++) d.client.send(i)
  while (rig.requests.length < 4) await sleep(5)
  await d.client.close()
  t.equal(d.client.inFlight, 0)
  await sleep(50)
  t.equal(d.collected.results.size, 0, 'nothing reported after close')
  t.ok(rig.sessions.every((s) => s.closed || s.destroyed), 'the server saw every session close')
  d.client.send(99)
  await sleep(20)
  t.equal(d.collected.results.size, 0, 'send after close does nothing')
})

t.test('bad options are refused with a clear message', async (t) => {
  const endpoints = [{ host: '127.0.0.1', port: 1 }]
  const sink = { done() {} }
  const base = { connections: 1, keepAlive: true, timeoutMs: 1000, identifyEndpoints: false, sink }
  t.throws(() => createHttp2Client({ ...base, target: target({ protocol: 'http2', endpoints, headers: [['Connection', 'close']] }) }), /not allowed in HTTP\/2/)
  t.throws(() => createHttp2Client({ ...base, target: target({ protocol: 'http2', endpoints, headers: [['x', 'a\r\nb']] }) }), /line break/)
  t.throws(() => createHttp2Client({ ...base, target: target({ protocol: 'http2', endpoints, path: 'no-slash' }) }), /must start with '\/'/)
  t.throws(() => createHttp2Client({ ...base, target: target({ protocol: 'http2', endpoints, body: 'not base64!' }) }), /not base64/)
  t.throws(() => createHttp2Client({ ...base, target: target({ protocol: 'http2', endpoints: [] }) }), /no endpoints/)
  t.throws(() => createHttp2Client({ ...base, target: target({ protocol: 'http2', endpoints: [{ host: 'bad host', port: 80 }] }) }), /neither an IP address nor a host name/)
  t.throws(() => createHttp2Client({ ...base, target: target({ protocol: 'http2', endpoints: [{ host: '::1', port: 70000 }] }) }), /not a port number/)
  t.throws(() => createHttp2Client({ ...base, connections: 0, target: target({ protocol: 'http2', endpoints }) }), /connections must be/)
  t.throws(() => createHttp2Client({ ...base, target: target({ protocol: 'http1', endpoints }) }), /given a http1 target/)
})

t.test('error codes and statuses map to classes', async (t) => {
  const cases: [unknown, string][] = [
    [{ code: 'ECONNREFUSED' }, 'refused'],
    [{ code: 'ECONNRESET' }, 'reset'],
    [{ code: 'EPIPE' }, 'reset'],
    [{ code: 'ETIMEDOUT' }, 'timeout'],
    [{ code: 'EHOSTUNREACH' }, 'connect'],
    [{ code: 'EADDRNOTAVAIL' }, 'connect'],
    [{ code: 'ENOTFOUND' }, 'name-resolution'],
    [{ code: 'EAI_AGAIN' }, 'name-resolution'],
    [{ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'tls'],
    [{ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, 'tls'],
    [{ code: 'ERR_OSSL_BAD_DECRYPT' }, 'tls'],
    [{ code: 'SOMETHING', library: 'SSL routines' }, 'tls'],
    [{ code: 'toString' }, 'other'],
    [{ code: 42 }, 'other'],
    [null, 'other'],
    [new Error('plain'), 'other'],
  ]
  for (const [err, expected] of cases) t.equal(errnoClass(err), expected, JSON.stringify(err))
  t.same([199, 200, 204, 302, 399, 400, 499, 500, 599, 600].map(statusClass), ['protocol', undefined, undefined, undefined, undefined, 'http-4xx', 'http-4xx', 'http-5xx', 'http-5xx', 'protocol'])
})
