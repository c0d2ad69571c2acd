// Fuzzes what a CNI plugin reads, in process: the network config on stdin (protocol,
// bridge and IPAM parsers), the CNI_* environment, results, the CNI service's request
// lines and IPAM lock files; and runs weft-ipam ADD/DEL end to end on the disk (no kernel
// state: the bridge runs in plugin.fuzz.test.ts, inside network namespaces).
// Every input either parses into something safe or fails with a classified CNI error;
// nothing crashes, and a failed ADD reserves nothing.
import t, { type Test } from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addGuardTransaction, AntiSpoofError, gcTransaction, parseListedTable, portGuard, removeGuardTransaction } from '../../cni/bridge/antispoof.ts'
import { parseBridgeConf } from '../../cni/bridge/config.ts'
import { parseIpamConfig } from '../../cni/ipam/config.ts'
import { parseLockOwner } from '../../cni/ipam/lock.ts'
import { ipamHandlers } from '../../cni/ipam-plugin.ts'
import { parseConfList, parseNetConf } from '../../cni/protocol/config.ts'
import { runPlugin } from '../../cni/protocol/dispatch.ts'
import { readEnvironment } from '../../cni/protocol/env.ts'
import { formatResult, isCidr, parseResult } from '../../cni/protocol/result.ts'
import { SUPPORTED_VERSIONS } from '../../cni/protocol/version.ts'
import { parseRequestLine } from '../../cni/service/server.ts'
import { checkNftText } from '../../src/netfilter/tokens.ts'
import { fuzzSettings, HOSTILE_STRINGS, openFdCount, Rng } from '../helpers/fuzz.ts'
import { bridgeConfig, checkOutput, classified, cniEnvironment, mutateStructure, pinDataDir, stdinText } from './cni-fuzz-helpers.ts'

const parsers = fuzzSettings(5000)
const plugin = fuzzSettings(1000)

function expectClassified(t: Test, what: string, seed: number, i: number, fn: () => unknown): unknown {
  try {
    return fn()
  } catch (err) {
    if (!classified(err)) t.fail(`${what} (seed ${seed}, case ${i}) threw ${String((err as Error)?.stack ?? err)}`)
    return undefined
  }
}

t.test('parsers: a value or a classified CNI error, and what parses is safe to use', async (t) => {
  const rng = new Rng(parsers.seed)
  let accepted = 0
  for (let i = 0; i < parsers.iterations; i++) {
    const base = bridgeConfig(rng, '/var/lib/weft-fuzz', ['wfz0', 'cni0', 'br-x', 'a'.repeat(15)])
    const text = stdinText(rng, base)
    const conf = expectClassified(t, 'parseNetConf', parsers.seed, i, () => parseNetConf(text)) as ReturnType<typeof parseNetConf> | undefined
    if (conf) {
      const bridge = expectClassified(t, 'parseBridgeConf', parsers.seed, i, () => parseBridgeConf(conf)) as ReturnType<typeof parseBridgeConf> | undefined
      if (bridge) {
        accepted++
        if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge.bridge)) t.fail(`case ${i}: accepted bridge name ${JSON.stringify(bridge.bridge)}`)
        if (bridge.mtu !== undefined && !(Number.isInteger(bridge.mtu) && bridge.mtu >= 68 && bridge.mtu <= 65535)) t.fail(`case ${i}: accepted mtu ${bridge.mtu}`)
        if (bridge.ipamType !== '' && /[/\0]|^\.\.?$/.test(bridge.ipamType)) t.fail(`case ${i}: accepted ipam.type ${JSON.stringify(bridge.ipamType)}`)
        if (typeof bridge.antiSpoof !== 'boolean') t.fail(`case ${i}: antiSpoof ${JSON.stringify(bridge.antiSpoof)}`)
      }
      if (conf.prevResult) expectClassified(t, 'formatResult', parsers.seed, i, () => formatResult(conf.prevResult!, conf.cniVersion))
    }
    const ipam = expectClassified(t, 'parseIpamConfig', parsers.seed, i, () => parseIpamConfig(text)) as ReturnType<typeof parseIpamConfig> | undefined
    if (ipam) {
      if (!ipam.dataDir.startsWith('/') || /[\u0000-\u001f]/.test(ipam.dataDir)) t.fail(`case ${i}: accepted dataDir ${JSON.stringify(ipam.dataDir)}`)
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(ipam.name)) t.fail(`case ${i}: accepted network name ${JSON.stringify(ipam.name)}`)
      for (const r of ipam.routes) if (!isCidr(r.dst) || (r.gw !== undefined && /[^0-9a-f.:]/.test(r.gw))) t.fail(`case ${i}: accepted route ${JSON.stringify(r)}`)
      for (const set of ipam.ranges) for (const r of set) if (!isCidr(r.subnet.text)) t.fail(`case ${i}: accepted subnet ${r.subnet.text}`)
    }
    expectClassified(t, 'parseConfList', parsers.seed, i, () => parseConfList(rng.chance(0.5) ? text : JSON.stringify({ cniVersion: '1.1.0', name: 'l', plugins: [mutateStructure(rng, base)] })))
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = rng.hostileString()
    }
    expectClassified(t, 'parseResult', parsers.seed, i, () => parseResult(json, rng.pick(SUPPORTED_VERSIONS)))
    const env = cniEnvironment(rng, { command: rng.pick(['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION']), containerID: 'c1', netns: '/run/netns/x', ifname: 'eth0', path: '/opt/cni/bin' })
    const read = expectClassified(t, 'readEnvironment', parsers.seed, i, () => readEnvironment(env)) as ReturnType<typeof readEnvironment> | undefined
    if (read && read.containerID !== '' && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(read.containerID)) t.fail(`case ${i}: accepted containerID ${JSON.stringify(read.containerID)}`)

    const line = rng.chance(0.5) ? rng.hostileString() : `${rng.pick(['1', '42', '0', '-3', '99999999999', String(rng.int(1 << 22))])}${rng.pick(['', ' bridge', ' ipam', ' __proto__', ` ${rng.hostileString()}`])}${rng.pick(['', ' -', ' -io', ' -x', ' - extra'])}`
    const req = parseRequestLine(line)
    if (req && !(Number.isInteger(req.pid) && req.pid > 0 && /^[A-Za-z0-9_-]{1,32}$/.test(req.plugin) && /^-[io]{0,2}$/.test(req.flags))) t.fail(`case ${i}: request line ${JSON.stringify(line)} parsed as ${JSON.stringify(req)}`)
    const owner = parseLockOwner(rng.chance(0.5) ? rng.hostileString() : `${rng.int(1 << 22)} ${rng.int(1e9)} ${rng.bytes(4).toString('hex')}\n`)
    if (owner && !(Number.isInteger(owner.pid) && owner.pid > 0)) t.fail(`case ${i}: lock owner ${JSON.stringify(owner)}`)
  }
  t.ok(accepted > parsers.iterations / 10, `valid configs were generated too (${accepted} of ${parsers.iterations} parsed)`)
})

