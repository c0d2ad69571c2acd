// weft load's gRPC client against a real @grpc/grpc-js server on loopback (the health service
// written by hand: SERVING, NOT_SERVING, UNKNOWN, an error status; a plain method; TLS; the
// server's stream limit) and against node:http2 servers that break gRPC's rules.
import { createServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import * as grpc from '@grpc/grpc-js'
import t from 'tap'
import { selfSigned } from '../../ingress/self-signed.ts'
import { createGrpcClient, grpcFrame, HEALTH_CHECK_PATH, healthCheckRequest, healthCheckRequestBody, servingStatus } from '../../load/protocols/grpc.ts'
import { drive, run, sleep, target } from './proto-rig.ts'

/** HealthCheckRequest's service, decoded by hand (field 1, a short string). */
function serviceOf(request: Buffer): string {
  if (request.length === 0) return ''
  if (request[0] !== 0x0a || request[1] !== request.length - 2) throw new Error(`unexpected HealthCheckRequest ${request.toString('hex')}`)
  return request.subarray(2).toString()
}

const raw = (b: Buffer) => b
const rawMethod = (path: string) => ({ path, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw })
const healthService = { Check: rawMethod(HEALTH_CHECK_PATH) }
const echoService = { Echo: rawMethod('/test.Echo/Echo'), Fail: rawMethod('/test.Echo/Fail'), Slow: rawMethod('/test.Echo/Slow'), Hang: rawMethod('/test.Echo/Hang') }

interface GrpcRig {
  port: number
  seen: { service: string; metadata: grpc.Metadata }[]
  /** Most Slow calls open at once. */
  peakSlow: number
  /** Hang calls waiting (never answered). */
  hanging: number
  server: grpc.Server
}

async function grpcServer(creds: grpc.ServerCredentials, options: grpc.ServerOptions = {}): Promise<GrpcRig> {
  const server = new grpc.Server(options)
  const rig: GrpcRig = { port: 0, seen: [], peakSlow: 0, hanging: 0, server }
  let slow = 0
  server.addService(healthService, {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const service = serviceOf(call.request)
      rig.seen.push({ service, metadata: call.metadata })
      if (service === 'missing') return cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' })
      const status = { '': 1, down: 2, unsure: 0, gone: 3 }[service] ?? 1
      // proto3 leaves a zero enum out: UNKNOWN is the empty message.
      cb(null, status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, status]))
    },
  })
  server.addService(echoService, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
    Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.UNAVAILABLE, details: 'down for a test' }),
    Slow: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      slow++
      rig.peakSlow = Math.max(rig.peakSlow, slow)
      setTimeout(() => {
        slow--
        cb(null, Buffer.from('slow'))
      }, 20)
    },
    Hang: () => {
      rig.hanging++
    },
  })
  rig.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, port) => (err ? reject(err) : resolve(port))))
  t.teardown(() => server.forceShutdown())
  return rig
}

const grpcTarget = (port: number, fields: Parameters<typeof target>[0] extends infer T ? Partial<T> : never = {}) =>
  target({ protocol: 'grpc', endpoints: [{ host: '127.0.0.1', port }], path: HEALTH_CHECK_PATH, method: 'POST', authority: `127.0.0.1:${port}`, ...fields })

t.test('the health-check request is protobuf field 1, a string', async (t) => {
  t.same([...healthCheckRequest('')], [])
  t.same([...healthCheckRequest('web')], [0x0a, 0x03, 0x77, 0x65, 0x62])
  const long = 'x'.repeat(200)
  t.same([...healthCheckRequest(long).subarray(0, 3)], [0x0a, 0xc8, 0x01], 'a two-byte length varint')
  t.equal(healthCheckRequestBody('web'), Buffer.from([0x0a, 0x03, 0x77, 0x65, 0x62]).toString('base64'))
  t.throws(() => healthCheckRequest('y'.repeat(2000)), /longer than 1024 bytes/)
  t.same([...grpcFrame(Buffer.from('ab'))], [0, 0, 0, 0, 2, 0x61, 0x62])
  t.equal(servingStatus(Buffer.from([0x08, 0x01])), 1)
  t.equal(servingStatus(Buffer.alloc(0)), 0, 'absent: UNKNOWN')
  t.equal(servingStatus(Buffer.from([0x12, 0x01, 0x61, 0x08, 0x02])), 2, 'an unknown field is skipped')
  t.equal(servingStatus(Buffer.from([0x08])), undefined, 'a truncated varint')
  t.equal(servingStatus(Buffer.from([0x12, 0x05, 0x61])), undefined, 'a field running past the end')
  t.equal(servingStatus(Buffer.from([0x0b])), undefined, 'a group (wire type 3)')
})

t.test('health checks against grpc-js: SERVING is ok; NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN and an error status are grpc-status', async (t) => {
  const rig = await grpcServer(grpc.ServerCredentials.createInsecure())
  const cases: [string, string][] = [
    ['', 'ok'],
    ['web', 'ok'],
    ['down', 'grpc-status'],
    ['unsure', 'grpc-status'],
    ['gone', 'grpc-status'],
    ['missing', 'grpc-status'],
  ]
  for (const [service, expected] of cases) {
    const d = drive(createGrpcClient, grpcTarget(rig.port, { body: healthCheckRequestBody(service), headers: [['x-load-run', 'r1']] }), { connections: 2, identifyEndpoints: true })
    await run(d, 20)
    await d.client.close()
    t.same(d.collected.tally(), { [expected]: 20 }, `service ${JSON.stringify(service)}`)
    t.ok([...d.collected.results.values()].every((o) => o.endpoint === undefined), 'gRPC answers name no pod')
    t.same(d.collected.repeated, [])
  }
  const first = rig.seen.find((s) => s.service === 'web')!
  t.same(first.metadata.get('x-load-run'), ['r1'], 'target headers travel as metadata')
  t.equal(rig.seen.filter((s) => s.service === '').length, 20, 'no body: the empty request (the server as a whole)')
})

