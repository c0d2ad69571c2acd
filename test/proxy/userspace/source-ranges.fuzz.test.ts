// Fuzzing loadBalancerSourceRanges and the TCP idle timeout on loopback: seeded bursts of TCP
// and UDP clients from addresses inside and outside the ranges (and from the load-balancer
// IP itself) to the load-balancer IP and the ClusterIP, between syncs that change the ranges
// (valid, none, none valid, mixed with hostile strings) and the node's addresses. Each
// client is relayed exactly when nftables mode's rules would let it in (an oracle written
// here, apart from source-ranges.ts), every refusal is counted once, idle connections are
// closed by the relay, and at the end sockets, sessions and fds are back to their baseline.
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import t from 'tap'
import { ProxyMetrics } from '../../../proxy/metrics.ts'
import type { ServicePort } from '../../../proxy/model.ts'
import { UserspaceLimits, UserspaceProxier } from '../../../proxy/userspace/index.ts'
import { HOSTILE_STRINGS, Rng, fuzzSettings, openFdCount } from '../../helpers/fuzz.ts'
import { endpoint, eventually, freePort, loopbackIP, metricValue, proxyState, servicePort, sleep, tcpServer, udpServer } from './helpers.ts'

const settings = fuzzSettings(40)
const IDLE_MS = 200

interface Ranges {
  /** What the Service says. */
  ranges: string[]
  invalid: boolean
  nodeIPs: string[]
  /** The oracle: who nftables mode admits to the load-balancer IP. */
  admits(source: string, lbIP: string): boolean
}

const inside = (ip: string): boolean => ip.startsWith('127.0.0.')

function rangesCase(rng: Rng): Ranges {
  const nodeIPs = rng.chance(0.5) ? ['127.0.0.250'] : ['10.1.2.3']
  const nodeIn = nodeIPs[0] === '127.0.0.250'
  const hostile = () => Array.from({ length: 1 + rng.int(3) }, () => (rng.chance(0.5) ? rng.pick(HOSTILE_STRINGS) : rng.hostileString()))
  switch (rng.int(5)) {
    case 0:
      return { ranges: [], invalid: false, nodeIPs, admits: () => true }
    case 1:
      return { ranges: ['127.0.0.0/24'], invalid: false, nodeIPs, admits: (s, lb) => inside(s) || (nodeIn && s === lb) }
    case 2:
      return { ranges: [], invalid: true, nodeIPs, admits: () => false }
    case 3:
      // Values that got past every earlier parser some other way: left out, the valid one kept.
      return { ranges: [...hostile(), '127.0.0.0/24'], invalid: false, nodeIPs, admits: (s, lb) => inside(s) || (nodeIn && s === lb) }
    default:
      return { ranges: hostile(), invalid: false, nodeIPs, admits: () => false }
  }
}

