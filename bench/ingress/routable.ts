// "Ingress created → routable": for each new Ingress (its own new host), the time from the
// start of its create request until a request for that host through weft's HTTP listener
// answers 200. Probes go over one keep-alive connection every ~2 ms, starting with the create.
import { Pool } from 'undici'
import { send } from '../apiserver/http.ts'
import { nowMs, sleep } from '../lib/clock.ts'
import { INGRESSES, hostRoute, ingressManifest, type BenchRoute } from './routes.ts'

const POLL_MS = 2

/** Polls until `host` answers 200 (404 meanwhile); returns when, by nowMs(). */
export async function waitRoutable(probe: Pool, host: string, timeoutMs: number): Promise<number> {
  const deadline = nowMs() + timeoutMs
  for (;;) {
    const res = await probe.request({ method: 'GET', path: '/', headers: { host } })
    await res.body.dump()
    if (res.statusCode === 200) return nowMs()
    if (res.statusCode !== 404) throw new Error(`${host}: HTTP ${res.statusCode} while waiting for the route (expected 404, then 200)`)
    if (nowMs() > deadline) throw new Error(`${host} was not routable ${timeoutMs} ms after its Ingress was created`)
    await sleep(POLL_MS)
  }
}

export function probePool(httpPort: number): Pool {
  return new Pool(`http://127.0.0.1:${httpPort}`, { connections: 1, pipelining: 1, keepAliveTimeout: 60_000 })
}

/** Creates new-0 … new-(count-1) one at a time; each one's create → routable time in ms. */
export async function measureRoutable(api: Pool, probe: Pool, count: number, timeoutMs = 10_000): Promise<{ routes: BenchRoute[]; ms: number[] }> {
  const routes: BenchRoute[] = []
  const ms: number[] = []
  for (let i = 0; i < count; i++) {
    const route = hostRoute('new', i)
    const t0 = nowMs()
    const created = send(api, 'POST', INGRESSES, JSON.stringify(ingressManifest(route)))
    const [t1] = await Promise.all([waitRoutable(probe, route.host, timeoutMs), created])
    routes.push(route)
    ms.push(t1 - t0)
  }
  return { routes, ms }
}
