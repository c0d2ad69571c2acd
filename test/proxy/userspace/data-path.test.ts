// The userspace proxier's data path on loopback, in the test process: Service addresses are
// taken from 127.0.0.0/8 (already local), so address management is off.
import t, { type Test } from 'tap'
import { ListenError, UserspaceProxier, type ConnectionPolicy, type RelayedConnection } from '../../../proxy/userspace/index.ts'
import type { ServiceEntry } from '../../../proxy/model.ts'
import { connectOutcome, eventually, endpoint, freePort, landsOn, loopbackIP, open, proxyState, servicePort, sleep, tcpServer, udpClient, udpServer } from './helpers.ts'

function proxier(t: Test, opts: { udpIdleTimeoutMs?: number; connectionPolicy?: ConnectionPolicy } = {}): UserspaceProxier {
  const p = new UserspaceProxier({ family: 4, manageAddresses: false, ...opts })
  t.teardown(() => p.close())
  return p
}

async function service(name: string, over: { protocol?: 'TCP' | 'UDP' | 'SCTP'; affinitySeconds?: number; nodePort?: number } = {}) {
  const clusterIP = loopbackIP()
  const port = await freePort(clusterIP)
  return servicePort({ name, clusterIP, port, ...over })
}

t.test('round robin over the endpoints', async (t) => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => tcpServer(t, n)))
  const sp = await service('rr')
  const p = proxier(t)
  const stats = await p.sync(proxyState([{ port: sp, endpoints: [a, b, c].map((s) => endpoint('127.0.0.1', s.port)) }]), 'all')
  t.same(stats, { servicesChanged: 1, operations: 1 })
  const seen: string[] = []
  for (let i = 0; i < 6; i++) seen.push(await landsOn(t, sp.clusterIP, sp.port))
  t.same(seen, ['a', 'b', 'c', 'a', 'b', 'c'])
  t.equal(await eventually(() => p.connections, (n) => n === 0), 0, 'no socket is left behind once the clients closed')
})

t.test('a refused endpoint is skipped for the next one', async (t) => {
  const live = await tcpServer(t, 'live')
  const dead = await freePort()
  const sp = await service('retry')
  const p = proxier(t)
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', dead), endpoint('127.0.0.1', live.port)] }]), 'all')
  for (let i = 0; i < 4; i++) t.equal(await landsOn(t, sp.clusterIP, sp.port), 'live')
})

t.test('every endpoint refusing resets the client', async (t) => {
  const sp = await service('allDead')
  const p = proxier(t)
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', await freePort()), endpoint('127.0.0.1', await freePort())] }]), 'all')
  t.match(await connectOutcome(t, sp.clusterIP, sp.port), /ECONNRESET|closed before/)
})

t.test('ClientIP affinity sticks, per client, until idle for the timeout', async (t) => {
  const [a, b] = await Promise.all(['a', 'b'].map((n) => tcpServer(t, n)))
  const sp = await service('sticky', { affinitySeconds: 1 })
  const p = proxier(t)
  await p.sync(proxyState([{ port: sp, endpoints: [a, b].map((s) => endpoint('127.0.0.1', s.port)) }]), 'all')
  const first = await landsOn(t, sp.clusterIP, sp.port, '127.0.0.1')
  for (let i = 0; i < 3; i++) t.equal(await landsOn(t, sp.clusterIP, sp.port, '127.0.0.1'), first, 'the same client stays')
  const other = await landsOn(t, sp.clusterIP, sp.port, '127.0.0.3')
  t.not(other, first, 'another client takes the next endpoint')
  t.equal(await landsOn(t, sp.clusterIP, sp.port, '127.0.0.3'), other)
  await sleep(1300)
  t.equal(await landsOn(t, sp.clusterIP, sp.port, '127.0.0.3'), first, 'after an idle timeout a client is balanced afresh')
  t.equal(await landsOn(t, sp.clusterIP, sp.port, '127.0.0.1'), other, 'and so is the other')
})

