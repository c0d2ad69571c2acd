// Anti-spoofing in the real kernel: pods on a bridge through bin/weft-cni (ADD), then pod A
// plays a hostile pod with CAP_NET_RAW and writes frames by hand (test/helpers/frames.ts):
// as pod B's addresses, with B's MAC, as an unassigned address, tagged, ARP and ND for B's
// addresses, a router advertisement. A sniffer on pod C's interface says what arrived. The
// same frames from A's own addresses arrive, and with "antiSpoof": false the forged ones do
// too, so it is the guard that stops them. Everything runs in namespaces the test creates.
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { hostVethName } from '../../cni/bridge/names.ts'
import { ANTISPOOF_TABLE, guardChain, installGuard, nftTableReader, parseListedTable, portGuard, PORTS_MAP } from '../../cni/bridge/antispoof.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { ip, listAddrs, run } from '../../src/netlink/index.ts'
import { arpRequestFrame, havePython, neighborAdvertFrame, routerAdvertFrame, sendFrames, sniff, tcpSynFrame, udpFrame, type SeenFrame } from '../helpers/frames.ts'
import { testNetns } from '../helpers/netns.ts'
import { bridgeConf, invoke, startServiceIn, tempDir, WEFT_CNI } from './bridge-helpers.ts'

if (process.getuid?.() !== 0) t.plan(0, 'needs root for network namespaces')
const noPython = (await havePython()) ? false : 'python3 (for raw frames) is not installed'

const standalone = { WEFT_CNI_SERVICE: 'off' }
const DUAL = { ranges: [[{ subnet: '10.99.0.0/24' }], [{ subnet: 'fd99::/64' }]] }

interface Pod {
  id: string
  ns: string
  mac: string
  veth: string
  v4: string
  v6: string
  linkLocal: string
}

async function addPod(t: Test, host: string, id: string, conf: Record<string, unknown>, env: Record<string, string>): Promise<Pod> {
  const ns = await testNetns(t, 'asp')
  const r = await invoke(WEFT_CNI, host, { command: 'ADD', containerID: id, netns: `/run/netns/${ns}`, ifname: 'eth0', env }, conf)
  if (r.code !== 0) throw new Error(`ADD ${id}: ${r.text}`)
  const out = r.out as { interfaces: { name: string; mac: string }[]; ips: { address: string }[] }
  const addr = (v6: boolean) => out.ips.map((i) => i.address.split('/')[0]!).find((a) => a.includes(':') === v6) ?? ''
  // The link-local address comes once the kernel has made it (after DAD).
  let linkLocal = ''
  for (let i = 0; i < 50 && !linkLocal; i++) {
    linkLocal = (await listAddrs('eth0', ns)).flatMap((l) => l.addr_info).find((a) => a.scope === 'link' && !(a as { tentative?: boolean }).tentative)?.local ?? ''
    if (!linkLocal) await sleep(100)
  }
  return { id, ns, mac: out.interfaces[2]!.mac, veth: out.interfaces[1]!.name, v4: addr(false), v6: addr(true), linkLocal }
}

async function ping(from: string, to: string): Promise<boolean> {
  return run('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '2', to]).then(
    () => true,
    () => false,
  )
}

/** C's neighbour entry for `addr` (its MAC), if any. */
async function neighbour(ns: string, addr: string): Promise<string | undefined> {
  const out = JSON.parse(await ip(['-j', 'neigh', 'show', addr], ns)) as { lladdr?: string }[]
  return out[0]?.lladdr
}

