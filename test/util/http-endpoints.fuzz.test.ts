// Seeded fuzzing of the small endpoint listeners (src/util/http-endpoints.ts: the proxy's,
// DNS's and the ingress controller's /healthz, /livez, /readyz and /metrics): hostile
// requests written whole, slowly, stalled or abandoned must each end in time with an HTTP
// answer or a closed connection, and the listener must let go of every connection.
import { createConnection, type Socket } from 'node:net'
import t from 'tap'
import { Registry, Counter } from 'prom-client'
import { HttpEndpoints } from '../../src/util/http-endpoints.ts'
import { fuzzSettings, type Rng } from '../helpers/fuzz.ts'
import { fuzzHttpListener, randomHttpRequest } from '../helpers/http-fuzz.ts'

const settings = fuzzSettings(240)
t.setTimeout(settings.long ? 0 : 90_000)

const registry = new Registry()
new Counter({ name: 'weft_fuzz_requests_total', help: 'requests', registers: [registry] }).inc()
const endpoints = new HttpEndpoints(
  {
    '/healthz': (res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'),
    '/metrics': async (res) => {
      await new Promise((r) => setTimeout(r, 5))
      res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics())
    },
  },
  { headersTimeoutMs: 500, requestTimeoutMs: 1000, keepAliveTimeoutMs: 300 },
)
const [port] = await endpoints.listen(['127.0.0.1:0'])
t.teardown(() => endpoints.close())

function connect(): Socket {
  return createConnection(port!, '127.0.0.1')
}

const PATHS = ['/healthz', '/metrics', '/', '/healthz?x=1', '/metrics/', '/%', '*', 'http://[', '/constructor', '/__proto__', '/hasOwnProperty']

function path(rng: Rng): string {
  if (rng.chance(0.7)) return rng.pick(PATHS)
  return rng.chance(0.5) ? '/' + encodeURIComponent(rng.hostileString()) : '/' + rng.hostileString().replace(/\s/g, '')
}

async function alive(): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined)
  return res?.status === 200 && (await res.text()) === 'ok\n'
}

await t.test(`${settings.iterations} hostile requests (seed ${settings.seed})`, async (t) => {
  await fuzzHttpListener(t, {
    ...settings,
    connect,
    request: (rng) => randomHttpRequest(rng, path),
    alive,
    settled: async () => (await endpoints.connections()) === 0,
  })
})

await t.test('prototype names are not routes', async (t) => {
  for (const p of ['/constructor', '/__proto__', '/toString']) {
    const res = await fetch(`http://127.0.0.1:${port}${p}`)
    t.equal(res.status, 404, p)
    await res.arrayBuffer()
  }
})
