// The node proxies' tunnel over IPv6, in a namespace of the test's own (its loopback carries
// the nodes' and pods' addresses; the original destination is given, as in node-proxy.test.ts).
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { testNetns } from '../helpers/netns.ts'

const run = promisify(execFile)

t.test('node proxies tunnel over IPv6: pod addresses, an IPv6 ClusterIP, node addresses', async (t) => {
  const ns = await testNetns(t, 'v6t')
  const exec = (cmd: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, cmd, ...args])
  await exec('ip', 'link', 'set', 'lo', 'up')
  for (const a of ['1', '2', '5', '9']) await exec('ip', '-6', 'addr', 'add', `fd00:77::${a}/128`, 'dev', 'lo', 'nodad')
  const program = join(import.meta.dirname, 'programs', 'v6-tunnel.ts')
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '--disable-warning=ExperimentalWarning', program], { timeout: 30_000 })
  const result = JSON.parse(stdout.trim())
  t.same(result, { byPod: 'SIX!', byService: 'VIP!', peers: [result.peers[0], result.peers[0]], sessions: 1 })
  t.not(result.peers[0], 'fd00:77::5', 'the pod sees its node proxy, not the client')
})