t.test('no endpoints: refused at once; endpoints back: served', async (t) => {
  const a = await tcpServer(t, 'a')
  const sp = await service('empty')
  const p = proxier(t)
  const empty: ServiceEntry = { port: sp, endpoints: [endpoint('127.0.0.1', a.port, { ready: false })] }
  await p.sync(proxyState([empty]), 'all')
  t.equal(await connectOutcome(t, sp.clusterIP, sp.port), 'ECONNREFUSED')
  t.same(p.listeners(sp.id), [{ key: `${sp.clusterIP}:${sp.port}`, listening: false }])
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', a.port)] }]), new Set([sp.id]))
  t.equal(await connectOutcome(t, sp.clusterIP, sp.port), 'ok')
  await p.sync(proxyState([empty]), new Set([sp.id]))
  t.equal(await connectOutcome(t, sp.clusterIP, sp.port), 'ECONNREFUSED', 'refused again when they go')
})

t.test('established connections survive endpoint changes and the removal of their Service', async (t) => {
  const [a, b] = await Promise.all(['a', 'b'].map((n) => tcpServer(t, n)))
  const sp = await service('keep')
  const p = proxier(t)
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', a.port)] }]), 'all')
  const conn = await open(t, sp.clusterIP, sp.port)
  t.equal(conn.name, 'a')
  t.equal(await conn.echo('one'), 'one')
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', b.port)] }]), new Set([sp.id]))
  t.equal(await conn.echo('two'), 'two', 'the old connection still talks to a')
  t.equal(await landsOn(t, sp.clusterIP, sp.port), 'b', 'new connections go to b')
  await p.sync(proxyState([]), new Set([sp.id]))
  t.equal(await connectOutcome(t, sp.clusterIP, sp.port), 'ECONNREFUSED', 'a removed Service refuses')
  t.same(p.listeners(sp.id), [])
  t.equal(await conn.echo('three'), 'three', 'the established connection is not cut')
  conn.socket.end()
  await new Promise((resolve) => conn.socket.on('close', resolve))
  t.equal(await eventually(() => p.connections, (n) => n === 0), 0)
})

t.test('half-close: the client may stop sending and still read the reply', async (t) => {
  const a = await tcpServer(t, 'a')
  const sp = await service('half')
  const p = proxier(t)
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', a.port)] }]), 'all')
  const conn = await open(t, sp.clusterIP, sp.port)
  let rest = ''
  conn.socket.on('data', (s: string) => (rest += s))
  conn.socket.end('bye')
  await new Promise((resolve) => conn.socket.on('close', resolve))
  t.equal(rest, 'bye', 'the echo arrives after our FIN, then the server closes')
})

t.test('UDP request and response, sessions and their idle expiry', async (t) => {
  const servers = await Promise.all(['a', 'b', 'c'].map((n) => udpServer(t, n)))
  const sp = await service('dns', { protocol: 'UDP' })
  const p = proxier(t, { udpIdleTimeoutMs: 300 })
  await p.sync(proxyState([{ port: sp, endpoints: servers.map((s) => endpoint('127.0.0.1', s.port)) }]), 'all')
  const c = await udpClient(t, sp.clusterIP, sp.port)
  const r1 = await c.ask('q1')
  t.equal(r1.text, 'a:q1')
  t.equal(r1.from, `${sp.clusterIP}:${sp.port}`, 'the reply comes from the Service address')
  t.equal((await c.ask('q2')).text, 'a:q2', 'one session keeps its endpoint')
  const c2 = await udpClient(t, sp.clusterIP, sp.port)
  t.equal((await c2.ask('x')).text, 'b:x', 'another client port is another session')
  await sleep(700)
  t.equal((await c.ask('q3')).text, 'c:q3', 'after the idle timeout a new session is balanced afresh')
  await p.sync(proxyState([{ port: sp, endpoints: [] }]), new Set([sp.id]))
  t.equal((await c.ask('q4')).text, 'ECONNREFUSED', 'no endpoints: the port is closed, the kernel refuses')
})

t.test('NodePort listens on every address', async (t) => {
  const a = await tcpServer(t, 'a')
  const nodePort = await freePort('0.0.0.0')
  const sp = await service('np', { nodePort })
  const p = proxier(t)
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', a.port)] }]), 'all')
  t.equal(await landsOn(t, '127.0.0.1', nodePort), 'a')
  t.equal(await landsOn(t, sp.clusterIP, sp.port), 'a', 'and the ClusterIP too')
  t.same(p.listeners(sp.id).map((l) => l.key).sort(), [`${sp.clusterIP}:${sp.port}`, `0.0.0.0:${nodePort}`].sort())
})

