// Fuzzes weft's CNI plugins as a runtime calls them: bin/weft-cni and bin/weft-ipam run in
// a test "host" namespace with the warm CNI service there (and sometimes standalone), with
// hostile stdin and CNI_* environments, pods in namespaces of their own, and garbage
// written straight into the service's request FIFO between cases.
// Every call ends in time with a result (exit 0) or one CNI error object (exit 1); a failed
// ADD leaves no veth, address, reservation or anti-spoofing guard; at the end nothing is
// left but the bridges (and the anti-spoofing table's hook chain), the service holds as
// many file descriptors as before, and no bystander was signalled.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { nftTableReader, parseListedTable } from '../../cni/bridge/antispoof.ts'
import { hostVethName } from '../../cni/bridge/names.ts'
import { listMasqChains } from '../../cni/masq.ts'
import { listLinks } from '../../src/netlink/index.ts'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { testNetns } from '../helpers/netns.ts'
import { ROOT, startServiceIn, tempDir, WEFT_CNI, WEFT_IPAM } from './bridge-helpers.ts'
import { bridgeConfig, checkOutput, cniEnvironment, JS_CRASH, pinDataDir, stdinText } from './cni-fuzz-helpers.ts'

if (process.getuid?.() !== 0) t.plan(0, 'needs root for network namespaces')

const settings = fuzzSettings(100)
// One process per call: a hung one is killed and reported.
const CALL_TIMEOUT_MS = 20_000

interface Ran {
  code: number | null
  out: string
  hung: boolean
}

type Mode = 'socket' | 'pipe' | 'standalone'

/** Runs a plugin in `host` the way a runtime does; `pipe` gives it a pipe on stdin and stdout (the service's /proc path), `socket` what Node gives (the file path). */
function call(plugin: string, host: string, env: Record<string, string>, stdin: string, mode: Mode, children: Set<ChildProcess>): Promise<Ran> {
  // The plugin's own exit code: the first cat may die of SIGPIPE when the plugin does not read stdin (VERSION).
  const argv = mode === 'pipe' ? ['bash', '-c', 'cat | "$0" | cat; exit "${PIPESTATUS[1]}"', plugin] : [plugin]
  const fullEnv = { PATH: process.env.PATH!, ...env, ...(mode === 'standalone' ? { WEFT_CNI_SERVICE: 'off' } : {}), WEFT_CNI_TIMEOUT: '15' }
  return new Promise((resolve) => {
    const child = spawn('nsenter', [`--net=/run/netns/${host}`, '--', ...argv], { env: fullEnv, stdio: ['pipe', 'pipe', 'ignore'] })
    children.add(child)
    let out = ''
    let hung = false
    const timer = setTimeout(() => {
      hung = true
      child.kill('SIGKILL')
    }, CALL_TIMEOUT_MS)
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.on('close', (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, out, hung })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(stdin)
  })
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** `pid`'s descriptor count once three reads 100 ms apart agree (at most 5 s). */
async function steadyFdCount(pid: number): Promise<number> {
  let last = fdCount(pid)
  for (let same = 0, until = Date.now() + 5000; same < 2 && Date.now() < until; ) {
    await sleep(100)
    const now = fdCount(pid)
    same = now === last ? same + 1 : 0
    last = now
  }
  return last
}

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
}

