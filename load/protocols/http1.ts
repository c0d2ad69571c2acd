// The HTTP/1.1 load client, the hot path of `weft load`: plain sockets instead of node:http. The
// request is bytes built once; each connection ("lane") carries one request at a time (no
// pipelining) and parses its answer in place; plain TCP reads land in one shared buffer (no
// allocation per read). Every lane is opened before one is reused, and idle lanes are taken
// oldest first, so requests rotate over all --connections (and, through a Service, over the
// endpoints those connections landed on) even when few are in flight at once. Requests beyond
// the lanes wait in a FIFO queue; one interval timer expires requests past the timeout.
// keepAlive=false: a new connection per request.
import { Socket } from 'node:net'
import { Fifo } from './fifo.ts'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type { ClientFactory, ClientOptions, ErrorClass, LoadClient } from '../types.ts'
import { EndpointRing, type Endpoint } from './endpoints.ts'
import { errnoClass } from './errno-class.ts'
import { buildRequest, RequestError } from './http1-request.ts'
import { malformed, needMore, ResponseParser } from './http1-response.ts'
import { endpointFromReply } from './identify.ts'
import { RequestQueue, timeoutScanMs } from './queue.ts'

const readBufferBytes = 64 * 1024
/** A socket handed back after `Connection: close` gets this long to see the server's FIN. */
const lingerMs = 2000

interface Lane {
  socket: Socket | TLSSocket | undefined
  connected: boolean
  /** Waiting for the endpoint's host name to resolve (no socket yet). */
  resolving: boolean
  endpoint: Endpoint
  busy: boolean
  token: number
  startedAt: number
  parser: ResponseParser
}

class Http1Client implements LoadClient {
  private readonly options: ClientOptions
  private readonly request: Buffer
  private readonly headRequest: boolean
  private readonly ring: EndpointRing
  private readonly lanes: Lane[] = []
  private readonly idle = new Fifo<Lane>()
  private readonly queue = new RequestQueue()
  /** Sockets let go of after a response that ended the connection, with when. */
  private readonly lingering = new Map<Socket | TLSSocket, number>()
  private readonly scanner: NodeJS.Timeout
  private readonly readBuffer = Buffer.allocUnsafe(readBufferBytes)
  private readonly tlsSessions = new Map<Endpoint, Buffer>()
  private busyCount = 0
  private closed = false

  constructor(options: ClientOptions) {
    this.options = options
    this.request = buildRequest(options.target, options.keepAlive)
    const { servername } = options.target
    if (servername !== undefined && (typeof servername !== 'string' || servername.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(servername))) {
      throw new RequestError(`TLS server name ${JSON.stringify(String(servername).slice(0, 60))} is not a host name`)
    }
    this.headRequest = options.target.method === 'HEAD'
    this.ring = new EndpointRing(options.target.endpoints)
    this.scanner = setInterval(() => this.expire(), timeoutScanMs(options.timeoutMs))
    this.scanner.unref()
  }

  get inFlight(): number {
    return this.busyCount + this.queue.length
  }

  send(token: number): void {
    if (this.closed) return
    const now = performance.now()
    if (this.lanes.length < this.options.connections) return this.dispatch(this.newLane(), token, now)
    const lane = this.idle.shift()
    if (lane !== undefined) this.dispatch(lane, token, now)
    else this.queue.push(token, now)
  }

  private newLane(): Lane {
    const lane: Lane = {
      socket: undefined,
      connected: false,
      resolving: false,
      endpoint: this.ring.endpoints[0],
      busy: false,
      token: 0,
      startedAt: 0,
      parser: new ResponseParser(this.options.identifyEndpoints),
    }
    this.lanes.push(lane)
    return lane
  }

  private dispatch(lane: Lane, token: number, startedAt: number): void {
    lane.busy = true
    this.busyCount++
    lane.token = token
    lane.startedAt = startedAt
    lane.parser.reset(this.headRequest)
    if (lane.socket !== undefined && lane.connected) {
      lane.socket.write(this.request)
    } else if (lane.socket === undefined && !lane.resolving) {
      this.open(lane)
    }
  }

  /** Each new connection goes to the next endpoint in turn. */
  private open(lane: Lane): void {
    const endpoint = this.ring.next()
    lane.endpoint = endpoint
    const address = this.ring.resolve(endpoint)
    if (typeof address === 'string') {
      this.connect(lane, endpoint, address)
      return
    }
    lane.resolving = true
    address.then(
      (resolved) => {
        lane.resolving = false
        if (lane.busy && !this.closed) this.connect(lane, endpoint, resolved)
      },
      (err: unknown) => {
        lane.resolving = false
        if (lane.busy && !this.closed) this.complete(lane, errnoClass(err), false)
      },
    )
  }

