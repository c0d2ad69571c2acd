// One upstream resolver of the forwarder: a DNS exchange over UDP (a few rotating connected
// sockets, replies told apart by a random id; redone over TCP when the reply is truncated)
// and its health, modelled on CoreDNS's forward plugin: after `maxFails` consecutive network
// failures it is down, and while down it is probed with `. IN NS` until anything answers.
import { randomInt } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import { connect, isIPv4, isIPv6 } from 'node:net'
import { decodeMessage, HEADER_SIZE } from './wire.ts'
import { frame, FrameReader } from './tcp-frames.ts'

export interface UpstreamAddress {
  host: string
  port: number
  family: 4 | 6
  /** `host:port` (`[v6]:port`), CoreDNS's `to` label. */
  label: string
}

/** Reads 'IP', 'IP:PORT', '[IPv6]:PORT' or a bare IPv6 address, optionally behind 'dns://'. */
export function parseUpstream(spec: string): UpstreamAddress {
  const bad = (why: string) => new Error(`upstream ${JSON.stringify(spec)} ${why}; write it as IP, IP:PORT or [IPv6]:PORT`)
  let text = spec.trim()
  if (text.startsWith('dns://')) text = text.slice(6)
  let host = text
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracketed) {
    host = bracketed[1]
    portText = bracketed[2]
    if (!isIPv6(host)) throw bad('has a bracketed host that is not an IPv6 address')
  } else if (!isIPv6(text)) {
    const colon = text.lastIndexOf(':')
    if (colon >= 0) {
      host = text.slice(0, colon)
      portText = text.slice(colon + 1)
    }
    if (!isIPv4(host)) throw bad('is not an IP address')
  }
  let port = 53
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw bad('has a port outside 1-65535')
    port = Number(portText)
  }
  const family = isIPv4(host) ? 4 : 6
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` }
}

export type ExchangeErrorCode = 'timeout' | 'network' | 'cancelled'

export class ExchangeError extends Error {
  readonly code: ExchangeErrorCode
  constructor(code: ExchangeErrorCode, message: string) {
    super(message)
    this.name = 'ExchangeError'
    this.code = code
  }
}

/** One query in flight to one upstream. */
export interface Exchange {
  /** The reply (with the id this side chose), or an ExchangeError. */
  readonly reply: Promise<Buffer>
  cancel(): void
}

/** Whether `reply` answers the query with `id` whose question is `query[12..questionEnd]` (names compared case-insensitively). */
export function isReplyTo(reply: Uint8Array, id: number, query: Uint8Array, questionEnd: number): boolean {
  if (reply.length < questionEnd || reply.length < HEADER_SIZE) return false
  if (((reply[0] << 8) | reply[1]) !== id || (reply[2] & 0x80) === 0) return false
  if (reply[4] !== 0 || reply[5] !== 1) return false
  for (let i = HEADER_SIZE; i < questionEnd; i++) {
    let a = reply[i]
    let b = query[i]
    if (a >= 0x41 && a <= 0x5a) a |= 0x20
    if (b >= 0x41 && b <= 0x5a) b |= 0x20
    if (a !== b) return false
  }
  return true
}

/** Whether the reply has TC set: over UDP, a signal to ask again over TCP; over TCP, a failure. */
function isTruncated(reply: Uint8Array): boolean {
  return (reply[2] & 0x02) !== 0
}

/**
 * Whether `reply` is a whole, readable DNS message (every name, record and record's data), as
 * CoreDNS unpacks every upstream reply: a malformed one is never relayed to a client.
 */
function isReadable(reply: Uint8Array): boolean {
  try {
    decodeMessage(reply)
    return true
  } catch {
    return false
  }
}

/** `. IN NS` with RD off, the health probe CoreDNS sends. */
const PROBE = Uint8Array.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1])

export interface UpstreamOptions {
  maxFails: number
  healthCheckMs: number
  /** Connected UDP sockets kept to the upstream (default 4)… */
  udpSockets?: number
  /** …each used for this many exchanges (default 100) before a fresh one takes its place. */
  udpSocketUses?: number
  /** Called for every probe that got no reply. */
  onProbeFailure?: () => void
}

export class Upstream {
  readonly address: UpstreamAddress
  readonly #options: UpstreamOptions
  #fails = 0
  #down = false
  #probeTimer: NodeJS.Timeout | undefined
  #probe: Exchange | undefined
  readonly #open = new Set<Exchange>()
  readonly #pool: UdpPool
  #closed = false

  constructor(address: UpstreamAddress, options: UpstreamOptions) {
    this.address = address
    this.#options = options
    this.#pool = new UdpPool(address, options.udpSockets ?? 4, options.udpSocketUses ?? 100)
  }

  get down(): boolean {
    return this.#down
  }

  /** Consecutive failures so far. */
  get fails(): number {
    return this.#fails
  }

  /** Sends `query` (its id replaced by a fresh random one) and waits at most `timeoutMs` for the reply. */
  exchange(query: Uint8Array, questionEnd: number, timeoutMs: number): Exchange {
    if (this.#closed) return { reply: Promise.reject(new ExchangeError('cancelled', `upstream ${this.address.label} is closed`)), cancel: () => {} }
    const out = Buffer.from(query)
    const deadline = Date.now() + timeoutMs
    let cancelCurrent: () => void = () => {}
    let cancelled = false
    const run = async (): Promise<Buffer> => {
      const udp = this.#pool.exchange(out, questionEnd, timeoutMs)
      cancelCurrent = udp.cancel
      const reply = await udp.reply
      if (!isTruncated(reply)) return reply
      if (cancelled) throw new ExchangeError('cancelled', 'exchange cancelled')
      const tcp = tcpExchange(this.address, out, udp.id, questionEnd, Math.max(0, deadline - Date.now()))
      cancelCurrent = tcp.cancel
      return await tcp.reply
    }
    const exchange: Exchange = {
      reply: run().finally(() => this.#open.delete(exchange)),
      cancel: () => {
        cancelled = true
        cancelCurrent()
      },
    }
    this.#open.add(exchange)
    return exchange
  }

  /** A reply came back: the failure count starts again and a down upstream is up. */
  succeeded(): void {
    this.#fails = 0
    if (this.#down) {
      this.#down = false
      this.#stopProbing()
    }
  }

  /** A network failure (no reply in time, socket error, unreachable). */
  failed(): void {
    this.#fails++
    if (!this.#down && this.#options.maxFails > 0 && this.#fails >= this.#options.maxFails && !this.#closed) {
      this.#down = true
      this.#probeTimer = setInterval(() => this.#sendProbe(), this.#options.healthCheckMs)
      this.#probeTimer.unref()
    }
  }

  #sendProbe(): void {
    if (this.#probe) return
    const probe = this.exchange(PROBE, PROBE.length, this.#options.healthCheckMs)
    this.#probe = probe
    probe.reply.then(
      () => {
        this.#probe = undefined
        this.succeeded()
      },
      (err: unknown) => {
        this.#probe = undefined
        if (!(err instanceof ExchangeError && err.code === 'cancelled')) this.#options.onProbeFailure?.()
      },
    )
  }

  #stopProbing(): void {
    clearInterval(this.#probeTimer)
    this.#probeTimer = undefined
    this.#probe?.cancel()
  }

  /** Stops probing and cancels every exchange in flight. */
  close(): void {
    this.#closed = true
    this.#stopProbing()
    for (const exchange of this.#open) exchange.cancel()
    this.#pool.close()
  }
}

interface Waiter {
  questionEnd: number
  query: Buffer
  finish: (result: Buffer | ExchangeError) => void
}

interface PooledSocket {
  socket: Socket
  waiting: Map<number, Waiter>
  uses: number
  retired: boolean
  /** Sends held until the socket is connected (an unconnected socket would want an address). */
  held: (() => void)[] | undefined
}

/**
 * A few connected UDP sockets to one upstream, replies told apart by id. A connected socket
 * only receives from the upstream and reports ICMP unreachable as an error. Each socket is
 * retired after `maxUses` exchanges, so source ports keep changing.
 */
class UdpPool {
  readonly #to: UpstreamAddress
  readonly #size: number
  readonly #maxUses: number
  #sockets: PooledSocket[] = []
  #next = 0

  constructor(to: UpstreamAddress, size: number, maxUses: number) {
    this.#to = to
    this.#size = size
    this.#maxUses = maxUses
  }

  /** Sends `query` with a fresh random id written into it. */
  exchange(query: Buffer, questionEnd: number, timeoutMs: number): Exchange & { id: number } {
    const to = this.#to
    const pooled = this.#pick()
    let id: number
    do id = randomInt(0x10000)
    while (pooled.waiting.has(id))
    query.writeUInt16BE(id, 0)
    const { reply, finish, done } = oneReply(() => {
      clearTimeout(timer)
      pooled.waiting.delete(id)
      if (pooled.retired && pooled.waiting.size === 0) pooled.socket.close()
    })
    const timer = setTimeout(() => finish(new ExchangeError('timeout', `no reply from ${to.label} over UDP within ${Math.round(timeoutMs)} ms`)), timeoutMs)
    pooled.waiting.set(id, { questionEnd, query, finish })
    const send = () => {
      if (done()) return
      pooled.socket.send(query, (err) => {
        if (err) finish(new ExchangeError('network', `UDP send to ${to.label}: ${err.message}`))
      })
    }
    if (pooled.held) pooled.held.push(send)
    else send()
    return { id, reply, cancel: () => finish(new ExchangeError('cancelled', 'exchange cancelled')) }
  }

  #pick(): PooledSocket {
    const i = this.#next++ % this.#size
    let pooled = this.#sockets[i]
    if (!pooled || pooled.uses >= this.#maxUses) {
      if (pooled) {
        pooled.retired = true
        if (pooled.waiting.size === 0) pooled.socket.close()
      }
      pooled = this.#open()
      this.#sockets[i] = pooled
    }
    pooled.uses++
    return pooled
  }

  #open(): PooledSocket {
    const to = this.#to
    const socket = createSocket(to.family === 6 ? 'udp6' : 'udp4')
    const pooled: PooledSocket = { socket, waiting: new Map(), uses: 0, retired: false, held: [] }
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port !== to.port || msg.length < HEADER_SIZE) return
      const waiter = pooled.waiting.get((msg[0] << 8) | msg[1])
      // Anything else (a stray, a spoof, a mangled copy) is ignored: the real reply may still come.
      // A truncated reply need not be readable: it only says to ask again over TCP.
      if (waiter && isReplyTo(msg, (msg[0] << 8) | msg[1], waiter.query, waiter.questionEnd) && (isTruncated(msg) || isReadable(msg))) waiter.finish(msg)
    })
    socket.on('error', (err) => {
      for (const waiter of [...pooled.waiting.values()]) waiter.finish(new ExchangeError('network', `UDP exchange with ${to.label}: ${err.message}`))
    })
    socket.connect(to.port, to.host, () => {
      const held = pooled.held ?? []
      pooled.held = undefined
      for (const send of held) send()
    })
    socket.unref()
    return pooled
  }

  close(): void {
    for (const pooled of this.#sockets) {
      pooled.retired = true
      if (pooled.waiting.size === 0) pooled.socket.close()
    }
    this.#sockets = []
  }
}

/** A reply settled once: the first `finish` runs `cleanup` and settles it; later calls do nothing. */
function oneReply(cleanup: () => void): { reply: Promise<Buffer>; finish(result: Buffer | ExchangeError): void; done(): boolean } {
  let settle: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined
  const reply = new Promise<Buffer>((resolve, reject) => (settle = { resolve, reject }))
  return {
    reply,
    done: () => settle === undefined,
    finish(result) {
      if (!settle) return
      const s = settle
      settle = undefined
      cleanup()
      if (result instanceof Error) s.reject(result)
      else s.resolve(result)
    },
  }
}

function tcpExchange(to: UpstreamAddress, query: Buffer, id: number, questionEnd: number, timeoutMs: number): Exchange {
  const socket = connect({ host: to.host, port: to.port, noDelay: true })
  const { reply, finish } = oneReply(() => {
    clearTimeout(timer)
    socket.destroy()
  })
  const timer = setTimeout(() => finish(new ExchangeError('timeout', `no reply from ${to.label} over TCP within ${Math.round(timeoutMs)} ms`)), timeoutMs)
  socket.on('connect', () => socket.write(frame(query)))
  const reader = new FrameReader()
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk)
    for (let msg = reader.next(); msg !== undefined; msg = reader.next()) {
      if (!isReplyTo(msg, id, query, questionEnd)) continue
      if (isTruncated(msg) || !isReadable(msg)) return finish(new ExchangeError('network', `${to.label} sent a truncated or unreadable reply over TCP`))
      return finish(Buffer.from(msg))
    }
  })
  socket.on('error', (err) => finish(new ExchangeError('network', `TCP exchange with ${to.label}: ${err.message}`)))
  socket.on('close', () => finish(new ExchangeError('network', `${to.label} closed the TCP connection without a reply`)))
  return { reply, cancel: () => finish(new ExchangeError('cancelled', 'exchange cancelled')) }
}
