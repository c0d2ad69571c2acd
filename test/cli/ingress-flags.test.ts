// `weft ingress` flags: parsing, defaults and the errors a bad value gets.
import t from 'tap'
import { ingressConfigFrom } from '../../src/cli/ingress.ts'
import { withBareBooleans } from '../../src/cli/serve.ts'

const ingressArgs = (argv: string[]) => withBareBooleans(argv, ['ssl-redirect'])

t.test('--ssl-redirect: bare, =BOOL, or a following BOOL; default off', async (t) => {
  t.equal(ingressConfigFrom({}).sslRedirect, false)
  t.equal(ingressConfigFrom({ 'ssl-redirect': 'true' }).sslRedirect, true)
  t.equal(ingressConfigFrom({ 'ssl-redirect': 'FALSE' }).sslRedirect, false)
  t.throws(() => ingressConfigFrom({ 'ssl-redirect': 'yes' }), /--ssl-redirect must be true or false, not "yes"/)
  t.same(ingressArgs(['--ssl-redirect', '--http-listen', ':80']), ['--ssl-redirect=true', '--http-listen', ':80'])
  t.same(ingressArgs(['--ssl-redirect']), ['--ssl-redirect=true'])
  t.same(ingressArgs(['--ssl-redirect', 'false']), ['--ssl-redirect', 'false'])
  t.same(ingressArgs(['--ssl-redirect=false']), ['--ssl-redirect=false'])
})

t.test('--trusted-proxies: addresses and CIDRs, refused with the entry named', async (t) => {
  t.equal(ingressConfigFrom({}).trustedProxies?.size, 0, 'none by default')
  const trusted = ingressConfigFrom({ 'trusted-proxies': '10.0.0.0/8, 192.0.2.1,fd00::/8' }).trustedProxies!
  t.equal(trusted.size, 3)
  for (const [address, want] of [['10.1.2.3', true], ['::ffff:10.1.2.3', true], ['192.0.2.1', true], ['192.0.2.2', false], ['fd12::1', true], ['2001:db8::1', false], ['', false], ['junk', false]] as const) {
    t.equal(trusted.has(address), want, address)
  }
  for (const bad of ['10.0.0.0/8;reboot', '300.1.1.1', '10.0.0.0/', '10.0.0.0/x', '1.2.3.4/-1', 'fe80::1%eth0', '10.0.0.1/08', '::ffff:10.0.0.0/104']) {
    t.throws(() => ingressConfigFrom({ 'trusted-proxies': bad }), /--trusted-proxies: .* is not an IP address or CIDR/, bad)
  }
})

t.test('HTTP/2 limits', async (t) => {
  const d = ingressConfigFrom({})
  t.equal(d.h2MaxConcurrentStreams, 128)
  t.equal(d.h2IdleTimeoutMs, 60_000)
  const c = ingressConfigFrom({ 'h2-max-concurrent-streams': '16', 'h2-idle-timeout': '2m' })
  t.equal(c.h2MaxConcurrentStreams, 16)
  t.equal(c.h2IdleTimeoutMs, 120_000)
  for (const bad of ['0', '-1', '1.5', 'many', '4294967296']) t.throws(() => ingressConfigFrom({ 'h2-max-concurrent-streams': bad }), /--h2-max-concurrent-streams ".*" must be a whole number/, bad)
  for (const bad of ['0', '30', 'soon', '1m30s', '1000h']) t.throws(() => ingressConfigFrom({ 'h2-idle-timeout': bad }), /--h2-idle-timeout ".*" (must be a positive duration|is longer than)/, bad)
})

t.test('--max-connections: a whole number; by default the server derives it from the open-file limit', async (t) => {
  t.equal(ingressConfigFrom({}).maxConnections, undefined)
  t.equal(ingressConfigFrom({ 'max-connections': '500' }).maxConnections, 500)
  for (const bad of ['0', '-1', '1.5', 'lots', '4294967296']) t.throws(() => ingressConfigFrom({ 'max-connections': bad }), /--max-connections ".*" must be a whole number/, bad)
})

t.test('--keep-alive-timeout: 75s by default (ingress-nginx), a duration otherwise', async (t) => {
  t.equal(ingressConfigFrom({}).keepAliveTimeoutMs, 75_000)
  t.equal(ingressConfigFrom({ 'keep-alive-timeout': '5s' }).keepAliveTimeoutMs, 5_000)
  for (const bad of ['0', '5', 'long']) t.throws(() => ingressConfigFrom({ 'keep-alive-timeout': bad }), /--keep-alive-timeout ".*" must be a positive duration/, bad)
})
