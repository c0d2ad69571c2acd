// The health check server against real clients (curl, raw sockets) on loopback: answers,
// listeners following the Services, ports that cannot be opened, and the limits.
import t from 'tap'
import { execFile } from 'node:child_process'
import { connect, createServer, type Socket } from 'node:net'
import { ServiceHealthServer } from '../../proxy/service-health.ts'
import { logger } from '../../src/util/log.ts'
import { openFdCount } from '../helpers/fuzz.ts'
import { freePort } from '../helpers/ports.ts'

const log = logger('test')

/** `curl -i`: exit code, status, headers (lower-cased) and body. */
function curl(url: string, args: string[] = []): Promise<{ code: number; status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-i', '--max-time', '3', ...args, url], (err, stdout) => {
      const code = err ? ((err as { code?: number }).code ?? -1) : 0
      const [head = '', body = ''] = stdout.split('\r\n\r\n')
      const lines = head.split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':')
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim()
      }
      resolve({ code, status: Number(lines[0]?.split(' ')[1] ?? 0), headers, body })
    })
  })
}

t.test('answers as kube-proxy: 200 with local endpoints, 503 without or when the proxy is unhealthy', async (t) => {
  let healthy = true
  const hc = new ServiceHealthServer({ log, proxyHealthy: () => healthy })
  t.teardown(() => hc.close())
  const port = await freePort()
  const failures = await hc.syncServices(new Map([['ns/web', port]]), ['127.0.0.1'])
  t.equal(failures.size, 0)
  hc.syncEndpoints(new Map([['ns/web', 2]]))
  const ok = await curl(`http://127.0.0.1:${port}/any/path?x=1`)
  t.equal(ok.status, 200)
  t.equal(ok.headers['content-type'], 'application/json')
  t.equal(ok.headers['x-content-type-options'], 'nosniff')
  t.equal(ok.body, '{\n\t"service": {\n\t\t"namespace": "ns",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}', 'the same text as kube-proxy')
  t.equal((await curl(`http://127.0.0.1:${port}/`, ['-X', 'POST', '-d', 'x'])).status, 200, 'any method')
  hc.syncEndpoints(new Map())
  const none = await curl(`http://127.0.0.1:${port}/`)
  t.equal(none.status, 503)
  t.same(JSON.parse(none.body), { service: { namespace: 'ns', name: 'web' }, localEndpoints: 0, serviceProxyHealthy: true })
  hc.syncEndpoints(new Map([['ns/web', 1]]))
  healthy = false
  const sick = await curl(`http://127.0.0.1:${port}/`)
  t.equal(sick.status, 503, 'an unhealthy proxy fails every health check')
  t.same(JSON.parse(sick.body).serviceProxyHealthy, false)
})

t.test('listeners follow the Services; a taken port is reported and retried', async (t) => {
  const fds = openFdCount()
  const hc = new ServiceHealthServer({ log, proxyHealthy: () => true })
  t.teardown(() => hc.close())
  const [a, b, c] = [await freePort(), await freePort(), await freePort()]
  hc.syncEndpoints(new Map([['ns/a', 1], ['ns/b', 1]]))
  await hc.syncServices(new Map([['ns/a', a], ['ns/b', b]]), ['127.0.0.1'])
  t.equal((await curl(`http://127.0.0.1:${a}/`)).status, 200)
  t.equal((await curl(`http://127.0.0.1:${b}/`)).status, 200)
  await hc.syncServices(new Map([['ns/a', c]]), ['127.0.0.1'])
  t.equal((await curl(`http://127.0.0.1:${a}/`)).code, 7, 'the old port of a moved Service is closed')
  t.equal((await curl(`http://127.0.0.1:${b}/`)).code, 7, 'a Service gone: closed')
  t.equal((await curl(`http://127.0.0.1:${c}/`)).status, 200, 'the new port answers')

  const squatter = createServer()
  await new Promise<void>((resolve) => squatter.listen(b, '127.0.0.1', resolve))
  const failures = await hc.syncServices(new Map([['ns/a', c], ['ns/b', b]]), ['127.0.0.1'])
  t.match(failures.get('ns/b')?.message, /EADDRINUSE/, 'a taken port is reported')
  t.same([...hc.ports.keys()], ['ns/a'], 'and left out')
  await new Promise<void>((resolve) => squatter.close(() => resolve()))
  t.equal((await hc.syncServices(new Map([['ns/a', c], ['ns/b', b]]), ['127.0.0.1'])).size, 0, 'retried at the next sync')
  t.equal((await curl(`http://127.0.0.1:${b}/`)).status, 200)
  await hc.close()
  t.equal((await curl(`http://127.0.0.1:${c}/`)).code, 7, 'close closes everything')
  t.equal(openFdCount(), fds, 'no file descriptor left open')
})

t.test('limits: slow headers are cut off, connections beyond the cap are closed', async (t) => {
  const hc = new ServiceHealthServer({ log, proxyHealthy: () => true, limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, maxConnections: 3 } })
  t.teardown(() => hc.close())
  const port = await freePort()
  await hc.syncServices(new Map([['ns/web', port]]), ['127.0.0.1'])
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s))
      s.once('error', reject)
    })
  const closed = (s: Socket): Promise<number> => {
    const started = Date.now()
    return new Promise((resolve) => {
      if (s.destroyed) resolve(0)
      s.once('close', () => resolve(Date.now() - started))
      s.resume()
    })
  }
  const slow = await open()
  slow.write('GET / HTTP/1.1\r\nHost: x\r\n')
  const waited = await closed(slow)
  t.ok(waited < 3000, `a client that never finishes its headers is dropped (${waited} ms)`)

  const held = [await open(), await open(), await open()]
  for (const s of held) s.write('GET / HTTP/1.1\r\nHost: x\r\n')
  const extra = await open()
  t.ok((await closed(extra)) < 1000, 'the connection over the cap is closed at once')
  for (const s of held) s.destroy()
})

t.test('a node address that is not on this host is skipped while another works', async (t) => {
  const hc = new ServiceHealthServer({ log, proxyHealthy: () => true })
  t.teardown(() => hc.close())
  const port = await freePort()
  hc.syncEndpoints(new Map([['ns/web', 1]]))
  // 192.0.2.1 (TEST-NET-1) is on no interface of a test host; nothing is sent to it.
  t.equal((await hc.syncServices(new Map([['ns/web', port]]), ['192.0.2.1', '127.0.0.1'])).size, 0)
  t.equal((await curl(`http://127.0.0.1:${port}/`)).status, 200)
  const alone = await freePort()
  const failures = await hc.syncServices(new Map([['ns/web', alone]]), ['192.0.2.1'])
  t.match(failures.get('ns/web')?.message, /EADDRNOTAVAIL/, 'but not when it is the only one')
})