t.test('a port that cannot be bound fails the sync but not the other ports', async (t) => {
  const a = await tcpServer(t, 'a')
  const u = await udpServer(t, 'u')
  const good = await service('good')
  const clash = servicePort({ name: 'clash', clusterIP: '127.0.0.1', port: a.port })
  const udpClash = servicePort({ name: 'uclash', clusterIP: '127.0.0.1', port: u.port, protocol: 'UDP' })
  const sctp = servicePort({ name: 'sctp', clusterIP: loopbackIP(), port: 9, protocol: 'SCTP' })
  const p = proxier(t)
  const state = proxyState([good, clash, udpClash, sctp].map((port) => ({ port, endpoints: [endpoint('127.0.0.1', a.port)] })))
  const err = await p.sync(state, 'all').catch((e: unknown) => e)
  t.ok(err instanceof ListenError)
  t.same(
    (err as ListenError).failures.map((f) => [f.id, f.listen, (f.error as NodeJS.ErrnoException).code]).sort(),
    [
      [clash.id, `127.0.0.1:${a.port}`, 'EADDRINUSE'],
      [udpClash.id, `127.0.0.1:${u.port}`, 'EADDRINUSE'],
    ].sort(),
  )
  t.equal(await landsOn(t, good.clusterIP, good.port), 'a', 'the other Service works')
  t.same(p.listeners(sctp.id), [], 'SCTP is skipped')
  await a.close()
  const b = await tcpServer(t, 'b')
  const fixed = proxyState([good, clash].map((port) => ({ port, endpoints: [endpoint('127.0.0.1', b.port)] })))
  await p.sync(fixed, 'all')
  t.equal(await landsOn(t, '127.0.0.1', a.port), 'b', 'the full resync retries the failed port')
})

t.test('the connection policy (NetworkPolicy) is asked with the endpoint picked: refused TCP is reset, refused UDP gets no session', async (t) => {
  const [a, b] = await Promise.all(['a', 'b'].map((n) => tcpServer(t, n)))
  const [ua, ub] = await Promise.all(['ua', 'ub'].map((n) => udpServer(t, n)))
  const asked: RelayedConnection[] = []
  let denied = new Set<number>([b.port, ub.port])
  const p = proxier(t, { connectionPolicy: (c) => (asked.push(c), !denied.has(c.port)) })
  const tcp = await service('np-tcp')
  const udp = await service('np-udp', { protocol: 'UDP' })
  const nodeIP = loopbackIP()
  await p.sync({ ...proxyState([
    { port: tcp, endpoints: [a, b].map((s) => endpoint('127.0.0.1', s.port)) },
    { port: udp, endpoints: [ua, ub].map((s) => endpoint('127.0.0.1', s.port)) },
  ]), nodeIPs: [nodeIP] }, 'all')
  t.equal(await landsOn(t, tcp.clusterIP, tcp.port, '127.0.0.1'), 'a', 'allowed to a')
  t.match(await connectOutcome(t, tcp.clusterIP, tcp.port), /ECONNRESET|closed before/, 'b picked and denied: reset, no other endpoint tried')
  t.match(asked.slice(0, 2), [{ source: '127.0.0.1', destination: '127.0.0.1', protocol: 'TCP', port: a.port }, { protocol: 'TCP', port: b.port }])
  t.equal(asked.length, 2, 'asked once per connection')
  const c1 = await udpClient(t, udp.clusterIP, udp.port)
  t.equal((await c1.ask('x')).text, 'ua:x')
  const c2 = await udpClient(t, udp.clusterIP, udp.port)
  t.equal((await c2.ask('y', 500)).text, 'timeout', 'a client whose endpoint is denied gets no session: dropped')
  denied = new Set()
  t.equal((await c1.ask('z')).text, 'ua:z', 'a session keeps going without being asked again')
  t.equal(asked.filter((c) => c.protocol === 'UDP').length, 2)
  t.equal(await landsOn(t, tcp.clusterIP, tcp.port, tcp.clusterIP), 'a', 'the node itself, from the Service address')
  t.match(asked.at(-1), { source: nodeIP, protocol: 'TCP' }, "is asked about as the node's address")
})
