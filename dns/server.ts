// The DNS listeners: UDP and TCP (RFC 7766: length-prefixed messages, pipelined queries, idle
// connections closed) on each HOST:PORT, all answered by one QueryHandler.
//
// A TCP connection costs the server bounded memory and time whatever the client does: at most
// TCP_MAX_IN_FLIGHT of its queries (TCP_MAX_IN_FLIGHT_BYTES) are being answered at once and at
// most TCP_MAX_UNSENT bytes of replies wait for it to read (beyond any, the server stops
// reading from it); it is closed when no whole query arrived and no reply was sent for
// `tcpIdleMs`, so trickling bytes or never reading does not keep it open; junk ends it. A
// client that half-closes gets the answers to what it asked, then the server closes its side.
import { createSocket } from 'node:dgram'
import { createServer, isIP, isIPv6, type AddressInfo, type Server, type Socket as TcpSocket } from 'node:net'
import { parseListenAddress } from '../src/util/host-port.ts'
import type { QueryHandler } from './handler.ts'
import { frame, FrameReader } from './tcp-frames.ts'
import { BatchUdpSocket, RECEIVE_BUFFER, udpBatchAddon } from './udp-batch.ts'

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
  /** Read and answer UDP in batches through the native addon when it is built (default true);
   *  false: through node:dgram. */
  udpBatch?: boolean
}

/** A bound UDP listener: node:dgram's or the batch addon's. */
interface UdpListener {
  readonly port: number
  close(): void
}

/** Queries of one TCP connection being answered at once (forwarded ones wait for the upstream)… */
export const TCP_MAX_IN_FLIGHT = 32
/** …and their bytes (a query may be up to 64 KB). */
export const TCP_MAX_IN_FLIGHT_BYTES = 64 * 1024
/** Reply bytes queued for a TCP client that is not reading before the server stops reading its
 *  queries. (Not exported: how much a client that does not read costs also depends on the
 *  kernel's socket buffers, so no test can pin it; server-tcp.test.ts bounds the memory held.) */
const TCP_MAX_UNSENT = 64 * 1024

export interface BoundAddress {
  host: string
  port: number
}

export class DnsServer {
  readonly handler: QueryHandler
  #options: DnsServerOptions
  #udp: UdpListener[] = []
  #tcp: Server[] = []
  #connections = new Set<TcpSocket>()

  constructor(handler: QueryHandler, options: DnsServerOptions) {
    this.handler = handler
    this.#options = options
  }

  /** TCP connections open now (at most tcpMaxConnections). */
  get tcpConnections(): number {
    return this.#connections.size
  }

