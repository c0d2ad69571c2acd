// The proxy's flags, shared by `weft proxy` and `weft agent`.
import { availableParallelism } from 'node:os'
import t from 'tap'
import { ipList, parseDuration } from '../../src/cli/flag-values.ts'
import { proxyConfigFrom } from '../../src/cli/proxy.ts'

t.test('durations', async (t) => {
  t.equal(parseDuration('--x', '250ms'), 250)
  t.equal(parseDuration('--x', '30s'), 30_000)
  t.equal(parseDuration('--x', '10m'), 600_000)
  t.equal(parseDuration('--x', '1.5h'), 5_400_000)
  t.throws(() => parseDuration('--min-sync-period', '5'), /--min-sync-period "5" must be a positive duration/)
  t.throws(() => parseDuration('--x', '0s'), /positive duration/)
})

t.test('defaults, and bad values named by their flag', async (t) => {
  t.same(proxyConfigFrom({}), {
    mode: 'auto',
    serviceCIDRs: ['10.96.0.0/12'],
    clusterCIDRs: ['10.244.0.0/16'],
    healthzListen: '0.0.0.0:10256',
    metricsListen: '127.0.0.1:10249',
    minSyncMs: 100,
    fullSyncMs: 600_000,
    udpIdleTimeoutMs: 30_000,
    udpSessionLimit: 10_000,
    tcpIdleTimeoutMs: 3_600_000,
    strictArp: true,
    userspaceWorkers: Math.min(availableParallelism(), 4),
  })
  t.same(proxyConfigFrom({ 'service-cidr': '10.96.0.0/16, fd00:96::/112', 'proxy-mode': 'userspace' }).serviceCIDRs, ['10.96.0.0/16', 'fd00:96::/112'])
  t.throws(() => proxyConfigFrom({ 'service-cidr': '10.96.0.0/33' }), /--service-cidr: /)
  t.throws(() => proxyConfigFrom({ 'service-cidr': '' }), /--service-cidr must name at least one CIDR/)
  t.throws(() => proxyConfigFrom({ 'proxy-mode': 'ipvs' }), /must be nftables, userspace or auto/)
})

t.test('userspace relay threads', async (t) => {
  t.equal(proxyConfigFrom({ 'userspace-workers': '1' }).userspaceWorkers, 1)
  t.equal(proxyConfigFrom({ 'userspace-workers': '8' }).userspaceWorkers, 8)
  for (const bad of ['0', '65', '1.5', 'two']) t.throws(() => proxyConfigFrom({ 'userspace-workers': bad }), /--userspace-workers ".*" must be a whole number of threads from 1 to 64/, bad)
})

t.test('userspace limits and strict ARP', async (t) => {
  t.equal(proxyConfigFrom({ 'udp-session-limit': '500' }).udpSessionLimit, 500)
  for (const bad of ['0', '-1', '1.5', '1e3', 'many', ''])
    t.throws(() => proxyConfigFrom({ 'udp-session-limit': bad }), /--udp-session-limit ".*" must be a whole number of sessions, at least 1/, `rejects "${bad}"`)
  t.equal(proxyConfigFrom({ 'strict-arp': 'false' }).strictArp, false)
  t.equal(proxyConfigFrom({ 'strict-arp': 'true' }).strictArp, true)
  t.throws(() => proxyConfigFrom({ 'strict-arp': 'yes' }), /--strict-arp must be true or false, not "yes"/)
})

t.test('the TCP idle timeout: a duration, 0 to disable, no longer than timers can wait', async (t) => {
  t.equal(proxyConfigFrom({ 'tcp-idle-timeout': '15m' }).tcpIdleTimeoutMs, 900_000)
  t.equal(proxyConfigFrom({ 'tcp-idle-timeout': '24h' }).tcpIdleTimeoutMs, 86_400_000)
  for (const off of ['0', '0s', '0ms', '0h']) t.equal(proxyConfigFrom({ 'tcp-idle-timeout': off }).tcpIdleTimeoutMs, 0, `"${off}" disables it`)
  t.equal(proxyConfigFrom({ 'tcp-idle-timeout': '0.5ms' }).tcpIdleTimeoutMs, 1, 'whole milliseconds, rounded up (never to 0)')
  for (const bad of ['-1s', '5', 'forever', ''])
    t.throws(() => proxyConfigFrom({ 'tcp-idle-timeout': bad }), /--tcp-idle-timeout ".*" must be a duration like 30m or 1h, or 0 to disable the idle timeout/, `rejects "${bad}"`)
  t.throws(() => proxyConfigFrom({ 'tcp-idle-timeout': '597h' }), /--tcp-idle-timeout "597h" is longer than 596h, the longest timer Node.js keeps; use 0 to disable the idle timeout/)
})

t.test('durations that become timers are no longer than a Node.js timer can wait', async (t) => {
  // Longer ones fire at once: a 1000h --udp-timeout would end every UDP session after 1 ms.
  for (const flag of ['udp-timeout', 'min-sync-period', 'full-sync-period'])
    t.throws(() => proxyConfigFrom({ [flag]: '1000h' }), new RegExp(`--${flag} "1000h" is longer than 596h, the longest timer Node.js keeps`), flag)
  t.equal(proxyConfigFrom({ 'udp-timeout': '596h' }).udpIdleTimeoutMs, 596 * 3_600_000)
})

t.test('--service-cidr and --cluster-cidr: parsed once, written back canonical, named when bad', async (t) => {
  const c = proxyConfigFrom({ 'service-cidr': '10.96.0.1/12, FD00:96:0::0/112', 'cluster-cidr': '10.244.7.7/16,fd00:0244::/56' })
  t.same(c.serviceCIDRs, ['10.96.0.0/12', 'fd00:96::/112'], 'host bits cleared, IPv6 as RFC 5952')
  t.same(c.clusterCIDRs, ['10.244.0.0/16', 'fd00:244::/56'])
  for (const bad of ['10.96.0.0/12 } ; flush ruleset', '::ffff:10.96.0.0/108', 'fe80::%eth0/64', '10.96.0.0', '010.96.0.0/12'])
    t.throws(() => proxyConfigFrom({ 'cluster-cidr': bad }), new RegExp(`^--cluster-cidr: ".*" is not a CIDR`), `refuses ${JSON.stringify(bad)}`)
})

t.test('address lists come out canonical', async (t) => {
  t.same(ipList('--node-ip', ' 192.168.1.10 , FD00:0:0::10 '), ['192.168.1.10', 'fd00::10'])
  t.same(ipList('--node-ip', ''), [])
})
