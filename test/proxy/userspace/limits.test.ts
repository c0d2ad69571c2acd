// The userspace relays' limits on loopback: UDP sessions capped, sockets kept within their
// share of the open-file limit, refusals counted in the metrics, and service resumed as
// sessions and connections end.
import t, { type Test } from 'tap'
import { UserspaceLimits, UserspaceProxier, defaultSocketLimit, openFileLimit } from '../../../proxy/userspace/index.ts'
import { ProxyMetrics } from '../../../proxy/metrics.ts'
import { connectOutcome, eventually, endpoint, freePort, loopbackIP, open, proxyState, servicePort, tcpServer, udpClient, udpServer } from './helpers.ts'

function proxier(t: Test, limits: UserspaceLimits, udpIdleTimeoutMs = 30_000): UserspaceProxier {
  const p = new UserspaceProxier({ family: 4, manageAddresses: false, limits, udpIdleTimeoutMs })
  t.teardown(() => p.close())
  return p
}

async function service(name: string, protocol: 'TCP' | 'UDP') {
  const clusterIP = loopbackIP()
  return servicePort({ name, clusterIP, port: await freePort(clusterIP), protocol })
}

async function metric(metrics: ProxyMetrics, name: string, labels = ''): Promise<number> {
  const text = await metrics.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)))
  return line === undefined ? NaN : Number(line.split(' ')[1])
}

t.test('the open-file limit and the relays share of it', async (t) => {
  t.equal(openFileLimit('Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n'), 20000)
  t.equal(openFileLimit('Max open files            unlimited            unlimited            files\n'), undefined)
  t.equal(openFileLimit('garbage'), undefined)
  t.ok((openFileLimit() ?? 0) > 0, 'this process has one')
  t.equal(defaultSocketLimit(1024), 768)
  t.equal(defaultSocketLimit(20_000), 16_000)
  t.equal(defaultSocketLimit(100), 50, 'never more than half as headroom')
  t.equal(defaultSocketLimit(1_048_576), 838_860)
  t.throws(() => new UserspaceLimits({ udpSessionLimit: 0 }), /positive integer/)
})

t.test('UDP: sessions past the limit are dropped and counted; idle ones make room', async (t) => {
  const up = await udpServer(t, 'up')
  const sp = await service('udp-cap', 'UDP')
  const limits = new UserspaceLimits({ udpSessionLimit: 3, socketLimit: 1000 })
  const metrics = new ProxyMetrics()
  metrics.watchUserspace(limits)
  const p = proxier(t, limits, 1000)
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', up.port)] }]), 'all')
  const clients = await Promise.all(Array.from({ length: 5 }, () => udpClient(t, sp.clusterIP, sp.port)))
  const first = await Promise.all(clients.slice(0, 3).map((c, i) => c.ask(`a${i}`)))
  t.same(first.map((r) => r.text), ['up:a0', 'up:a1', 'up:a2'], 'three sessions are served')
  const over = await Promise.all(clients.slice(3).map((c, i) => c.ask(`b${i}`, 300)))
  t.same(over.map((r) => r.text), ['timeout', 'timeout'], 'the fourth and fifth client are dropped')
  t.equal(limits.udpSessions, 3)
  t.equal(await metric(metrics, 'weft_proxy_userspace_udp_sessions'), 3)
  t.equal(await metric(metrics, 'weft_proxy_userspace_udp_sessions_dropped_total', '{reason="session_limit"}'), 2)
  t.equal((await clients[0]!.ask('again')).text, 'up:again', 'an existing session keeps working at the limit')
  t.equal(await eventually(() => limits.udpSessions, (n) => n === 0, 3000), 0, 'idle sessions end')
  t.equal((await clients[4]!.ask('later')).text, 'up:later', 'and a new client is served')
})

t.test('UDP: the socket share caps sessions too', async (t) => {
  const up = await udpServer(t, 'up')
  const sp = await service('udp-fd', 'UDP')
  const limits = new UserspaceLimits({ udpSessionLimit: 100, socketLimit: 2 })
  const metrics = new ProxyMetrics()
  metrics.watchUserspace(limits)
  const p = proxier(t, limits)
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', up.port)] }]), 'all')
  const clients = await Promise.all(Array.from({ length: 3 }, () => udpClient(t, sp.clusterIP, sp.port)))
  const answers = await Promise.all(clients.map((c, i) => c.ask(`${i}`, 400)))
  t.same(answers.map((r) => r.text).sort(), ['timeout', 'up:0', 'up:1'].sort())
  t.equal(await metric(metrics, 'weft_proxy_userspace_udp_sessions_dropped_total', '{reason="fd_limit"}'), 1)
})

t.test('TCP: connections past the socket share are reset; closing one makes room', async (t) => {
  const a = await tcpServer(t, 'a')
  const sp = await service('tcp-fd', 'TCP')
  const limits = new UserspaceLimits({ socketLimit: 6 })
  const metrics = new ProxyMetrics()
  metrics.watchUserspace(limits)
  const p = proxier(t, limits)
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', a.port)] }]), 'all')
  const held = await Promise.all(Array.from({ length: 3 }, () => open(t, sp.clusterIP, sp.port)))
  t.same(held.map((c) => c.name), ['a', 'a', 'a'])
  t.equal(limits.tcpSockets, 6, 'two sockets per connection')
  t.equal(await metric(metrics, 'weft_proxy_userspace_relay_sockets'), 6)
  t.match(await connectOutcome(t, sp.clusterIP, sp.port), /ECONNRESET|closed before/, 'the fourth is reset')
  t.equal(await metric(metrics, 'weft_proxy_userspace_tcp_connections_rejected_total', '{reason="fd_limit"}'), 1)
  t.equal(await held[0]!.echo('still here'), 'still here', 'established connections carry on')
  held[0]!.socket.destroy()
  await eventually(() => limits.tcpSockets, (n) => n === 4)
  t.equal(await connectOutcome(t, sp.clusterIP, sp.port), 'ok', 'a closed connection makes room')
  t.equal(await eventually(() => p.connections, (n) => n === 4), 4)
  await p.close()
  t.equal(limits.tcpSockets, 0, 'a closed proxier no longer counts')
})

t.test('proxiers sharing one UserspaceLimits (the two families) share one budget', async (t) => {
  const a = await tcpServer(t, 'a')
  const limits = new UserspaceLimits({ socketLimit: 2 })
  const first = proxier(t, limits)
  const second = proxier(t, limits)
  const [one, two] = [await service('one', 'TCP'), await service('two', 'TCP')]
  await first.sync(proxyState([{ port: one, endpoints: [endpoint('127.0.0.1', a.port)] }]), 'all')
  await second.sync(proxyState([{ port: two, endpoints: [endpoint('127.0.0.1', a.port)] }]), 'all')
  t.equal(await connectOutcome(t, two.clusterIP, two.port), 'ok', 'alone, the second one serves')
  await eventually(() => limits.sockets, (n) => n === 0)
  const c = await open(t, one.clusterIP, one.port)
  t.equal(c.name, 'a')
  t.equal(limits.sockets, 2)
  t.match(await connectOutcome(t, two.clusterIP, two.port), /ECONNRESET|closed before/, 'the first one holds the whole budget')
})
