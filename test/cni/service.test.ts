import { spawn } from 'node:child_process'
import { closeSync, constants, openSync, writeSync } from 'node:fs'
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

/** Writes raw bytes into the service's request FIFO, as any root process in the namespace could. */
function writeRequest(dir: string, data: string | Buffer): void {
  // Blocking: the service holds the FIFO open, and reads what does not fit at once.
  const fd = openSync(join(dir, 'req'), constants.O_WRONLY)
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data)
  } finally {
    closeSync(fd)
  }
}

/** Runs `script` with bash inside `netns`; resolves with its stdout, exit code and run time. */
function bashIn(netns: string, script: string, env: NodeJS.ProcessEnv, stdin?: string): Promise<{ out: string; code: number | null; ms: number }> {
  const started = Date.now()
  return new Promise((res) => {
    const child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', 'bash', '-c', script], { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    const ended = new Promise((r) => child.stdout.once('end', r))
    child.on('exit', (code) => void ended.then(() => res({ out, code, ms: Date.now() - started })))
    child.stdin.on('error', () => {})
    child.stdin.end(stdin ?? '')
  })
}

t.test('a request naming a process that is not a waiting client is refused; that process is never signalled', async (t) => {
  const host = await testNetns(t, 'svh')
  const runDir = tempDir(t, 'weft-cni-run-')
  const errors: string[] = []
  const dir = await startServiceIn(t, host, runDir, (l) => errors.push(l))
  // A process in the service's namespace with a stdin and stdout on fds 6 and 7 and the
  // CNI variables set, but not waiting on the service: a forged request names it.
  const victim = spawn('nsenter', [`--net=/run/netns/${host}`, '--', 'bash', '-c', 'exec 6</dev/null 7>/dev/null; sleep 30 & wait'], { stdio: 'ignore', env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' } })
  t.teardown(() => victim.kill('SIGKILL'))
  let exited: NodeJS.Signals | number | null = null
  victim.once('exit', (code, signal) => (exited = signal ?? code))
  await new Promise((r) => setTimeout(r, 300))
  writeRequest(dir, `${victim.pid} bridge -\n`)
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(exited, null, 'the named process still runs (SIGUSR1/2 would have ended it)')
  t.match(errors.join('\n'), /refused a request from pid \d+: it is not a weft CNI client waiting on/)
})

t.test('a client whose stdin never ends gets an error in time, not a hang', async (t) => {
  const host = await testNetns(t, 'svs')
  const runDir = tempDir(t, 'weft-cni-run-')
  await startServiceIn(t, host, runDir, undefined, { WEFT_CNI_IO_TIMEOUT_MS: '1000' })
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x', CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: '/nowhere', WEFT_CNI_RUN_DIR: runDir, WEFT_CNI_TIMEOUT: '8' }
  // stdin is a pipe (the service reads it) whose writer sends half a config and stays.
  const viaService = await bashIn(host, `exec "${WEFT_CNI}" < <(printf '{"cniVersion": "1.1.0", '; exec sleep 10)`, env)
  t.equal(viaService.code, 1)
  t.match(JSON.parse(viaService.out || '{}'), { code: 11, msg: /stdin/ }, 'a CNI error about the input')
  t.ok(viaService.ms < 6000, `answered after the service's I/O timeout, not the client's (${viaService.ms} ms)`)
  // stdin is a socket (the client reads it itself): bounded by WEFT_CNI_TIMEOUT.
  const socket = await new Promise<{ out: string; code: number | null; ms: number }>((res) => {
    const started = Date.now()
    const child = spawn('nsenter', [`--net=/run/netns/${host}`, '--', WEFT_CNI], { env: { PATH: process.env.PATH, ...env, WEFT_CNI_TIMEOUT: '2' } })
    t.teardown(() => child.kill('SIGKILL'))
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    const ended = new Promise((r) => child.stdout.once('end', r))
    // Not 'close': the test keeps the child's stdin open on purpose.
    child.on('exit', (code) => void ended.then(() => res({ out, code, ms: Date.now() - started })))
    child.stdin.write('{"cniVersion": "1.1.0", ')
  })
  t.equal(socket.code, 1)
  t.match(JSON.parse(socket.out || '{}'), { code: 11, msg: /stdin/ })
  t.ok(socket.ms < 6000, `in ${socket.ms} ms`)
})

t.test('garbage on the request FIFO does not disturb the service; unknown plugin names are errors', async (t) => {
  const host = await testNetns(t, 'svg')
  const runDir = tempDir(t, 'weft-cni-run-')
  const errors: string[] = []
  const dir = await startServiceIn(t, host, runDir, (l) => errors.push(l))
  writeRequest(dir, 'hello\n\n-1 bridge -\n0\n1 bridge -\n99999999999999999999 bridge\n12 bridge -- extra\n')
  writeRequest(dir, Buffer.concat([Buffer.alloc(100_000, 0x41), Buffer.from('\n')]))
  writeRequest(dir, Buffer.from([0xff, 0xfe, 0x00, 0x0a]))
  // A client as bin/weft-cni is one, naming another plugin; its stdout is a pipe (to cat).
  const client = (plugin: string) =>
    `set -o pipefail; ( exec 7>&1 6<&0; trap 'exit 0' USR1; trap 'exit 1' USR2; exec 9<>"${join(dir, 'idle')}"; echo "$BASHPID ${plugin} -" 1<>"${join(dir, 'req')}"; read -t 5 -u 9; echo TIMEOUT; exit 2 ) | cat`
  for (const plugin of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const r = await bashIn(host, client(plugin), { CNI_COMMAND: 'VERSION' }, '')
    t.equal(r.code, 1, `${plugin}: exit 1`)
    t.match(JSON.parse(r.out || '{}'), { code: 999, msg: `unknown weft CNI plugin "${plugin}"` }, `${plugin}: a CNI error`)
  }
  const v = await invoke(WEFT_CNI, host, { command: 'VERSION', env: { WEFT_CNI_RUN_DIR: runDir } }, '')
  t.equal(v.code, 0, 'the service still answers')
  t.match(v.out, { supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] })
  t.match(errors.join('\n'), /malformed request/)
})

t.test('past its limit of requests in flight the service answers "try again later" at once', async (t) => {
  const host = await testNetns(t, 'svb')
  const runDir = tempDir(t, 'weft-cni-run-')
  // The slow request is in flight for 10 s, so a loaded machine still gets a probe in meanwhile.
  await startServiceIn(t, host, runDir, undefined, { WEFT_CNI_MAX_INFLIGHT: '1', WEFT_CNI_IO_TIMEOUT_MS: '10000' })
  const via = { WEFT_CNI_RUN_DIR: runDir }
  // Its stdin is a pipe whose writer sends half a config and stays.
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x', CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: '/nowhere', ...via }
  const slow = bashIn(host, `exec "${WEFT_CNI}" < <(printf '{"cniVersion": "1.1.0", '; exec sleep 11)`, env)
  let busy: Awaited<ReturnType<typeof invoke>> | undefined
  for (let i = 0; i < 40 && busy === undefined; i++) {
    await new Promise((r) => setTimeout(r, 200))
    const r = await invoke(WEFT_CNI, host, { command: 'VERSION', env: via }, '')
    // Answered normally: the slow client was not in flight yet.
    if (r.code !== 0) busy = r
  }
  t.equal(busy?.code, 1, 'a request past the limit fails')
  t.match(busy?.out, { code: 11, msg: /busy \(1 requests\)/ }, 'with a CNI "try again later" error')
  const first = await slow
  t.match(JSON.parse(first.out || '{}'), { code: 11, msg: /stdin/ }, 'the request in flight got its own answer')
  const after = await invoke(WEFT_CNI, host, { command: 'VERSION', env: via }, '')
  t.equal(after.code, 0, 'served again once nothing is in flight')
})
