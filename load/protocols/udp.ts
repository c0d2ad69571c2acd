// weft load's UDP echo client. Each request is one datagram on a connected socket, ended by
// the same bytes coming back. The datagram is the text `echo <run>-<n>` padded with '.' to
// target.udpPayloadBytes: `<run>` is this client's random id (8 hex digits) and `<n>` the
// request's number, so a stale or foreign datagram never ends a request. A plain echo server
// sends it back whole; agnhost netexec's UDP server answers `echo X` with `X` (it trims and
// lower-cases, which this text survives): both end the request. The datagram is never shorter
// than the command itself (about 16-30 bytes), whatever udpPayloadBytes says.
//
// An ICMP port unreachable comes back as ECONNREFUSED on the connected socket, once for
// however many datagrams were refused: every request in flight on that socket ends 'refused'.
// No answer within the timeout: 'timeout'.
//
// Which pod answers: echoes do not say, so with identifyEndpoints each socket also sends
// agnhost's `hostname` command when it opens and then once a second; its answer names the pod
// the socket reaches (conntrack keeps a socket's datagrams on one backend), and the echoes
// answered on that socket are credited to it. A plain echo server sends `hostname` back, which
// turns the probing off for that socket.
import { randomBytes } from 'node:crypto'
import type { ClientFactory, ClientOptions, ErrorClass, LoadClient, RequestSink } from '../types.ts'
import { checkClientOptions } from './check-options.ts'
import { Deadlines, sweepIntervalMs, type Timed } from './deadlines.ts'
import { errnoClass } from './errno-class.ts'
import { Fifo } from './fifo.ts'
import { endpointFromReply } from './identify.ts'
import { UdpSockets, type UdpSlot } from './udp-sockets.ts'

export const DEFAULT_UDP_PAYLOAD_BYTES = 64
export const MIN_UDP_PAYLOAD_BYTES = 8
/** The most a UDP datagram over IPv4 carries. */
export const MAX_UDP_PAYLOAD_BYTES = 65507
/** Requests in flight on one socket; more wait in the queue. */
export const MAX_IN_FLIGHT_PER_SOCKET = 65536
export const HOSTNAME_PROBE_INTERVAL_MS = 1000

const ECHO = Buffer.from('echo ')
const DASH = 0x2d
const DOT = 0x2e
const HOSTNAME = Buffer.from('hostname')

interface EchoRequest extends Timed {
  token: number
  slot: EchoSlot | undefined
  number: number
}

interface EchoSlot extends UdpSlot {
  pending: Map<number, EchoRequest>
  /** The pod this socket's `hostname` probe last named. */
  answeredBy: string | undefined
  probing: boolean
  lastProbeMs: number
}

class UdpEchoClient implements LoadClient {
  readonly #sink: RequestSink
  readonly #identify: boolean
  readonly #size: number
  /** `echo <run>-` */
  readonly #prefix: Buffer
  readonly #run: Buffer
  readonly #sockets: UdpSockets<EchoSlot>
  readonly #queue = new Fifo<EchoRequest>()
  readonly #deadlines: Deadlines<EchoRequest>
  readonly #timer: NodeJS.Timeout
  #nextNumber = 0
  #inFlight = 0
  #closed = false

