// gRPC through the Ingress server to real @grpc/grpc-js peers on loopback: unary and
// server-streaming calls with metadata and trailers, error statuses, UNAVAILABLE without
// endpoints, connect retry past a dead endpoint, a GRPCS upstream, the HTTP/1.1 answer (to
// WebSocket upgrades too), the request-stream size limit (before and after the answer
// started), and one upstream session reused across many calls.
import { execFile } from 'node:child_process'
import { constants as h2constants, createServer as createH2Server } from 'node:http2'
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net'
import * as grpc from '@grpc/grpc-js'
import type { V1Ingress } from '@kubernetes/client-node'
import t from 'tap'
import { Balancer } from '../../ingress/balancer.ts'
import { CertStore } from '../../ingress/cert-store.ts'
import { backendKey } from '../../ingress/endpoints.ts'
import { encodeGrpcMessage } from '../../ingress/grpc-proxy.ts'
import { IngressMetrics } from '../../ingress/metrics.ts'
import { UpstreamPools } from '../../ingress/proxy.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { IngressServer } from '../../ingress/server.ts'
import { logger } from '../../src/util/log.ts'

type Msg = { text: string; n?: number }
const ser = (m: Msg) => Buffer.from(JSON.stringify(m))
const de = (b: Buffer) => JSON.parse(b.toString()) as Msg
const method = <Req extends boolean, Res extends boolean>(name: string, requestStream: Req, responseStream: Res) => ({
  path: `/test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: ser,
  requestDeserialize: de,
  responseSerialize: ser,
  responseDeserialize: de,
})
const service = { Echo: method('Echo', false, false), Count: method('Count', false, true), Fail: method('Fail', false, false), Sum: method('Sum', true, false), Hang: method('Hang', false, true), Chat: method('Chat', true, true) }
/** Calls of Hang that the server saw cancelled. */
const hangCancelled: string[] = []

/** A gRPC server named `name`: Echo (with headers and a trailer), Count (n messages), Fail (NOT_FOUND), Sum (client streaming). */
async function grpcServer(name: string, creds: grpc.ServerCredentials): Promise<number> {
  const server = new grpc.Server()
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const md = new grpc.Metadata()
      md.set('x-served-by', name)
      call.sendMetadata(md)
      const trailer = new grpc.Metadata()
      trailer.set('x-trailer', `done-${name}`)
      const seen = call.metadata.getMap()
      cb(null, { text: `${name}:${call.request.text}|xff=${String(seen['x-forwarded-for'])}|proto=${String(seen['x-forwarded-proto'])}|client=${String(seen['x-client'])}` }, trailer)
    },
    Count: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      for (let i = 0; i < (call.request.n ?? 0); i++) call.write({ text: `${name}-${i}`, n: i })
      call.end()
    },
    Fail: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: ünïcode 100%' }),
    // Bidirectional: echoes every message as it arrives.
    Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      call.on('data', (m: Msg) => call.write(m))
      call.on('end', () => call.end())
      call.on('error', () => {})
    },
    Sum: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      let sum = 0
      call.on('data', (m: Msg) => (sum += m.n ?? 0))
      call.on('end', () => cb(null, { text: 'sum', n: sum }))
    },
    // Sends n messages (none when n is 0, not even headers), then never ends.
    Hang: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      for (let i = 0; i < (call.request.n ?? 0); i++) call.write({ text: `${name}-${i}`, n: i })
      call.on('cancelled', () => hangCancelled.push(call.request.text))
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))))
  t.teardown(() => new Promise<void>((r) => server.tryShutdown(() => r())).then(() => server.forceShutdown()))
  return port
}

/** A TCP relay to `port` that counts the connections it accepts (one per upstream session). */
async function countingRelay(port: number): Promise<{ port: number; connections: () => number }> {
  let n = 0
  const sockets = new Set<Socket>()
  const relay: TcpServer = createTcpServer((down) => {
    n++
    const up = connect(port, '127.0.0.1')
    for (const s of [down, up]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => {
        down.destroy()
        up.destroy()
      })
    }
    down.pipe(up).pipe(down)
  })
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((r) => relay.close(() => r()))
  })
  return { port: (relay.address() as AddressInfo).port, connections: () => n }
}

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createTcpServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

const certs = await selfSigned(['grpc.test'])
const upstreamCert = await selfSigned(['backend.internal'])
const plainA = await grpcServer('a', grpc.ServerCredentials.createInsecure())
const plainB = await grpcServer('b', grpc.ServerCredentials.createInsecure())
const secure = await grpcServer('s', grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(upstreamCert.key), cert_chain: Buffer.from(upstreamCert.cert) }]))
const relay = await countingRelay(plainA)

const ingressFor = (name: string, protocol: string, path: string, extra: Record<string, string> = {}): V1Ingress => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: 'default', annotations: { 'weft.dev/backend-protocol': protocol, 'weft.dev/proxy-connect-timeout': '2s', ...extra } },
  spec: { rules: [{ host: 'grpc.test', http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name, port: { number: 50051 } } } }] } }] },
})
// One route for the whole service; each test points its backend at the endpoints it needs.
// Sum and Chat (client and bidirectional streaming) have Exact routes of their own, to the same
// Service, with a 4 KiB body limit.
const limited = ingressFor('echo', 'GRPC', '/test.Echo/Sum', { 'weft.dev/proxy-body-size': '4k' })
limited.metadata!.name = 'echo-limited'
const limitedPaths = limited.spec!.rules![0]!.http!.paths
limitedPaths[0]!.pathType = 'Exact'
limitedPaths.push({ ...limitedPaths[0]!, path: '/test.Echo/Chat' })
const { table, errors } = buildRouteTable([ingressFor('echo', 'GRPC', '/test.Echo/'), limited])
t.same(errors, [])
const key = backendKey({ namespace: 'default', service: 'echo', port: { number: 50051 } })

const balancer = new Balancer()
const pools = new UpstreamPools()
const server = new IngressServer({ httpListen: '127.0.0.1:0', httpsListen: '127.0.0.1:0', certs: new CertStore(certs), balancer, pools, metrics: new IngressMetrics(), log: logger('grpc-proxy-test') })
server.setTable(table)
await server.start()
t.teardown(async () => {
  await server.close()
  await pools.close()
})

const clients: grpc.Client[] = []
function client(): grpc.Client {
  const c = new grpc.Client(`127.0.0.1:${server.httpsPort}`, grpc.credentials.createSsl(Buffer.from(certs.cert)), {
    'grpc.ssl_target_name_override': 'grpc.test',
    'grpc.default_authority': 'grpc.test',
  })
  clients.push(c)
  return c
}
t.teardown(() => {
  for (const c of clients) c.close()
})

type Unary = { err: grpc.ServiceError | null; value?: Msg; headers?: grpc.Metadata; status?: grpc.StatusObject }
function unary(c: grpc.Client, name: string, msg: Msg, md = new grpc.Metadata()): Promise<Unary> {
  return new Promise((resolve) => {
    const out: Unary = { err: null }
    const call = c.makeUnaryRequest(`/test.Echo/${name}`, ser, de, msg, md, { deadline: Date.now() + 10_000 }, (err, value) => {
      out.err = err
      out.value = value
    })
    call.on('metadata', (m) => (out.headers = m))
    call.on('status', (s) => {
      out.status = s
      // The callback runs before 'status'.
      setImmediate(() => resolve(out))
    })
  })
}

t.test('unary: response, headers, trailers and forwarded metadata reach the client', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  const md = new grpc.Metadata()
  md.set('x-client', 'hello')
  const r = await unary(client(), 'Echo', { text: 'hi' }, md)
  t.equal(r.err, null)
  t.equal(r.value?.text, 'a:hi|xff=127.0.0.1|proto=https|client=hello')
  t.same(r.headers?.get('x-served-by'), ['a'])
  t.same(r.headers?.get('via'), ['2.0 weft'])
  t.equal(r.status?.code, grpc.status.OK)
  t.same(r.status?.metadata.get('x-trailer'), ['done-a'])
})

t.test('server streaming: every message arrives in order, then OK', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  const got: Msg[] = []
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    const call = client().makeServerStreamRequest('/test.Echo/Count', ser, de, { text: '', n: 50 }, new grpc.Metadata(), {})
    call.on('data', (m: Msg) => got.push(m))
    call.on('error', () => {})
    call.on('status', resolve)
  })
  t.equal(status.code, grpc.status.OK)
  t.same(got.map((m) => m.n), Array.from({ length: 50 }, (_, i) => i))
})

t.test('client streaming: the request body is streamed upstream', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  const value = await new Promise<Msg | undefined>((resolve, reject) => {
    const call = client().makeClientStreamRequest('/test.Echo/Sum', ser, de, new grpc.Metadata(), {}, (err, v) => (err ? reject(err) : resolve(v)))
    for (let i = 1; i <= 100; i++) call.write({ text: '', n: i })
    call.end()
  })
  t.equal(value?.n, 5050)
})

t.test('a request stream over proxy-body-size: RESOURCE_EXHAUSTED naming the limit; the next call is served', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  const c = client()
  const sum = (count: number) =>
    new Promise<{ err: grpc.ServiceError | null; value?: Msg }>((resolve) => {
      const call = c.makeClientStreamRequest('/test.Echo/Sum', ser, de, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, value) => resolve({ err, value }))
      call.on('error', () => {})
      for (let i = 1; i <= count; i++) call.write({ text: 'x'.repeat(40), n: i })
      call.end()
    })
  // 200 messages of about 70 bytes with gRPC framing: over 4 KiB.
  const big = await sum(200)
  t.equal(big.err?.code, grpc.status.RESOURCE_EXHAUSTED)
  t.match(big.err?.details, /over 4096 bytes \(weft\.dev\/proxy-body-size\)/)
  const small = await sum(10)
  t.equal(small.err, null)
  t.equal(small.value?.n, 55)
})

t.test('a request stream passing proxy-body-size after the answer started: RESOURCE_EXHAUSTED as its trailers', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  const call = client().makeBidiStreamRequest('/test.Echo/Chat', ser, de, new grpc.Metadata(), { deadline: Date.now() + 10_000 })
  const echoed: number[] = []
  call.on('data', (m: Msg) => {
    echoed.push(m.n ?? -1)
    // Each message is sent once the one before it came back, so the answer has started well before the limit.
    if (m.n! < 199) call.write({ text: 'x'.repeat(40), n: m.n! + 1 })
  })
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    call.on('status', resolve)
    call.on('error', () => {})
    call.write({ text: 'x'.repeat(40), n: 0 })
  })
  t.equal(status.code, grpc.status.RESOURCE_EXHAUSTED)
  t.match(status.details, /over 4096 bytes/)
  t.ok(echoed.length > 10 && echoed.length < 100, `echoed ${echoed.length} messages before the limit`)
})

t.test('an error status from the server (trailers-only) reaches the client with its message', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  const r = await unary(client(), 'Fail', { text: '' })
  t.equal(r.err?.code, grpc.status.NOT_FOUND)
  t.equal(r.err?.details, 'no such thing: ünïcode 100%')
})

t.test('no endpoints: UNAVAILABLE with a message naming the service', async (t) => {
  balancer.setEndpoints(key, [])
  const r = await unary(client(), 'Echo', { text: 'x' })
  t.equal(r.err?.code, grpc.status.UNAVAILABLE)
  t.match(r.err?.details, /service default\/echo port 50051 has no ready endpoints/)
})

t.test('a dead endpoint and a live one: every call succeeds (connect retried); only dead ones: UNAVAILABLE', async (t) => {
  const dead = await deadPort()
  balancer.setEndpoints(key, [
    { address: '127.0.0.1', port: dead },
    { address: '127.0.0.1', port: plainB },
  ])
  const c = client()
  for (let i = 0; i < 6; i++) {
    const r = await unary(c, 'Echo', { text: String(i) })
    t.equal(r.err, null, `call ${i}`)
    t.match(r.value?.text, /^b:/)
  }
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: await deadPort() }])
  const r = await unary(c, 'Echo', { text: 'x' })
  t.equal(r.err?.code, grpc.status.UNAVAILABLE)
  t.equal(r.err?.details, 'no endpoint of service default/echo port 50051 could be reached', 'the cause (ECONNREFUSED at an address) is for the log, not the client')
})

t.test('keep-alive: many calls, sequential and concurrent, share one upstream session', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: relay.port }])
  const before = relay.connections()
  const c = client()
  for (let i = 0; i < 10; i++) t.equal((await unary(c, 'Echo', { text: String(i) })).err, null)
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => unary(c, 'Echo', { text: String(i) })))
  t.same(many.map((r) => r.err), Array(20).fill(null))
  t.equal(relay.connections() - before, 1, 'one TCP connection upstream for 30 calls')
})

t.test('GRPCS: TLS with ALPN h2 to the endpoint', async (t) => {
  const { table: tlsTable, errors } = buildRouteTable([ingressFor('echo', 'GRPCS', '/test.Echo/')])
  t.same(errors, [])
  server.setTable(tlsTable)
  t.teardown(() => server.setTable(table))
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: secure }])
  const r = await unary(client(), 'Echo', { text: 'tls' })
  t.equal(r.err, null)
  t.match(r.value?.text, /^s:tls/)
  const s = await unary(client(), 'Fail', { text: '' })
  t.equal(s.err?.code, grpc.status.NOT_FOUND)
  // A GRPC (h2c) route pointed at the TLS endpoint fails cleanly instead of hanging.
  server.setTable(table)
  const wrong = await unary(client(), 'Echo', { text: 'x' })
  t.equal(wrong.err?.code, grpc.status.UNAVAILABLE, String(wrong.err?.details))
})

t.test('GRPCS connect timeout: an endpoint that never finishes the TLS handshake is skipped', async (t) => {
  const held = new Set<Socket>()
  const silent = createTcpServer((s) => held.add(s))
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => {
    for (const s of held) s.destroy()
    return new Promise<void>((r) => silent.close(() => r()))
  })
  const silentPort = (silent.address() as AddressInfo).port
  const { table: tlsTable } = buildRouteTable([ingressFor('echo', 'GRPCS', '/test.Echo/', { 'weft.dev/proxy-connect-timeout': '300ms' })])
  server.setTable(tlsTable)
  t.teardown(() => server.setTable(table))
  balancer.setEndpoints(key, [
    { address: '127.0.0.1', port: silentPort },
    { address: '127.0.0.1', port: secure },
  ])
  const c = client()
  for (let i = 0; i < 2; i++) t.equal((await unary(c, 'Echo', { text: String(i) })).err, null, `call ${i}`)
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: silentPort }])
  const r = await unary(c, 'Echo', { text: 'x' })
  t.equal(r.err?.code, grpc.status.UNAVAILABLE)
  t.equal(r.err?.details, 'no endpoint of service default/echo port 50051 could be reached')
})

function hang(c: grpc.Client, text: string, n: number, cancelAfter?: number): Promise<{ got: Msg[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const got: Msg[] = []
    const call = c.makeServerStreamRequest('/test.Echo/Hang', ser, de, { text, n }, new grpc.Metadata(), {})
    call.on('data', (m: Msg) => {
      got.push(m)
      if (got.length === cancelAfter) call.cancel()
    })
    call.on('error', () => {})
    call.on('status', (status) => resolve({ got, status }))
  })
}

t.test('read timeout: DEADLINE_EXCEEDED before the response head; a reset after it', async (t) => {
  const { table: slowTable } = buildRouteTable([ingressFor('echo', 'GRPC', '/test.Echo/', { 'weft.dev/proxy-read-timeout': '300ms' })])
  server.setTable(slowTable)
  t.teardown(() => server.setTable(table))
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  const before = await hang(client(), 'before', 0)
  t.equal(before.status.code, grpc.status.DEADLINE_EXCEEDED)
  t.match(before.status.details, /sent nothing for 300 ms/)
  const after = await hang(client(), 'after', 3)
  t.equal(after.got.length, 3, 'the messages before the stall arrive')
  t.equal(after.status.code, grpc.status.CANCELLED, after.status.details)
})

t.test('a client cancelling a call cancels it upstream', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  const r = await hang(client(), 'cancel-me', 2, 2)
  t.equal(r.status.code, grpc.status.CANCELLED)
  for (let i = 0; i < 100 && !hangCancelled.includes('cancel-me'); i++) await new Promise((res) => setTimeout(res, 20))
  t.ok(hangCancelled.includes('cancel-me'), 'the server saw the cancellation')
})

t.test('upstream resets: before the head → the mapped gRPC status; after → the same reset code', async (t) => {
  const raw = createH2Server()
  raw.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    if (headers[':path'] === '/test.Echo/Refuse') {
      stream.close(h2constants.NGHTTP2_REFUSED_STREAM)
      return
    }
    // waitForTrailers: else Node's close() sends END_STREAM before the RST_STREAM, which a half-closed peer takes as a clean end.
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
    const body = ser({ text: 'one' })
    const frame = Buffer.alloc(5 + body.length)
    frame.writeUInt32BE(body.length, 1)
    body.copy(frame, 5)
    stream.write(frame, () => setTimeout(() => stream.close(h2constants.NGHTTP2_ENHANCE_YOUR_CALM), 50))
  })
  const rawSessions = new Set<import('node:http2').ServerHttp2Session>()
  raw.on('session', (s) => rawSessions.add(s))
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => {
    for (const s of rawSessions) s.destroy()
    return new Promise<void>((r) => raw.close(() => r()))
  })
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: (raw.address() as AddressInfo).port }])
  const refused = await unary(client(), 'Refuse', { text: '' })
  t.equal(refused.err?.code, grpc.status.UNAVAILABLE)
  t.match(refused.err?.details, /reset the stream \(HTTP\/2 error 7\)/)
  const mid = await hang(client(), 'x', 0)
  t.same(mid.got.map((m) => m.text), ['one'])
  t.equal(mid.status.code, grpc.status.RESOURCE_EXHAUSTED, mid.status.details)
})

function curl(args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('curl', ['-s', '--max-time', '10', ...args], (_err, stdout) => resolve(stdout)))
}

t.test('gRPC over HTTP/1.1 gets 505 saying it needs HTTP/2 over TLS', async (t) => {
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: plainA }])
  for (const url of [`https://grpc.test:${server.httpsPort}/test.Echo/Echo`, `http://grpc.test:${server.httpPort}/test.Echo/Echo`]) {
    const port = url.startsWith('https') ? server.httpsPort : server.httpPort
    const out = await curl(['-k', '--http1.1', '-w', '\n%{http_code}', '--resolve', `grpc.test:${port}:127.0.0.1`, '-H', 'content-type: application/grpc', '--data-binary', 'x', url])
    t.match(out, /HTTP\/2 over TLS|needs HTTP\/2/, url)
    t.match(out, /505$/, url)
  }
})

t.test('a WebSocket upgrade to a gRPC route gets the same 505, and nothing reaches the endpoint', async (t) => {
  const before = relay.connections()
  balancer.setEndpoints(key, [{ address: '127.0.0.1', port: relay.port }])
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(server.httpPort, '127.0.0.1')
    let got = ''
    s.on('data', (d) => (got += d.toString('latin1')))
    s.on('end', () => resolve(got))
    s.on('error', reject)
    s.write('GET /test.Echo/Echo HTTP/1.1\r\nHost: grpc.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  })
  t.match(answer, /^HTTP\/1\.1 505 /)
  t.match(answer, /needs HTTP\/2/)
  t.equal(relay.connections(), before, 'no connection to the endpoint')
})

t.test('grpc-message is percent-encoded as the gRPC spec says', async (t) => {
  t.equal(encodeGrpcMessage('a b%c'), 'a b%25c')
  t.equal(encodeGrpcMessage('ü\n'), '%C3%BC%0A')
})