/** The frames pod A writes, forged (as B, or otherwise not A) and honest. */
function frames(a: Pod, b: Pod, c: Pod) {
  const to4 = { dstMac: c.mac, srcMac: a.mac, dst: c.v4, sport: 40000, dport: 9999 }
  const to6 = { dstMac: c.mac, srcMac: a.mac, dst: c.v6, sport: 40000, dport: 9999 }
  return {
    forged: [
      udpFrame({ ...to4, src: b.v4, data: 'forged-udp4' }),
      tcpSynFrame({ ...to4, src: b.v4, seq: 111 }),
      udpFrame({ ...to6, src: b.v6, data: 'forged-udp6' }),
      udpFrame({ ...to4, src: '10.99.0.250', data: 'forged-unassigned' }),
      udpFrame({ ...to4, src: a.v4, srcMac: b.mac, data: 'forged-mac' }),
      udpFrame({ ...to4, src: a.v4, data: 'forged-vlan', vlan: 100 }),
      udpFrame({ ...to6, src: a.linkLocal, data: 'forged-link-local-udp' }),
      arpRequestFrame({ srcMac: a.mac, senderMac: a.mac, senderIp: b.v4, targetIp: c.v4 }),
      neighborAdvertFrame({ dstMac: c.mac, srcMac: a.mac, src: a.linkLocal, dst: c.v6, target: b.v6, lladdr: a.mac }),
      neighborAdvertFrame({ dstMac: c.mac, srcMac: a.mac, src: a.v6, dst: c.v6, target: b.v6, lladdr: a.mac }),
      routerAdvertFrame({ srcMac: a.mac, src: a.linkLocal }),
    ],
    honest: [
      udpFrame({ ...to4, src: a.v4, data: 'own-udp4' }),
      tcpSynFrame({ ...to4, src: a.v4, seq: 222 }),
      udpFrame({ ...to6, src: a.v6, data: 'own-udp6' }),
      arpRequestFrame({ srcMac: a.mac, senderMac: a.mac, senderIp: a.v4, targetIp: c.v4 }),
      neighborAdvertFrame({ dstMac: c.mac, srcMac: a.mac, src: a.linkLocal, dst: c.v6, target: a.v6, lladdr: a.mac }),
    ],
  }
}

/** Names what arrived at C from A's frames, one word per frame (see frames()). */
function arrived(seen: readonly SeenFrame[], a: Pod, b: Pod, c: Pod): Set<string> {
  const out = new Set<string>()
  for (const f of seen) {
    if (f.data !== undefined && /^(forged|own)-/.test(f.data)) out.add(f.data)
    if (f.proto === 6 && f.dport === 9999) out.add(f.tcpSeq === 111 ? 'forged-syn' : f.tcpSeq === 222 ? 'own-syn' : `syn-${f.tcpSeq}`)
    if (f.type === 0x0806 && f.dst === c.v4 && f.src === b.v4 && f.srcMac === a.mac) out.add('forged-arp')
    if (f.type === 0x0806 && f.dst === c.v4 && f.src === a.v4 && f.srcMac === a.mac) out.add('own-arp')
    if (f.icmpType === 136 && f.target === b.v6) out.add(f.src === a.linkLocal ? 'forged-na' : 'forged-na-global')
    if (f.icmpType === 136 && f.target === a.v6 && f.srcMac === a.mac) out.add('own-na')
    if (f.icmpType === 134 && f.srcMac === a.mac) out.add('forged-ra')
  }
  return out
}

const FORGED = ['forged-udp4', 'forged-syn', 'forged-udp6', 'forged-unassigned', 'forged-mac', 'forged-vlan', 'forged-link-local-udp', 'forged-arp', 'forged-na', 'forged-na-global', 'forged-ra']
const HONEST = ['own-udp4', 'own-syn', 'own-udp6', 'own-arp', 'own-na']

/** Sends A's frames and returns what C's sniffer saw of them. */
async function sendAndSee(t: Test, a: Pod, b: Pod, c: Pod, which: 'forged' | 'honest' | 'both'): Promise<Set<string>> {
  const sniffer = await sniff(t, c.ns, 'eth0')
  const f = frames(a, b, c)
  await sendFrames(a.ns, 'eth0', which === 'forged' ? f.forged : which === 'honest' ? f.honest : [...f.forged, ...f.honest])
  await sleep(500)
  return arrived(await sniffer.stop(), a, b, c)
}

async function nftTables(ns: string): Promise<string> {
  return run('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'])
}

