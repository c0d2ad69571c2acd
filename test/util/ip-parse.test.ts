import t from 'tap'
import { parseCIDR, parseIP, specialIPKind } from '../../src/util/ip-parse.ts'

t.test('parseIP: canonical text, families, what is refused', async (t) => {
  t.match(parseIP('10.1.2.3'), { family: 4, text: '10.1.2.3', mapped: false })
  t.match(parseIP('2001:DB8:0:0:0:0:0:1'), { family: 6, text: '2001:db8::1' })
  t.match(parseIP('::ffff:1.2.3.4'), { family: 4, text: '1.2.3.4', mapped: true }, 'IPv4-mapped IPv6 is IPv4, as Go reads it')
  t.match(parseIP('64:ff9b::1.2.3.4'), { family: 6, text: '64:ff9b::102:304' })
  for (const bad of ['', ' 10.1.2.3', '10.1.2.3 ', '10.1.2.3\n', '10.1.2', '10.1.2.3.4', '300.1.1.1', '1.2.3.-4', '0x7f.0.0.1', 'fe80::1%eth0', '::1/128', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '1.2.3.4:80', 'a'.repeat(100), '10.0.0.1;', '::ffff:1.2.3']) {
    t.equal(parseIP(bad), undefined, JSON.stringify(bad))
    t.equal(parseIP(bad, 'sloppy'), undefined, `sloppy ${JSON.stringify(bad)}`)
  }
  t.equal(parseIP('010.001.002.003'), undefined, 'strict: no leading zeros')
  t.match(parseIP('010.001.002.003', 'sloppy'), { family: 4, text: '10.1.2.3' }, 'sloppy: leading zeros are decimal, never octal')
  t.match(parseIP('::ffff:010.1.2.3', 'sloppy'), { family: 4, text: '10.1.2.3' })
})

t.test('parseCIDR: network text, prefix bounds, mapped prefixes refused', async (t) => {
  t.match(parseCIDR('10.1.2.3/8'), { family: 4, prefix: 8, text: '10.0.0.0/8', ip: { text: '10.1.2.3' } })
  t.match(parseCIDR('2001:db8::1/64'), { family: 6, prefix: 64, text: '2001:db8::/64' })
  t.match(parseCIDR('0.0.0.0/0'), { text: '0.0.0.0/0' })
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/8/8', '10.0.0.0/ 8', ' 10.0.0.0/8', 'fe80::%eth0/64', '::ffff:10.0.0.0/104', '::/129', '10.0.0.0/8\nflush ruleset', '10.0.0.0/1000']) {
    t.equal(parseCIDR(bad), undefined, JSON.stringify(bad))
  }
  t.equal(parseCIDR('10.0.0.0/08'), undefined, 'strict: no leading zero in the prefix')
  t.match(parseCIDR('010.0.0.0/08', 'sloppy'), { text: '10.0.0.0/8' })
})

t.test('specialIPKind follows Go net.IP', async (t) => {
  const kind = (s: string) => specialIPKind(parseIP(s)!)
  t.equal(kind('0.0.0.0'), 'unspecified')
  t.equal(kind('::'), 'unspecified')
  t.equal(kind('127.9.9.9'), 'loopback')
  t.equal(kind('::1'), 'loopback')
  t.equal(kind('::ffff:127.0.0.1'), 'loopback')
  t.equal(kind('169.254.1.1'), 'link-local')
  t.equal(kind('fe80::1'), 'link-local')
  t.equal(kind('febf::1'), 'link-local')
  t.equal(kind('fec0::1'), undefined)
  t.equal(kind('224.0.0.251'), 'link-local-multicast')
  t.equal(kind('224.0.1.1'), undefined)
  t.equal(kind('ff02::1'), 'link-local-multicast')
  t.equal(kind('ff12::1'), 'link-local-multicast')
  t.equal(kind('ff05::1'), undefined)
  t.equal(kind('192.0.2.1'), undefined)
  t.equal(kind('2001:db8::1'), undefined)
})
