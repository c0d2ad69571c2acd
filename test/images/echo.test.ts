import t from 'tap'
import { request } from 'undici'
import { freeTcpPort, startContainer } from './program.ts'

t.test('weft/echo answers with the pod and the request', async (t) => {
  const port = await freeTcpPort()
  const echo = await startContainer(t, { name: 'c', image: 'weft/echo:latest', args: [`--port=${port}`] }, /listening on port/, {
    POD_NAME: 'web-1',
    POD_NAMESPACE: 'shop',
    POD_IP: '10.244.1.5',
    NODE_NAME: 'node-a',
  })
  const res = await request(`http://127.0.0.1:${port}/some/path?q=1`, { method: 'POST', headers: { 'x-test': 'yes' }, body: 'ignored' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  const reply = (await res.body.json()) as Record<string, unknown>
  t.match(reply, {
    pod: 'web-1',
    namespace: 'shop',
    ip: '10.244.1.5',
    node: 'node-a',
    method: 'POST',
    path: '/some/path?q=1',
    headers: { 'x-test': 'yes', host: `127.0.0.1:${port}` },
  })
  t.match(reply.remoteAddress, /^127\.0\.0\.1:\d+$/)

  const health = await request(`http://127.0.0.1:${port}/healthz`)
  t.equal(health.statusCode, 200)
  t.equal(await health.body.text(), 'ok')
  t.equal(await echo.stop(), 0, 'SIGTERM exits 0')
})

t.test('weft/echo takes PORT from the environment and falls back to hostname and local address', async (t) => {
  const port = await freeTcpPort()
  const env: Record<string, string> = { PORT: String(port), POD_NAME: '', POD_IP: '' }
  const echo = await startContainer(t, { name: 'c', image: 'docker.io/weft/echo@sha256:0123' }, new RegExp(`listening on port ${port}`), env)
  const reply = (await (await request(`http://127.0.0.1:${port}/`)).body.json()) as Record<string, unknown>
  t.match(reply, { ip: '127.0.0.1', path: '/', method: 'GET' })
  t.type(reply.pod, 'string')
  t.not(reply.pod, '')
  t.equal(await echo.stop(), 0)
})

t.test('weft/echo drains on SIGTERM: answers say connection: close, then it exits', async (t) => {
  const port = await freeTcpPort()
  const echo = await startContainer(t, { name: 'c', image: 'weft/echo', args: [`--port=${port}`, '--drain-seconds=1', '--shutdown-seconds=5'] }, /listening on port/)
  const before = await request(`http://127.0.0.1:${port}/`)
  t.not(before.headers.connection, 'close')
  await before.body.dump()
  echo.child.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 200))
  const during = await request(`http://127.0.0.1:${port}/`)
  t.equal(during.statusCode, 200, 'still answering while draining')
  t.equal(during.headers.connection, 'close')
  await during.body.dump()
  t.equal(await echo.exited, 0, 'exits 0 once drained')
})

t.test('weft/echo holds an answer for ?delay=D, and refuses a bad delay', async (t) => {
  const port = await freeTcpPort()
  const echo = await startContainer(t, { name: 'c', image: 'weft/echo', args: [`--port=${port}`, '--shutdown-seconds=0'] }, /listening on port/)
  const started = performance.now()
  const res = await request(`http://127.0.0.1:${port}/x?delay=200ms`)
  t.equal(res.statusCode, 200)
  t.ok(performance.now() - started >= 195, 'answered after the delay')
  t.match(await res.body.json(), { path: '/x?delay=200ms' })
  for (const bad of ['11s', 'soon', '-1s']) {
    const r = await request(`http://127.0.0.1:${port}/?delay=${bad}`)
    t.equal(r.statusCode, 400, `delay=${bad}`)
    await r.body.dump()
  }
  // --shutdown-seconds=0: a SIGTERM drops what is in flight.
  const held = request(`http://127.0.0.1:${port}/?delay=5s`)
  await new Promise((r) => setTimeout(r, 200))
  echo.child.kill('SIGTERM')
  await t.rejects(held, 'the held request fails when the server stops at once')
  t.equal(await echo.exited, 0)
})
