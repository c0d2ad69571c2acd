import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runProbe, PROBE_USER_AGENT } from '../../src/kubelet/probes/index.ts'
import { createSandbox, execInContainer, removeSandbox, startContainer, stopContainer } from '../../src/kubelet/runtime/index.ts'
import { uniqueName } from '../helpers/netns.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

async function listen(t: Teardown, server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return (server.address() as AddressInfo).port
}

const target = { podIP: '127.0.0.1' }

t.test('httpGet: 200-399 succeed, others fail; path, headers, named ports, timeouts', async (t) => {
  const seen: Array<{ url?: string; headers: IncomingHttpHeaders }> = []
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers })
    if (req.url === '/slow') return
    const code = Number(req.url?.slice(1).split('?')[0]) || 200
    res.writeHead(code, code >= 300 && code < 400 ? { location: 'http://elsewhere.invalid/' } : {})
    res.end(code >= 400 ? 'not well' : 'ok')
  })
  server.keepAliveTimeout = 1
  const port = await listen(t, server)
  for (const [path, result] of [['/200', 'success'], ['/204', 'success'], ['/302', 'success'], ['/399', 'success'], ['/400', 'failure'], ['/503', 'failure']] as const) {
    t.equal((await runProbe({ httpGet: { path, port } }, target)).result, result, path)
  }
  const failed = await runProbe({ httpGet: { path: '/503', port } }, target)
  t.match(failed.message, /statuscode: 503: not well/)
  const named = await runProbe(
    { httpGet: { path: 'healthz', port: 'http', httpHeaders: [{ name: 'X-Custom', value: 'yes' }, { name: 'Host', value: 'example.test' }] } },
    { ...target, resolvePort: (name) => (name === 'http' ? port : undefined) },
  )
  t.equal(named.result, 'success')
  const last = seen.at(-1)!
  t.equal(last.url, '/healthz', 'a path without a slash gets one')
  t.equal(last.headers['x-custom'], 'yes')
  t.equal(last.headers.host, 'example.test')
  t.equal(last.headers['user-agent'], PROBE_USER_AGENT)
  const unknown = await runProbe({ httpGet: { port: 'nope' } }, target)
  t.same([unknown.result, /named port/.test(unknown.message)], ['failure', true])
  const slow = await runProbe({ httpGet: { path: '/slow', port }, timeoutSeconds: 1 }, target)
  t.equal(slow.result, 'failure')
  t.match(slow.message, /deadline exceeded/)
  const closed = await runProbe({ httpGet: { port: 1 } }, target)
  t.equal(closed.result, 'failure')
  t.match(closed.message, /ECONNREFUSED/)
  t.equal((await runProbe({ httpGet: { port, host: '127.0.0.1' } }, { podIP: '192.0.2.1' })).result, 'success', 'host overrides the pod IP')
})

t.test('httpGet over HTTPS does not verify the certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-probe-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=probe.test'], { stdio: 'ignore' })
  const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('ok'))
  const port = await listen(t, server)
  t.equal((await runProbe({ httpGet: { port, scheme: 'HTTPS' } }, target)).result, 'success')
  t.equal((await runProbe({ httpGet: { port, scheme: 'HTTP' } }, target)).result, 'failure', 'plain HTTP to a TLS port fails')
})

t.test('tcpSocket: a connection succeeds, a refused one fails', async (t) => {
  const server = createTcpServer((s) => s.destroy())
  const port = await listen(t, server)
  t.equal((await runProbe({ tcpSocket: { port } }, target)).result, 'success')
  t.equal((await runProbe({ tcpSocket: { port: String(port) } }, target)).result, 'success')
  const refused = await runProbe({ tcpSocket: { port: 1 } }, target)
  t.equal(refused.result, 'failure')
  t.match(refused.message, /dial tcp 127\.0\.0\.1:1/)
  t.equal((await runProbe({}, target)).result, 'failure', 'no handler')
  t.equal((await runProbe({ grpc: { port } }, target)).result, 'failure')
})

t.test('exec: through the container namespaces, exit code decides, timeout fails', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-probe-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const sb = await createSandbox({ dataDir, uid: `probe-${process.pid}`, namespace: 'default', name: 'probed', hostname: 'probed', netns: uniqueName('pr') })
  t.teardown(() => removeSandbox(sb))
  const proc = await startContainer(sb, { name: 'app', argv: ['sh', '-c', 'while :; do sleep 0.1; done'], env: [{ name: 'MARK', value: 'm1' }], restartCount: 0 })
  t.teardown(() => stopContainer(proc, 0))
  const exec = (argv: string[], timeoutMs: number) => execInContainer(sb, proc, argv, timeoutMs)
  const ok = await runProbe({ exec: { command: ['sh', '-c', 'test "$MARK" = m1 && test "$(hostname)" = probed && echo fine'] } }, { ...target, exec })
  t.same(ok, { result: 'success', message: 'fine\n' })
  const bad = await runProbe({ exec: { command: ['sh', '-c', 'echo broken; exit 1'] } }, { ...target, exec })
  t.same(bad, { result: 'failure', message: 'broken' })
  const slow = await runProbe({ exec: { command: ['sleep', '5'] }, timeoutSeconds: 1 }, { ...target, exec })
  t.equal(slow.result, 'failure')
  t.match(slow.message, /timed out/)
  await stopContainer(proc, 0)
  const gone = await runProbe({ exec: { command: ['true'] } }, { ...target, exec })
  t.same(gone, { result: 'failure', message: 'container app is not running' })
})
