import t from 'tap'
import { hostname } from 'node:os'
import { request } from 'undici'
import { freeTcpPort, freeUdpPort, startContainer, udpAsk } from './program.ts'

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { reset: true })
  return { status: res.statusCode, body: await res.body.text() }
}

t.test('agnhost netexec over HTTP and UDP', async (t) => {
  const http = await freeTcpPort()
  const udp = await freeUdpPort()
  const ne = await startContainer(
    t,
    { name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec', `--http-port=${http}`, '--udp-port', String(udp)] },
    /started HTTP server/,
  )
  const base = `http://127.0.0.1:${http}`
  const host = hostname()

  t.match((await get(`${base}/`)).body, /^NOW: \d{4}-\d\d-\d\d /)
  t.same(await get(`${base}/hostname`), { status: 200, body: host })
  t.same(await get(`${base}/hostName`), { status: 200, body: host })
  t.same(await get(`${base}/echo?msg=hello%20there`), { status: 200, body: 'hello there' })
  t.same(await get(`${base}/echo?msg=gone&code=404`), { status: 404, body: 'gone' })
  t.match((await get(`${base}/clientip`)).body, /^127\.0\.0\.1:\d+$/)
  const header = await request(`${base}/header?key=X-Probe`, { headers: { 'x-probe': 'abc' } })
  t.equal(await header.body.text(), 'abc')
  t.equal((await get(`${base}/healthz`)).status, 200)
  t.equal((await get(`${base}/readyz`)).status, 200)

  t.same(JSON.parse((await get(`${base}/shell?cmd=${encodeURIComponent('echo out; echo err >&2; exit 3')}`)).body), {
    error: 'exit status 3',
    output: 'out\nerr\n',
  })
  t.same(JSON.parse((await get(`${base}/shell?cmd=true`)).body), {})

  t.same(JSON.parse((await get(`${base}/dial?request=hostname&host=127.0.0.1&port=${http}&protocol=http&tries=2`)).body), {
    responses: [host, host],
  })
  t.same(JSON.parse((await get(`${base}/dial?request=${encodeURIComponent('echo?msg=x')}&host=localhost&port=${http}`)).body), {
    responses: ['x'],
  })
  t.same(JSON.parse((await get(`${base}/dial?request=hostname&host=127.0.0.1&port=${udp}&protocol=udp&tries=3`)).body), {
    responses: [host, host, host],
  })
  const closed = await freeTcpPort()
  const failed = JSON.parse((await get(`${base}/dial?request=hostname&host=127.0.0.1&port=${closed}`)).body) as Record<string, string[]>
  t.same(Object.keys(failed), ['errors'], 'a failed dial reports only errors')
  t.match(failed.errors[0], /ECONNREFUSED|refused/)
  t.equal((await get(`${base}/dial?host=127.0.0.1&port=${http}`)).status, 400, 'request is required')
  t.equal((await get(`${base}/dial?request=x&host=127.0.0.1&port=${http}&protocol=sctp`)).status, 400)

  t.equal(await udpAsk(udp, 'hostname'), host)
  t.equal(await udpAsk(udp, 'echo Hi There\n'), 'hi there', 'UDP commands are lower-cased like agnhost')
  t.match(await udpAsk(udp, 'clientip'), /^127\.0\.0\.1:\d+$/)
  t.equal(await udpAsk(udp, 'hostname', '::1'), host, 'UDP answers on IPv6 loopback too')

  t.equal(await ne.stop(), 0, 'SIGTERM exits 0')
})

t.test('netexec /exit exits with the given code; --udp-port=-1 disables UDP', async (t) => {
  const http = await freeTcpPort()
  const ne = await startContainer(t, { name: 'c', image: 'k8s.gcr.io/agnhost', command: ['/agnhost', 'netexec'], args: [`--http-port=${http}`, '--udp-port=-1'] }, /started HTTP/)
  t.notMatch(ne.output(), /UDP/)
  t.equal((await get(`http://127.0.0.1:${http}/healthz`)).status, 200)
  await request(`http://127.0.0.1:${http}/exit?code=7&timeout=1s`, { reset: true }).then((r) => r.body.text(), () => '')
  t.equal(await ne.exited, 7)
})

t.test('netexec rejects unknown flags', async (t) => {
  const http = await freeTcpPort()
  await t.rejects(startContainer(t, { name: 'c', image: 'gcr.io/kubernetes-e2e-test-images/agnhost:2.8', args: ['netexec', `--http-port=${http}`, '--bogus=1'] }, /started/), /unknown flag: --bogus/)
})
