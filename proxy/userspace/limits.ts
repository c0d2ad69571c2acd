// How much the userspace relays may hold at once, shared by every Service port and both
// families. Each UDP session holds one socket (its upstream), each relayed TCP connection
// two (client and upstream); a flood of new clients must run into these limits, never into
// the process's RLIMIT_NOFILE, where the agent's kubelet and API client would fail with it.
// Past a limit a new UDP session's datagram is dropped and a new TCP connection reset; what
// is already relayed carries on, and sessions that go idle make room again (UDP sessions
// after --udp-timeout, TCP connections after --tcp-idle-timeout without traffic).
//
// It is also where the relays report what they refuse or close for other reasons (clients
// outside loadBalancerSourceRanges, idle TCP connections): one object per process, shared by
// both families, whose hooks the metrics set (ProxyMetrics.watchUserspace); the counts live
// in the metrics only. Relay worker threads (relay-workers.ts) count their sockets into the
// same counters (a SharedArrayBuffer); their refusals come back to the main thread's hooks.
// Two threads admitting at once may pass the socket limit by a connection each.
import { readFileSync } from 'node:fs'
import { logger, type Logger } from '../../src/util/log.ts'

export type LimitReason = 'session_limit' | 'fd_limit'

export interface UserspaceLimitsOptions {
  /** UDP sessions at once (default 10,000). */
  udpSessionLimit?: number
  /** Sockets the relays may hold at once; default: the RLIMIT_NOFILE soft limit less headroom (defaultSocketLimit). */
  socketLimit?: number
  /** The counters of another thread's UserspaceLimits (`shared`): relay worker threads count into the main thread's. */
  shared?: SharedArrayBuffer
  log?: Logger
}

export const DEFAULT_UDP_SESSION_LIMIT = 10_000
/** A drop warning at most this often per kind. */
const WARN_EVERY_MS = 60_000

/** The soft "Max open files" of this process (/proc/self/limits), or undefined when unreadable or unlimited. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8')
    } catch {
      return undefined
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text)
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined
}

/**
 * The relays' share of `fileLimit` descriptors: what is left after a headroom of a fifth
 * (at least 256, at most half) for everything else the process opens — listeners, the API
 * client, the kubelet's pods and logs. 1024 → 768; 20,000 → 16,000; 1,048,576 → 838,861.
 */
export function defaultSocketLimit(fileLimit = openFileLimit() ?? 1024): number {
  const headroom = Math.min(Math.floor(fileLimit / 2), Math.max(256, Math.ceil(fileLimit / 5)))
  return Math.max(0, fileLimit - headroom)
}

export class UserspaceLimits {
  readonly udpSessionLimit: number
  readonly socketLimit: number
  readonly log: Logger
  /** [TCP sockets, UDP sessions] of every relay thread of the process: they share its file descriptors. */
  readonly #counts: Int32Array
  /** Called at each refusal at a limit (the metrics hook in). */
  onRefuse: ((protocol: 'TCP' | 'UDP', reason: LimitReason) => void) | undefined
  /** Called for each TCP connection reset and UDP datagram dropped at a load-balancer IP: its source is outside loadBalancerSourceRanges. */
  onSourceRangeRefused: ((protocol: 'TCP' | 'UDP') => void) | undefined
  /** Called for each relayed TCP connection closed after the idle timeout without traffic either way. */
  onTcpIdleClosed: (() => void) | undefined
  readonly #lastWarn = new Map<string, number>()

  constructor(opts: UserspaceLimitsOptions = {}) {
    this.udpSessionLimit = opts.udpSessionLimit ?? DEFAULT_UDP_SESSION_LIMIT
    this.socketLimit = opts.socketLimit ?? defaultSocketLimit()
    if (!(Number.isInteger(this.udpSessionLimit) && this.udpSessionLimit > 0)) throw new Error(`the UDP session limit must be a positive integer, not ${this.udpSessionLimit}`)
    if (!(Number.isInteger(this.socketLimit) && this.socketLimit > 0)) throw new Error(`the relay socket limit must be a positive integer, not ${this.socketLimit}`)
    this.log = opts.log ?? logger('proxy-userspace')
    this.#counts = new Int32Array(opts.shared ?? new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT))
  }

  /** The counters, for a relay worker thread's UserspaceLimits (option `shared`). */
  get shared(): SharedArrayBuffer {
    return this.#counts.buffer as SharedArrayBuffer
  }

  /** Live TCP sockets of the relays (both sides of every connection), every thread's. */
  get tcpSockets(): number {
    return Atomics.load(this.#counts, 0)
  }

  /** Counts `n` TCP sockets opened (negative: closed). */
  countTcpSockets(n: number): void {
    Atomics.add(this.#counts, 0, n)
  }

  /** Live UDP sessions. */
  get udpSessions(): number {
    return Atomics.load(this.#counts, 1)
  }

  /** Sockets the relays hold now. */
  get sockets(): number {
    return this.udpSessions + this.tcpSockets
  }

  /** Whether a new UDP session may start; when it may, it is counted until closeUdpSession. */
  openUdpSession(): boolean {
    const reason: LimitReason | undefined = this.udpSessions >= this.udpSessionLimit ? 'session_limit' : this.sockets + 1 > this.socketLimit ? 'fd_limit' : undefined
    if (reason !== undefined) return this.#refuse('UDP', reason)
    Atomics.add(this.#counts, 1, 1)
    return true
  }

  closeUdpSession(): void {
    if (this.udpSessions > 0) Atomics.sub(this.#counts, 1, 1)
  }

  /** Whether a new TCP connection (two sockets) may be relayed. */
  admitTcpConnection(): boolean {
    return this.sockets + 2 > this.socketLimit ? this.#refuse('TCP', 'fd_limit') : true
  }

  /** Reports a connection or datagram refused for its source. */
  refuseSource(protocol: 'TCP' | 'UDP'): void {
    this.onSourceRangeRefused?.(protocol)
  }

  /** Reports a TCP connection closed for idleness. */
  closeIdleTcp(): void {
    this.onTcpIdleClosed?.()
  }

  #refuse(protocol: 'TCP' | 'UDP', reason: LimitReason): false {
    this.onRefuse?.(protocol, reason)
    const key = `${protocol} ${reason}`
    const now = performance.now()
    const last = this.#lastWarn.get(key)
    if (last === undefined || now - last >= WARN_EVERY_MS) {
      this.#lastWarn.set(key, now)
      const what = protocol === 'UDP' ? 'new UDP sessions are dropped (their datagrams discarded)' : 'new TCP connections are reset'
      const limit =
        reason === 'session_limit'
          ? `the UDP session limit (${this.udpSessionLimit}, --udp-session-limit) is reached`
          : `the relays hold ${this.sockets} sockets, their share (${this.socketLimit}) of the open-file limit; raise the agent's RLIMIT_NOFILE (ulimit -n)`
      this.log.warn({ protocol, reason, udpSessions: this.udpSessions, sockets: this.sockets }, `userspace proxy: ${what}: ${limit}; warned at most once a minute`)
    }
    return false
  }
}
