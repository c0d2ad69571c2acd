// Small HTTP endpoint servers (health, readiness, metrics): routes by path, served on any
// number of HOST:PORT addresses, each with smallEndpointLimits.
import type { Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseListenAddress } from './host-port.ts'
import { createLimitedServer, smallEndpointLimits, type HttpLimits } from './http-limits.ts'

export type Route = (res: ServerResponse) => Promise<void> | void

export class HttpEndpoints {
  #routes: Record<string, Route>
  #limits: HttpLimits
  #servers: Server[] = []

  constructor(routes: Readonly<Record<string, Route>>, limits: Partial<HttpLimits> = {}) {
    this.#routes = { ...routes }
    this.#limits = { ...smallEndpointLimits, ...limits }
  }

  /** Listens on every `host:port` given ('' entries skipped); resolves with the bound ports. A failure closes what was opened. */
  async listen(addresses: readonly string[]): Promise<number[]> {
    const ports: number[] = []
    try {
      for (const address of addresses.filter(Boolean)) {
        const { host, port } = parseListenAddress(address)
        const server = createLimitedServer(this.#limits, (req, res) => {
          req.resume()
          Promise.resolve(this.#handle((req.url ?? '/').split('?')[0], res)).catch((err: unknown) => {
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
            res.end(`${err instanceof Error ? err.message : String(err)}\n`)
          })
        })
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve))
        this.#servers.push(server)
        ports.push((server.address() as AddressInfo).port)
      }
    } catch (err) {
      await this.close()
      throw err
    }
    return ports
  }

  /** Adds (or replaces) the route of `path`, also while listening: a component started later serves beside the first. */
  setRoute(path: string, route: Route): void {
    this.#routes[path] = route
  }

  /** Connections open on all listeners. */
  async connections(): Promise<number> {
    const counts = await Promise.all(this.#servers.map((s) => new Promise<number>((resolve) => s.getConnections((err, n) => resolve(err ? 0 : n)))))
    return counts.reduce((a, b) => a + b, 0)
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    this.#servers = []
  }

  #handle(path: string, res: ServerResponse): Promise<void> | void {
    const route = Object.hasOwn(this.#routes, path) ? this.#routes[path] : undefined
    if (route) return route(res)
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end(`not found: try ${Object.keys(this.#routes).join(', ')}\n`)
  }
}
