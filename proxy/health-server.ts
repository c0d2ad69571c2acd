// The proxy's HTTP endpoints, as kube-proxy serves them: /healthz and /livez (503 when the
// rules have not been synced for too long), /metrics (Prometheus).
import type { ServerResponse } from 'node:http'
import { HttpEndpoints } from '../src/util/http-endpoints.ts'
import type { ServiceProxy } from './service-proxy.ts'

export class ProxyHealthServer extends HttpEndpoints {
  constructor(proxy: ServiceProxy) {
    const health = (res: ServerResponse) => {
      const h = proxy.health()
      res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' })
      res.end(JSON.stringify(h) + '\n')
    }
    super({
      '/healthz': health,
      '/livez': health,
      '/metrics': async (res) => {
        const registry = proxy.metrics.registry
        const text = await registry.metrics()
        res.writeHead(200, { 'content-type': registry.contentType })
        res.end(text)
      },
    })
  }
}
