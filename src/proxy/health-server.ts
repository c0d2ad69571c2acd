// The proxy's HTTP endpoints, as kube-proxy serves them: /healthz and /livez (503 when the
// rules have not been synced for too long), /metrics (Prometheus).
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ServiceProxy } from './service-proxy.ts'

export class ProxyHealthServer {
  #proxy: ServiceProxy
  #servers: Server[] = []

  constructor(proxy: ServiceProxy) {
    this.#proxy = proxy
  }

  /** Listens on every `host:port` given ('' entries skipped); resolves with the bound ports. A failure closes what was opened. */
  async listen(addresses: readonly string[]): Promise<number[]> {
    const ports: number[] = []
    try {
      for (const address of addresses.filter(Boolean)) {
        const i = address.lastIndexOf(':')
        const port = Number(address.slice(i + 1))
        if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`"${address}" is not HOST:PORT`)
        const server = createServer((req, res) => {
          this.#handle(req.url ?? '/', res).catch((err: unknown) => {
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
            res.end(`${err instanceof Error ? err.message : String(err)}\n`)
          })
        })
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, address.slice(0, i).replace(/^\[|\]$/g, ''), resolve))
        this.#servers.push(server)
        ports.push((server.address() as AddressInfo).port)
      }
    } catch (err) {
      await this.close()
      throw err
    }
    return ports
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    this.#servers = []
  }

  async #handle(url: string, res: ServerResponse): Promise<void> {
    const path = url.split('?')[0]
    if (path === '/healthz' || path === '/livez') {
      const health = this.#proxy.health()
      res.writeHead(health.healthy ? 200 : 503, { 'content-type': 'application/json' })
      res.end(JSON.stringify(health) + '\n')
      return
    }
    if (path === '/metrics') {
      const registry = this.#proxy.metrics.registry
      res.writeHead(200, { 'content-type': registry.contentType })
      res.end(await registry.metrics())
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found: try /healthz, /livez or /metrics\n')
  }
}
