import t from 'tap'
import { parseIpamConfig, DEFAULT_DATA_DIR } from '../../cni/ipam/config.ts'
import { CniError } from '../../cni/ipam/errors.ts'

const net = (ipam: unknown, name = 'weftnet') => ({ cniVersion: '1.0.0', name, type: 'bridge', ipam })

t.test('legacy single subnet gets host-local defaults', async (t) => {
  const c = parseIpamConfig(JSON.stringify(net({ type: 'host-local', subnet: '10.1.2.0/24' })))
  t.equal(c.name, 'weftnet')
  t.equal(c.dataDir, DEFAULT_DATA_DIR)
  t.equal(c.ranges.length, 1)
  const [r] = c.ranges[0]
  t.equal(r.subnet.text, '10.1.2.0/24')
  t.equal(r.rangeStart, '10.1.2.1')
  t.equal(r.rangeEnd, '10.1.2.254')
  t.equal(r.gateway, '10.1.2.1')
  t.same(c.routes, [])
})

t.test('ranges: dual stack, explicit bounds, routes, dataDir; legacy range comes first', async (t) => {
  const c = parseIpamConfig(net({
    subnet: '192.168.0.0/16', rangeStart: '192.168.1.10', rangeEnd: '192.168.1.20', gateway: '192.168.0.254',
    ranges: [[{ subnet: 'fd00:0:0::/120', gateway: 'fd00::0:1' }], [{ subnet: '10.9.0.0/30' }, { subnet: '10.9.1.0/30' }]],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }],
    dataDir: '/tmp/x',
  }))
  t.equal(c.dataDir, '/tmp/x')
  t.equal(c.ranges.length, 3)
  t.match(c.ranges[0][0], { rangeStart: '192.168.1.10', rangeEnd: '192.168.1.20', gateway: '192.168.0.254' })
  t.match(c.ranges[1][0], { rangeStart: 'fd00::1', rangeEnd: 'fd00::ff', gateway: 'fd00::1' })
  t.equal(c.ranges[1][0].subnet.family, 6)
  t.match(c.ranges[2][1], { rangeStart: '10.9.1.1', rangeEnd: '10.9.1.2' })
  t.same(c.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }])
})

t.test('route destinations are kept in canonical form', async (t) => {
  const c = parseIpamConfig(net({ subnet: '10.0.0.0/24', routes: [{ dst: '10.1.2.3/8' }, { dst: 'FD00:0::/64' }] }))
  t.same(c.routes, [{ dst: '10.0.0.0/8' }, { dst: 'fd00::/64' }])
})

t.test('invalid configs throw CniError 7 naming the field', async (t) => {
  const cases: [unknown, RegExp][] = [
    ['{nope', /not valid JSON/],
    [{ ipam: { subnet: '10.0.0.0/24' } }, /^name/],
    [net({ subnet: '10.0.0.0/24' }, 'bad/name'), /^name/],
    [net(undefined), /^ipam/],
    [net({ type: 'host-local' }), /no IP ranges/],
    [net({ subnet: '10.0.0.0/33' }), /ipam\.subnet/],
    [net({ subnet: '10.0.0.1/24' }), /ipam\.subnet: network has host bits set.*10\.0\.0\.0/],
    [net({ subnet: '10.0.0.0/31' }), /too small/],
    [net({ ranges: [[{ subnet: '10.0.0.0/24', rangeStart: '10.0.1.5' }]] }), /ipam\.ranges\[0\]\[0\]\.rangeStart: 10\.0\.1\.5 not in network/],
    [net({ ranges: [[{ subnet: '10.0.0.0/24', rangeEnd: 'zzz' }]] }), /ipam\.ranges\[0\]\[0\]\.rangeEnd/],
    [net({ ranges: [[{ subnet: '10.0.0.0/24', rangeStart: '10.0.0.9', rangeEnd: '10.0.0.3' }]] }), /after rangeEnd/],
    [net({ ranges: [[{ subnet: '10.0.0.0/24', gateway: 'fd00::1' }]] }), /gateway/],
    [net({ ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }]] }), /mixed address families/],
    [net({ ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: '10.0.0.0/25' }]] }), /overlaps/],
    [net({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: '10.0.0.128/25' }]] }), /range set 0 overlaps with 1/],
    [net({ ranges: [] , subnet: undefined }), /no IP ranges/],
    [net({ ranges: [[]] }), /ipam\.ranges\[0\] must be a non-empty array/],
    [net({ ranges: [[{}]] }), /ipam\.ranges\[0\]\[0\]\.subnet is required/],
    [net({ subnet: '10.0.0.0/24', routes: [{ gw: '10.0.0.1' }] }), /ipam\.routes\[0\]\.dst is required/],
    [net({ subnet: '10.0.0.0/24', routes: [{ dst: '1.2.3.4' }] }), /ipam\.routes\[0\]\.dst/],
    [net({ subnet: '10.0.0.0/24', dataDir: 5 }), /ipam\.dataDir must be a string/],
    // Routes and subnets are pasted into `ip route` lines: nothing but a CIDR passes.
    [net({ subnet: '10.0.0.0/24', routes: [{ dst: '10.0.0.0/8/ via 10.0.0.9' }] }), /ipam\.routes\[0\]\.dst/],
    [net({ subnet: '10.0.0.0/24', routes: [{ dst: '10.0.0.0/0x8' }] }), /ipam\.routes\[0\]\.dst/],
    [net({ subnet: '10.0.0.0/24', routes: [{ dst: '10.0.0.0/ 8' }] }), /ipam\.routes\[0\]\.dst/],
    [net({ subnet: '10.0.0.0/24', routes: [{ dst: ' 10.0.0.0/8' }] }), /ipam\.routes\[0\]\.dst/],
    [net({ subnet: '10.0.0.0/24/7' }), /ipam\.subnet/],
    [net({ subnet: '10.0.0.0/24 ' }), /ipam\.subnet/],
    // IPv6 zones are no part of an address here (src/util/ip-parse.ts refuses them).
    [net({ subnet: 'fe80::%eth0/64' }), /ipam\.subnet: "fe80::%eth0\/64" is not a valid CIDR/],
    [net({ ranges: [[{ subnet: 'fd00::/64', gateway: 'fd00::1%eth0' }]] }), /ipam\.ranges\[0\]\[0\]\.gateway: "fd00::1%eth0" is not an IP address/],
    [net({ subnet: '10.0.0.0/24', routes: [{ dst: '::/0', gw: 'fe80::1%wbr0' }] }), /ipam\.routes\[0\]\.gw/],
    [net({ subnet: '10.0.0.0/+24' }), /ipam\.subnet/],
    // A relative dataDir would follow the plugin's working directory.
    [net({ subnet: '10.0.0.0/24', dataDir: 'var/lib/cni' }), /ipam\.dataDir must be an absolute path/],
    [net({ subnet: '10.0.0.0/24', dataDir: '/var/lib/cni\n' }), /ipam\.dataDir/],
  ]
  for (const [input, re] of cases) {
    try {
      parseIpamConfig(input)
      t.fail(`accepted ${JSON.stringify(input)}`)
    } catch (err) {
      t.ok(err instanceof CniError, 'is a CniError')
      t.equal((err as CniError).code, 7)
      t.match((err as CniError).msg, re)
    }
  }
})
