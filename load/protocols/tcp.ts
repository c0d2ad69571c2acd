// Raw TCP connect: each request opens a connection and ends once it is established (the latency
// is the handshake through whatever routes the target: DNAT, a proxy). The connection is then
// reset rather than closed, so thousands per second leave no TIME_WAIT sockets behind.
import { Socket } from 'node:net'
import type { ClientFactory, ClientOptions, LoadClient } from '../types.ts'
import { EndpointRing, type Endpoint } from './endpoints.ts'
import { errnoClass } from './errno-class.ts'
import { RequestQueue, timeoutScanMs } from './queue.ts'

interface Attempt {
  token: number
  startedAt: number
  socket: Socket | undefined
  endpoint: Endpoint
}

class TcpClient implements LoadClient {
  private readonly options: ClientOptions
  private readonly ring: EndpointRing
  private readonly attempts = new Set<Attempt>()
  private readonly queue = new RequestQueue()
  private readonly scanner: NodeJS.Timeout
  private closed = false

  constructor(options: ClientOptions) {
    this.options = options
    this.ring = new EndpointRing(options.target.endpoints)
    this.scanner = setInterval(() => this.expire(), timeoutScanMs(options.timeoutMs))
    this.scanner.unref()
  }

  get inFlight(): number {
    return this.attempts.size + this.queue.length
  }

  send(token: number): void {
    if (this.closed) return
    const now = performance.now()
    if (this.attempts.size < this.options.connections) this.start(token, now)
    else this.queue.push(token, now)
  }

  private start(token: number, startedAt: number): void {
    const attempt: Attempt = { token, startedAt, socket: undefined, endpoint: this.ring.next() }
    this.attempts.add(attempt)
    const address = this.ring.resolve(attempt.endpoint)
    if (typeof address === 'string') this.connect(attempt, address)
    else address.then((resolved) => this.connect(attempt, resolved), (err: unknown) => this.end(attempt, err))
  }

  private connect(attempt: Attempt, address: string): void {
    if (!this.attempts.has(attempt)) return
    const socket = new Socket()
    attempt.socket = socket
    socket.once('connect', () => this.end(attempt, undefined))
    socket.once('error', (err) => this.end(attempt, err))
    socket.connect({ host: address, port: attempt.endpoint.port })
  }

  private end(attempt: Attempt, err: unknown): void {
    if (!this.attempts.delete(attempt)) return
    const socket = attempt.socket
    if (socket) {
      socket.removeAllListeners()
      socket.on('error', () => {})
      if (err === undefined) socket.resetAndDestroy()
      else socket.destroy()
    }
    const endpoint = this.options.identifyEndpoints ? attempt.endpoint.name : undefined
    this.options.sink.done(attempt.token, err === undefined ? undefined : errnoClass(err), endpoint)
    this.startQueued()
  }

  private startQueued(): void {
    while (!this.closed && this.queue.length > 0 && this.attempts.size < this.options.connections) {
      const queuedAt = this.queue.peekTime()
      this.start(this.queue.shift(), queuedAt)
    }
  }

  private expire(): void {
    const deadline = performance.now() - this.options.timeoutMs
    for (const attempt of this.attempts) {
      if (attempt.startedAt <= deadline) this.end(attempt, Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }))
    }
    while (this.queue.length > 0 && this.queue.peekTime() <= deadline) {
      this.options.sink.done(this.queue.shift(), 'timeout', undefined)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.scanner)
    this.queue.clear()
    for (const attempt of this.attempts) {
      attempt.socket?.removeAllListeners()
      attempt.socket?.on('error', () => {})
      attempt.socket?.destroy()
    }
    this.attempts.clear()
  }
}

export const createTcpClient: ClientFactory = (options) => new TcpClient(options)
