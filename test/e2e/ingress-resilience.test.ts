// Ingress resilience end to end: an endpoint refusing connections (GETs retried elsewhere, a
// POST with a body answered 502 as proxy.ts documents: a body cannot be sent again), an endpoint
// that never answers (504 after weft.dev/proxy-read-timeout), none at all (503), and endpoints
// scaled up and down, with one terminating gracefully, under steady load.
import t from 'tap'
import { createWeftClass, ingressLab, path as p, until } from '../helpers/ingress-e2e.ts'

t.setTimeout(180_000)
const lab = await ingressLab(t)
await createWeftClass(lab.client)
await lab.backend(['10.77.0.2:8080', 'hang:10.77.0.4:8080'])
// 10.77.0.3:8080 has nothing listening: connection refused.
await lab.backendService('flaky-post', ['10.77.0.2:8080', '10.77.0.3:8080'])
await lab.backendService('flaky', ['10.77.0.2:8080', '10.77.0.3:8080'])
await lab.backendService('hang', ['10.77.0.4:8080'])
await lab.backendService('empty', [])
await lab.startIngress()
const rule = (host: string, service: string) => ({ host, http: { paths: [p('/', service)] } })
await lab.ingress('res', { rules: [rule('post.test', 'flaky-post'), rule('get.test', 'flaky'), rule('empty.test', 'empty')] })
await lab.ingress('slow', { rules: [rule('hang.test', 'hang')] }, { 'weft.dev/proxy-read-timeout': '1s' })
await until('routes loaded', async () => (await lab.http('empty.test', '/')).status === 503)

t.test('a POST with a body is not sent again: 502 when its endpoint refuses', async (t) => {
  const statuses: number[] = []
  for (let i = 0; i < 6 && !statuses.includes(502); i++) {
    const r = await lab.http('post.test', '/upload', ['-X', 'POST', '--data-binary', 'payload'])
    statuses.push(r.status)
    if (r.status === 502) t.equal(r.body.trim(), '502 Bad Gateway: service default/flaky-post port 80 could not be reached', 'no endpoint address or error in the body')
    else {
      t.equal(r.status, 200)
      t.equal(r.json?.bodyLength, 7)
    }
  }
  t.ok(statuses.includes(502), `round robin reached the refusing endpoint: ${statuses.join(', ')}`)
  await until('the cause in the log', async () => /"status":502,.*"error":"10\.77\.0\.3:8080: .*ECONNREFUSED/.test(await lab.log()))
})

t.test('GETs are retried on the other endpoint when one refuses', async (t) => {
  for (let i = 0; i < 10; i++) {
    const r = await lab.http('get.test', `/${i}`)
    t.equal(r.status, 200)
    t.equal(r.json?.listen, '10.77.0.2:8080')
  }
})

t.test('an endpoint that never answers: 504 after the read timeout', async (t) => {
  const r = await lab.http('hang.test', '/')
  t.equal(r.status, 504)
  t.equal(r.body.trim(), '504 Gateway Timeout: service default/hang port 80 did not answer within 1000 ms')
})

t.test('no endpoints: 503', async (t) => {
  const r = await lab.http('empty.test', '/')
  t.equal(r.status, 503)
  t.equal(r.body.trim(), '503 Service Unavailable: service default/empty port 80 has no ready endpoints')
})

t.test('scaling 1 → 3 → 2 endpoints under load, one terminating gracefully: no failed request', async (t) => {
  const stopA = await lab.backend(['10.77.0.5:8080'])
  const stopB = await lab.backend(['10.77.0.6:8080'])
  const stopC = await lab.backend(['10.77.0.7:8080'])
  t.teardown(async () => {
    await Promise.all([stopA(), stopB(), stopC()])
  })
  await lab.backendService('scaled', ['10.77.0.5:8080'])
  await lab.ingress('scaled', { rules: [rule('scaled.test', 'scaled')] })
  await until('scaled.test routed', async () => (await lab.http('scaled.test', '/')).status === 200)

  // A failed request: no 200 from a backend (any other status, a connection error, or no
  // response within 5 s). See programs/ingress-load.ts.
  const run = await lab.load({ hosts: ['scaled.test'], rate: 200, durationMs: 60_000 })
  const settle = () => new Promise((r) => setTimeout(r, 1200))
  await settle()
  await lab.endpoints('scaled', [{ at: '10.77.0.5:8080' }, { at: '10.77.0.6:8080' }, { at: '10.77.0.7:8080' }])
  await settle()
  // 10.77.0.7 terminates: still serving, no longer ready; then it leaves the slice; then it stops.
  await lab.endpoints('scaled', [{ at: '10.77.0.5:8080' }, { at: '10.77.0.6:8080' }, { at: '10.77.0.7:8080', ready: false, serving: true, terminating: true }])
  await settle()
  await lab.endpoints('scaled', [{ at: '10.77.0.5:8080' }, { at: '10.77.0.6:8080' }])
  await settle()
  await stopC()
  await settle()
  const summary = await run.stop()
  t.equal(summary.failed, 0, `no failed request: ${JSON.stringify(summary.errors)}`)
  t.ok(summary.done > 500, `requests answered: ${summary.done}`)
  for (const ep of ['10.77.0.5:8080', '10.77.0.6:8080', '10.77.0.7:8080']) t.ok((summary.byEndpoint[ep] ?? 0) > 0, `${ep} served ${summary.byEndpoint[ep] ?? 0}`)
})
