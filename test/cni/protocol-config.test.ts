import t from 'tap'
import { invocationOrder, parseConfList, parseNetConf, pluginConf } from '../../cni/protocol/config.ts'
import { CniError } from '../../cni/protocol/errors.ts'

function errorOf(fn: () => unknown): CniError | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof CniError) return err
    throw err
  }
  return undefined
}

t.test('version negotiation for a plugin config', async (t) => {
  const cases: { v: unknown; code?: number }[] = [
    { v: '1.1.0' },
    { v: '1.0.0' },
    { v: '0.4.0' },
    { v: '0.3.1', code: 1 },
    { v: '2.0.0', code: 1 },
    { v: undefined, code: 1 },
  ]
  for (const c of cases) {
    const err = errorOf(() => parseNetConf(JSON.stringify({ cniVersion: c.v, name: 'n', type: 'weft' })))
    t.equal(err?.code, c.code, String(c.v))
  }
  const err = errorOf(() => parseNetConf('{"cniVersion":"0.3.1","name":"n","type":"weft"}'))
  t.equal(err?.details, 'config is "0.3.1", plugin supports ["0.4.0" "1.0.0" "1.1.0"]')
  t.equal(errorOf(() => parseNetConf('{"name":"n","type":"weft"}'))?.details.startsWith('config is "0.1.0"'), true)
})

t.test('malformed configs', async (t) => {
  t.equal(errorOf(() => parseNetConf('{not json'))?.code, 6)
  t.equal(errorOf(() => parseNetConf('[1]'))?.code, 6)
  t.equal(errorOf(() => parseNetConf('{"cniVersion":"1.0.0","type":"weft"}'))?.code, 7, 'no name')
  t.equal(errorOf(() => parseNetConf('{"cniVersion":"1.0.0","name":"n"}'))?.code, 7, 'no type')
  t.equal(errorOf(() => parseNetConf('{"cniVersion":"1.0.0","name":"n","type":"w","runtimeConfig":[]}'))?.code, 7)
})

t.test('keeps unknown keys and parses prevResult, runtimeConfig, attachments', async (t) => {
  const text = JSON.stringify({
    cniVersion: '1.1.0',
    name: 'pods',
    type: 'weft',
    bridge: 'weft0',
    ipam: { type: 'host-local', subnet: '10.1.0.0/24' },
    capabilities: { portMappings: true, bandwidth: 'yes' },
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    prevResult: { cniVersion: '1.1.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.1.0.5/24', interface: 0 }] },
    'cni.dev/valid-attachments': [{ containerID: 'c1', ifname: 'eth0' }],
  })
  const conf = parseNetConf(text)
  t.equal(conf.raw.bridge, 'weft0')
  t.same(conf.raw.ipam, { type: 'host-local', subnet: '10.1.0.0/24' })
  t.same(conf.capabilities, { portMappings: true, bandwidth: false })
  t.same(conf.runtimeConfig, { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] })
  t.equal(conf.prevResult?.ips?.[0].address, '10.1.0.5/24')
  t.same(conf.validAttachments, [{ containerID: 'c1', ifname: 'eth0' }])
  const old = parseNetConf('{"cniVersion":"1.1.0","name":"n","type":"w","cni.dev/attachments":[{"containerID":"a","ifname":"b"}]}')
  t.same(old.validAttachments, [{ containerID: 'a', ifname: 'b' }], 'older attachments key')
  const bad = errorOf(() => parseNetConf('{"cniVersion":"1.0.0","name":"n","type":"w","prevResult":{"ips":[{"address":"10.0.0.1"}]}}'))
  t.equal(bad?.code, 7, 'prevResult with a bare address is an invalid config')
})

const list = {
  cniVersion: '1.0.0',
  name: 'pods',
  disableCheck: 'true',
  plugins: [
    { type: 'weft', bridge: 'weft0', capabilities: { ips: true } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'bandwidth' },
  ],
}

t.test('conflist parsing and per-plugin configs', async (t) => {
  const l = parseConfList(JSON.stringify(list))
  t.equal(l.cniVersion, '1.0.0')
  t.equal(l.disableCheck, true)
  t.equal(l.disableGC, false)
  t.same(invocationOrder(l, 'ADD'), [0, 1, 2])
  t.same(invocationOrder(l, 'DEL'), [2, 1, 0])
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24' }] }
  const conf = pluginConf(l, 1, { prevResult: prev, runtimeConfig: { portMappings: [{ hostPort: 1 }], ips: ['10.1.0.9/24'] } })
  t.same(conf, {
    type: 'portmap',
    capabilities: { portMappings: true },
    name: 'pods',
    cniVersion: '1.0.0',
    prevResult: prev,
    runtimeConfig: { portMappings: [{ hostPort: 1 }] },
  })
  t.notOk('runtimeConfig' in pluginConf(l, 2, { runtimeConfig: { ips: [] } }), 'no capability, no runtimeConfig')
  t.equal(parseNetConf(JSON.stringify(pluginConf(l, 0))).raw.bridge, 'weft0', 'built config parses as a plugin config')
})

t.test('conflist versions and errors', async (t) => {
  t.equal(parseConfList(JSON.stringify({ ...list, cniVersion: '9.9.9', cniVersions: ['0.4.0', '1.1.0', '2.0.0'] })).cniVersion, '1.1.0')
  t.equal(errorOf(() => parseConfList(JSON.stringify({ ...list, cniVersions: ['2.0.0'] })))?.code, 1)
  t.equal(errorOf(() => parseConfList(JSON.stringify({ ...list, cniVersion: '0.3.1' })))?.code, 1)
  t.equal(errorOf(() => parseConfList(JSON.stringify({ ...list, plugins: [] })))?.code, 7)
  t.equal(errorOf(() => parseConfList(JSON.stringify({ ...list, plugins: [{ bridge: 'x' }] })))?.code, 7)
  t.equal(errorOf(() => parseConfList(JSON.stringify({ ...list, name: 'bad name' })))?.code, 7)
  t.equal(errorOf(() => parseConfList(JSON.stringify({ ...list, disableGC: 'maybe' })))?.code, 7)
  const l = parseConfList(JSON.stringify({ ...list, cniVersion: '0.4.0' }))
  const conf = pluginConf(l, 0, { prevResult: { cniVersion: '1.1.0', ips: [{ address: 'fd00::5/64' }] } })
  t.same(conf.prevResult, { cniVersion: '0.4.0', ips: [{ address: 'fd00::5/64', version: '6' }] }, 'prevResult converted to the list version')
})