t.test('a plain unary method: OK and an error status (trailers-only)', async (t) => {
  const rig = await grpcServer(grpc.ServerCredentials.createInsecure())
  const ok = drive(createGrpcClient, grpcTarget(rig.port, { path: '/test.Echo/Echo', body: Buffer.from('payload').toString('base64') }))
  const fail = drive(createGrpcClient, grpcTarget(rig.port, { path: '/test.Echo/Fail' }))
  const missing = drive(createGrpcClient, grpcTarget(rig.port, { path: '/test.Echo/Nope' }))
  await run(ok, 10)
  await run(fail, 10)
  await run(missing, 3)
  for (const d of [ok, fail, missing]) await d.client.close()
  t.same(ok.collected.tally(), { ok: 10 })
  t.same(fail.collected.tally(), { 'grpc-status': 10 })
  t.same(missing.collected.tally(), { 'grpc-status': 3 }, 'UNIMPLEMENTED')
})

t.test("grpc-js's max concurrent streams holds: the client queues beyond it", async (t) => {
  const rig = await grpcServer(grpc.ServerCredentials.createInsecure(), { 'grpc.max_concurrent_streams': 2 })
  const d = drive(createGrpcClient, grpcTarget(rig.port, { path: '/test.Echo/Slow' }))
  t.teardown(() => d.client.close())
  await run(d, 12)
  t.same(d.collected.tally(), { ok: 12 })
  t.equal(rig.peakSlow, 2)
})

t.test('gRPC over TLS with SNI and --insecure', async (t) => {
  const { cert, key } = await selfSigned(['grpc.load.test'])
  const rig = await grpcServer(grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(key), cert_chain: Buffer.from(cert) }], false))
  const tlsTarget = grpcTarget(rig.port, { tls: true, insecure: true, servername: 'grpc.load.test', authority: 'grpc.load.test' })
  const d = drive(createGrpcClient, tlsTarget)
  await run(d, 10)
  await d.client.close()
  t.same(d.collected.tally(), { ok: 10 })
  const strict = drive(createGrpcClient, { ...tlsTarget, insecure: false })
  await run(strict, 2)
  await strict.client.close()
  t.same(strict.collected.tally(), { tls: 2 })
})

t.test('answers that break the gRPC rules', async (t) => {
  type Answer = (stream: ServerHttp2Stream) => void
  const answers: Record<string, Answer> = {
    '/http503': (s) => {
      s.respond({ ':status': 503 })
      s.end()
    },
    '/http404': (s) => {
      s.respond({ ':status': 404, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true })
    },
    '/no-status': (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' })
      s.end(grpcFrame(Buffer.from([0x08, 0x01])))
    },
    '/junk-status': (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': 'ok' }))
      s.end(grpcFrame(Buffer.from([0x08, 0x01])))
    },
    '/two-messages': (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }))
      s.end(Buffer.concat([grpcFrame(Buffer.from([0x08, 0x01])), grpcFrame(Buffer.from([0x08, 0x01]))]))
    },
    '/no-message': (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true })
    },
    '/compressed': (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }))
      const framed = grpcFrame(Buffer.from([0x08, 0x01]))
      framed[0] = 1
      s.end(framed)
    },
    '/text': (s) => {
      s.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true })
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }))
      s.end(grpcFrame(Buffer.from([0x08, 0x01])))
    },
    '/good': (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc+proto' }, { waitForTrailers: true })
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }))
      s.end(grpcFrame(Buffer.from('anything')))
    },
  }
  const requests: IncomingHttpHeaders[] = []
  const server = createServer()
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    requests.push(headers)
    stream.resume()
    stream.on('end', () => answers[String(headers[':path'])](stream))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  const expected: Record<string, string> = {
    '/http503': 'http-5xx',
    '/http404': 'http-4xx',
    '/no-status': 'protocol',
    '/junk-status': 'protocol',
    '/two-messages': 'protocol',
    '/no-message': 'protocol',
    '/compressed': 'protocol',
    '/text': 'protocol',
    '/good': 'ok',
  }
  for (const [path, outcome] of Object.entries(expected)) {
    const d = drive(createGrpcClient, grpcTarget(port, { path }))
    await run(d, 2)
    await d.client.close()
    t.same(d.collected.tally(), { [outcome]: 2 }, path)
  }
  const sent = requests[0]
  t.equal(sent[':method'], 'POST')
  t.equal(sent['content-type'], 'application/grpc')
  t.equal(sent.te, 'trailers')
})

t.test('a server that stops: its open calls are reset, and new ones refused', async (t) => {
  const rig = await grpcServer(grpc.ServerCredentials.createInsecure())
  const d = drive(createGrpcClient, grpcTarget(rig.port, { path: '/test.Echo/Hang' }))
  t.teardown(() => d.client.close())
  for (let i = 0; i < 5; i++) d.client.send(i)
  while (rig.hanging < 5) await sleep(5)
  rig.server.forceShutdown()
  await d.collected.waitFor(5)
  t.same(d.collected.tally(), { reset: 5 })
  await run(d, 5, 10)
  t.same(d.collected.tally(), { reset: 5, refused: 5 })
  t.same(d.collected.repeated, [])
})
