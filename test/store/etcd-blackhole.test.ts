// etcd behind a real blackhole. etcd and two `weft server`s run in a network namespace this
// test makes: server A reaches etcd at 127.0.0.2, server B at 127.0.0.1. An nft table in
// the namespace then drops every packet between 127.0.0.2 and etcd's port, so A's
// connections go half-open (no reset, no answer) while B and etcd carry on. A must say
// so on /readyz within 2 s, fail writes rather than hang, and, once the drop is lifted,
// recover by itself and deliver to its watchers what B wrote in between.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { V1ConfigMap } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { findEtcd } from '../helpers/etcd.ts'
import { testNetns } from '../helpers/netns.ts'
import { weft } from '../helpers/server-process.ts'

const run = promisify(execFile)
interface Teardown {
  teardown(fn: () => unknown): void
}
const configMaps = resources.find((r) => r.kind === 'ConfigMap')!
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
t.setTimeout(180_000)

/** Starts `argv` inside `netns`, ended by its pid when the test ends. */
function startIn(t: Teardown, netns: string, argv: string[]): { child: ChildProcess; output: () => string } {
  // `ip netns exec` execs the program itself, so the pid is the program's.
  const child = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (d: Buffer) => void (output = (output + d.toString()).slice(-8000))
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return { child, output: () => output }
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < ms) {
    if (await check().catch(() => false)) return Date.now() - started
    await sleep(100)
  }
  throw new Error(`${what}: not within ${ms} ms`)
}

async function startServer(t: Teardown, netns: string, etcd: string, name: string): Promise<{ client: RestClient; readyz: () => Promise<{ status: number; ms: number; body: string }> }> {
  const dir = mkdtempSync(join(tmpdir(), `weft-blackhole-${name}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const server = startIn(t, netns, [weft, 'server', '--api-only', '--data-dir', dir, '--listen', '127.0.0.1:0', '--etcd-endpoints', etcd, '--etcd-prefix', '/blackhole', '--etcd-request-timeout', '2s'])
  await until(`weft server ${name} (${server.output()})`, async () => /Join a node/.test(server.output()), 30_000)
  const client = new RestClient({ socketPath: join(dir, 'apiserver.sock'), credentials: loadKubeconfig(join(dir, 'kubeconfig')).credentials }, { timeoutMs: 10_000 })
  t.teardown(() => client.close())
  const readyz = async () => {
    const started = Date.now()
    try {
      const body = await client.request<string>('GET', '/readyz?verbose')
      return { status: 200, ms: Date.now() - started, body: String(body) }
    } catch (err) {
      return { status: (err as { code?: number }).code ?? 0, ms: Date.now() - started, body: String((err as Error).message) }
    }
  }
  return { client, readyz }
}

t.test('a blackholed etcd: /readyz says so within 2 s, writes fail, and all recovers with nothing missed', async (t) => {
  const etcdBin = findEtcd()
  if (!etcdBin) throw new Error('etcd is not installed: run `npm test` (it installs etcd-server) or `apt-get install etcd-server`')
  const netns = await testNetns(t, 'bh')
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-blackhole-etcd-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // The namespace is this test's own: no port in it can be taken by anyone else.
  const port = 2379
  const etcd = startIn(t, netns, [
    etcdBin,
    '--name', 'bh', '--data-dir', join(dataDir, 'data'), '--log-level', 'error',
    '--listen-client-urls', `http://0.0.0.0:${port}`, '--advertise-client-urls', `http://127.0.0.1:${port}`,
    '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380', '--initial-cluster', 'bh=http://127.0.0.1:2380',
  ])
  await until(`etcd (${etcd.output()})`, async () => (await run('ip', ['netns', 'exec', netns, 'curl', '-sf', '--max-time', '1', `http://127.0.0.1:${port}/health`])).stdout.includes('true'), 15_000)

  const a = await startServer(t, netns, `http://127.0.0.2:${port}`, 'a')
  const b = await startServer(t, netns, `http://127.0.0.1:${port}`, 'b')
  t.equal((await a.readyz()).status, 200)
  const before = await a.client.create<V1ConfigMap>(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'before', namespace: 'default' } })

  const seen: string[] = []
  const watching = new AbortController()
  t.teardown(() => watching.abort())
  // As an informer does: when the stream ends, watch again from the last revision it showed.
  let rewatches = 0
  void (async () => {
    let from = before.metadata!.resourceVersion!
    while (!watching.signal.aborted) {
      try {
        for await (const ev of a.client.watch<V1ConfigMap>(configMaps, { namespace: 'default', resourceVersion: from, signal: watching.signal, allowWatchBookmarks: true })) {
          from = ev.object.metadata?.resourceVersion ?? from
          if (ev.type === 'ADDED' && ev.object.metadata?.name) seen.push(ev.object.metadata.name)
        }
      } catch {}
      rewatches++
      await sleep(200)
    }
  })()

  const drop = async () => {
    const child = spawn('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
    child.stdin.end(`table inet weft_blackhole {\n chain out {\n  type filter hook output priority 0;\n  ip daddr 127.0.0.2 tcp dport ${port} drop\n  ip saddr 127.0.0.2 tcp sport ${port} drop\n }\n}\n`)
    await new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft exited with ${code}`)))))
  }
  await drop()
  const blackholedAt = Date.now()

  const ready = await until('A not ready', async () => (await a.readyz()).status === 500, 10_000)
  const check = await a.readyz()
  t.equal(check.status, 500, 'A is not ready while etcd is out of reach')
  t.ok(check.ms <= 2500, `/readyz answered in ${check.ms} ms`)
  t.ok(ready <= 5000, `and said so ${ready} ms after the blackhole began`)
  const writeStarted = Date.now()
  await t.rejects(a.client.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lost', namespace: 'default' } }), 'a write through A fails')
  t.ok(Date.now() - writeStarted < 8000, `rather than hangs (${Date.now() - writeStarted} ms)`)
  await b.client.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'during', namespace: 'default' } })
  t.pass('B, whose path to etcd is clear, writes meanwhile')
  await sleep(Math.max(0, 8000 - (Date.now() - blackholedAt)))

  await run('ip', ['netns', 'exec', netns, 'nft', 'delete', 'table', 'inet', 'weft_blackhole'])
  const back = await until('A ready again', async () => (await a.readyz()).status === 200, 30_000)
  t.pass(`A is ready again ${back} ms after the blackhole was lifted`)
  const caughtUp = await until(`the watch through A to deliver what B wrote (seen: ${seen}, watched again ${rewatches} times)`, async () => seen.includes('during'), 40_000)
  t.pass(`A's watcher got B's write ${caughtUp + back} ms after the lift (its stream was replaced ${rewatches} times)`)
  t.notOk(seen.includes('lost'), 'the failed write never happened')
  const list = await a.client.list<V1ConfigMap>(configMaps, { namespace: 'default' })
  t.same(list.items.map((c) => c.metadata?.name).sort(), ['before', 'during'])
  await a.client.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after', namespace: 'default' } })
  await until('the write after', async () => seen.includes('after'), 10_000)
  t.same(seen, ['during', 'after'], 'each once, in order')
})
