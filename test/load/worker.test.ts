// The image weft/load as a pod runs it: the program as a child process with its job in
// WEFT_LOAD_JOB, against a loopback HTTP server; its stdin fed the start line, its stdout
// read as the line protocol: ready, each second's window, then the snapshot.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { imagesMain, nodeBinary, resolveImage } from '../../src/images/resolve-image.ts'
import type { LoadJob } from '../../load/job.ts'
import { parseWorkerLine, type WorkerMessage } from '../../load/worker-protocol.ts'

t.test('weft/load is a built-in image', async (t) => {
  t.same(resolveImage({ name: 'load', image: 'weft/load:latest' }).command, [nodeBinary, '--disable-warning=ExperimentalWarning', imagesMain, 'load'])
})

let served = 0
const server = createServer((req, res) => {
  served++
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"pod":"srv-1"}\n')
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise((resolve) => server.close(resolve)))
const port = (server.address() as AddressInfo).port

function job(durationMs: number, rate: number): LoadJob {
  return {
    generator: 'weft-load-test-1',
    target: { protocol: 'http1', tls: false, endpoints: [{ host: '127.0.0.1', port }], authority: `127.0.0.1:${port}`, insecure: false, path: '/', method: 'GET', headers: [], description: 'loopback', spec: `http://127.0.0.1:${port}/` },
    plan: { phases: [{ name: 'main', durationMs, rate }], connections: 4, keepAlive: true, warmupMs: 0, timeoutMs: 2000, identifyEndpoints: true },
  }
}

function startWorker(t: Test, env: Record<string, string>) {
  const child = spawn(nodeBinary, ['--disable-warning=ExperimentalWarning', imagesMain, 'load'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const messages: WorkerMessage[] = []
  const waiters: Array<() => void> = []
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => (stderr += b))
  createInterface({ input: child.stdout }).on('line', (line) => {
    messages.push(parseWorkerLine(line))
    for (const w of waiters.splice(0)) w()
  })
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const waitFor = async (type: WorkerMessage['type']): Promise<void> => {
    while (!messages.some((m) => m.type === type)) {
      if (child.exitCode !== null) throw new Error(`the worker exited (${child.exitCode}) before ${type}: ${stderr}`)
      await new Promise<void>((r) => {
        waiters.push(r)
        setTimeout(r, 500)
      })
    }
  }
  return { child, messages, exit, waitFor, stderr: () => stderr }
}

t.test('ready, start, a window a second, then the snapshot; exit 0', async (t) => {
  served = 0
  const w = startWorker(t, { WEFT_LOAD_JOB: JSON.stringify(job(2000, 100)) })
  await w.waitFor('ready')
  t.same(w.messages[0], { type: 'ready', generator: 'weft-load-test-1' })
  const atMs = Date.now() + 500
  w.child.stdin.write(`{"type":"start","atMs":${atMs}}\n`)
  t.equal(await w.exit, 0, w.stderr())
  const kinds = w.messages.map((m) => m.type).filter((k) => k !== 'progress' && k !== 'heartbeat')
  t.equal(kinds[0], 'ready')
  t.equal(kinds.at(-1), 'done')
  const windows = w.messages.filter((m): m is Extract<WorkerMessage, { type: 'window' }> => m.type === 'window')
  t.same(windows.map((x) => x.second), [0, 1], 'one window per second, in order, before the end')
  const done = w.messages.at(-1) as Extract<WorkerMessage, { type: 'done' }>
  t.notOk(done.stopped)
  t.equal(done.snapshot.startedAtMs, atMs, 'the run started at the agreed moment')
  const sent = done.snapshot.windows.reduce((s, x) => s + x.sent, 0)
  t.ok(sent >= 198 && sent <= 202, `${sent} requests at 100/s for 2 s`)
  t.equal(done.snapshot.windows.reduce((s, x) => s + x.ok, 0), sent, 'all answered')
  t.same(done.snapshot.endpoints, { 'srv-1': sent }, 'each answer names who served it')
  t.equal(served, sent, 'the server saw every request')
})

t.test('SIGTERM ends the run early and still reports it', async (t) => {
  const w = startWorker(t, { WEFT_LOAD_JOB: JSON.stringify(job(60_000, 50)) })
  await w.waitFor('ready')
  w.child.stdin.write(`{"type":"start","atMs":${Date.now()}}\n`)
  await w.waitFor('window')
  w.child.kill('SIGTERM')
  t.equal(await w.exit, 0, w.stderr())
  const done = w.messages.at(-1) as Extract<WorkerMessage, { type: 'done' }>
  t.equal(done.type, 'done')
  t.equal(done.stopped, true)
  const sent = done.snapshot.windows.reduce((s, x) => s + x.sent, 0)
  t.ok(sent > 0 && sent < 50 * 60, `${sent} requests before SIGTERM`)
})

t.test('a bad job: an error line and exit 1', async (t) => {
  const bad = startWorker(t, { WEFT_LOAD_JOB: JSON.stringify({ ...job(1000, 10), generator: 'Not Valid' }) })
  t.equal(await bad.exit, 1)
  t.match(bad.messages, [{ type: 'error', message: /job\.generator: "Not Valid" is not valid/ }])
  t.match(bad.stderr(), /^load: job\.generator/)
  const none = startWorker(t, {})
  t.equal(await none.exit, 1)
  t.match(none.messages, [{ type: 'error', message: /the environment variable WEFT_LOAD_JOB is empty/ }])
})
