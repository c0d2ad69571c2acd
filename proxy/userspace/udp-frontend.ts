// One UDP socket of a Service port. Each client (address and port) gets a session: its own
// socket connected to the endpoint the picker chose, whose replies go back to the client from
// the Service socket. A session ends after idleMs without a datagram either way, when its
// endpoint goes away, or when the endpoint refuses (the next datagram starts a new session).
// A new client past the session or socket limit (limits.ts) gets no session: its datagram is
// dropped, as a full conntrack table would. So is a datagram of a new client from a source
// a load-balancer IP does not admit (source-ranges.ts); sessions already started carry on,
// as conntrack entries do in nftables mode. A new client the connection policy (NetworkPolicy)
// does not allow to the endpoint picked gets no session either.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import type { Logger } from '../../src/util/log.ts'
import type { Family } from '../model.ts'
import type { ConnectionPolicy } from './connection-policy.ts'
import type { EndpointPicker, Target } from './endpoint-picker.ts'
import type { UserspaceLimits } from './limits.ts'
import type { ListenSpec } from './listen-plan.ts'
import type { SourceFilter } from './source-ranges.ts'

export interface UdpFrontendOptions {
  spec: ListenSpec
  family: Family
  picker: EndpointPicker
  idleMs: number
  /** A client the limits give no session has its datagrams dropped. */
  limits: UserspaceLimits
  /** Asked for each new session's endpoint; a client it refuses gets no session (its datagram is dropped). */
  connectionPolicy?: ConnectionPolicy | undefined
  log: Logger
}

/** Datagrams held per session while its upstream socket connects. */
const MAX_PENDING = 64

interface Session {
  key: string
  client: RemoteInfo
  target: Target
  upstream: Socket
  last: number
  pending: Buffer[] | undefined
  timer: NodeJS.Timeout
}

export class UdpFrontend {
  readonly spec: ListenSpec
  /** Who may start a session (loadBalancerSourceRanges); undefined: everyone. */
  sourceFilter: SourceFilter | undefined
  readonly #opts: UdpFrontendOptions
  readonly #sessions = new Map<string, Session>()
  #socket: Socket | undefined

  constructor(opts: UdpFrontendOptions) {
    this.spec = opts.spec
    this.#opts = opts
  }

  get listening(): boolean {
    return this.#socket !== undefined
  }

  open(): Promise<void> {
    if (this.#socket) return Promise.resolve()
    const { family, spec } = this.#opts
    const socket = createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: spec.wildcard && family === 6 })
    return new Promise((resolve, reject) => {
      socket.once('error', (err) => {
        try {
          socket.close()
        } catch {
          // Never bound.
        }
        reject(err)
      })
      socket.bind({ address: spec.host, port: spec.port, exclusive: true }, () => {
        socket.removeAllListeners('error')
        socket.on('error', (err) => this.#opts.log.warn({ listen: spec.key, err: err.message }, 'udp socket error'))
        socket.on('message', (msg, rinfo) => this.#onMessage(socket, msg, rinfo))
        this.#socket = socket
        resolve()
      })
    })
  }

  /** Closes the socket and every session (replies could no longer be sent from the Service address). */
  close(): void {
    for (const s of [...this.#sessions.values()]) this.#end(s)
    this.#socket?.close()
    this.#socket = undefined
  }

  /** Ends the sessions whose endpoint the picker no longer has. */
  prune(): void {
    for (const s of [...this.#sessions.values()]) if (!this.#opts.picker.has(s.target.key)) this.#end(s)
  }

  #onMessage(socket: Socket, msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address} ${rinfo.port}`
    let s = this.#sessions.get(key)
    if (s === undefined) {
      s = this.#start(socket, key, rinfo)
      if (s === undefined) return
    }
    s.last = performance.now()
    if (s.pending === undefined) s.upstream.send(msg)
    else if (s.pending.length < MAX_PENDING) s.pending.push(msg)
  }

  #start(socket: Socket, key: string, client: RemoteInfo): Session | undefined {
    const { family, picker, idleMs, limits } = this.#opts
    const filter = this.sourceFilter
    if (filter !== undefined && !filter.admits(client.address)) {
      limits.refuseSource('UDP')
      this.#opts.log.debug({ listen: this.spec.key, client: client.address, sources: filter.sources }, 'datagram dropped: its source is outside the loadBalancerSourceRanges')
      return undefined
    }
    if (!limits.openUdpSession()) return undefined
    const target = picker.pick(client.address)
    if (target === undefined) {
      limits.closeUdpSession()
      return undefined
    }
    const policy = this.#opts.connectionPolicy
    if (policy !== undefined && !policy({ source: client.address, destination: target.ip, protocol: 'UDP', port: target.port })) {
      limits.closeUdpSession()
      this.#opts.log.debug({ listen: this.spec.key, client: client.address, endpoint: target.key }, 'datagram dropped: NetworkPolicy does not allow it to that endpoint')
      return undefined
    }
    const upstream = createSocket(family === 4 ? 'udp4' : 'udp6')
    const s: Session = { key, client, target, upstream, last: performance.now(), pending: [], timer: setTimeout(() => this.#checkIdle(s), idleMs) }
    s.timer.unref()
    this.#sessions.set(key, s)
    upstream.on('message', (reply) => {
      s.last = performance.now()
      socket.send(reply, client.port, client.address)
    })
    upstream.on('error', (err) => {
      this.#opts.log.debug({ listen: this.spec.key, endpoint: target.key, err: err.message }, 'udp session ended by an error')
      this.#end(s)
    })
    upstream.connect(target.port, target.ip, () => {
      const pending = s.pending ?? []
      s.pending = undefined
      for (const msg of pending) upstream.send(msg)
    })
    return s
  }

  #checkIdle(s: Session): void {
    const idle = performance.now() - s.last
    if (idle >= this.#opts.idleMs) this.#end(s)
    else {
      s.timer = setTimeout(() => this.#checkIdle(s), this.#opts.idleMs - idle)
      s.timer.unref()
    }
  }

  #end(s: Session): void {
    if (this.#sessions.get(s.key) !== s) return
    this.#sessions.delete(s.key)
    this.#opts.limits.closeUdpSession()
    clearTimeout(s.timer)
    try {
      s.upstream.close()
    } catch {
      // Already closed.
    }
  }
}
