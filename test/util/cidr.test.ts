import t from 'tap'
import { bigIntToIp, cidrAddress, cidrContains, ipToBigInt, parseCidr } from '../../src/util/cidr.ts'

t.test('parses IPv4 prefixes and addresses in them', async (t) => {
  const c = parseCidr('10.96.0.0/12')
  t.equal(c.family, 4)
  t.equal(c.size, 1n << 20n)
  t.equal(cidrAddress(c, 1n), '10.96.0.1')
  t.equal(cidrAddress(c, 10n), '10.96.0.10')
  t.ok(cidrContains(c, '10.111.255.254'))
  t.notOk(cidrContains(c, '10.112.0.1'))
  t.notOk(cidrContains(c, 'fd00::1'))
  t.equal(parseCidr('10.96.3.7/12').text, '10.96.0.0/12', 'host bits are cleared')
})

t.test('parses IPv6 prefixes and formats canonically', async (t) => {
  const c = parseCidr('fd00:10:96::/108')
  t.equal(c.family, 6)
  t.equal(cidrAddress(c, 10n), 'fd00:10:96::a')
  t.equal(bigIntToIp(ipToBigInt('2001:db8:0:0:1:0:0:1'), 6), '2001:db8::1:0:0:1')
  t.equal(bigIntToIp(ipToBigInt('::ffff:10.0.0.1'), 6), '::ffff:a00:1')
  t.equal(bigIntToIp(0n, 6), '::')
})

t.test('rejects bad prefixes with a clear message', async (t) => {
  for (const bad of ['10.0.0.0', '10.0.0.0/33', 'x/8', '10.0.0.0/-1', 'fd00::/129']) {
    t.throws(() => parseCidr(bad), /not a valid CIDR/, bad)
  }
})