t.test('anti-spoofing guards: hostile ports, MACs, addresses and listed tables never reach nft text', async (t) => {
  const rng = new Rng(parsers.seed)
  const portOf = () => rng.pick(['veth0123abcd', 'veth89abcdef', 'eth0', rng.hostileString(), rng.pick(HOSTILE_STRINGS), `veth${rng.bytes(4).toString('hex')}`])
  const macOf = () => rng.pick(['02:00:00:00:00:01', '0A:1b:2c:3d:4e:5f', rng.hostileString(), `02:00:00:00:00:01${rng.pick(['', ' ', '}', ';', '\n'])}`, rng.bytes(6).toString('hex').replace(/(..)(?!$)/g, '$1:')])
  const addressOf = () =>
    rng.pick(['10.244.0.2/24', 'fd00::2/64', 'fe80::1/64', '::ffff:10.0.0.1/120', `10.244.0.${rng.int(300)}/${rng.int(40)}`, `fd00::${rng.bytes(2).toString('hex')}/${rng.int(130)}`, rng.hostileString(), `10.0.0.1/24${rng.hostileString()}`])
  // What may appear in a guard's rules besides the fixed words: canonical values only.
  const allowed = /^[a-z0-9 .:,/{}!=&@_-]*$/
  let accepted = 0
  for (let i = 0; i < parsers.iterations; i++) {
    const port = portOf()
    const mac = macOf()
    const addresses = Array.from({ length: rng.int(4) }, addressOf)
    const network = rng.chance(0.7) ? 'pods' : rng.hostileString()
    let guard: ReturnType<typeof portGuard> | undefined
    try {
      guard = portGuard(network, port, mac, addresses)
    } catch (err) {
      if (!(err instanceof AntiSpoofError)) t.fail(`case ${i}: portGuard threw ${String((err as Error)?.stack ?? err)}`)
    }
    if (guard) {
      accepted++
      if (!/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/.test(guard.port)) t.fail(`case ${i}: accepted port ${JSON.stringify(port)}`)
      for (const op of addGuardTransaction(guard, { replaceElement: rng.chance(0.5) }).operations) {
        const text = op.kind === 'rule' ? op.rule : op.kind === 'element' ? op.elements.join(', ') : ''
        if (text && !allowed.test(text.replaceAll(`"${guard.port}"`, ''))) t.fail(`case ${i}: rule text ${JSON.stringify(text)}`)
        if (op.kind === 'rule') checkNftText('rule', op.rule)
      }
      if (new Set([...guard.ipv4, ...guard.ipv6.map((a) => a.text)]).size !== guard.ipv4.length + guard.ipv6.length) t.fail(`case ${i}: duplicate addresses`)
    }
    try {
      removeGuardTransaction(network, port)
    } catch (err) {
      if (!(err instanceof AntiSpoofError)) t.fail(`case ${i}: removeGuardTransaction threw ${String((err as Error)?.stack ?? err)}`)
    }
    // A table listing with hostile names (someone else wrote into the table): GC refuses or stays in the grammar.
    const listed = parseListedTable([
      { chain: { table: 'weft-antispoof', name: rng.chance(0.5) ? `port-049c287e-${port}` : rng.hostileString() } },
      { map: { table: 'weft-antispoof', name: 'ports', elem: [[rng.chance(0.5) ? port : rng.hostileString(), { jump: { target: `port-049c287e-${port}` } }]] } },
      { rule: { table: 'weft-antispoof', chain: rng.hostileString(), expr: [rng.pick([{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: rng.hostileString() } }, { drop: null }, rng.hostileString(), null])] } },
    ])
    try {
      gcTransaction(listed, 'pods', [])?.tx.render()
    } catch (err) {
      const name = (err as Error)?.name
      if (name !== 'AntiSpoofError' && name !== 'NftTokenError') t.fail(`case ${i}: gcTransaction threw ${String((err as Error)?.stack ?? err)}`)
    }
  }
  t.ok(accepted > parsers.iterations / 20, `valid guards were generated too (${accepted} of ${parsers.iterations})`)
})