t.test(`source ranges and idle timeouts under seeded clients (seed ${settings.seed}, ${settings.iterations} cases)`, async (t) => {
  const rng = new Rng(settings.seed)
  const [tcpUp, udpUp] = [await tcpServer(t, 'up'), await udpServer(t, 'up')]
  const clusterIP = loopbackIP()
  let lbIP = loopbackIP()
  // The oracle's "inside" is 127.0.0.0/24: keep the load-balancer IP outside it.
  while (inside(lbIP)) lbIP = loopbackIP()
  const tcpPort = servicePort({ name: 'tcp', clusterIP, port: await freePort(lbIP), loadBalancerIPs: [lbIP] })
  const udpPort = servicePort({ name: 'udp', clusterIP, port: await freePort(lbIP), loadBalancerIPs: [lbIP], protocol: 'UDP' })
  const limits = new UserspaceLimits({ socketLimit: 500 })
  const metrics = new ProxyMetrics()
  metrics.watchUserspace(limits)
  const p = new UserspaceProxier({ family: 4, manageAddresses: false, limits, udpIdleTimeoutMs: 100, tcpIdleTimeoutMs: IDLE_MS })
  t.teardown(() => p.close())
  let current = rangesCase(rng)
  const sync = async (r: Ranges) => {
    const over: Partial<ServicePort> = { loadBalancerSourceRanges: r.ranges, loadBalancerSourcesRestricted: r.invalid }
    await p.sync({ ...proxyState([{ port: { ...tcpPort, ...over }, endpoints: [endpoint('127.0.0.1', tcpUp.port)] }, { port: { ...udpPort, ...over }, endpoints: [endpoint('127.0.0.1', udpUp.port)] }]), nodeIPs: r.nodeIPs }, rng.chance(0.3) ? 'all' : new Set([tcpPort.id, udpPort.id]))
    current = r
  }
  await sync({ ranges: [], invalid: false, nodeIPs: [], admits: () => true })
  const source = (): string => (rng.chance(0.15) ? lbIP : `127.0.${rng.int(2)}.${1 + rng.int(240)}`)
  const target = (): string => (rng.chance(0.7) ? lbIP : clusterIP)

  const expected = { tcp: 0, udp: 0, idle: 0 }
  const failures: string[] = []

  /** One TCP client; resolves once it is closed. */
  function tcpClient(i: number, from: string, to: string): Promise<void> {
    const admitted = to !== lbIP || current.admits(from, lbIP)
    if (!admitted) expected.tcp++
    const behaviour = rng.int(4)
    // Drawn now, not when the greeting arrives: clients run at once, and their draws must not interleave by timing.
    const junk = behaviour === 1 ? rng.bytes(1 + rng.int(2000)) : undefined
    return new Promise((resolve) => {
      const s = connect({ host: to, port: tcpPort.port, localAddress: from })
      let greeted = false
      let closedByPeer = false
      const started = performance.now()
      // A safety net: a connection nobody closes fails the case below.
      const timer = setTimeout(() => s.destroy(), IDLE_MS * 8)
      s.on('error', () => {})
      s.on('end', () => (closedByPeer = true))
      s.once('data', () => {
        greeted = true
        if (behaviour === 0) s.end()
        else if (junk) s.write(junk, () => s.destroy())
        else if (behaviour === 2) s.resetAndDestroy()
        // 3: idle until the relay closes it.
      })
      s.on('close', () => {
        clearTimeout(timer)
        if (greeted !== admitted) failures.push(`case ${i}: ${from} → ${to}: ${greeted ? 'relayed' : 'refused'}, expected ${admitted ? 'relayed' : 'refused'} (ranges ${JSON.stringify(current.ranges)}, invalid ${current.invalid}, nodes ${current.nodeIPs})`)
        if (greeted && behaviour === 3) {
          expected.idle++
          const after = performance.now() - started
          if (!closedByPeer || after < IDLE_MS * 0.9) failures.push(`case ${i}: an idle connection was not closed by the relay after the idle timeout (${Math.round(after)} ms, by peer ${closedByPeer})`)
        }
        resolve()
      })
    })
  }

  /** One UDP datagram; resolves with whether it was answered. */
  async function udpClient(i: number, from: string, to: string): Promise<void> {
    const admitted = to !== lbIP || current.admits(from, lbIP)
    if (!admitted) expected.udp++
    // Drawn before the bind: the clients bind at once, in no fixed order.
    const datagram = rng.chance(0.2) ? Buffer.alloc(0) : rng.bytes(1 + rng.int(1200))
    const s = createSocket('udp4')
    s.on('error', () => {})
    await new Promise<void>((resolve) => s.bind(0, from, () => resolve()))
    const answered = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), admitted ? 1000 : 150)
      s.once('message', () => {
        clearTimeout(timer)
        resolve(true)
      })
      s.send(datagram, udpPort.port, to)
    })
    s.close()
    if (answered !== admitted) failures.push(`case ${i}: UDP ${from} → ${to}: ${answered ? 'answered' : 'dropped'}, expected ${admitted ? 'answered' : 'dropped'} (ranges ${JSON.stringify(current.ranges)}, invalid ${current.invalid}, nodes ${current.nodeIPs})`)
  }

  // Warm the code paths once so lazily opened handles are in the baseline.
  await tcpClient(-1, '127.0.0.1', clusterIP)
  await udpClient(-1, '127.0.0.1', clusterIP)
  await eventually(() => limits.sockets, (n) => n === 0, 2000)
  const baselineFds = openFdCount()
  const baselineRss = process.memoryUsage().rss
  expected.idle = await metricValue(metrics, 'weft_proxy_userspace_tcp_idle_closed_total')

  for (let i = 0; i < settings.iterations && failures.length === 0; i++) {
    const op = rng.pick(['tcp', 'udp', 'sync', 'tcp', 'udp'] as const)
    if (op === 'sync') {
      await sync(rangesCase(rng))
      // A UDP session of a client admitted before would outlive the change (as conntrack does): start afresh.
      await eventually(() => limits.udpSessions, (n) => n === 0, 2000)
    } else if (op === 'tcp') {
      await Promise.all(Array.from({ length: 1 + rng.int(12) }, () => tcpClient(i, source(), target())))
    } else {
      await Promise.all(Array.from({ length: 1 + rng.int(12) }, () => udpClient(i, source(), target())))
    }
  }
  for (const f of failures.slice(0, 5)) t.fail(`${f} (seed ${settings.seed})`)
  t.equal(failures.length, 0, 'every client was relayed exactly when nftables mode would let it in')
  t.equal(await metricValue(metrics, 'weft_proxy_userspace_source_range_refused_total', '{protocol="TCP"}'), expected.tcp, `each refused TCP connection counted once (${expected.tcp})`)
  t.equal(await metricValue(metrics, 'weft_proxy_userspace_source_range_refused_total', '{protocol="UDP"}'), expected.udp, `each dropped datagram counted once (${expected.udp})`)
  t.equal(await metricValue(metrics, 'weft_proxy_userspace_tcp_idle_closed_total'), expected.idle, `each idle connection closed by the relay counted once (${expected.idle})`)

  t.equal(await eventually(() => limits.sockets, (n) => n === 0, 5000), 0, 'every relay socket closed')
  t.equal(await eventually(() => limits.udpSessions, (n) => n === 0, 2000), 0, 'every UDP session ended')
  const fds = await eventually(openFdCount, (n) => n <= baselineFds + 2, 5000)
  t.ok(fds <= baselineFds + 2, `fds back to the baseline (${baselineFds} → ${fds})`)
  const grown = (process.memoryUsage().rss - baselineRss) / 2 ** 20
  t.ok(grown < 256, `memory sane (rss +${grown.toFixed(1)} MiB)`)
  await sleep(0)
})
