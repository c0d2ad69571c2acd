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
// in the metrics only.
import { readFileSync } from 'node:fs'
import { logger, type Logger } from '../../src/util/log.ts'

export type LimitReason = 'session_limit' | 'fd_limit'

export interface UserspaceLimitsOptions {
  /** UDP sessions at once (default 10,000). */
  udpSessionLimit?: number
  /** Sockets the relays may hold at once; default: the RLIMIT_NOFILE soft limit less headroom (defaultSocketLimit). */
  socketLimit?: number
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
  /** Live UDP sessions. */
  udpSessions = 0
  /** Called at each refusal at a limit (the metrics hook in). */
  onRefuse: ((protocol: 'TCP' | 'UDP', reason: LimitReason) => void) | undefined
  /** Called for each TCP connection reset and UDP datagram dropped at a load-balancer IP: its source is outside loadBalancerSourceRanges. */
  onSourceRangeRefused: ((protocol: 'TCP' | 'UDP') => void) | undefined
  /** Called for each relayed TCP connection closed after the idle timeout without traffic either way. */
  onTcpIdleClosed: (() => void) | undefined
  readonly #tcpSockets = new Set<ReadonlySet<unknown>>()
  readonly #lastWarn = new Map<string, number>()

  constructor(opts: UserspaceLimitsOptions = {}) {
    this.udpSessionLimit = opts.udpSessionLimit ?? DEFAULT_UDP_SESSION_LIMIT
    this.socketLimit = opts.socketLimit ?? defaultSocketLimit()
    if (!(Number.isInteger(this.udpSessionLimit) && this.udpSessionLimit > 0)) throw new Error(`the UDP session limit must be a positive integer, not ${this.udpSessionLimit}`)
    if (!(Number.isInteger(this.socketLimit) && this.socketLimit > 0)) throw new Error(`the relay socket limit must be a positive integer, not ${this.socketLimit}`)
    this.log = opts.log ?? logger('proxy-userspace')
  }

  /** Counts the live TCP sockets of a proxier (both sides of every connection) towards the limit. */
  watchTcpSockets(sockets: ReadonlySet<unknown>): void {
    this.#tcpSockets.add(sockets)
  }

  unwatchTcpSockets(sockets: ReadonlySet<unknown>): void {
    this.#tcpSockets.delete(sockets)
  }

  get tcpSockets(): number {
    let n = 0
    for (const s of this.#tcpSockets) n += s.size
    return n
  }

  /** Sockets the relays hold now. */
  get sockets(): number {
    return this.udpSessions + this.tcpSockets
  }

  /** Whether a new UDP session may start; when it may, it is counted until closeUdpSession. */
  openUdpSession(): boolean {
    const reason: LimitReason | undefined = this.udpSessions >= this.udpSessionLimit ? 'session_limit' : this.sockets + 1 > this.socketLimit ? 'fd_limit' : undefined
    if (reason !== undefined) return this.#refuse('UDP', reason)
    this.udpSessions++
    return true
  }

  closeUdpSession(): void {
    if (this.udpSessions > 0) this.udpSessions--
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
