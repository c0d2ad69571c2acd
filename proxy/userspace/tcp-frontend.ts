// One TCP listening socket of a Service port. Each accepted connection goes to the endpoint the
// picker chooses; when the connect fails it tries the next endpoint (each at most once), then
// resets the client. Both directions are piped with half-close kept; an error on either side
// destroys both. Closing the listener leaves established connections alone. A connection
// past the relays' socket limit (limits.ts), or from a source a load-balancer IP does not
// admit (source-ranges.ts), is reset as soon as it is accepted. A relayed connection with
// no traffic either way for idleTimeoutMs is closed (FIN) on both sides. A connection the
// connection policy (NetworkPolicy) does not allow to the endpoint picked is reset.
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Logger } from '../../src/util/log.ts'
import type { Family } from '../model.ts'
import type { ConnectionPolicy } from './connection-policy.ts'
import type { EndpointPicker, Target } from './endpoint-picker.ts'
import type { UserspaceLimits } from './limits.ts'
import type { ListenSpec } from './listen-plan.ts'
import type { SourceFilter } from './source-ranges.ts'

export interface TcpFrontendOptions {
  spec: ListenSpec
  family: Family
  /** Read at each connection, so endpoint updates apply to new connections at once. */
  picker: EndpointPicker
  /** Every live socket of the proxier (client and upstream sides), destroyed when it closes. */
  sockets: Set<Socket>
  /** A connection the limits do not admit is reset at once. */
  limits: UserspaceLimits
  /** An endpoint that has not answered the connect within this long is given up for the next. */
  connectTimeoutMs: number
  /** A relayed connection without traffic either way for this long is closed; 0: never. */
  idleTimeoutMs: number
  /** Asked for each endpoint picked; a connection it refuses is reset (no other endpoint is tried). */
  connectionPolicy?: ConnectionPolicy | undefined
  log: Logger
}

export class TcpFrontend {
  readonly spec: ListenSpec
  /** Who may connect (loadBalancerSourceRanges); undefined: everyone. Read at each connection. */
  sourceFilter: SourceFilter | undefined
  readonly #opts: TcpFrontendOptions
  #server: Server | undefined

  constructor(opts: TcpFrontendOptions) {
    this.spec = opts.spec
    this.#opts = opts
  }

  get listening(): boolean {
    return this.#server !== undefined
  }

  /** Starts listening; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL, ...). */
  open(): Promise<void> {
    if (this.#server) return Promise.resolve()
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, (client) => this.#accept(client))
    return new Promise((resolve, reject) => {
      server.once('error', (err) => {
        server.close()
        reject(err)
      })
      server.listen({ host: this.spec.host, port: this.spec.port, ipv6Only: this.spec.wildcard && this.#opts.family === 6 }, () => {
        server.removeAllListeners('error')
        server.on('error', (err) => this.#opts.log.warn({ listen: this.spec.key, err: err.message }, 'listener error'))
        this.#server = server
        resolve()
      })
    })
  }

  /** Stops accepting: new connections are refused by the kernel; established ones carry on. */
  close(): void {
    this.#server?.close()
    this.#server = undefined
  }

  #accept(client: Socket): void {
    const { picker, sockets, limits, connectTimeoutMs } = this.#opts
    const filter = this.sourceFilter
    if (filter !== undefined && !filter.admits(client.remoteAddress ?? '')) {
      limits.refuseSource('TCP')
      this.#opts.log.debug({ listen: this.spec.key, client: client.remoteAddress, sources: filter.sources }, 'connection reset: its source is outside the loadBalancerSourceRanges')
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    if (!limits.admitTcpConnection()) {
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    sockets.add(client)
    const clientIp = client.remoteAddress ?? ''
    const tried = new Set<string>()
    let upstream: Socket | undefined
    client.on('error', () => upstream?.destroy())
    client.on('close', () => {
      sockets.delete(client)
      if (!client.readableEnded) upstream?.destroy()
    })

    const attempt = (target: Target | undefined): void => {
      if (target === undefined || client.destroyed) {
        if (!client.destroyed) client.resetAndDestroy()
        return
      }
      tried.add(target.key)
      const policy = this.#opts.connectionPolicy
      if (policy !== undefined && !policy({ source: clientIp, destination: target.ip, protocol: 'TCP', port: target.port })) {
        this.#opts.log.debug({ listen: this.spec.key, client: clientIp, endpoint: target.key }, 'connection reset: NetworkPolicy does not allow it to that endpoint')
        client.resetAndDestroy()
        return
      }
      const up = connect({ host: target.ip, port: target.port, allowHalfOpen: true, noDelay: true })
      upstream = up
      sockets.add(up)
      up.on('close', () => sockets.delete(up))
      up.setTimeout(connectTimeoutMs)
      const failed = (err?: Error): void => {
        up.removeListener('connect', connected)
        up.destroy()
        this.#opts.log.debug({ listen: this.spec.key, endpoint: target.key, err: err?.message ?? 'connect timeout' }, 'endpoint connect failed')
        if (!client.destroyed) attempt(picker.retry(clientIp, tried))
      }
      const connected = (): void => {
        up.removeListener('error', failed)
        up.removeListener('timeout', failed)
        up.setTimeout(0)
        if (client.destroyed) {
          up.destroy()
          return
        }
        this.#splice(client, up)
      }
      up.once('error', failed)
      up.once('timeout', failed)
      up.once('connect', connected)
    }
    attempt(picker.pick(clientIp))
  }

  #splice(client: Socket, up: Socket): void {
    up.on('error', () => client.destroy())
    up.on('close', () => {
      if (!up.readableEnded) client.destroy()
    })
    client.pipe(up)
    up.pipe(client)
    const { idleTimeoutMs } = this.#opts
    if (idleTimeoutMs > 0) {
      // The client socket's timer restarts at every read and write on it, so at traffic either way.
      client.setTimeout(idleTimeoutMs)
      client.once('timeout', () => {
        this.#opts.limits.closeIdleTcp()
        this.#opts.log.debug({ listen: this.spec.key, client: client.remoteAddress, idleTimeoutMs }, 'relayed connection closed: idle')
        client.destroy()
        up.destroy()
      })
    }
  }
}
