// loadBalancerSourceRanges with real packets: a userspace proxier runs in a "node" namespace
// (a child process under nsenter, its Service addresses on weft-svc0) and a "client"
// namespace, wired to it by a veth, reaches the load-balancer IP from an address inside the
// ranges and from one outside them.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ipBatch } from '../../../src/netlink/index.ts'
import { testNetns } from '../../helpers/netns.ts'

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/lb-proxy.ts', import.meta.url))
const UDP_ASK = fileURLToPath(new URL('../../helpers/programs/udp-ask.ts', import.meta.url))

const LB_IP = '192.0.2.10'
const CLUSTER_IP = '10.96.0.60'
const NODE_IP = '10.77.0.1'
const INSIDE = '10.77.0.2'
const OUTSIDE = '10.77.0.3'

interface Result {
  code: number
  out: string
}

function runIn(ns: string, file: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', file, ...args], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.on('close', (code) => resolve({ code: code ?? -1, out }))
  })
}

/** curl from `source`: exit code 0 with the body when answered; 56 (reset) or 52 (empty reply) when refused. */
const curl = (ns: string, source: string, url: string) => runIn(ns, 'curl', ['-s', '--max-time', '3', '--interface', source, url])
const udpFrom = (ns: string, source: string, ip: string, port: number, text: string) => runIn(ns, NODE, ['--disable-warning=ExperimentalWarning', UDP_ASK, ip, String(port), text, '0', source]).then((r) => r.out)

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))
}

t.test('only clients in the ranges reach the load-balancer IP; the ClusterIP is not filtered', async (t) => {
  let child: ChildProcess | undefined
  const nodeNs = await testNetns(t, 'uslbn', async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL')
      await exited(child)
    }
  })
  const clientNs = await testNetns(t, 'uslbc')
  await ipBatch(['link set lo up', `link add v0 type veth peer name v1 netns ${clientNs}`, `addr add ${NODE_IP}/24 dev v0`, 'link set v0 up'], nodeNs)
  await ipBatch(['link set lo up', `addr add ${INSIDE}/24 dev v1`, `addr add ${OUTSIDE}/24 dev v1`, 'link set v1 up', `route add 192.0.2.0/24 via ${NODE_IP}`, `route add 10.96.0.0/16 via ${NODE_IP}`], clientNs)

  const config = { clusterIP: CLUSTER_IP, lbIP: LB_IP, ranges: [`${INSIDE}/32`], nodeIPs: [NODE_IP] }
  const proc = spawn('nsenter', [`--net=/run/netns/${nodeNs}`, '--', NODE, '--disable-warning=ExperimentalWarning', FIXTURE, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WEFT_LOG_LEVEL: 'warn' },
  })
  child = proc
  let out = ''
  let err = ''
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()))
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      if (/^READY$/m.test(out)) resolve()
    })
    proc.once('exit', (code) => reject(new Error(`the proxier exited (${code}): ${err}${out}`)))
  })

  const inside = await curl(clientNs, INSIDE, `http://${LB_IP}/`)
  t.same(inside, { code: 0, out: 'up' }, 'a client in the range is answered')
  const outside = await curl(clientNs, OUTSIDE, `http://${LB_IP}/`)
  t.not(outside.code, 0, `a client outside the range is not (curl exit ${outside.code})`)
  t.not(outside.code, 28, 'it is reset at once, not left to time out')
  t.same(await curl(clientNs, OUTSIDE, `http://${CLUSTER_IP}/`), { code: 0, out: 'up' }, 'the ClusterIP answers the outside client')
  const fromNode = await curl(nodeNs, LB_IP, `http://${LB_IP}/`)
  t.not(fromNode.code, 0, 'the node is not in the range: its own request (from the load-balancer IP) is refused, as in nftables mode')

  t.equal(await udpFrom(clientNs, INSIDE, LB_IP, 53, 'q1'), 'up:q1', 'UDP from inside the range is relayed')
  t.equal(await udpFrom(clientNs, OUTSIDE, LB_IP, 53, 'q2'), '', 'UDP from outside is dropped')
  t.equal(await udpFrom(clientNs, OUTSIDE, CLUSTER_IP, 53, 'q3'), 'up:q3', 'UDP to the ClusterIP is not filtered')

  proc.kill('SIGTERM')
  await exited(proc)
  t.equal(proc.exitCode, 0, 'the proxier closed cleanly')
})