  /** Binds every listener; resolves with the bound addresses. A failure closes what was bound. */
  async start(): Promise<BoundAddress[]> {
    const bound: BoundAddress[] = []
    try {
      for (const address of this.#options.listen) {
        const { host, port } = parseListenAddress(address)
        // Port 0: the free UDP port the kernel picked may be taken for TCP; then try another.
        for (let attempt = 1; ; attempt++) {
          const udp = await this.#bindUdp(host, port)
          const udpPort = udp.port
          try {
            if (this.#options.tcp !== false) await this.#bindTcp(host, udpPort)
          } catch (err) {
            if (port !== 0 || attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
            this.#udp.splice(this.#udp.indexOf(udp), 1)
            udp.close()
            continue
          }
          bound.push({ host, port: udpPort })
          break
        }
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

  /** Whether UDP goes through the batch addon (it is built and not turned off). */
  get udpBatch(): boolean {
    return this.#options.udpBatch !== false && udpBatchAddon() !== undefined
  }

  async #bindUdp(host: string, port: number): Promise<UdpListener> {
    // The addon binds plain numeric addresses: a host name or a scoped IPv6 address (fe80::1%eth0) goes through node:dgram.
    const addon = this.#options.udpBatch === false || isIP(host) === 0 || host.includes('%') ? undefined : udpBatchAddon()
    const listener = addon ? new BatchUdpSocket(addon, this.handler, host, port, this.#options.reusePort === true) : await this.#bindDgram(host, port)
    this.#udp.push(listener)
    return listener
  }

  #bindDgram(host: string, port: number): Promise<UdpListener> {
    const family = isIPv6(host) ? 6 : 4
    const socket = createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ipv6Only: family === 6 && host !== '::',
      reusePort: this.#options.reusePort === true,
      recvBufferSize: RECEIVE_BUFFER,
      // Replies go to the address a query came from: no name to look up, so no detour through dns.lookup.
      lookup: (address, _family, callback) => callback(null, address, family),
    })
    const handler = this.handler
    socket.on('message', (msg, rinfo) => {
      const reply = handler.handle(msg, rinfo.address, 'udp')
      if (reply === undefined) return
      if (reply instanceof Promise) {
        void reply.then((r) => {
          if (!r) return
          try {
            socket.send(r, rinfo.port, rinfo.address)
          } catch {
            // The socket was closed while the answer was upstream: it has nowhere to go.
          }
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
        resolve({ port: (socket.address() as AddressInfo).port, close: () => socket.close() })
      })
    })
  }

  #bindTcp(host: string, port: number): Promise<void> {
    const server = createServer({ allowHalfOpen: true }, (conn) => this.#serveTcp(conn))
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
    let inFlight = 0
    let inFlightBytes = 0
    /** Whole queries read and replies sent so far. */
    let progress = 0
    // Progress restarts the idle timer; bytes that make no query do not. A query being
    // answered holds it (that ends by the forwarder's deadline). When it fires, what the
    // socket already received is read first (setImmediate runs after this turn's I/O), so a
    // stalled event loop does not close a client whose query is waiting to be read.
    const idle = setTimeout(() => {
      if (inFlight > 0) return idle.refresh()
      const seen = progress
      setImmediate(() => {
        if (progress === seen && inFlight === 0) conn.destroy()
      })
    }, this.#options.tcpIdleMs ?? 10_000)
    conn.on('close', () => {
      clearTimeout(idle)
      this.#connections.delete(conn)
    })
    conn.on('error', () => {})
    const reader = new FrameReader()
    const client = conn.remoteAddress ?? ''
    /** The client half-closed: nothing more will come. */
    let ended = false
    const send = (reply: Buffer | undefined) => {
      if (!reply || conn.destroyed || conn.writableEnded) return
      conn.write(frame(reply))
      progress++
      idle.refresh()
    }
    const pump = () => {
      if (conn.destroyed) return
      let exhausted = false
      const room = () => inFlight < TCP_MAX_IN_FLIGHT && inFlightBytes < TCP_MAX_IN_FLIGHT_BYTES && conn.writableLength <= TCP_MAX_UNSENT
      while (room()) {
        const message = reader.next()
        if (message === undefined) {
          exhausted = true
          break
        }
        progress++
        idle.refresh()
        const reply = this.handler.handle(message, client, 'tcp')
        if (reply === undefined) {
          // Junk on a stream leaves no way to find the next message: end the connection.
          conn.destroy()
          return
        }
        if (reply instanceof Promise) {
          inFlight++
          inFlightBytes += message.length
          void reply.then((r) => {
            inFlight--
            inFlightBytes -= message.length
            send(r)
            pump()
          })
        } else {
          send(reply)
        }
      }
      if (ended) {
        // Every whole query answered; a partial one left can never complete.
        if (exhausted && inFlight === 0 && !conn.writableEnded) conn.end()
      } else if (!room()) {
        conn.pause()
      } else {
        conn.resume()
      }
    }
    conn.on('data', (chunk: Buffer) => {
      reader.push(chunk)
      pump()
    })
    conn.on('drain', pump)
    conn.on('end', () => {
      ended = true
      pump()
    })
  }
}
