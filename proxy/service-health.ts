// kube-proxy's service health check server (pkg/proxy/healthcheck): for every LoadBalancer
// Service with externalTrafficPolicy Local, an HTTP listener on its spec.healthCheckNodePort
// that tells the load balancer whether this node has a ready endpoint of it. Any method and
// path: 200 when the node has local ready endpoints and the proxy is healthy, else 503,
// with a JSON body naming the Service, the count and the proxy's health.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { createLimitedServer, smallEndpointLimits, type HttpLimits } from '../src/util/http-limits.ts'
import type { Logger } from '../src/util/log.ts'

export interface ServiceHealthOptions {
  log: Logger
  /** kube-proxy's serviceProxyHealthy: whether the proxy's own rules are in sync. */
  proxyHealthy: () => boolean
  /** Per listener; default smallEndpointLimits (64 connections, 5 s for the headers, 10 s a request). */
  limits?: Partial<HttpLimits>
}

interface Instance {
  port: number
  hosts: string
  servers: Server[]
  sockets: Set<Socket>
}

/** The body kube-proxy answers with (Go's dedented text: tab-indented JSON, no trailing newline). */
export function healthBody(namespace: string, name: string, localEndpoints: number, serviceProxyHealthy: boolean): string {
  return JSON.stringify({ service: { namespace, name }, localEndpoints, serviceProxyHealthy }, null, '\t')
}

export class ServiceHealthServer {
  readonly #options: ServiceHealthOptions
  /** Service key (`namespace/name`) → its listeners. */
  readonly #instances = new Map<string, Instance>()
  #endpoints = new Map<string, number>()
  #closed = false

  readonly #limits: HttpLimits

  constructor(options: ServiceHealthOptions) {
    this.#options = options
    this.#limits = { ...smallEndpointLimits, ...options.limits }
  }

  /** How many Services are served now. */
  get size(): number {
    return this.#instances.size
  }

  /** The Services served now, with their ports. */
  get ports(): Map<string, number> {
    return new Map([...this.#instances].map(([key, i]) => [key, i.port]))
  }

  /**
   * Serves exactly `ports` (Service key → health check port) on `hosts` (the node's
   * addresses; none: every address): listeners of Services gone, or whose port or hosts
   * changed, are closed; new ones are opened. A Service whose listener cannot be opened
   * (port taken, address gone) is left out and retried at the next call; the errors are
   * returned by Service key.
   */
  async syncServices(ports: ReadonlyMap<string, number>, hosts: readonly string[]): Promise<Map<string, Error>> {
    const failures = new Map<string, Error>()
    if (this.#closed) return failures
    const hostKey = hosts.join(',')
    for (const [key, inst] of [...this.#instances]) {
      if (ports.get(key) === inst.port && inst.hosts === hostKey) continue
      this.#options.log.info({ service: key, port: inst.port }, 'closing the health check listener')
      this.#instances.delete(key)
      await closeInstance(inst)
    }
    for (const [key, port] of ports) {
      if (this.#instances.has(key)) continue
      try {
        const inst = await this.#open(key, port, hosts)
        this.#instances.set(key, inst)
        this.#options.log.info({ service: key, port, hosts }, 'serving the health check')
      } catch (err) {
        failures.set(key, err as Error)
      }
    }
    return failures
  }

  /** The number of ready endpoints each Service has on this node (missing: none). */
  syncEndpoints(counts: ReadonlyMap<string, number>): void {
    this.#endpoints = new Map(counts)
  }

  /** Connections open on all listeners. */
  openConnections(): number {
    let n = 0
    for (const inst of this.#instances.values()) n += inst.sockets.size
    return n
  }

  async close(): Promise<void> {
    this.#closed = true
    const all = [...this.#instances.values()]
    this.#instances.clear()
    await Promise.all(all.map(closeInstance))
  }

  async #open(key: string, port: number, hosts: readonly string[]): Promise<Instance> {
    const o = this.#options
    const inst: Instance = { port, hosts: hosts.join(','), servers: [], sockets: new Set() }
    const slash = key.indexOf('/')
    const namespace = key.slice(0, slash)
    const name = key.slice(slash + 1)
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      // The body (if any) is not read; it is drained so the connection stays usable.
      req.resume()
      const count = this.#endpoints.get(key) ?? 0
      const healthy = o.proxyHealthy()
      res.writeHead(count > 0 && healthy ? 200 : 503, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' })
      res.end(healthBody(namespace, name, count, healthy))
    }
    try {
      for (const host of hosts.length ? hosts : [undefined]) {
        const server = createLimitedServer(this.#limits, handler)
        server.on('connection', (socket: Socket) => {
          inst.sockets.add(socket)
          socket.once('close', () => inst.sockets.delete(socket))
        })
        server.on('clientError', (_err, socket: Socket) => socket.destroy())
        // Not in the servers list until it listens: a failed listen has nothing to close.
        try {
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject)
            server.listen({ port, host, exclusive: true }, () => {
              server.off('error', reject)
              resolve()
            })
          })
        } catch (err) {
          // A node address that is not on this host (an ExternalIP behind NAT) is skipped, as long as another one works.
          if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL' && hosts.length > 1) {
            o.log.info({ service: key, port, host }, 'the health check cannot listen on this node address: skipped')
            continue
          }
          throw err
        }
        server.on('error', (err) => o.log.warn({ err, service: key, port }, 'health check listener failed'))
        inst.servers.push(server)
      }
      if (inst.servers.length === 0) throw new Error(`none of the node addresses ${hosts.join(', ')} is on this host`)
    } catch (err) {
      await closeInstance(inst)
      throw err
    }
    return inst
  }
}

async function closeInstance(inst: Instance): Promise<void> {
  const closing = inst.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))
  for (const socket of inst.sockets) socket.destroy()
  await Promise.all(closing)
}
