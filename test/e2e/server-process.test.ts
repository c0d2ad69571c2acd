// `weft server` as users run it: a separate process, killed with SIGKILL and restarted.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { call } from '../helpers/apiserver.ts'

const weft = join(import.meta.dirname, '..', '..', 'bin', 'weft')

async function startServer(dataDir: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(weft, ['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft server did not start: ${stderr}`)), 20_000)
    child.stderr!.on('data', (d) => {
      stderr += d
      const m = /weft API server at (http:\/\/\S+)/.exec(stderr)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    child.once('exit', (code) => reject(new Error(`weft server exited with ${code}: ${stderr}`)))
  })
  return { child, url }
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

t.test('an acknowledged write survives kill -9 of the server', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-durable-'))
  let current: ChildProcess | undefined
  t.teardown(async () => {
    if (current) await kill(current, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  const first = await startServer(dir)
  current = first.child
  const kubeconfig = await readFile(join(dir, 'kubeconfig'), 'utf8')
  t.match(kubeconfig, first.url, 'the kubeconfig points at the server')
  let lastRV = 0
  for (let i = 0; i < 50; i++) {
    const res = await call(first.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: `cm-${i}` }, data: { i: String(i) } })
    t.equal(res.status, 201)
    lastRV = Number(res.body.metadata.resourceVersion)
  }
  await kill(first.child, 'SIGKILL')

  const second = await startServer(dir)
  current = second.child
  const list = await call(second.url, 'GET', '/api/v1/namespaces/default/configmaps')
  t.equal(list.body.items.length, 50, 'every acknowledged object is there')
  t.same(list.body.items.find((c: any) => c.metadata.name === 'cm-49').data, { i: '49' })
  const endpoints = await call(second.url, 'GET', '/api/v1/namespaces/default/endpoints/kubernetes')
  t.equal(endpoints.body.subsets[0].ports[0].port, Number(new URL(second.url).port), 'the kubernetes Endpoints follow the new port')
  const next = await call(second.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'after' } })
  t.equal(next.status, 201)
  t.ok(Number(next.body.metadata.resourceVersion) > lastRV, 'revisions continue upward after the restart')
  await kill(second.child, 'SIGTERM')
  t.equal(second.child.exitCode, 0, 'SIGTERM shuts down cleanly')
  current = undefined
})

t.test('bad flags get a clear error', async (t) => {
  const child = spawn(weft, ['server', '--listen', 'nonsense'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 1)
  t.match(stderr, /--listen "nonsense" must be ADDRESS:PORT/)
})