t.test('weft-ipam through the CNI protocol: a result or one CNI error object; a failed ADD reserves nothing', async (t) => {
  const rng = new Rng(plugin.seed)
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-ipam-fuzz-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const fds = openFdCount()
  const rss = process.memoryUsage().rss
  const reservedBy = (id: string): string[] => {
    const out: string[] = []
    for (const net of readdirSync(dataDir, { withFileTypes: true })) {
      if (!net.isDirectory()) continue
      for (const f of readdirSync(join(dataDir, net.name))) {
        if (/^[\d.:a-f]+$/.test(f) && f.includes('.') !== f.includes(':') && readFileSync(join(dataDir, net.name, f), 'utf8').startsWith(`${id}\r\n`)) out.push(f)
      }
    }
    return out
  }
  let added = 0
  for (let i = 0; i < plugin.iterations; i++) {
    const containerID = `fz${i}`
    const stdin = pinDataDir(stdinText(rng, bridgeConfig(rng, dataDir, ['wfz0'])), dataDir)
    const command = rng.pick(['ADD', 'ADD', 'ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'])
    const env = cniEnvironment(rng, { command, containerID, netns: '/run/netns/none', ifname: 'eth0', path: '/nowhere' })
    const out: string[] = []
    const code = await runPlugin(ipamHandlers, { env, stdin, stdout: (s) => out.push(s) })
    const checked = checkOutput(code, out.join(''), env.CNI_COMMAND ?? '')
    if (checked.problem) t.fail(`case ${i} (seed ${plugin.seed}, ${env.CNI_COMMAND}): ${checked.problem}\nstdin: ${stdin.slice(0, 300)}\nstdout: ${out.join('').slice(0, 300)}`)
    if (command === 'ADD' && env.CNI_COMMAND === 'ADD' && env.CNI_CONTAINERID === containerID) {
      if (!checked.ok && reservedBy(containerID).length > 0) t.fail(`case ${i}: the failed ADD left ${reservedBy(containerID).join(', ')} reserved`)
      if (checked.ok) {
        added++
        const del: string[] = []
        const delCode = await runPlugin(ipamHandlers, { env: { ...env, CNI_COMMAND: 'DEL' }, stdin, stdout: (s) => del.push(s) })
        if (delCode !== 0 || reservedBy(containerID).length > 0) t.fail(`case ${i}: DEL after ADD: exit ${delCode} ${del.join('')}, left ${reservedBy(containerID).join(', ')}`)
      }
    }
  }
  t.ok(added > 0, `some ADDs succeeded (${added})`)
  t.same(readdirSync(dataDir).filter((n) => n.includes('weft-lock')), [], 'no lock file is left')
  t.equal(openFdCount(), fds, 'no file descriptor leaked')
  t.ok(process.memoryUsage().rss < rss * 2 + 128 * 1024 * 1024, `memory stays sane (${Math.round(rss / 2 ** 20)} MiB → ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB)`)
})
