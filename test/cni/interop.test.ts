// weft's plugins chained with the reference ones from /usr/lib/cni.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { getLink, run } from '../../src/netlink/index.ts'
import { testNetns } from '../helpers/netns.ts'
import { invoke, REF_DIR, startServiceIn, tempDir, WEFT_CNI } from './bridge-helpers.ts'

const hasRef = existsSync(join(REF_DIR, 'bridge')) && existsSync(join(REF_DIR, 'host-local'))
const reserved = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => /^\d|:/.test(f) && !f.startsWith('last_')) : [])

async function ping(from: string, to: string): Promise<boolean> {
  return run('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '2', to]).then(() => true, () => false)
}

t.test('weft bridge with the reference host-local IPAM', { skip: hasRef ? false : 'reference plugins not installed' }, async (t) => {
  const host = await testNetns(t, 'ih')
  const pod = await testNetns(t, 'ip')
  const data = tempDir(t, 'weft-interop-')
  const runDir = tempDir(t, 'weft-cni-run-')
  await startServiceIn(t, host, runDir)
  const conf = {
    cniVersion: '1.0.0',
    name: 'interop',
    type: 'weft-cni',
    bridge: 'wbr1',
    isDefaultGateway: true,
    ipam: { type: 'host-local', dataDir: data, ranges: [[{ subnet: '10.97.0.0/24' }]], routes: [{ dst: '10.200.0.0/16' }] },
  }
  const inv = (command: string) => ({ command, containerID: 'x1', netns: `/run/netns/${pod}`, ifname: 'eth0', env: { WEFT_CNI_RUN_DIR: runDir } })
  const r = await invoke(WEFT_CNI, host, inv('ADD'), conf)
  t.equal(r.code, 0, r.text)
  t.match(r.out, { cniVersion: '1.0.0', ips: [{ address: '10.97.0.2/24', gateway: '10.97.0.1', interface: 2 }], routes: [{ dst: '10.200.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.97.0.1' }] })
  t.same(reserved(join(data, 'interop')), ['10.97.0.2'], 'host-local holds the address')
  t.ok(await ping(pod, '10.97.0.1'), 'pod → gateway')
  const chk = await invoke(WEFT_CNI, host, inv('CHECK'), { ...conf, prevResult: r.out })
  t.equal(chk.code, 0, chk.text)
  const d = await invoke(WEFT_CNI, host, inv('DEL'), conf)
  t.equal(d.code, 0, d.text)
  t.same(reserved(join(data, 'interop')), [], 'host-local released it')
  const bad = await invoke(WEFT_CNI, host, inv('ADD'), { ...conf, ipam: { type: 'host-local', dataDir: data } })
  t.equal(bad.code, 1)
  t.match(bad.out, { msg: /./ }, 'the delegated plugin error comes through')
})

t.test('reference bridge with weft-ipam', { skip: hasRef ? false : 'reference plugins not installed' }, async (t) => {
  const host = await testNetns(t, 'rh')
  const p1 = await testNetns(t, 'rp1')
  const p2 = await testNetns(t, 'rp2')
  const data = tempDir(t, 'weft-interop-')
  const conf = {
    cniVersion: '1.0.0',
    name: 'interop2',
    type: 'bridge',
    bridge: 'rbr0',
    isGateway: true,
    ipam: { type: 'weft-ipam', dataDir: data, ranges: [[{ subnet: '10.95.0.0/24' }]] },
  }
  const inv = (command: string, id: string, ns: string) => ({ command, containerID: id, netns: `/run/netns/${ns}`, ifname: 'eth0', env: { WEFT_CNI_SERVICE: 'off' } })
  const a = await invoke(join(REF_DIR, 'bridge'), host, inv('ADD', 'r1', p1), conf)
  t.equal(a.code, 0, a.text)
  const b = await invoke(join(REF_DIR, 'bridge'), host, inv('ADD', 'r2', p2), conf)
  t.equal(b.code, 0, b.text)
  t.match(a.out, { ips: [{ address: '10.95.0.2/24', gateway: '10.95.0.1' }] })
  t.match(b.out, { ips: [{ address: '10.95.0.3/24' }] })
  t.ok(await getLink('rbr0', host), 'the reference bridge built its bridge')
  t.ok(await ping(p1, '10.95.0.3'), 'pod → pod')
  t.same(reserved(join(data, 'interop2')), ['10.95.0.2', '10.95.0.3'], 'weft-ipam holds the addresses')
  for (const [id, ns] of [['r1', p1], ['r2', p2]]) {
    const d = await invoke(join(REF_DIR, 'bridge'), host, inv('DEL', id, ns), conf)
    t.equal(d.code, 0, d.text)
  }
  t.same(reserved(join(data, 'interop2')), [], 'weft-ipam released them')
})
