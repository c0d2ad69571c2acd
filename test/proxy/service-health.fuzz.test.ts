// Seeded fuzzing of the healthCheckNodePort listeners (proxy/service-health.ts): hostile
// requests written whole, slowly, stalled or abandoned, while the Service's local endpoints
// come and go, must each end in time with an HTTP answer or a closed connection; the
// listener must keep answering 200/503 and let go of every connection.
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { ServiceHealthServer } from '../../proxy/service-health.ts'
import { logger } from '../../src/util/log.ts'
import { fuzzSettings, type Rng } from '../helpers/fuzz.ts'
import { fuzzHttpListener, randomHttpRequest } from '../helpers/http-fuzz.ts'

const settings = fuzzSettings(240)
t.setTimeout(settings.long ? 0 : 90_000)

const s = createServer()
await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
const port = (s.address() as AddressInfo).port
await new Promise<void>((resolve) => s.close(() => resolve()))

const hc = new ServiceHealthServer({ log: logger('test'), proxyHealthy: () => true, limits: { headersTimeoutMs: 500, requestTimeoutMs: 1000, keepAliveTimeoutMs: 300 } })
t.teardown(() => hc.close())
t.same([...(await hc.syncServices(new Map([['ns/web', port]]), ['127.0.0.1'])).keys()], [])
let endpoints = 1
hc.syncEndpoints(new Map([['ns/web', endpoints]]))

function path(rng: Rng): string {
  // Endpoints come and go while the cases run.
  if (rng.chance(0.05)) hc.syncEndpoints(new Map([['ns/web', (endpoints = rng.int(3))]]))
  if (rng.chance(0.6)) return rng.pick(['/', '/healthz', '/any/path?x=1', '*', 'http://[', '/%'])
  return '/' + encodeURIComponent(rng.hostileString())
}

async function alive(): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined)
  if (!res) return false
  const body = (await res.json().catch(() => undefined)) as { localEndpoints?: number } | undefined
  return res.status === (endpoints > 0 ? 200 : 503) && body?.localEndpoints === endpoints
}

await t.test(`${settings.iterations} hostile requests (seed ${settings.seed})`, async (t) => {
  await fuzzHttpListener(t, {
    ...settings,
    connect: (): Socket => createConnection(port, '127.0.0.1'),
    request: (rng) => randomHttpRequest(rng, path),
    alive,
    settled: () => hc.openConnections() === 0,
  })
})