t.test('a pod cannot send as another pod: forged addresses, MACs, ARP and ND stay on its port', { skip: noPython }, async (t) => {
  const host = await testNetns(t, 'ash')
  const runDir = tempDir(t, 'weft-cni-run-')
  await startServiceIn(t, host, runDir)
  const env = { WEFT_CNI_RUN_DIR: runDir }
  const conf = bridgeConf(tempDir(t, 'weft-antispoof-'), {}, DUAL)
  const [a, b, c] = [await addPod(t, host, 'as-a', conf, env), await addPod(t, host, 'as-b', conf, env), await addPod(t, host, 'as-c', conf, env)]
  t.ok(a.linkLocal && b.linkLocal && c.linkLocal, 'the pods have link-local addresses')

  // What pods do normally still works: ARP, ND (and DAD from ::, done by now), both families.
  t.ok(await ping(a.ns, b.v4), 'A → B over IPv4')
  t.ok(await ping(a.ns, b.v6), 'A → B over IPv6 (neighbour discovery works)')
  t.ok(await ping(c.ns, a.v6), 'C → A over IPv6')
  t.ok(await ping(a.ns, `${b.linkLocal}%eth0`), 'A → B link-local')
  t.ok(await ping(a.ns, '10.99.0.1'), 'A → the gateway on the bridge')
  t.ok(await ping(host, a.v4), 'the node → A')

  const seen = await sendAndSee(t, a, b, c, 'both')
  for (const name of HONEST) t.ok(seen.has(name), `${name} arrives at C`)
  for (const name of FORGED) t.notOk(seen.has(name), `${name} does not arrive at C`)

  t.not(await neighbour(c.ns, b.v4), a.mac, "C does not take A's MAC for B's IPv4 address")
  t.not(await neighbour(c.ns, b.v6), a.mac, "C does not take A's MAC for B's IPv6 address")
  const fdb = JSON.parse(await run('nsenter', [`--net=/run/netns/${host}`, 'bridge', '-j', 'fdb', 'show', 'br', 'wbr0'])) as { mac: string; ifname: string }[]
  t.notOk(
    fdb.some((e) => e.mac === b.mac && e.ifname === a.veth),
    "the bridge never learned B's MAC on A's port",
  )
  t.ok(await ping(a.ns, b.v4), 'B is still reachable afterwards')
  t.ok(await ping(c.ns, b.v6), 'and over IPv6')

  // The guards in the table: one chain per port, one element per port.
  const table = parseListedTable(await nftTableReader(host)())
  t.same([...table.ports.keys()].sort(), [a.veth, b.veth, c.veth].sort(), 'one map element per pod port')
  t.equal(table.ports.get(a.veth), guardChain('weft-test', a.veth))
  t.equal(a.veth, hostVethName('as-a', 'eth0'))
  t.notOk(/weft-antispoof/.test(await run('nft', ['list', 'tables'])), 'nothing in the root namespace')
})

t.test('with "antiSpoof": false the forged frames arrive, and there is no table', { skip: noPython }, async (t) => {
  const host = await testNetns(t, 'asf')
  const conf = bridgeConf(tempDir(t, 'weft-antispoof-'), { antiSpoof: false }, DUAL)
  const [a, b, c] = [await addPod(t, host, 'off-a', conf, standalone), await addPod(t, host, 'off-b', conf, standalone), await addPod(t, host, 'off-c', conf, standalone)]
  const seen = await sendAndSee(t, a, b, c, 'forged')
  for (const name of FORGED) t.ok(seen.has(name), `${name} arrives at C when unguarded`)
  t.notOk((await nftTables(host)).includes(ANTISPOOF_TABLE), 'no anti-spoofing table')
  const d = await invoke(WEFT_CNI, host, { command: 'DEL', containerID: 'off-a', netns: `/run/netns/${a.ns}`, ifname: 'eth0', env: standalone }, conf)
  t.equal(d.code, 0, d.text)
  t.notOk((await nftTables(host)).includes(ANTISPOOF_TABLE), 'DEL with antiSpoof off makes none either')
})

