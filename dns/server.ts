// The DNS listeners: UDP and TCP (RFC 7766: length-prefixed messages, pipelined queries, idle
// connections closed) on each HOST:PORT, all answered by one QueryHandler.
import { createSocket, type Socket } from 'node:dgram'
import { createServer, isIPv6, type AddressInfo, type Server, type Socket as TcpSocket } from 'node:net'
import { parseListenAddress } from '../src/util/host-port.ts'
import type { QueryHandler } from './handler.ts'
import { frame, FrameReader } from './tcp-frames.ts'

export interface DnsServerOptions {
  /** HOST:PORT addresses ('[::]:53' for IPv6); port 0 picks a free one (the same for UDP and TCP). */
  listen: string[]
  /** A TCP connection idle this long is closed (default 10 s). */
  tcpIdleMs?: number
  /** At most this many TCP connections at once (default 1000). */
  tcpMaxConnections?: number
  /** Serve TCP too (default true). */
  tcp?: boolean
  /** Bind UDP with SO_REUSEPORT, so that other threads' sockets can share the port. */
  reusePort?: boolean
}

export interface BoundAddress {
  host: string
  port: number
}

export class DnsServer {
  readonly handler: QueryHandler
  #options: DnsServerOptions
  #udp: Socket[] = []
  #tcp: Server[] = []
  #connections = new Set<TcpSocket>()

  constructor(handler: QueryHandler, options: DnsServerOptions) {
    this.handler = handler
    this.#options = options
  }

  /** Binds every listener; resolves with the bound addresses. A failure closes what was bound. */
  async start(): Promise<BoundAddress[]> {
    const bound: BoundAddress[] = []
    try {
      for (const address of this.#options.listen) {
        const { host, port } = parseListenAddress(address)
        const udp = await this.#bindUdp(host, port)
        const udpPort = (udp.address() as AddressInfo).port
        if (this.#options.tcp !== false) await this.#bindTcp(host, udpPort)
        bound.push({ host, port: udpPort })
      }
    } catch (err) {
      await this.close()
      throw err
    }
    return bound
  }

  async close(): Promise<void> {
    for (const s of this.#udp) s.close()
    this.#udp = []
    for (const c of this.#connections) c.destroy()
    await Promise.all(this.#tcp.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    this.#tcp = []
  }

  #bindUdp(host: string, port: number): Promise<Socket> {
    const socket = createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      ipv6Only: isIPv6(host) && host !== '::',
      reusePort: this.#options.reusePort === true,
      // Replies go to the address a query came from: no name to look up, so no detour through dns.lookup.
      lookup: (address, _family, callback) => callback(null, address, isIPv6(address) ? 6 : 4),
    })
    const handler = this.handler
    socket.on('message', (msg, rinfo) => {
      const reply = handler.handle(msg, rinfo.address, 'udp')
      if (reply === undefined) return
      if (reply instanceof Promise) {
        void reply.then((r) => {
          if (r) socket.send(r, rinfo.port, rinfo.address)
        })
      } else {
        socket.send(reply, rinfo.port, rinfo.address)
      }
    })
    // A send to a client that went away (ICMP unreachable) surfaces here; nothing to do about it.
    socket.on('error', () => {})
    return new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, host, () => {
        socket.off('error', reject)
        this.#udp.push(socket)
        resolve(socket)
      })
    })
  }

  #bindTcp(host: string, port: number): Promise<void> {
    const server = createServer((conn) => this.#serveTcp(conn))
    server.maxConnections = this.#options.tcpMaxConnections ?? 1000
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port, host, ipv6Only: isIPv6(host) && host !== '::' }, () => {
        server.off('error', reject)
        this.#tcp.push(server)
        resolve()
      })
    })
  }

  #serveTcp(conn: TcpSocket): void {
    this.#connections.add(conn)
    conn.setNoDelay(true)
    conn.setTimeout(this.#options.tcpIdleMs ?? 10_000, () => conn.destroy())
    conn.on('close', () => this.#connections.delete(conn))
    conn.on('error', () => {})
    const reader = new FrameReader()
    const client = conn.remoteAddress ?? ''
    const send = (reply: Buffer | undefined) => {
      if (reply && !conn.destroyed) conn.write(frame(reply))
    }
    conn.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const reply = this.handler.handle(message, client, 'tcp')
        if (reply instanceof Promise) void reply.then(send)
        else if (reply === undefined) {
          // Junk on a stream leaves no way to find the next message: end the connection.
          conn.destroy()
          return
        } else send(reply)
      }
    })
  }
}
