import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { runLifecycleHandler } from '../../src/kubelet/lifecycle-hooks.ts'

t.test('exec: the exit code decides; the output explains a failure', async (t) => {
  const calls: string[][] = []
  const target = { podIP: '127.0.0.1', exec: async (argv: string[]) => (calls.push(argv), { exitCode: argv[0] === 'ok' ? 0 : 3, output: 'it broke' }) }
  t.same(await runLifecycleHandler({ exec: { command: ['ok'] } }, target, 5000), { ok: true })
  const bad = await runLifecycleHandler({ exec: { command: ['bad', 'x'] } }, target, 5000)
  t.same(bad, { ok: false, message: 'Exec lifecycle hook (["bad","x"]) failed: it broke' })
  t.same(calls, [['ok'], ['bad', 'x']])
})

t.test('httpGet: to the pod IP and port (named ports too), 2xx/3xx succeed', async (t) => {
  const seen: string[] = []
  const server = createServer((req, res) => {
    seen.push(`${req.url} ${req.headers['x-hook']}`)
    res.writeHead(req.url === '/fail' ? 500 : 200).end('nope')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const port = (server.address() as AddressInfo).port
  const target = { podIP: '127.0.0.1', resolvePort: (name: string) => (name === 'web' ? port : undefined) }
  t.same(await runLifecycleHandler({ httpGet: { path: '/stop', port: 'web' as never, httpHeaders: [{ name: 'X-Hook', value: 'pre' }] } }, target, 5000), { ok: true })
  const failed = await runLifecycleHandler({ httpGet: { path: '/fail', port: port as never } }, target, 5000)
  t.equal(failed.ok, false)
  t.match((failed as { message: string }).message, /HTTP lifecycle hook \(\/fail\) failed: .*500/)
  t.same(seen, ['/stop pre', '/fail undefined'])
})

t.test('sleep waits (bounded by the time given); tcpSocket and empty handlers fail with a reason', async (t) => {
  const target = { podIP: '127.0.0.1' }
  const started = Date.now()
  t.same(await runLifecycleHandler({ sleep: { seconds: 5 } }, target, 300), { ok: true })
  const took = Date.now() - started
  t.ok(took >= 250 && took < 2000, `slept ${took} ms`)
  t.match(await runLifecycleHandler({ tcpSocket: { port: 80 as never } }, target, 1000), { ok: false, message: /deprecated/ })
  t.match(await runLifecycleHandler({}, target, 1000), { ok: false, message: /none of exec, httpGet, sleep/ })
})