t.test('CHECK, DEL, ADD/DEL cycles and GC leave exactly the live guards', async (t) => {
  const host = await testNetns(t, 'asd')
  const conf = bridgeConf(tempDir(t, 'weft-antispoof-'), {}, DUAL)
  const read = nftTableReader(host)
  const inv = (command: string, id: string, ns?: string) => ({ command, containerID: id, ...(ns ? { netns: `/run/netns/${ns}` } : {}), ifname: 'eth0', env: standalone })
  const podNs = [await testNetns(t, 'asd'), await testNetns(t, 'asd')]

  for (let cycle = 0; cycle < 3; cycle++) {
    const added = await Promise.all(podNs.map((ns, i) => invoke(WEFT_CNI, host, inv('ADD', `cyc-${i}`, ns), conf)))
    for (const r of added) t.equal(r.code, 0, `cycle ${cycle}: concurrent ADD: ${r.text}`)
    t.equal(parseListedTable(await read()).ports.size, 2, `cycle ${cycle}: two guarded ports`)
    const check = await invoke(WEFT_CNI, host, inv('CHECK', 'cyc-0', podNs[0]), { ...conf, prevResult: added[0]!.out })
    t.equal(check.code, 0, `cycle ${cycle}: CHECK passes: ${check.text}`)
    const dels = await Promise.all(podNs.map((ns, i) => invoke(WEFT_CNI, host, inv('DEL', `cyc-${i}`, ns), conf)))
    for (const r of dels) t.equal(r.code, 0, `cycle ${cycle}: concurrent DEL: ${r.text}`)
    const left = parseListedTable(await read())
    t.same([...left.ports.keys()], [], `cycle ${cycle}: no element left`)
    t.same([...left.chains.keys()], ['prerouting'], `cycle ${cycle}: only the hook chain is left`)
  }
  const again = await invoke(WEFT_CNI, host, inv('DEL', 'cyc-0', podNs[0]), conf)
  t.equal(again.code, 0, 'DEL twice succeeds')
  const unknown = await invoke(WEFT_CNI, host, inv('DEL', 'never-added'), conf)
  t.equal(unknown.code, 0, `DEL of a pod never added succeeds: ${unknown.text}`)

  // CHECK notices a guard that is not what ADD put there.
  const added = await invoke(WEFT_CNI, host, inv('ADD', 'chk', podNs[0]), conf)
  t.equal(added.code, 0, added.text)
  const chain = guardChain('weft-test', hostVethName('chk', 'eth0'))
  await run('ip', ['netns', 'exec', host, 'nft', 'flush', 'chain', 'bridge', ANTISPOOF_TABLE, chain])
  const tampered = await invoke(WEFT_CNI, host, inv('CHECK', 'chk', podNs[0]), { ...conf, prevResult: added.out })
  t.equal(tampered.code, 1)
  t.match(tampered.out, { msg: /anti-spoofing: chain .* does not drop frames from other MACs/ })
  const readded = await invoke(WEFT_CNI, host, inv('ADD', 'chk', podNs[0]), conf)
  t.equal(readded.code, 0, `ADD again: ${readded.text}`)
  const fixed = await invoke(WEFT_CNI, host, inv('CHECK', 'chk', podNs[0]), { ...conf, prevResult: readded.out })
  t.equal(fixed.code, 0, `ADD again rewrote the guard whole: ${fixed.text}`)
  const res = readded.out as { interfaces: { mac: string }[]; ips: { address: string }[] }
  const wrongAddress = portGuard('weft-test', hostVethName('chk', 'eth0'), res.interfaces[2]!.mac, ['10.99.0.77/24', res.ips[1]!.address])
  await installGuard(new NftExec(host), wrongAddress)
  const wrong = await invoke(WEFT_CNI, host, inv('CHECK', 'chk', podNs[0]), { ...conf, prevResult: readded.out })
  t.equal(wrong.code, 1)
  t.match(wrong.out, { msg: /anti-spoofing: chain .* accepts IPv4 from \[10\.99\.0\.77\], expected \[10\.99\.0\.\d+\]/ }, 'CHECK fails for a guard allowing other addresses')

  // A guard whose veth went without DEL (the netns deleted by hand) guards nothing; GC removes it.
  const stale = await invoke(WEFT_CNI, host, inv('ADD', 'stale', podNs[1]), conf)
  t.equal(stale.code, 0, stale.text)
  await ip(['link', 'delete', hostVethName('stale', 'eth0')], host)
  t.ok(parseListedTable(await read()).ports.has(hostVethName('stale', 'eth0')), 'the stale element is still there')
  t.ok(await ping(host, '10.99.0.1'), 'the node still works')
  const gc = await invoke(WEFT_CNI, host, { command: 'GC', env: standalone }, { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'chk', ifname: 'eth0' }] })
  t.equal(gc.code, 0, gc.text)
  const afterGc = parseListedTable(await read())
  t.same([...afterGc.ports.keys()], [hostVethName('chk', 'eth0')], 'GC removed the stale guard and kept the valid one')
  t.same([...afterGc.chains.keys()].sort(), [chain, 'prerouting'].sort())
  t.notOk([...afterGc.ports.keys()].includes(PORTS_MAP))

  // The port's element pointing at another network's chain (a DEL that never came, then the
  // same container and interface in another network): DEL still succeeds and takes it.
  await installGuard(new NftExec(host), portGuard('other-net', hostVethName('chk', 'eth0'), '02:00:00:00:00:01', ['10.1.0.2/24']))
  t.equal(parseListedTable(await read()).ports.get(hostVethName('chk', 'eth0')), guardChain('other-net', hostVethName('chk', 'eth0')))
  const del = await invoke(WEFT_CNI, host, inv('DEL', 'chk', podNs[0]), conf)
  t.equal(del.code, 0, `DEL replaces what the kernel refuses to re-add: ${del.text}`)
  t.same([...parseListedTable(await read()).ports.keys()], [], 'the element is gone')
})
