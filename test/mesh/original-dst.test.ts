// SO_ORIGINAL_DST for real: inside a namespace of the test's own, nft redirects connections to
// addresses that exist nowhere to a local port, and the addon reads where each was going.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { testNetns } from '../helpers/netns.ts'

const run = promisify(execFile)

t.test("the original destination of redirected IPv4 and IPv6 connections; a direct one's is its own", async (t) => {
  const ns = await testNetns(t, 'odst')
  const exec = (cmd: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, cmd, ...args])
  await exec('ip', 'link', 'set', 'lo', 'up')
  // Addresses on a veth pair of the namespace's own, so both families have a route for the connection to start.
  await exec('ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1')
  await exec('ip', 'link', 'set', 'd1', 'up')
  await exec('ip', 'link', 'set', 'd0', 'up')
  await exec('ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'd0')
  await exec('ip', '-6', 'addr', 'add', 'fd77::1/64', 'dev', 'd0', 'nodad')
  const port = 15001
  const rules = `table inet weft-test-odst {
    chain out {
      type nat hook output priority -100; policy accept;
      ip daddr 10.77.0.0/24 tcp dport != ${port} redirect to :${port}
      ip6 daddr fd77::/64 tcp dport != ${port} redirect to :${port}
    }
  }`
  const nft = execFile('ip', ['netns', 'exec', ns, 'nft', '-f', '-'])
  nft.stdin!.end(rules)
  await new Promise<void>((r, j) => nft.once('exit', (code) => (code === 0 ? r() : j(new Error(`nft exited ${code}`)))))
  const program = join(import.meta.dirname, 'programs', 'redirected.ts')
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '--disable-warning=ExperimentalWarning', program, String(port), '10.77.0.9:8080', '[fd77::9]:443'], { timeout: 20_000 })
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l))
  t.same(lines, [
    { target: '10.77.0.9:8080', address: '10.77.0.9', port: 8080, family: 4 },
    { target: '[fd77::9]:443', address: 'fd77::9', port: 443, family: 6 },
    { target: `127.0.0.1:${port}`, address: '127.0.0.1', port, family: 4 },
  ])
})
