// One TCP listening socket of a Service port. Each accepted connection goes to the endpoint the
// picker chooses; when the connect fails it tries the next endpoint (each at most once), then
// resets the client. Once connected, tcp-relay.ts relays both ways (half-close kept, the idle
// timeout). Closing the listener leaves established connections alone. A connection
// past the relays' socket limit (limits.ts), or from a source a load-balancer IP does not
// admit (source-ranges.ts), is reset as soon as it is accepted. A connection the
// connection policy (NetworkPolicy) does not allow to the endpoint picked is reset.
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Logger } from '../../src/util/log.ts'
import type { Family } from '../model.ts'
import type { ConnectionPolicy } from './connection-policy.ts'
import type { EndpointPicker, Target } from './endpoint-picker.ts'
import type { UserspaceLimits } from './limits.ts'
import type { ListenSpec } from './listen-plan.ts'
import type { SourceFilter } from './source-ranges.ts'
import { Relay, type TcpRelays } from './tcp-relay.ts'

export interface TcpFrontendOptions {
  spec: ListenSpec
  family: Family
  /** Read at each connection, so endpoint updates apply to new connections at once. */
  picker: EndpointPicker
  /** The proxier's relays: live sockets, idle sweep, read buffers. */
  relays: TcpRelays
  /** A connection the limits do not admit is reset at once. */
  limits: UserspaceLimits
  /** An endpoint that has not answered the connect within this long is given up for the next. */
  connectTimeoutMs: number
  /** Share the port with other relay threads' listeners (SO_REUSEPORT). */
  reusePort: boolean
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
      server.listen({ host: this.spec.host, port: this.spec.port, reusePort: this.#opts.reusePort, ipv6Only: this.spec.wildcard && this.#opts.family === 6 }, () => {
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
    const { picker, limits, relays } = this.#opts
    const filter = this.sourceFilter
    const policy = this.#opts.connectionPolicy
    // getpeername is a syscall: asked only when something needs the client's address.
    const clientIp = filter !== undefined || policy !== undefined || picker.affinity ? (client.remoteAddress ?? '') : ''
    if (filter !== undefined && !filter.admits(clientIp)) {
      limits.refuseSource('TCP')
      this.#opts.log.debug({ listen: this.spec.key, client: clientIp, sources: filter.sources }, 'connection reset: its source is outside the loadBalancerSourceRanges')
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    if (!limits.admitTcpConnection()) {
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    const relay = new Relay(client, relays)
    let tried: Set<string> | undefined
    const attempt = (target: Target | undefined): void => {
      if (target === undefined || client.destroyed) {
        if (!client.destroyed) client.resetAndDestroy()
        return
      }
      if (policy !== undefined && !policy({ source: clientIp, destination: target.ip, protocol: 'TCP', port: target.port })) {
        this.#opts.log.debug({ listen: this.spec.key, client: clientIp, endpoint: target.key }, 'connection reset: NetworkPolicy does not allow it to that endpoint')
        client.resetAndDestroy()
        return
      }
      const up = connect({ host: target.ip, port: target.port, allowHalfOpen: true, noDelay: true, onread: relay.onread })
      relay.attach(up)
      const failed = (err?: Error): void => {
        clearTimeout(timer)
        up.removeListener('connect', connected)
        up.destroy()
        this.#opts.log.debug({ listen: this.spec.key, endpoint: target.key, err: err?.message ?? 'connect timeout' }, 'endpoint connect failed')
        if (client.destroyed) return
        tried ??= new Set()
        tried.add(target.key)
        attempt(picker.retry(clientIp, tried))
      }
      const connected = (): void => {
        clearTimeout(timer)
        up.removeListener('error', failed)
        if (client.destroyed) up.destroy()
        else relay.splice()
      }
      const timer = setTimeout(failed, this.#opts.connectTimeoutMs)
      up.once('error', failed)
      up.once('connect', connected)
      // Destroyed with its client while connecting: no timeout to wait for.
      up.once('close', () => clearTimeout(timer))
    }
    attempt(picker.pick(clientIp))
  }
}