  constructor(options: ClientOptions) {
    this.#sink = options.sink
    this.#identify = options.identifyEndpoints
    this.#size = options.target.udpPayloadBytes ?? DEFAULT_UDP_PAYLOAD_BYTES
    this.#run = Buffer.from(randomBytes(4).toString('hex'))
    this.#prefix = Buffer.concat([ECHO, this.#run, Buffer.from('-')])
    this.#deadlines = new Deadlines(options.timeoutMs)
    this.#sockets = new UdpSockets<EchoSlot>(
      options.target.endpoints,
      options.connections,
      (index, endpoint) => ({ index, endpoint, socket: undefined, opening: false, ready: false, retryAtMs: 0, pending: new Map(), answeredBy: undefined, probing: this.#identify, lastProbeMs: 0 }),
      {
        ready: (slot) => {
          if (slot.probing) this.#probe(slot, performance.now())
          this.#pump()
        },
        message: (slot, message) => this.#answer(slot, message),
        error: (slot, err) => this.#failSocket(slot, errnoClass(err)),
        openFailed: (_slot, error, othersOpen) => {
          if (othersOpen) return
          for (const request of this.#queue.drain()) if (!request.done) this.#finish(request, error, undefined)
        },
      },
    )
    this.#timer = setInterval(() => this.#tick(), sweepIntervalMs(options.timeoutMs))
    this.#timer.unref()
  }

  get inFlight(): number {
    return this.#inFlight
  }

  send(token: number): void {
    if (this.#closed) return
    const request: EchoRequest = { token, startMs: performance.now(), done: false, slot: undefined, number: this.#nextNumber++ }
    this.#inFlight++
    this.#deadlines.add(request)
    if (this.#queue.length === 0 && this.#start(request)) return
    this.#queue.push(request)
    this.#sockets.openMissing(request.startMs)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#queue.drain()
    this.#deadlines.clear()
    for (const slot of this.#sockets.slots) slot.pending.clear()
    this.#inFlight = 0
    await this.#sockets.close()
  }

  /** The datagram of request `number`. */
  #datagram(number: number): Buffer {
    const digits = String(number)
    const textLength = this.#prefix.length + digits.length
    const datagram = Buffer.allocUnsafe(Math.max(this.#size, textLength))
    this.#prefix.copy(datagram, 0)
    datagram.write(digits, this.#prefix.length, 'latin1')
    if (datagram.length > textLength) datagram.fill(DOT, textLength)
    return datagram
  }

  /** The request number an answer echoes (whole, or without `echo `, as netexec answers); -1 if it echoes none of ours. */
  #echoed(message: Buffer): number {
    const length = message.length
    let at = 0
    if (length >= ECHO.length && message[0] === ECHO[0] && message.compare(ECHO, 0, ECHO.length, 0, ECHO.length) === 0) at = ECHO.length
    const run = this.#run
    if (length < at + run.length + 2 || message.compare(run, 0, run.length, at, at + run.length) !== 0 || message[at + run.length] !== DASH) return -1
    let pos = at + run.length + 1
    const digitsStart = pos
    let number = 0
    while (pos < length && pos - digitsStart < 16) {
      const c = message[pos]
      if (c < 0x30 || c > 0x39) break
      number = number * 10 + (c - 0x30)
      pos++
    }
    const digits = pos - digitsStart
    if (digits === 0) return -1
    for (; pos < length; pos++) if (message[pos] !== DOT) return -1
    const sent = Math.max(this.#size, this.#prefix.length + digits)
    return length === sent - ECHO.length + at ? number : -1
  }

  #start(request: EchoRequest): boolean {
    const slot = this.#sockets.pick((s) => s.pending.size < MAX_IN_FLIGHT_PER_SOCKET)
    if (slot === undefined) return false
    request.slot = slot
    slot.pending.set(request.number, request)
    this.#sockets.send(slot, this.#datagram(request.number))
    return true
  }

  #pump(): void {
    const queue = this.#queue
    // Requests that already ended (timed out while queued) leave without starting.
    queue.shiftWhile((request) => request.done || this.#start(request))
    if (queue.length > 0) this.#sockets.openMissing(performance.now())
  }

  #finish(request: EchoRequest, error: ErrorClass | undefined, endpoint: string | undefined): void {
    request.done = true
    this.#inFlight--
    this.#sink.done(request.token, error, endpoint)
  }

  #answer(slot: EchoSlot, message: Buffer): void {
    if (this.#closed) return
    const number = this.#echoed(message)
    if (number < 0) {
      if (slot.probing) this.#probeAnswer(slot, message)
      return
    }
    const request = slot.pending.get(number)
    if (request === undefined) return
    slot.pending.delete(number)
    this.#finish(request, undefined, this.#identify ? slot.answeredBy : undefined)
    if (this.#queue.length > 0) this.#pump()
  }

  #probeAnswer(slot: EchoSlot, message: Buffer): void {
    if (message.equals(HOSTNAME)) {
      // An echo server, not netexec: it cannot say who it is.
      slot.probing = false
      slot.answeredBy = undefined
      return
    }
    slot.answeredBy = endpointFromReply(message) ?? slot.answeredBy
  }

  #probe(slot: EchoSlot, now: number): void {
    slot.lastProbeMs = now
    this.#sockets.send(slot, HOSTNAME)
  }

  /** Ends every request in flight on `slot`: the socket reported an error for datagrams it cannot name. */
  #failSocket(slot: EchoSlot, error: ErrorClass): void {
    if (this.#closed) return
    const failed = [...slot.pending.values()]
    slot.pending.clear()
    for (const request of failed) this.#finish(request, error, undefined)
    if (this.#queue.length > 0) this.#pump()
  }

  #tick(): void {
    if (this.#closed) return
    const now = performance.now()
    this.#deadlines.sweep(now, (request) => {
      request.slot?.pending.delete(request.number)
      this.#finish(request, 'timeout', undefined)
    })
    if (this.#identify) {
      for (const slot of this.#sockets.slots) if (slot.ready && slot.probing && now - slot.lastProbeMs >= HOSTNAME_PROBE_INTERVAL_MS) this.#probe(slot, now)
    }
    if (this.#queue.length > 0) this.#pump()
  }
}

export const createUdpClient: ClientFactory = (options) => {
  checkClientOptions(options, 'udp')
  const size = options.target.udpPayloadBytes
  if (size !== undefined && (!Number.isInteger(size) || size < MIN_UDP_PAYLOAD_BYTES || size > MAX_UDP_PAYLOAD_BYTES)) {
    throw new Error(`UDP payload size must be an integer from ${MIN_UDP_PAYLOAD_BYTES} to ${MAX_UDP_PAYLOAD_BYTES} bytes, not ${JSON.stringify(size)}`)
  }
  return new UdpEchoClient(options)
}
