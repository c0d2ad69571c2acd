// End to end: a UserspaceProxier running inside a namespace (a child node process under
// nsenter) makes a ClusterIP answer there, and leaves nothing behind when it stops.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { listAddrs, run } from '../../../src/netlink/index.ts'
import { testNetns } from '../../helpers/netns.ts'

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/ns-proxy.ts', import.meta.url))

function curl(ns: string, url: string): Promise<string> {
  return run('nsenter', [`--net=/run/netns/${ns}`, '--', 'curl', '-sS', '--max-time', '5', url]).catch((err: Error) => `failed: ${err.message}`)
}

async function serviceAddrs(ns: string): Promise<string[]> {
  const links = await listAddrs(undefined, ns)
  return links.flatMap((l) => l.addr_info.filter((a) => a.local === '10.96.0.50').map((a) => `${l.ifname} ${a.local}`))
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))
}

t.test('a ClusterIP answers inside the namespace the proxier runs in', async (t) => {
  let child: ChildProcess | undefined
  const ns = await testNetns(t, 'use2e', async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL')
      await exited(child)
    }
  })
  const proc = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', NODE, '--disable-warning=ExperimentalWarning', FIXTURE], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WEFT_LOG_LEVEL: 'info' },
  })
  child = proc
  let out = ''
  let err = ''
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()))
  const device = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      const m = /^READY (\S+)$/m.exec(out)
      if (m) resolve(m[1]!)
    })
    proc.once('exit', (code) => reject(new Error(`the proxier exited (${code}): ${err}${out}`)))
  })
  t.comment(`service addresses on ${device}`)
  t.match(out, /"msg":"(the kernel has no dummy links: service addresses go on lo|service addresses go on the dummy interface)"/, 'it logs where addresses go')
  t.same(await serviceAddrs(ns), [`${device} 10.96.0.50`])
  t.equal(await curl(ns, 'http://10.96.0.50/'), 'hello from the namespace\n')
  t.match(await curl(ns, 'http://10.96.0.50:81/'), /failed:.*(refused|Couldn't connect)/, 'other ports are not served')

  proc.kill('SIGTERM')
  await exited(proc)
  t.equal(proc.exitCode, 0)
  t.same(await serviceAddrs(ns), [], 'the address is gone after close')
})
