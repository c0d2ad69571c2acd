// A client flood against the userspace proxier in a namespace (a child process under
// nsenter, so its fds are its own): new UDP sessions and TCP connections past the limits
// are refused and counted, the proxier's fd count stays within its share, and once the
// flood is over it serves again with its fds back where they started.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { run } from '../../../src/netlink/index.ts'
import { testNetns } from '../../helpers/netns.ts'

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url))
const PROXY = fileURLToPath(new URL('./fixtures/flood-proxy.ts', import.meta.url))
const FLOOD = fileURLToPath(new URL('./fixtures/flood.ts', import.meta.url))
const UDP_ASK = fileURLToPath(new URL('../../helpers/programs/udp-ask.ts', import.meta.url))
const SESSION_LIMIT = 200
const SOCKET_LIMIT = 300
const IDLE_MS = 2500

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))
}

function inNs(ns: string, args: string[], opts: { stdin?: 'pipe' | 'ignore' } = {}): ChildProcess {
  return spawn('nsenter', [`--net=/run/netns/${ns}`, '--', NODE, '--disable-warning=ExperimentalWarning', ...args], { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] })
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! })
  const line = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`exited (${code}) before printing`)))
  })
  lines.close()
  return line
}

t.test('a flood of UDP sessions and TCP connections runs into the limits, not into the fd limit', async (t) => {
  let proxy: ChildProcess | undefined
  const floods: ChildProcess[] = []
  const ns = await testNetns(t, 'usflood', async () => {
    for (const c of [...floods, proxy]) {
      if (c?.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue
      process.kill(c.pid, 'SIGKILL')
      await exited(c)
    }
  })
  const curl = (path: string) => run('nsenter', [`--net=/run/netns/${ns}`, '--', 'curl', '-sS', '--max-time', '5', `http://127.0.0.1:10249${path}`])
  const fds = async () => Number(await curl('/fds'))
  const metric = async (name: string) => {
    const line = (await curl('/metrics')).split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  const waitFor = async (what: string, read: () => Promise<number>, ok: (n: number) => boolean, ms = 10_000) => {
    const end = Date.now() + ms
    let n = await read()
    while (!ok(n) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100))
      n = await read()
    }
    t.ok(ok(n), `${what} (${n})`)
    return n
  }
  const ask = async () => (await run('nsenter', [`--net=/run/netns/${ns}`, '--', NODE, '--disable-warning=ExperimentalWarning', UDP_ASK, '10.96.0.60', '53', 'hello'])).trim()

  proxy = inNs(ns, [PROXY, String(SESSION_LIMIT), String(SOCKET_LIMIT), String(IDLE_MS)])
  let stderr = ''
  proxy.stderr!.on('data', (b: Buffer) => (stderr += b))
  t.equal(await firstLine(proxy).catch((err: Error) => `${err.message}: ${stderr}`), 'READY')
  const baseline = await fds()

  // TCP: more connections at once than the socket share holds (two sockets each).
  const tcp = inNs(ns, [FLOOD, 'tcp', '10.96.0.60', '80', String(SOCKET_LIMIT)], { stdin: 'pipe' })
  floods.push(tcp)
  const tcpResult = JSON.parse(await firstLine(tcp))
  t.same(tcpResult, { served: SOCKET_LIMIT / 2, reset: SOCKET_LIMIT / 2 }, 'connections past the share are reset')
  t.equal(await metric('weft_proxy_userspace_tcp_connections_rejected_total'), SOCKET_LIMIT / 2, 'and counted')
  t.equal(await metric('weft_proxy_userspace_relay_sockets'), SOCKET_LIMIT)
  const tcpPeak = await fds()
  // The echo server's ends of the relayed connections live in the same process: count them too.
  t.ok(tcpPeak - baseline <= SOCKET_LIMIT + SOCKET_LIMIT / 2 + 5, `the relays hold their share and no more (${baseline} → ${tcpPeak})`)
  tcp.stdin!.end()
  await exited(tcp)
  await waitFor('the relay sockets are closed', () => metric('weft_proxy_userspace_relay_sockets'), (n) => n === 0)
  await waitFor('the fds are back to the baseline', fds, (n) => n <= baseline + 2)
  const after = await run('nsenter', [`--net=/run/netns/${ns}`, '--', 'bash', '-c', 'exec 3<>/dev/tcp/10.96.0.60/80; head -1 <&3'])
  t.equal(after.trim(), 'echo', 'a new TCP connection is served after the flood')
  await waitFor('its sockets are closed', () => metric('weft_proxy_userspace_relay_sockets'), (n) => n === 0)

  // UDP: five times the session limit, each from its own source port.
  const udp = inNs(ns, [FLOOD, 'udp', '10.96.0.60', '53', String(SESSION_LIMIT * 5)])
  floods.push(udp)
  const udpResult = JSON.parse(await firstLine(udp))
  t.equal(udpResult.replies, SESSION_LIMIT, 'exactly the sessions up to the limit are answered')
  t.equal(await metric('weft_proxy_userspace_udp_sessions'), SESSION_LIMIT, 'the sessions gauge is at the limit')
  t.equal(await metric('weft_proxy_userspace_udp_sessions_dropped_total'), SESSION_LIMIT * 4, 'every other new session was dropped and counted')
  const udpPeak = await fds()
  t.ok(udpPeak - baseline <= SESSION_LIMIT + 5, `one fd per session at most (${baseline} → ${udpPeak})`)
  await waitFor('idle sessions end', () => metric('weft_proxy_userspace_udp_sessions'), (n) => n === 0, IDLE_MS + 5000)
  await waitFor('the fds are back to the baseline', fds, (n) => n <= baseline + 2)
  t.equal(await ask(), 'hello', 'a new client is served after the flood')

  proxy.kill('SIGTERM')
  await exited(proxy)
  t.equal(proxy.exitCode, 0, `the proxier closed cleanly ${stderr}`)
})
