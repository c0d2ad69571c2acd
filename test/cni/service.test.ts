import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { getLink } from '../../src/netlink/index.ts'
import { testNetns } from '../helpers/netns.ts'
import { bridgeConf, invoke, startServiceIn, tempDir, WEFT_CNI, WEFT_IPAM } from './bridge-helpers.ts'

// Replaces what differs between two ADDs of the same config (MACs, names derived from the container ID).
function shape(out: unknown): unknown {
  return JSON.parse(JSON.stringify(out), (k, v: unknown) => (k === 'mac' ? 'MAC' : k === 'sandbox' ? 'NS' : typeof v === 'string' && v.startsWith('veth') ? 'VETH' : v))
}

t.test('invocations through the service match standalone ones', async (t) => {
  const host = await testNetns(t, 'sh')
  const p1 = await testNetns(t, 'sp1')
  const p2 = await testNetns(t, 'sp2')
  const runDir = tempDir(t, 'weft-cni-run-')
  const errors: string[] = []
  const dir = await startServiceIn(t, host, runDir, (l) => errors.push(l))
  const via = { WEFT_CNI_RUN_DIR: runDir }
  const alone = { WEFT_CNI_RUN_DIR: runDir, WEFT_CNI_SERVICE: 'off' }
  const conf = bridgeConf(tempDir(t, 'weft-ipam-'), { isDefaultGateway: true }, { ranges: [[{ subnet: '10.99.0.0/24' }], [{ subnet: 'fd99::/64' }]] })

  const v1 = await invoke(WEFT_CNI, host, { command: 'VERSION', env: via }, '')
  const v2 = await invoke(WEFT_CNI, host, { command: 'VERSION', env: alone }, '')
  t.same(v1, v2, 'VERSION')

  const a = await invoke(WEFT_CNI, host, { command: 'ADD', containerID: 's1', netns: `/run/netns/${p1}`, ifname: 'eth0', env: via }, conf)
  const b = await invoke(WEFT_CNI, host, { command: 'ADD', containerID: 's2', netns: `/run/netns/${p2}`, ifname: 'eth0', env: alone }, conf)
  t.equal(a.code, 0, a.text)
  t.equal(b.code, 0, b.text)
  t.match(a.out, { ips: [{ address: '10.99.0.2/24' }, { address: 'fd99::2/64' }] })
  const sb = shape(b.out) as { ips: { address: string }[] }
  sb.ips = sb.ips.map((ip) => ({ ...ip, address: ip.address.replace('.3/', '.2/').replace('::3/', '::2/') }))
  t.same(shape(a.out), sb, 'same result through the service')
  t.ok(await getLink('eth0', p1), 'the service wired the pod')

  const bad = await invoke(WEFT_CNI, host, { command: 'ADD', containerID: 's3', netns: `/run/netns/${p1}`, ifname: 'eth1', env: via }, { ...conf, mtu: 'x' })
  t.equal(bad.code, 1, 'errors exit 1 through the service')
  t.match(bad.out, { code: 7, msg: /mtu/ })

  const ipamConf = { cniVersion: '1.1.0', name: 'ipam-only', type: 'x', ipam: { type: 'weft-ipam', dataDir: tempDir(t, 'weft-ipam-'), ranges: [[{ subnet: '10.98.0.0/24' }]] } }
  const ia = await invoke(WEFT_IPAM, host, { command: 'ADD', containerID: 'i1', netns: `/run/netns/${p1}`, ifname: 'eth9', env: via }, ipamConf)
  t.match(ia.out, { cniVersion: '1.1.0', ips: [{ address: '10.98.0.2/24', gateway: '10.98.0.1' }] }, 'weft-ipam through the service')

  const d = await invoke(WEFT_CNI, host, { command: 'DEL', containerID: 's1', netns: `/run/netns/${p1}`, ifname: 'eth0', env: via }, conf)
  t.equal(d.code, 0, d.text)
  t.equal(await getLink('eth0', p1), undefined)
  const d2 = await invoke(WEFT_CNI, host, { command: 'DEL', containerID: 's1', netns: `/run/netns/${p1}`, ifname: 'eth0', env: via }, conf)
  t.equal(d2.code, 0, `DEL twice through the service: ${d2.text}`)
  t.same(errors, [], 'the service logged no errors')
  t.ok(dir.startsWith(runDir))
})

t.test('the service only answers its own network namespace', async (t) => {
  const host = await testNetns(t, 'sih')
  const other = await testNetns(t, 'sio')
  const pod = await testNetns(t, 'sip')
  const runDir = tempDir(t, 'weft-cni-run-')
  const errors: string[] = []
  const dir = await startServiceIn(t, host, runDir, (l) => errors.push(l))
  const conf = bridgeConf(tempDir(t, 'weft-ipam-'))

  // A client in another namespace does not find it and runs standalone, in its own namespace.
  const r = await invoke(WEFT_CNI, other, { command: 'ADD', containerID: 'o1', netns: `/run/netns/${pod}`, ifname: 'eth0', env: { WEFT_CNI_RUN_DIR: runDir } }, conf)
  t.equal(r.code, 0, r.text)
  t.ok(await getLink('wbr0', other), 'the bridge is in the caller namespace')
  t.equal(await getLink('wbr0', host), undefined, 'the service did not act')

  // A request written straight into the FIFO from another namespace is refused.
  const script = `exec 7>&1; trap 'echo SIGNALLED; exit 0' USR1 USR2; echo "$$ bridge" 1<>"${join(dir, 'req')}"; read -t 3 -u 9 9<>"${join(dir, 'idle')}"; echo TIMEOUT`
  const out = await new Promise<string>((res) => {
    const child = spawn('nsenter', [`--net=/run/netns/${other}`, '--', 'bash', '-c', script], { env: { CNI_COMMAND: 'VERSION', PATH: process.env.PATH } })
    let s = ''
    child.stdout.on('data', (b: Buffer) => (s += b.toString()))
    child.on('close', () => res(s))
    child.stdin.end()
  })
  t.equal(out.trim(), 'TIMEOUT', 'no answer to another namespace')
  t.match(errors.join('\n'), /another network namespace/)
})
