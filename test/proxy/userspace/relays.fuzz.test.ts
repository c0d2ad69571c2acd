// Fuzzing the userspace relays on loopback: seeded bursts of UDP clients (random sizes and
// contents, many source ports), TCP clients that reset, half-close, send garbage or vanish,
// and endpoint churn (dead endpoints, none at all), against small limits. After every case
// the limits hold; at the end the Services still answer, and sockets, sessions and fds are
// back to their baseline.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { ProxyMetrics } from '../../../proxy/metrics.ts'
import { UserspaceLimits, UserspaceProxier } from '../../../proxy/userspace/index.ts'
import type { ServiceEntry } from '../../../proxy/model.ts'
import { Rng, fuzzSettings, openFdCount } from '../../helpers/fuzz.ts'
import { eventually, endpoint, freePort, landsOn, loopbackIP, proxyState, servicePort, sleep, tcpServer, udpClient, udpServer } from './helpers.ts'

const settings = fuzzSettings(120)
const SESSION_LIMIT = 16
const SOCKET_LIMIT = 40

t.test(`userspace relays under seeded abuse (seed ${settings.seed}, ${settings.iterations} cases)`, async (t) => {
  const rng = new Rng(settings.seed)
  const [tcpUp, udpUp] = [await tcpServer(t, 'up'), await udpServer(t, 'up')]
  const deadPort = await freePort()
  const ip = loopbackIP()
  const tcpPort = servicePort({ name: 'tcp', clusterIP: ip, port: await freePort(ip), protocol: 'TCP' })
  const udpPort = servicePort({ name: 'udp', clusterIP: ip, port: await freePort(ip), protocol: 'UDP' })
  const limits = new UserspaceLimits({ udpSessionLimit: SESSION_LIMIT, socketLimit: SOCKET_LIMIT })
  const metrics = new ProxyMetrics()
  metrics.watchUserspace(limits)
  const p = new UserspaceProxier({ family: 4, manageAddresses: false, limits, udpIdleTimeoutMs: 150, connectTimeoutMs: 300 })
  t.teardown(() => p.close())
  const live = { tcp: endpoint('127.0.0.1', tcpUp.port), udp: endpoint('127.0.0.1', udpUp.port) }
  const dead = endpoint('127.0.0.1', deadPort)
  const state = (tcp: ServiceEntry['endpoints'], udp: ServiceEntry['endpoints']) =>
    proxyState([
      { port: tcpPort, endpoints: tcp },
      { port: udpPort, endpoints: udp },
    ])
  await p.sync(state([live.tcp], [live.udp]), 'all')
  // Warm the code paths once so lazily opened handles are in the baseline.
  t.equal(await landsOn(t, ip, tcpPort.port), 'up')
  t.equal((await (await udpClient(t, ip, udpPort.port)).ask('warm')).text, 'up:warm')
  await eventually(() => limits.sockets, (n) => n === 0, 2000)
  const baselineFds = openFdCount()
  const baselineRss = process.memoryUsage().rss

  const payload = (): Buffer => {
    switch (rng.int(4)) {
      case 0:
        return Buffer.alloc(0)
      case 1:
        return Buffer.from(rng.hostileString())
      case 2:
        return rng.bytes(rng.int(1500))
      default:
        return rng.bytes(rng.chance(0.1) ? 60_000 + rng.int(5000) : rng.int(200))
    }
  }

  async function udpBurst(): Promise<void> {
    const clients: UdpSocket[] = []
    const n = 1 + rng.int(SESSION_LIMIT * 2)
    for (let i = 0; i < n; i++) {
      const s = createSocket('udp4')
      s.on('error', () => {})
      clients.push(s)
      await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()))
      for (let k = 1 + rng.int(3); k > 0; k--) s.send(payload(), udpPort.port, ip)
    }
    await sleep(rng.int(40))
    for (const s of clients) s.close()
  }

  async function tcpBurst(): Promise<void> {
    const n = 1 + rng.int(SOCKET_LIMIT)
    const done: Promise<void>[] = []
    const held: Socket[] = []
    const holdAll = rng.chance(0.3)
    for (let i = 0; i < n; i++) {
      const behaviour = holdAll ? 5 : rng.int(6)
      const data = payload()
      const wait = rng.int(60)
      const s: Socket = connect({ host: ip, port: tcpPort.port })
      done.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => s.destroy(), 1000)
          s.on('error', () => {})
          s.on('close', () => {
            clearTimeout(timer)
            resolve()
          })
          // The relay greets through the upstream; a refused connection is reset instead.
          s.once('data', () => {
            if (behaviour === 5) held.push(s)
          })
          s.on('data', () => {})
          s.on('connect', () => {
            if (behaviour === 5) return
            if (behaviour === 0) s.resetAndDestroy()
            else if (behaviour === 1) s.end(data)
            else if (behaviour === 2) s.write(data, () => setTimeout(() => s.destroy(), wait))
            else if (behaviour === 3) setTimeout(() => s.end(), wait)
            else s.destroy()
          })
        }),
      )
    }
    // Held connections stay open until the burst's others are done, so the relays fill up.
    await Promise.race([Promise.all(done), sleep(300)])
    for (const s of held) s.destroy()
    await Promise.all(done)
  }

  async function churn(): Promise<void> {
    const pickSet = (good: ServiceEntry['endpoints'][number]) => {
      switch (rng.int(4)) {
        case 0:
          return []
        case 1:
          return [dead]
        case 2:
          return [dead, good]
        default:
          return [good]
      }
    }
    await p.sync(state(pickSet(live.tcp), pickSet(live.udp)), rng.chance(0.3) ? 'all' : new Set([tcpPort.id, udpPort.id]))
  }

  let maxSockets = 0
  let maxSessions = 0
  const sampler = setInterval(() => {
    maxSockets = Math.max(maxSockets, limits.sockets)
    maxSessions = Math.max(maxSessions, limits.udpSessions)
  }, 1)
  t.teardown(() => clearInterval(sampler))
  for (let i = 0; i < settings.iterations; i++) {
    const op = rng.pick(['udp', 'tcp', 'churn', 'udp', 'tcp'] as const)
    try {
      if (op === 'udp') await udpBurst()
      else if (op === 'tcp') await tcpBurst()
      else await churn()
    } catch (err) {
      t.fail(`case ${i} (${op}, seed ${settings.seed}) threw: ${(err as Error).stack}`)
      break
    }
    maxSockets = Math.max(maxSockets, limits.sockets)
    maxSessions = Math.max(maxSessions, limits.udpSessions)
    if (limits.sockets > SOCKET_LIMIT || limits.udpSessions > SESSION_LIMIT) {
      t.fail(`case ${i} (${op}, seed ${settings.seed}): ${limits.sockets} sockets, ${limits.udpSessions} sessions over the limits`)
      break
    }
  }
  clearInterval(sampler)
  t.ok(maxSockets <= SOCKET_LIMIT && maxSessions <= SESSION_LIMIT, `the limits held (peak ${maxSockets} sockets, ${maxSessions} sessions)`)
  t.comment(`refused: ${(await metrics.registry.metrics()).split('\n').filter((l) => /^weft_proxy_userspace_(udp_sessions_dropped|tcp_connections_rejected)_total\{/.test(l)).join(', ')}`)

  await p.sync(state([live.tcp], [live.udp]), 'all')
  t.equal(await eventually(() => limits.sockets, (n) => n === 0, 5000), 0, 'every relay socket closed')
  t.equal(limits.udpSessions, 0, 'every UDP session ended')
  t.equal(await landsOn(t, ip, tcpPort.port), 'up', 'the TCP Service still answers')
  t.equal((await (await udpClient(t, ip, udpPort.port)).ask('after')).text, 'up:after', 'the UDP Service still answers')
  await eventually(() => limits.sockets, (n) => n === 0, 2000)
  const fds = await eventually(openFdCount, (n) => n <= baselineFds + 2, 5000)
  t.ok(fds <= baselineFds + 2, `fds back to the baseline (${baselineFds} → ${fds})`)
  const grown = (process.memoryUsage().rss - baselineRss) / 2 ** 20
  t.ok(grown < 256, `memory sane (rss +${grown.toFixed(1)} MiB)`)
})
