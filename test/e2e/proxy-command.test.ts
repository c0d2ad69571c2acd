// `weft proxy` on its own, as a process in a namespace of the test's: it programs the
// nftables tables, answers /healthz, and leaves its rules in place when it stops.
import t from 'tap'
import { spawn } from 'node:child_process'
import { nftList } from '../../src/netfilter/nft.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { until } from '../helpers/control-plane.ts'
import { testNetns } from '../helpers/netns.ts'
import { execIn, weftBin } from '../helpers/nodes.ts'

t.test('weft proxy programs the node and reports healthy', async (t) => {
  const server = await startTestServer(t, { socket: true })
  const ns = await testNetns(t, 'px', async () => {
    if (proxy.exitCode === null) proxy.kill('SIGKILL')
  })
  let log = ''
  const proxy = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', weftBin, 'proxy', '--socket', server.socketPath!, '--kubeconfig', server.kubeconfig, '--node-name', 'n1', '--proxy-mode', 'nftables', '--healthz-bind-address', '127.0.0.1:10256'], { stdio: ['ignore', 'pipe', 'pipe'] })
  proxy.stdout.on('data', (b: Buffer) => (log += b))
  proxy.stderr.on('data', (b: Buffer) => (log += b))
  const healthz = () => execIn(ns, 'curl', ['-s', '--max-time', '1', 'http://127.0.0.1:10256/healthz']).catch(() => '')
  await until('/healthz says healthy', async () => (await healthz()).includes('"healthy":true'), 30_000).catch((err: Error) => t.fail(`${err.message}\n${log}`))
  t.match(await healthz(), /"mode":"nftables"/)
  const map = (await nftList(['list', 'map', 'ip', 'weft-proxy', 'no-endpoint-services'], ns)).find((i) => i.map)?.map as { elem?: unknown[] } | undefined
  t.ok(map, 'the proxy wrote its table')
  const exited = new Promise<number | null>((resolve) => proxy.once('exit', resolve))
  proxy.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM stops it cleanly')
  t.ok((await nftList(['list', 'table', 'ip', 'weft-proxy'], ns)).length > 0, 'its rules stay in place')
})