t.test('weft-cni and weft-ipam under hostile stdin, environment and request lines', async (t) => {
  const host = await testNetns(t, 'fzh')
  const pods = [await testNetns(t, 'fzp'), await testNetns(t, 'fzp'), await testNetns(t, 'fzp'), await testNetns(t, 'fzp')]
  const dataDir = tempDir(t, 'weft-cni-fuzz-')
  const runDir = tempDir(t, 'weft-cni-run-')
  const serviceLog: string[] = []
  const dir = await startServiceIn(t, host, runDir, (l) => serviceLog.push(l))
  const servicePid = Number(/^\/proc\/(\d+)\//.exec(readlinkSync(join(dir, 'ns')))![1])
  const children = new Set<ChildProcess>()
  t.teardown(() => {
    for (const c of children) c.kill('SIGKILL')
  })
  // A bystander in the service's namespace, with the fds a client would have but not waiting on the service.
  const bystander = spawn('nsenter', [`--net=/run/netns/${host}`, '--', 'bash', '-c', 'exec 6</dev/null 7>/dev/null; sleep 600 & wait'], { stdio: 'ignore', env: { PATH: process.env.PATH, CNI_COMMAND: 'DEL' } })
  let bystanderExit: string | undefined
  bystander.once('exit', (code, signal) => (bystanderExit = `${signal ?? code}`))
  t.teardown(() => bystander.kill('SIGKILL'))

  const rng = new Rng(settings.seed)
  const cniPath = join(ROOT, 'bin')
  const podOf = (netns: string) => pods.find((p) => netns === `/run/netns/${p}`)
  // A hostile CNI_NETNS may not name a real namespace other than the pod's: that would move the pod end there.
  const safeNetns = (netns: string | undefined, pod: string): string | undefined => {
    if (netns === undefined || netns === `/run/netns/${pod}` || !netns.startsWith('/')) return netns
    try {
      statSync(netns)
      return '/nonexistent-weft-fuzz-netns'
    } catch {
      return netns
    }
  }
  const reservedBy = (id: string): string[] => {
    const out: string[] = []
    for (const net of readdirSync(dataDir, { withFileTypes: true })) {
      if (!net.isDirectory()) continue
      for (const f of readdirSync(join(dataDir, net.name))) {
        if (!f.startsWith('last_') && readFileSync(join(dataDir, net.name, f), 'utf8').startsWith(`${id}\r\n`)) out.push(`${net.name}/${f}`)
      }
    }
    return out
  }
  const guards = nftTableReader(host)
  const podLinks = async (pod: string) => (await listLinks(pod)).map((l) => l.ifname).filter((n) => n !== 'lo')
  const leftovers = async (id: string, ifname: string, pod: string): Promise<string[]> => {
    const found: string[] = []
    if (/^[A-Za-z0-9_.-]{1,15}$/.test(ifname) && (await listLinks(host)).some((l) => l.ifname === hostVethName(id, ifname))) found.push(`veth ${hostVethName(id, ifname)}`)
    for (const l of await podLinks(pod)) found.push(`link ${l} in the pod`)
    for (const r of reservedBy(id)) found.push(`reservation ${r}`)
    if (parseListedTable(await guards()).ports.has(hostVethName(id, ifname))) found.push(`anti-spoofing element for ${hostVethName(id, ifname)}`)
    return found
  }
  const garbage = (): void => {
    const lines = [
      rng.hostileString(),
      `${bystander.pid} bridge -`,
      `${bystander.pid} ipam -io`,
      `${rng.int(1 << 22)} ${rng.pick(['bridge', 'ipam', '__proto__', 'x'])} ${rng.pick(['-', '-i', '-o', '-io', '+'])}`,
      rng.bytes(rng.int(300)).toString('latin1'),
    ]
    const data = Buffer.from(`${rng.pick(lines)}\n`, 'latin1')
    const fd = openSync(join(dir, 'req'), constants.O_WRONLY)
    try {
      writeSync(fd, data)
    } finally {
      closeSync(fd)
    }
  }

  // Warm up, then take the service's descriptor count as the baseline. The service lets go
  // of a request's pipes just after its client has the answer, so wait for the count to hold.
  const warm = await call(WEFT_CNI, host, { CNI_COMMAND: 'VERSION' }, '', 'socket', children)
  t.equal(warm.code, 0, warm.out)
  const fdsBefore = await steadyFdCount(servicePid)
  const rssBefore = rssKiB(servicePid)

  let adds = 0
  let failedAdds = 0
  const fail = (i: number, what: string, detail: object) => t.fail(`case ${i} (seed ${settings.seed}): ${what}\n${JSON.stringify(detail, null, 2).slice(0, 1500)}`)
  for (let i = 0; i < settings.iterations; i++) {
    if (rng.chance(0.15)) garbage()
    if (i % 40 === 39) {
      // Four ADDs at once through the service, then their DELs.
      const conf = JSON.stringify(bridgeConfig(new Rng(i), dataDir, ['wfz0']))
      const envs = pods.map((p, n) => ({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: `burst${i}-${n}`, CNI_NETNS: `/run/netns/${p}`, CNI_IFNAME: 'eth0', CNI_PATH: cniPath, WEFT_CNI_RUN_DIR: runDir }))
      const results = await Promise.all(envs.map((env) => call(WEFT_CNI, host, env, conf, rng.pick(['socket', 'pipe'] as const), children)))
      for (const [n, r] of results.entries()) {
        const checked = checkOutput(r.code, r.out, 'ADD')
        if (r.hung || checked.problem) fail(i, `concurrent ADD ${n}: ${r.hung ? 'hung' : checked.problem}`, { out: r.out })
      }
      await Promise.all(envs.map((env) => call(WEFT_CNI, host, { ...env, CNI_COMMAND: 'DEL' }, conf, 'socket', children)))
      for (const [n, env] of envs.entries()) {
        const left = await leftovers(env.CNI_CONTAINERID, 'eth0', pods[n]!)
        if (left.length > 0) fail(i, 'concurrent ADD+DEL left things behind', { left })
      }
      continue
    }
    const pod = rng.pick(pods)
    const containerID = `fz${i}`
    const plugin = rng.chance(0.85) ? WEFT_CNI : WEFT_IPAM
    const command = rng.pick(['ADD', 'ADD', 'ADD', 'ADD', 'ADD', 'ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS', rng.hostileString()])
    const mode: Mode = rng.chance(0.04) ? 'standalone' : rng.pick(['socket', 'pipe'] as const)
    const env: Record<string, string> = { ...cniEnvironment(rng, { command, containerID, netns: `/run/netns/${pod}`, ifname: rng.pick(['eth0', 'eth0', 'net1']), path: cniPath }), WEFT_CNI_RUN_DIR: runDir }
    const netns = safeNetns(env.CNI_NETNS, pod)
    if (netns === undefined) delete env.CNI_NETNS
    else env.CNI_NETNS = netns
    const stdin = pinDataDir(stdinText(rng, bridgeConfig(rng, dataDir, ['wfz0', 'wfz1'])), dataDir)
    const r = await call(plugin, host, env, stdin, mode, children)
    const detail = { plugin, mode, env, stdin: stdin.slice(0, 400), out: r.out.slice(0, 400), code: r.code }
    if (r.hung) {
      fail(i, 'the call hung', detail)
      continue
    }
    const checked = checkOutput(r.code, r.out, env.CNI_COMMAND ?? '')
    if (checked.problem) fail(i, checked.problem, detail)
    if (env.CNI_COMMAND !== 'ADD') continue
    // Whatever ADD succeeded (a hostile but valid container ID too) is taken down again.
    if (checked.ok) {
      adds++
      const del = await call(plugin, host, { ...env, CNI_COMMAND: 'DEL' }, stdin, 'socket', children)
      if (del.code !== 0) fail(i, 'DEL of a successful ADD failed', { ...detail, del: del.out })
    } else failedAdds++
    const target = podOf(env.CNI_NETNS ?? '')
    if (target === undefined || env.CNI_CONTAINERID === undefined) continue
    const left = await leftovers(env.CNI_CONTAINERID, env.CNI_IFNAME ?? '', target)
    if (left.length > 0) fail(i, checked.ok ? 'ADD then DEL left things behind' : 'a failed ADD left things behind', { ...detail, left })
  }
  t.ok(adds > 0 && failedAdds > 0, `both successful (${adds}) and failed (${failedAdds}) ADDs were tried`)

  // Nothing left: links, addresses, masquerade chains, reservations, locks, request files.
  const settled = Date.now() + 10_000
  while (Date.now() < settled && (fdCount(servicePid) !== fdsBefore || readdirSync(dir).some((n) => n.startsWith('in.')))) await sleep(50)
  t.same((await listLinks(host)).filter((l) => l.ifname !== 'lo' && l.linkinfo?.info_kind !== 'bridge').map((l) => l.ifname), [], 'only bridges are left in the host namespace')
  for (const p of pods) t.same(await podLinks(p), [], `nothing is left in ${p}`)
  t.same(await listMasqChains(host).catch(() => []), [], 'no masquerade chain is left')
  const guardTable = parseListedTable(await guards())
  t.same([...guardTable.ports.keys()], [], 'no anti-spoofing element is left')
  t.same([...guardTable.chains.keys()].filter((c) => c !== 'prerouting'), [], 'no anti-spoofing chain is left')
  t.ok(guardTable.chains.has('prerouting'), 'the anti-spoofing table was there (ADDs guarded their ports)')
  t.same(readdirSync(dataDir).filter((n) => n.includes('weft-lock')), [], 'no IPAM lock is left')
  t.same(readdirSync(dataDir, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => readdirSync(join(dataDir, d.name)).filter((f) => !f.startsWith('last_'))), [], 'no reservation is left')
  t.same(readdirSync(dir).filter((n) => n.startsWith('in.')), [], 'no request input file is left')
  t.equal(fdCount(servicePid), fdsBefore, 'the service holds as many file descriptors as before')
  const rss = rssKiB(servicePid)
  t.ok(rss < rssBefore * 2 + 64 * 1024, `the service's memory stays sane (${rssBefore} KiB → ${rss} KiB)`)
  t.equal(bystanderExit, undefined, 'the bystander named in forged requests was never signalled')
  t.ok(existsSync(`/proc/${servicePid}`), 'the service still runs')
  t.same(serviceLog.filter((l) => JS_CRASH.test(l)), [], 'the service logged no crash')
  const after = await call(WEFT_CNI, host, { CNI_COMMAND: 'VERSION', WEFT_CNI_RUN_DIR: runDir }, '', 'pipe', children)
  t.equal(after.code, 0, 'and answers')
})
