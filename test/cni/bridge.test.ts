import { writeFileSync, existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { deleteNetns, getLink, getSysctl, ip, listAddrs, listRoutes, run } from '../../src/netlink/index.ts'
import { listMasqChains } from '../../cni/masq.ts'
import { hostVethName } from '../../cni/bridge/names.ts'
import { testNetns } from '../helpers/netns.ts'
import { bridgeConf, invoke, startServiceIn, tempDir, WEFT_CNI } from './bridge-helpers.ts'

const standalone = { WEFT_CNI_SERVICE: 'off' }

async function ping(from: string, to: string): Promise<boolean> {
  try {
    await run('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '2', to])
    return true
  } catch {
    return false
  }
}

const addrsOf = async (dev: string, ns: string): Promise<string[]> =>
  (await listAddrs(dev, ns)).flatMap((l) => l.addr_info.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`))

t.test('ADD wires pods onto the bridge, dual stack, mtu, hairpin, ipMasq; DEL undoes it', async (t) => {
  const host = await testNetns(t, 'bh')
  const p1 = await testNetns(t, 'bp1')
  const p2 = await testNetns(t, 'bp2')
  const data = tempDir(t, 'weft-bridge-')
  const conf = bridgeConf(data, { isDefaultGateway: true, ipMasq: true, hairpinMode: true, mtu: 1400 }, { ranges: [[{ subnet: '10.99.0.0/24' }], [{ subnet: 'fd99::/64' }]] })
  const inv = (command: string, id: string, ns: string) => ({ command, containerID: id, netns: `/run/netns/${ns}`, ifname: 'eth0', env: standalone })

  const a = await invoke(WEFT_CNI, host, inv('ADD', 'pod-a', p1), conf)
  t.equal(a.code, 0, a.text)
  const b = await invoke(WEFT_CNI, host, inv('ADD', 'pod-b', p2), conf)
  t.equal(b.code, 0, b.text)
  const veth = hostVethName('pod-a', 'eth0')
  t.match(a.out, {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'wbr0', mac: /^[0-9a-f:]{17}$/ }, { name: veth, mac: /^[0-9a-f:]{17}$/ }, { name: 'eth0', mac: /^[0-9a-f:]{17}$/, sandbox: `/run/netns/${p1}` }],
    ips: [
      { address: '10.99.0.2/24', gateway: '10.99.0.1', interface: 2 },
      { address: 'fd99::2/64', gateway: 'fd99::1', interface: 2 },
    ],
    routes: [{ dst: '0.0.0.0/0', gw: '10.99.0.1' }, { dst: '::/0', gw: 'fd99::1' }],
  })
  t.match(b.out, { ips: [{ address: '10.99.0.3/24' }, { address: 'fd99::3/64' }] })

  const pod = await getLink('eth0', p1)
  const ifaces = a.out?.interfaces as { mac: string }[]
  t.equal(pod?.mtu, 1400, 'mtu on the pod interface')
  t.equal(pod?.address, ifaces[2].mac, 'the result carries the pod MAC')
  t.same(await addrsOf('eth0', p1), ['10.99.0.2/24', 'fd99::2/64'])
  t.ok((await listRoutes(4, p1)).some((r) => r.dst === 'default' && r.gateway === '10.99.0.1'))
  t.ok((await listRoutes(6, p1)).some((r) => r.dst === 'default' && r.gateway === 'fd99::1'))
  const hostEnd = await getLink(veth, host)
  t.equal(hostEnd?.master, 'wbr0', 'host end on the bridge')
  t.equal(hostEnd?.mtu, 1400)
  t.equal((hostEnd?.linkinfo as { info_slave_data?: { hairpin?: boolean } } | undefined)?.info_slave_data?.hairpin, true, 'hairpin mode')
  t.same((await addrsOf('wbr0', host)).sort(), ['10.99.0.1/24', 'fd99::1/64'], 'gateways on the bridge')
  t.equal(await getSysctl('net.ipv4.ip_forward', host), '1')
  t.equal(await getLink('wbr0'), undefined, 'nothing in the root namespace')

  t.ok(await ping(p1, '10.99.0.1'), 'pod → gateway')
  t.ok(await ping(p1, '10.99.0.3'), 'pod → pod')
  t.ok(await ping(p2, 'fd99::2'), 'pod → pod (IPv6)')
  t.ok(await ping(host, '10.99.0.2'), 'host → pod')

  const ruleset = await run('nsenter', [`--net=/run/netns/${host}`, 'nft', 'list', 'table', 'inet', 'weft-cni'])
  t.match(ruleset, /ip saddr 10\.99\.0\.2 ip daddr != \{ 10\.99\.0\.0\/24, 224\.0\.0\.0\/4 \} masquerade/)
  t.match(ruleset, /ip6 saddr fd99::2 ip6 daddr != \{ fd99::\/64, ff00::\/8 \} masquerade/)
  t.equal((await listMasqChains(host)).length, 2)

  const d1 = await invoke(WEFT_CNI, host, inv('DEL', 'pod-a', p1), conf)
  t.equal(d1.code, 0, d1.text)
  t.equal(d1.text, '', 'DEL prints nothing')
  t.equal(await getLink(veth, host), undefined, 'host veth gone')
  t.equal(await getLink('eth0', p1), undefined, 'pod interface gone')
  t.equal((await listMasqChains(host)).length, 1, 'masq rule gone')
  t.notOk(existsSync(join(data, 'weft-test', '10.99.0.2')), 'address released')
  const d2 = await invoke(WEFT_CNI, host, inv('DEL', 'pod-a', p1), conf)
  t.equal(d2.code, 0, 'DEL twice succeeds')

  await deleteNetns(p2)
  const d3 = await invoke(WEFT_CNI, host, { command: 'DEL', containerID: 'pod-b', ifname: 'eth0', env: standalone }, conf)
  t.equal(d3.code, 0, `DEL after the netns is gone: ${d3.text}`)
  t.same(readdirSync(join(data, 'weft-test')).filter((f) => !f.startsWith('last_')), [], 'every address released')
  t.same(await listMasqChains(host), [])
})

t.test('results convert to the config version', async (t) => {
  const host = await testNetns(t, 'bvh')
  const p = await testNetns(t, 'bvp')
  const conf = { ...bridgeConf(tempDir(t, 'weft-bridge-')), cniVersion: '0.4.0' }
  const r = await invoke(WEFT_CNI, host, { command: 'ADD', containerID: 'v', netns: `/run/netns/${p}`, ifname: 'net1', env: standalone }, conf)
  t.equal(r.code, 0, r.text)
  t.match(r.out, { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.99.0.2/24', interface: 2 }] })
  t.equal(await getLink('net1', p) !== undefined, true, 'CNI_IFNAME names the pod interface')
})

t.test('CHECK verifies the interface, addresses and routes', async (t) => {
  const host = await testNetns(t, 'bch')
  const p = await testNetns(t, 'bcp')
  const conf = bridgeConf(tempDir(t, 'weft-bridge-'), { isDefaultGateway: true })
  const inv = (command: string) => ({ command, containerID: 'chk', netns: `/run/netns/${p}`, ifname: 'eth0', env: standalone })
  const added = await invoke(WEFT_CNI, host, inv('ADD'), conf)
  t.equal(added.code, 0, added.text)
  const withPrev = { ...conf, prevResult: added.out }
  const ok = await invoke(WEFT_CNI, host, inv('CHECK'), withPrev)
  t.equal(ok.code, 0, ok.text)
  const noPrev = await invoke(WEFT_CNI, host, inv('CHECK'), conf)
  t.equal(noPrev.code, 1)
  t.match(noPrev.out, { msg: /prevResult/ })
  await ip(['route', 'del', 'default'], p)
  const noRoute = await invoke(WEFT_CNI, host, inv('CHECK'), withPrev)
  t.equal(noRoute.code, 1)
  t.match(noRoute.out, { msg: /route 0\.0\.0\.0\/0 via 10\.99\.0\.1 not found/ })
  await ip(['addr', 'flush', 'dev', 'eth0'], p)
  const noAddr = await invoke(WEFT_CNI, host, inv('CHECK'), withPrev)
  t.match(noAddr.out, { msg: /address 10\.99\.0\.2\/24 not found/ })
})

t.test('GC releases what valid-attachments does not list; STATUS', async (t) => {
  const host = await testNetns(t, 'bgh')
  const p1 = await testNetns(t, 'bg1')
  const p2 = await testNetns(t, 'bg2')
  const data = tempDir(t, 'weft-bridge-')
  const conf = bridgeConf(data, { ipMasq: true })
  for (const [id, ns] of [['keep', p1], ['drop', p2]]) {
    const r = await invoke(WEFT_CNI, host, { command: 'ADD', containerID: id, netns: `/run/netns/${ns}`, ifname: 'eth0', env: standalone }, conf)
    t.equal(r.code, 0, r.text)
  }
  t.equal((await listMasqChains(host)).length, 2)
  const gc = await invoke(WEFT_CNI, host, { command: 'GC', env: standalone }, { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] })
  t.equal(gc.code, 0, gc.text)
  t.same(readdirSync(join(data, 'weft-test')).filter((f) => !f.startsWith('last_')), ['10.99.0.2'], 'only the kept reservation is left')
  t.equal((await listMasqChains(host)).length, 1, 'the dropped masq rule is gone')

  const st = await invoke(WEFT_CNI, host, { command: 'STATUS', env: standalone }, conf)
  t.equal(st.code, 0, st.text)
  const file = join(data, 'a-file')
  writeFileSync(file, '')
  const bad = await invoke(WEFT_CNI, host, { command: 'STATUS', env: standalone }, bridgeConf(join(file, 'sub')))
  t.equal(bad.code, 1)
  t.match(bad.out, { code: 50, msg: /not writable/ })
})

t.test('errors are CNI error objects', async (t) => {
  const host = await testNetns(t, 'beh')
  const p = await testNetns(t, 'bep')
  const data = tempDir(t, 'weft-bridge-')
  const inv = { command: 'ADD', containerID: 'e', netns: `/run/netns/${p}`, ifname: 'eth0', env: standalone }
  const badMtu = await invoke(WEFT_CNI, host, inv, bridgeConf(data, { mtu: 'big' }))
  t.equal(badMtu.code, 1)
  t.match(badMtu.out, { cniVersion: '1.1.0', code: 7, msg: /mtu/ })
  const badIpam = await invoke(WEFT_CNI, host, inv, bridgeConf(data, {}, { ranges: 'x' }))
  t.match(badIpam.out, { code: 7 })
  t.equal(await getLink('wbr0', host), undefined, 'a config error changes nothing')
  const noIfname = await invoke(WEFT_CNI, host, { ...inv, ifname: undefined }, bridgeConf(data))
  t.match(noIfname.out, { code: 4, msg: /CNI_IFNAME/ })
  const badJson = await invoke(WEFT_CNI, host, inv, '{')
  t.match(badJson.out, { code: 6 })
  const noNetns = await invoke(WEFT_CNI, host, { ...inv, netns: '/run/netns/does-not-exist-weft' }, bridgeConf(data))
  t.equal(noNetns.code, 1)
  t.match(noNetns.out, { msg: /netns/ })
  await ip(['link', 'add', 'wbr0', 'type', 'veth', 'peer', 'name', 'wbr0p'], host)
  const notBridge = await invoke(WEFT_CNI, host, inv, bridgeConf(data))
  t.equal(notBridge.code, 1)
  t.match(notBridge.out, { msg: /wbr0 already exists and is not a bridge/ })
  t.same(readdirSync(join(data, 'weft-test')).filter((f) => !f.startsWith('last_')), [], 'a failed ADD holds no address')
})

t.test('CNI_NETNS, CNI_IFNAME and the bridge name are checked before anything changes', async (t) => {
  const host = await testNetns(t, 'bxh')
  const p = await testNetns(t, 'bxp')
  const data = tempDir(t, 'weft-bridge-')
  const file = join(data, 'a-file')
  writeFileSync(file, '')
  const via = { WEFT_CNI_RUN_DIR: tempDir(t, 'weft-cni-run-') }
  await startServiceIn(t, host, via.WEFT_CNI_RUN_DIR)
  const add = (netns: string, ifname: string, conf = bridgeConf(data), env: Record<string, string> = via) =>
    invoke(WEFT_CNI, host, { command: 'ADD', containerID: 'x1', netns, ifname, env }, conf)
  const cases: [string, Promise<Awaited<ReturnType<typeof add>>>, number, RegExp][] = [
    // The plugin's own namespace: the "pod" interface would land on the host side.
    ['own namespace (service)', add('/proc/self/ns/net', 'eth7'), 4, /CNI_NETNS .*own network namespace/],
    ['own namespace (standalone)', add('/proc/self/ns/net', 'eth7', bridgeConf(data), standalone), 4, /CNI_NETNS .*own network namespace/],
    ['relative path', add(`run/netns/${p}`, 'eth0'), 4, /CNI_NETNS must be an absolute path/],
    ['space in the path', add(`/run/netns/${p} x`, 'eth0'), 4, /CNI_NETNS/],
    ['not a namespace', add(file, 'eth0'), 4, /is not a network namespace/],
    ['comment sign in CNI_IFNAME', add(`/run/netns/${p}`, 'e#x'), 4, /interface name/],
    ['quote in CNI_IFNAME', add(`/run/netns/${p}`, 'e"x'), 4, /interface name/],
    ['backslash in CNI_IFNAME', add(`/run/netns/${p}`, 'e\\x'), 4, /interface name/],
    ['comment sign in the bridge name', add(`/run/netns/${p}`, 'eth0', bridgeConf(data, { bridge: 'b#r' })), 7, /"bridge"/],
    ['ipam.type ..', add(`/run/netns/${p}`, 'eth0', { ...bridgeConf(data), ipam: { type: '..' } }), 7, /ipam\.type/],
  ]
  for (const [name, pending, code, msg] of cases) {
    const r = await pending
    t.equal(r.code, 1, `${name}: fails`)
    t.match(r.out, { code, msg }, `${name}: ${r.text.trim()}`)
  }
  t.equal(await getLink('eth7', host), undefined, 'no pod interface on the host side')
  t.equal(await getLink(hostVethName('x1', 'eth7'), host), undefined, 'no veth')
  t.same((await ip(['-o', 'link', 'show'], p)).trim().split('\n').length, 1, 'the pod namespace has only lo')
  t.same(existsSync(join(data, 'weft-test')) ? readdirSync(join(data, 'weft-test')).filter((f) => !f.startsWith('last_')) : [], [], 'nothing reserved')
})
