// The idle timeout of relayed TCP connections, on loopback with a short timeout: an idle
// connection is closed on both sides and counted, traffic either way keeps it, and the
// sockets it gave back let new connections in past the relays' socket limit.
import { createServer, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { ProxyMetrics } from '../../../proxy/metrics.ts'
import { UserspaceLimits, UserspaceProxier } from '../../../proxy/userspace/index.ts'
import { connectOutcome, endpoint, eventually, freePort, loopbackIP, metricValue, open, proxyState, servicePort, sleep, tcpServer } from './helpers.ts'

// Well above the 50 ms between the ticks that keep connections busy, for a loaded machine.
const IDLE_MS = 400

async function relay(t: Test, upstreamPort: number, opts: { tcpIdleTimeoutMs?: number; socketLimit?: number } = {}) {
  const clusterIP = loopbackIP()
  const sp = servicePort({ name: 'idle', clusterIP, port: await freePort(clusterIP) })
  const limits = new UserspaceLimits({ socketLimit: opts.socketLimit ?? 1000 })
  const metrics = new ProxyMetrics()
  metrics.watchUserspace(limits)
  const proxier = new UserspaceProxier({ family: 4, manageAddresses: false, limits, tcpIdleTimeoutMs: opts.tcpIdleTimeoutMs ?? IDLE_MS })
  t.teardown(() => proxier.close())
  await proxier.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', upstreamPort)] }]), 'all')
  return { sp, proxier, metrics, limits }
}

async function idleClosed(metrics: ProxyMetrics): Promise<number> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith('weft_proxy_userspace_tcp_idle_closed_total '))
  return line === undefined ? NaN : Number(line.split(' ')[1])
}

const closed = (s: Socket): Promise<void> => (s.closed ? Promise.resolve() : new Promise((resolve) => s.once('close', () => resolve())))

t.test('an idle connection is closed on both sides and counted', async (t) => {
  const upstreamSockets: Socket[] = []
  const server = createServer((s) => {
    upstreamSockets.push(s)
    s.on('error', () => {})
    s.write('up\n')
    s.pipe(s)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of upstreamSockets) s.destroy()
    server.close()
  })
  const { sp, proxier, metrics } = await relay(t, (server.address() as { port: number }).port)
  const conn = await open(t, sp.clusterIP, sp.port)
  t.equal(await conn.echo('hi'), 'hi')
  const started = performance.now()
  let ended = false
  conn.socket.on('end', () => (ended = true))
  await Promise.race([closed(conn.socket), sleep(IDLE_MS * 10)])
  const after = performance.now() - started
  t.ok(conn.socket.closed, `the client's connection is closed (after ${Math.round(after)} ms)`)
  t.ok(after >= IDLE_MS * 0.9, 'not before the idle timeout')
  t.ok(ended, 'with a FIN, as a server closing an idle keep-alive connection')
  t.ok(await eventually(() => upstreamSockets.every((s) => s.closed), (v) => v), 'the endpoint side is closed too')
  t.equal(await eventually(() => proxier.connections, (n) => n === 0), 0, 'the relay holds no socket')
  t.equal(await idleClosed(metrics), 1, 'counted in weft_proxy_userspace_tcp_idle_closed_total')
})

t.test('traffic either way keeps a connection open', async (t) => {
  // The server pushes a tick every 50 ms to whoever sends "push".
  const timers = new Set<NodeJS.Timeout>()
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.write('up\n')
    s.on('data', (d) => {
      if (d.toString() !== 'push') return
      const timer = setInterval(() => s.write('.'), 50)
      timers.add(timer)
      s.on('close', () => clearInterval(timer))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const timer of timers) clearInterval(timer)
    for (const s of sockets) s.destroy()
    server.close()
  })
  const { sp, metrics } = await relay(t, (server.address() as { port: number }).port)

  const pushed = await open(t, sp.clusterIP, sp.port)
  pushed.socket.write('push')
  const talker = await open(t, sp.clusterIP, sp.port)
  const talking = setInterval(() => talker.socket.write('x'), 50)
  t.teardown(() => clearInterval(talking))
  await sleep(IDLE_MS * 3)
  t.notOk(pushed.socket.closed, 'a client that only receives stays connected')
  t.notOk(talker.socket.closed, 'a client that only sends stays connected')
  t.equal(await idleClosed(metrics), 0)
  clearInterval(talking)
  for (const timer of timers) clearInterval(timer)
  await Promise.race([Promise.all([closed(pushed.socket), closed(talker.socket)]), sleep(IDLE_MS * 10)])
  t.ok(pushed.socket.closed && talker.socket.closed, 'once both go quiet, both are closed')
  t.equal(await idleClosed(metrics), 2)
})

t.test('idle connections give their sockets back to the relays', async (t) => {
  const up = await tcpServer(t, 'up')
  // Room for two relayed connections (two sockets each).
  const { sp, metrics } = await relay(t, up.port, { socketLimit: 4 })
  const a = await open(t, sp.clusterIP, sp.port)
  const b = await open(t, sp.clusterIP, sp.port)
  t.equal(await connectOutcome(t, sp.clusterIP, sp.port), 'ECONNRESET', 'the limit is reached: a third client is reset')
  t.equal(await metricValue(metrics, 'weft_proxy_userspace_tcp_connections_rejected_total', '{reason="fd_limit"}'), 1)
  await Promise.race([Promise.all([closed(a.socket), closed(b.socket)]), sleep(IDLE_MS * 10)])
  t.ok(a.socket.closed && b.socket.closed, 'the idle ones are closed')
  t.equal(await connectOutcome(t, sp.clusterIP, sp.port), 'ok', 'and a new client is relayed')
})

t.test('0 disables the timeout', async (t) => {
  const up = await tcpServer(t, 'up')
  const { sp, metrics } = await relay(t, up.port, { tcpIdleTimeoutMs: 0 })
  const conn = await open(t, sp.clusterIP, sp.port)
  await sleep(IDLE_MS * 2)
  t.notOk(conn.socket.closed, 'an idle connection stays')
  t.equal(await conn.echo('still'), 'still')
  t.equal(await idleClosed(metrics), 0)
})

t.test('a timeout Node.js timers cannot keep is refused', async (t) => {
  for (const bad of [-1, 1.5, 2 ** 31, Number.NaN])
    t.throws(() => new UserspaceProxier({ family: 4, manageAddresses: false, tcpIdleTimeoutMs: bad }), /the TCP idle timeout must be a whole number of milliseconds from 0 to 2147483647/, `${bad}`)
})
