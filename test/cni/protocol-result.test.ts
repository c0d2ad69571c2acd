import t from 'tap'
import { CniError } from '../../cni/protocol/errors.ts'
import { formatResult, parseResult, toVersion, type CniResult } from '../../cni/protocol/result.ts'

const v11: CniResult = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'weft0', mac: '02:00:00:00:00:01' },
    { name: 'eth0', mac: '02:00:00:00:00:02', mtu: 1450, sandbox: '/var/run/netns/x' },
  ],
  ips: [
    { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 },
    { address: 'fd00:1::5/64', gateway: 'fd00:1::1', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
  dns: { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'] },
}

t.test('1.1.0 to 0.4.0 and back', async (t) => {
  const old = toVersion(v11, '0.4.0')
  t.equal(old.cniVersion, '0.4.0')
  t.same(old.ips?.map((ip) => ip.version), ['4', '6'])
  t.notOk('mtu' in (old.interfaces?.[1] ?? {}), 'mtu is not a 0.4.0 field')
  t.same(parseResult(JSON.parse(JSON.stringify(old)), '0.4.0').ips?.[1].version, '6')
  const back = toVersion(old, '1.1.0')
  t.equal(back.cniVersion, '1.1.0')
  t.notOk(back.ips?.some((ip) => 'version' in ip), 'version dropped in 1.x')
  t.same(back.ips, v11.ips)
  t.same(toVersion(v11, '1.0.0'), { ...v11, cniVersion: '1.0.0' })
  t.throws(() => toVersion(v11, '0.3.1'), CniError)
})

t.test('result validation', async (t) => {
  const cases: { name: string; result: unknown; version?: '0.4.0' | '1.0.0' | '1.1.0'; ok: boolean }[] = [
    { name: 'full', result: v11, ok: true },
    { name: 'empty', result: { cniVersion: '1.1.0' }, ok: true },
    { name: 'bare address', result: { ips: [{ address: '10.1.0.5' }] }, ok: false },
    { name: 'bad prefix', result: { ips: [{ address: '10.1.0.5/33' }] }, ok: false },
    { name: 'v6 prefix 128', result: { ips: [{ address: 'fd00::1/128' }] }, ok: true },
    { name: 'bad gateway', result: { ips: [{ address: '10.1.0.5/24', gateway: 'x' }] }, ok: false },
    { name: 'zoned address', result: { ips: [{ address: 'fe80::5%eth0/64' }] }, ok: false },
    { name: 'zoned gateway', result: { ips: [{ address: 'fe80::5/64', gateway: 'fe80::1%eth0' }] }, ok: false },
    { name: 'zoned route gateway', result: { routes: [{ dst: '::/0', gw: 'fe80::1%eth0' }] }, ok: false },
    { name: 'index past end', result: { interfaces: [{ name: 'eth0' }], ips: [{ address: '10.1.0.5/24', interface: 1 }] }, ok: false },
    { name: 'negative index', result: { interfaces: [{ name: 'eth0' }], ips: [{ address: '10.1.0.5/24', interface: -1 }] }, ok: false },
    { name: 'index without interfaces', result: { ips: [{ address: '10.1.0.5/24', interface: 0 }] }, ok: false },
    { name: 'unnamed interface', result: { interfaces: [{}] }, ok: false },
    { name: 'bad route', result: { routes: [{ dst: 'default' }] }, ok: false },
    { name: 'version mismatch', result: { cniVersion: '1.0.0' }, ok: false },
    { name: '0.4.0 needs version', result: { ips: [{ address: '10.1.0.5/24' }] }, version: '0.4.0', ok: false },
    { name: '0.4.0 wrong family', result: { ips: [{ address: '10.1.0.5/24', version: '6' }] }, version: '0.4.0', ok: false },
    { name: '0.4.0 ok', result: { ips: [{ address: '10.1.0.5/24', version: '4' }] }, version: '0.4.0', ok: true },
    { name: 'not an object', result: [], ok: false },
  ]
  for (const c of cases) {
    const run = (): CniResult => parseResult(c.result, c.version ?? '1.1.0')
    if (c.ok) t.doesNotThrow(run, c.name)
    else t.throws(run, { code: 6 }, c.name)
  }
})

t.test('formatResult converts then validates', async (t) => {
  t.same(JSON.parse(formatResult(v11, '0.4.0')), toVersion(v11, '0.4.0'))
  t.throws(() => formatResult({ cniVersion: '1.1.0', ips: [{ address: 'nope' }] }, '1.1.0'), { code: 6 })
})
