import t, { type Test } from 'tap'
import { createServer, type Server, type Socket } from 'node:net'
import { errnoClass } from '../../load/protocols/errno-class.ts'
import { createTcpClient } from '../../load/protocols/tcp.ts'
import type { ErrorClass, LoadClient, ResolvedTarget, TargetEndpoint } from '../../load/types.ts'
import { startProgram } from './programs/child.ts'

interface Outcome {
  token: number
  error: ErrorClass | undefined
  endpoint: string | undefined
}

function target(endpoints: TargetEndpoint[]): ResolvedTarget {
  return { protocol: 'tcp', tls: false, endpoints, authority: '', insecure: false, path: '', method: '', headers: [], description: 'test', spec: 'test' }
}

function client(endpoints: TargetEndpoint[], options: { connections?: number; timeoutMs?: number; identify?: boolean } = {}) {
  const outcomes: Outcome[] = []
  const waiters: { count: number; resolve: () => void }[] = []
  const tcp: LoadClient = createTcpClient({
    target: target(endpoints),
    connections: options.connections ?? 10,
    keepAlive: false,
    timeoutMs: options.timeoutMs ?? 2000,
    identifyEndpoints: options.identify ?? true,
    sink: {
      done(token, error, endpoint) {
        outcomes.push({ token, error, endpoint })
        for (const waiter of waiters) if (outcomes.length >= waiter.count) waiter.resolve()
      },
    },
  })
  const until = (count: number) => new Promise<void>((resolve) => (outcomes.length >= count ? resolve() : waiters.push({ count, resolve })))
  return { tcp, outcomes, until }
}

async function listen(t: Test, onConnection: (socket: Socket) => void = () => {}): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0
  const server = createServer((socket) => {
    connections++
    socket.on('error', () => {})
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return { server, port: address.port, connections: () => connections }
}

t.test('each request connects, spread round-robin over the endpoints', async (t) => {
  const a = await listen(t)
  const b = await listen(t)
  const { tcp, outcomes, until } = client([
    { host: '127.0.0.1', port: a.port, label: 'pod a' },
    { host: '127.0.0.1', port: b.port },
  ])
  for (let token = 0; token < 20; token++) tcp.send(token)
  t.equal(tcp.inFlight, 20)
  await until(20)
  t.equal(tcp.inFlight, 0)
  t.same(new Set(outcomes.map((o) => o.error)), new Set([undefined]))
  t.same(outcomes.map((o) => o.token).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i))
  t.equal(outcomes.filter((o) => o.endpoint === 'pod a').length, 10)
  t.equal(outcomes.filter((o) => o.endpoint === `127.0.0.1:${b.port}`).length, 10)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(a.connections() + b.connections(), 20)
  await tcp.close()
})

t.test('at most `connections` connects at once; the rest wait their turn', async (t) => {
  const server = await listen(t)
  const { tcp, outcomes, until } = client([{ host: '127.0.0.1', port: server.port }], { connections: 2 })
  for (let token = 0; token < 10; token++) tcp.send(token)
  t.equal(tcp.inFlight, 10)
  await until(10)
  t.equal(outcomes.filter((o) => o.error === undefined).length, 10)
  await tcp.close()
})

t.test('without identification no endpoint is named; host names are resolved (localhost)', async (t) => {
  const server = await listen(t)
  const { tcp, outcomes, until } = client([{ host: 'localhost', port: server.port }], { identify: false })
  tcp.send(1)
  await until(1)
  t.same(outcomes, [{ token: 1, error: undefined, endpoint: undefined }])
  await tcp.close()
})

t.test('a closed port is refused', async (t) => {
  const server = await listen(t)
  const port = server.port
  await new Promise<void>((resolve) => server.server.close(() => resolve()))
  const { tcp, outcomes, until } = client([{ host: '127.0.0.1', port }])
  tcp.send(7)
  await until(1)
  t.same(outcomes, [{ token: 7, error: 'refused', endpoint: `127.0.0.1:${port}` }])
  await tcp.close()
})

t.test('a listener that never accepts times out', async (t) => {
  const listener = await startProgram(t, 'unaccepting-listener.ts')
  const { tcp, outcomes, until } = client([{ host: '127.0.0.1', port: listener.port }], { timeoutMs: 300 })
  const began = performance.now()
  for (let token = 0; token < 4; token++) tcp.send(token)
  await until(4)
  const timeouts = outcomes.filter((o) => o.error === 'timeout').length
  t.ok(timeouts >= 2, `${timeouts} of 4 timed out (the accept queue holds one or two)`)
  t.ok(performance.now() - began >= 290, 'not before the timeout')
  await tcp.close()
})

t.test('close ends queued and pending requests without a result', async (t) => {
  const listener = await startProgram(t, 'unaccepting-listener.ts')
  const { tcp, outcomes } = client([{ host: '127.0.0.1', port: listener.port }], { connections: 2, timeoutMs: 10_000 })
  await new Promise<void>((resolve) => {
    // Fill the accept queue first so the next connects hang.
    tcp.send(100)
    setTimeout(resolve, 100)
  })
  for (let token = 0; token < 5; token++) tcp.send(token)
  await tcp.close()
  t.equal(tcp.inFlight, 0)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(outcomes.every((o) => o.token === 100), 'no results after close')
  tcp.send(9)
  t.equal(tcp.inFlight, 0, 'a closed client sends nothing')
})

t.test('bad endpoints are refused when the client is made', async (t) => {
  t.throws(() => client([]), /no endpoints/)
  t.throws(() => client([{ host: 'bad host', port: 80 }]), /neither an IP address nor a host name/)
  t.throws(() => client([{ host: '127.0.0.1', port: 0 }]), /port must be/)
  t.throws(() => client([{ host: '127.0.0.1', port: 70000 }]), /port must be/)
})

t.test('socket errors map to error classes', async (t) => {
  const code = (code: string) => Object.assign(new Error(code), { code })
  t.equal(errnoClass(code('ECONNREFUSED')), 'refused')
  t.equal(errnoClass(code('ECONNRESET')), 'reset')
  t.equal(errnoClass(code('EPIPE')), 'reset')
  t.equal(errnoClass(code('ETIMEDOUT')), 'timeout')
  t.equal(errnoClass(code('EHOSTUNREACH')), 'connect')
  t.equal(errnoClass(code('ENETUNREACH')), 'connect')
  t.equal(errnoClass(code('EADDRNOTAVAIL')), 'connect')
  t.equal(errnoClass(code('ENOTFOUND')), 'name-resolution')
  t.equal(errnoClass(code('EAI_AGAIN')), 'name-resolution')
  t.equal(errnoClass(code('DEPTH_ZERO_SELF_SIGNED_CERT')), 'tls')
  t.equal(errnoClass(code('ERR_TLS_CERT_ALTNAME_INVALID')), 'tls')
  t.equal(errnoClass(code('ERR_SSL_WRONG_VERSION_NUMBER')), 'tls')
  t.equal(errnoClass(Object.assign(new Error('x'), { library: 'SSL routines' })), 'tls')
  t.equal(errnoClass(new Error('what')), 'other')
  t.equal(errnoClass(undefined), 'other')
})