  private connect(lane: Lane, endpoint: Endpoint, address: string): void {
    const { target } = this.options
    let socket: Socket | TLSSocket
    if (target.tls) {
      const tlsSocket = tlsConnect({
        host: address,
        port: endpoint.port,
        servername: target.servername,
        rejectUnauthorized: !target.insecure,
        ALPNProtocols: ['http/1.1'],
        session: this.tlsSessions.get(endpoint),
      })
      tlsSocket.on('session', (session: Buffer) => this.tlsSessions.set(endpoint, session))
      tlsSocket.once('secureConnect', () => this.onConnect(lane, tlsSocket))
      tlsSocket.on('data', (chunk: Buffer) => this.onData(lane, tlsSocket, chunk, chunk.length))
      socket = tlsSocket
    } else {
      const plain: Socket = new Socket({
        onread: {
          buffer: this.readBuffer,
          callback: (nread: number, buffer: Uint8Array) => {
            this.onData(lane, plain, buffer as Buffer, nread)
            return true
          },
        },
      })
      plain.once('connect', () => this.onConnect(lane, plain))
      plain.connect({ host: address, port: endpoint.port })
      socket = plain
    }
    socket.setNoDelay(true)
    lane.socket = socket
    lane.connected = false
    socket.on('end', () => this.onEnd(lane, socket))
    socket.on('error', (err: Error) => this.onError(lane, socket, err))
    socket.on('close', () => this.onClose(lane, socket))
  }

  private onConnect(lane: Lane, socket: Socket | TLSSocket): void {
    if (lane.socket !== socket) return
    lane.connected = true
    if (lane.busy) socket.write(this.request)
  }

  private onData(lane: Lane, socket: Socket | TLSSocket, buffer: Buffer, length: number): void {
    if (lane.socket !== socket) {
      // A lingering socket: nothing more is expected on it.
      this.dropLingering(socket)
      return
    }
    if (!lane.busy) {
      // Bytes nobody asked for: the connection is out of step.
      this.discard(lane)
      return
    }
    const parser = lane.parser
    const after = parser.feed(buffer, 0, length)
    if (after === needMore) return
    if (after === malformed) {
      this.discard(lane)
      this.complete(lane, 'protocol', false)
      return
    }
    // Bytes after a complete response: the connection cannot be trusted for another request.
    this.complete(lane, undefined, parser.closeAfter || after < length || !this.options.keepAlive)
  }

  private onEnd(lane: Lane, socket: Socket | TLSSocket): void {
    if (lane.socket !== socket) return
    if (lane.busy && lane.parser.endOfStream()) {
      this.complete(lane, undefined, true)
      return
    }
    this.discard(lane)
    if (lane.busy) this.complete(lane, 'reset', false)
  }

  private onError(lane: Lane, socket: Socket | TLSSocket, err: Error): void {
    if (lane.socket !== socket) return
    this.discard(lane)
    if (lane.busy) this.complete(lane, errnoClass(err), false)
  }

  private onClose(lane: Lane, socket: Socket | TLSSocket): void {
    this.lingering.delete(socket)
    if (lane.socket !== socket) return
    lane.socket = undefined
    lane.connected = false
    if (lane.busy) this.complete(lane, 'reset', false)
  }

  /** Ends the lane's connection now (the next request on the lane opens a new one). */
  private discard(lane: Lane): void {
    const socket = lane.socket
    if (socket === undefined) return
    lane.socket = undefined
    lane.connected = false
    socket.destroy()
  }

  /**
   * A response ended the connection: let the server close it first (then the TIME_WAIT state is
   * the server's, not ours: new connections at a high rate would exhaust local ports otherwise).
   */
  private letGo(lane: Lane): void {
    const socket = lane.socket
    if (socket === undefined) return
    lane.socket = undefined
    lane.connected = false
    if (socket.readableEnded) socket.destroy()
    else this.lingering.set(socket, performance.now())
  }

  private dropLingering(socket: Socket | TLSSocket): void {
    this.lingering.delete(socket)
    socket.destroy()
  }

  private complete(lane: Lane, error: ErrorClass | undefined, closeConnection: boolean): void {
    if (!lane.busy) return
    lane.busy = false
    this.busyCount--
    if (closeConnection) this.letGo(lane)
    let endpoint: string | undefined
    if (this.options.identifyEndpoints) {
      const parser = lane.parser
      if (error === undefined && parser.captured > 0 && parser.capture !== undefined) endpoint = endpointFromReply(parser.capture.subarray(0, parser.captured))
      // Nothing answered a request that failed on its connection: no endpoint to credit.
      if (error === undefined) endpoint ??= lane.endpoint.name
    }
    if (error === undefined) {
      const status = lane.parser.status
      if (status >= 500) error = 'http-5xx'
      else if (status >= 400) error = 'http-4xx'
    }
    this.options.sink.done(lane.token, error, endpoint)
    if (this.closed || lane.busy) return
    if (this.queue.length > 0) {
      const queuedAt = this.queue.peekTime()
      this.dispatch(lane, this.queue.shift(), queuedAt)
    } else {
      this.idle.push(lane)
    }
  }

  private expire(): void {
    const now = performance.now()
    const deadline = now - this.options.timeoutMs
    for (const lane of this.lanes) {
      if (lane.busy && lane.startedAt <= deadline) {
        this.discard(lane)
        this.complete(lane, 'timeout', false)
      }
    }
    while (this.queue.length > 0 && this.queue.peekTime() <= deadline) {
      this.options.sink.done(this.queue.shift(), 'timeout', undefined)
    }
    for (const [socket, since] of this.lingering) if (now - since > lingerMs) this.dropLingering(socket)
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.scanner)
    this.queue.clear()
    for (const lane of this.lanes) {
      lane.busy = false
      this.discard(lane)
    }
    for (const socket of this.lingering.keys()) socket.destroy()
    this.lingering.clear()
    this.busyCount = 0
    this.idle.drain()
  }
}

export const createHttp1Client: ClientFactory = (options) => new Http1Client(options)
