// The userspace data plane, for hosts where nftables cannot be used: weft itself listens on
// every Service address and relays to the endpoints. Service addresses are made local on the
// node (ServiceAddressManager); each Service port gets TCP servers or UDP sockets on its
// ClusterIP, externalIPs, load-balancer IPs and NodePort (ListenSpec).
//
// A socket is open only while its Service port has a usable endpoint for its kind of traffic:
// without one the kernel refuses connections (RST, or ICMP port unreachable for UDP) at once.
// Local-policy "drop" is refused too, as a client that hangs helps no one.
//
// loadBalancerSourceRanges are enforced at the load-balancer IPs' sockets as nftables mode's
// firewall does (source-ranges.ts): a refused TCP connection is reset at accept, a refused
// UDP datagram dropped. Relayed TCP connections idle for tcpIdleTimeoutMs are closed, so
// abandoned ones give their sockets back to the relays' budget (limits.ts).
//
// With `workers` > 1, TCP is relayed on that many threads sharing each port (relay-workers.ts);
// the relaying itself is tcp-relay.ts's.
//
// Binding errors (EADDRINUSE, ...) of one socket do not stop the others: the rest of the sync
// is applied, then sync throws a ListenError naming every socket that failed, so the caller's
// full resync after a failure retries them.
import type { NetnsRef } from '../../src/netlink/index.ts'
import { logger, type Logger } from '../../src/util/log.ts'
import { MAX_TIMER_MS } from '../../src/util/timers.ts'
import { usableEndpoints, type Family, type ProxyState, type ServiceEntry, type TrafficKind } from '../model.ts'
import type { Proxier, SyncStats } from '../proxier.ts'
import { ServiceAddressManager } from './address-manager.ts'
import { EndpointPicker } from './endpoint-picker.ts'
import { UserspaceLimits } from './limits.ts'
import { listenSpecs, serviceAddresses, type ListenSpec } from './listen-plan.ts'
import type { ConnectionPolicy } from './connection-policy.ts'
import { sourceFilter } from './source-ranges.ts'
import { TcpFrontend } from './tcp-frontend.ts'
import { TcpRelays } from './tcp-relay.ts'
import { RelayWorkers } from './relay-workers.ts'
import { UdpFrontend } from './udp-frontend.ts'

export interface UserspaceProxierOptions {
  family: Family
  /** Where the Service addresses go. Listeners are always in the process's own namespace, so this should name it (or stay undefined). */
  netns?: NetnsRef
  /** UDP sessions end after this long without traffic (default 30 s). */
  udpIdleTimeoutMs?: number
  /** An endpoint that does not accept a TCP connect within this long is given up for the next one (default 5 s). */
  connectTimeoutMs?: number
  /** A relayed TCP connection without traffic either way for this long is closed (default 1 h); 0: never. */
  tcpIdleTimeoutMs?: number
  /** false: leave Service addresses alone (tests on 127.0.0.0/8, which is local anyway). Default true. */
  manageAddresses?: boolean
  /** Put the addresses on `lo` even where dummy links exist (tests). */
  noDummy?: boolean
  /** Set arp_ignore/arp_announce so the node answers ARP for no Service address (default true; ServiceAddressManager). */
  strictArp?: boolean
  /** Caps on UDP sessions and relay sockets; share one between the families. Default: a proxier-own one with the default limits. */
  limits?: UserspaceLimits
  /** Asked before each new relayed connection (NetworkPolicy); undefined: every one is relayed. With one, TCP is relayed on this thread only. */
  connectionPolicy?: ConnectionPolicy
  /** Threads relaying TCP, this one included (default 1; relay-workers.ts). */
  workers?: number
  /** Bind TCP listeners with SO_REUSEPORT (relay worker threads; implied by workers > 1). */
  reusePort?: boolean
  log?: Logger
}

/**
 * The default idle timeout of relayed TCP connections: an hour. Longer than the idle timeout
 * of any common cloud load balancer (AWS ELB/NLB, GCP, Azure: 1 to 60 minutes), so clients
 * that work behind one work here; shorter than the 24 h conntrack established timeout
 * kube-proxy sets for nftables mode, because here an idle connection holds two of the
 * relays' few hundred to few thousand sockets, not a conntrack entry of a table of 100,000s.
 */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 3_600_000
/** The most relay threads (--userspace-workers). */
export const MAX_WORKERS = 64

export interface ListenFailure {
  id: string
  listen: string
  error: Error
}

export class ListenError extends Error {
  readonly failures: ListenFailure[]
  constructor(failures: ListenFailure[]) {
    super(
      `could not listen on ${failures.length} Service socket(s): ${failures.map((f) => `${f.id} ${f.listen}: ${f.error.message}`).join('; ')}` +
        '; free the port or address (another process may hold it); weft retries at the next full sync',
    )
    this.name = 'ListenError'
    this.failures = failures
  }
}

type Frontend = TcpFrontend | UdpFrontend

interface PortState {
  pickers: Record<TrafficKind, EndpointPicker>
  frontends: Map<string, Frontend>
}

interface Tally {
  operations: number
  failures: ListenFailure[]
}

export class UserspaceProxier implements Proxier {
  readonly mode = 'userspace' as const
  readonly family: Family
  readonly log: Logger
  readonly addresses: ServiceAddressManager | undefined
  readonly #udpIdleMs: number
  readonly #connectTimeoutMs: number
  readonly #ports = new Map<string, PortState>()
  readonly #relays: TcpRelays
  readonly #workers: RelayWorkers | undefined
  readonly #reusePort: boolean
  readonly #limits: UserspaceLimits
  readonly #connectionPolicy: ConnectionPolicy | undefined
  /** The node's own addresses and the Service addresses on it: a client with one of these is the node. */
  #ownAddresses = new Set<string>()
  #nodeIP: string | undefined
  readonly #sctpLogged = new Set<string>()
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor(opts: UserspaceProxierOptions) {
    this.family = opts.family
    this.log = opts.log ?? logger('proxy-userspace')
    this.#udpIdleMs = opts.udpIdleTimeoutMs ?? 30_000
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 5_000
    const tcpIdleMs = opts.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS
    if (!(Number.isInteger(tcpIdleMs) && tcpIdleMs >= 0 && tcpIdleMs <= MAX_TIMER_MS)) throw new Error(`the TCP idle timeout must be a whole number of milliseconds from 0 to ${MAX_TIMER_MS}, not ${tcpIdleMs}`)
    this.addresses = opts.manageAddresses === false ? undefined : new ServiceAddressManager({ family: opts.family, netns: opts.netns, log: this.log, noDummy: opts.noDummy, strictArp: opts.strictArp })
    this.#limits = opts.limits ?? new UserspaceLimits({ log: this.log })
    const policy = opts.connectionPolicy
    // The node's own connections to a Service come from whatever local address the kernel
    // picks (often the Service address itself): they are asked about as the node's.
    this.#connectionPolicy = policy && ((c) => policy(this.#ownAddresses.has(c.source) && this.#nodeIP ? { ...c, source: this.#nodeIP } : c))
    const limits = this.#limits
    this.#relays = new TcpRelays({
      limits,
      idleTimeoutMs: tcpIdleMs,
      onIdleClose: (r) => {
        limits.closeIdleTcp()
        this.log.debug({ client: r.client.remoteAddress, idleTimeoutMs: tcpIdleMs }, 'relayed connection closed: idle')
      },
    })
    const workers = opts.workers ?? 1
    if (!(Number.isInteger(workers) && workers >= 1 && workers <= MAX_WORKERS)) throw new Error(`the relay thread count must be a whole number from 1 to ${MAX_WORKERS}, not ${workers}`)
    if (workers > 1 && policy !== undefined) this.log.info({ workers }, 'userspace proxy: a connection policy (NetworkPolicy) is judged on the main thread, so TCP is relayed there only')
    this.#workers = workers > 1 && policy === undefined ? new RelayWorkers(workers - 1, { family: this.family, connectTimeoutMs: this.#connectTimeoutMs, tcpIdleTimeoutMs: tcpIdleMs }, limits, this.log) : undefined
    this.#reusePort = opts.reusePort === true || this.#workers !== undefined
  }

  /** Live TCP sockets (both sides of every proxied connection). */
  get connections(): number {
    return this.#relays.sockets.size
  }

  /** The frontends of a Service port, by `host:port` (for tests and status). */
  listeners(id: string): { key: string; listening: boolean }[] {
    return [...(this.#ports.get(id)?.frontends.values() ?? [])].map((f) => ({ key: f.spec.key, listening: f.listening }))
  }

  sync(state: ProxyState, changed: ReadonlySet<string> | 'all'): Promise<SyncStats> {
    const run = this.#queue.then(() => this.#sync(state, changed))
    this.#queue = run.catch(() => {})
    return run
  }

  async #sync(state: ProxyState, changed: ReadonlySet<string> | 'all'): Promise<SyncStats> {
    if (this.#closed) throw new Error('the userspace proxier is closed')
    if (state.family !== this.family) throw new Error(`a ProxyState of IPv${state.family} given to the IPv${this.family} userspace proxier`)
    const full = changed === 'all'
    const ids = full ? new Set([...state.services.keys(), ...this.#ports.keys()]) : changed
    const wanted = serviceAddresses(state)
    const nodeIPs = state.nodeIPs.filter((ip) => (ip.includes(':') ? 6 : 4) === this.family)
    this.#ownAddresses = new Set([...wanted, ...nodeIPs])
    this.#nodeIP = nodeIPs[0]
    // Addresses first (listeners cannot bind without them), stale ones after their listeners closed.
    await this.addresses?.addMissing(wanted, full)
    const workersSynced = this.#workers?.sync(state, changed)
    const tally: Tally = { operations: 0, failures: [] }
    let servicesChanged = 0
    await Promise.all(
      [...ids].map(async (id) => {
        const before = tally.operations
        const touched = await this.#apply(id, state.services.get(id), state.nodeIPs, tally)
        if (touched || tally.operations !== before) servicesChanged++
      }),
    )
    if (workersSynced !== undefined) tally.failures.push(...(await workersSynced))
    await this.addresses?.removeStale(wanted)
    if (tally.failures.length) {
      for (const f of tally.failures) this.log.warn({ id: f.id, listen: f.listen, err: f.error.message }, 'could not listen on a Service socket')
      throw new ListenError(tally.failures)
    }
    return { servicesChanged, operations: tally.operations }
  }

  /** Brings one Service port in line with `entry` (undefined: removed). Whether it existed or exists. */
  async #apply(id: string, entry: ServiceEntry | undefined, nodeIPs: readonly string[], tally: Tally): Promise<boolean> {
    let p = this.#ports.get(id)
    if (entry !== undefined && entry.port.protocol === 'SCTP') {
      if (!this.#sctpLogged.has(id)) this.log.warn({ id }, 'SCTP is not supported by the userspace proxier: Service port skipped')
      this.#sctpLogged.add(id)
      entry = undefined
    } else this.#sctpLogged.delete(id)
    if (entry === undefined) {
      if (p === undefined) return false
      for (const f of p.frontends.values()) tally.operations += this.#close(f)
      this.#ports.delete(id)
      return true
    }
    const { affinitySeconds } = entry.port
    if (p === undefined) {
      p = { pickers: { internal: new EndpointPicker(), external: new EndpointPicker() }, frontends: new Map() }
      this.#ports.set(id, p)
    }
    p.pickers.internal.update(usableEndpoints(entry, 'internal'), affinitySeconds)
    p.pickers.external.update(usableEndpoints(entry, 'external'), affinitySeconds)

    const specs = listenSpecs(entry.port, this.family)
    const keep = new Set(specs.map((s) => s.key))
    for (const [key, f] of p.frontends) {
      if (keep.has(key) && f.spec.kind === specs.find((s) => s.key === key)!.kind) continue
      tally.operations += this.#close(f)
      p.frontends.delete(key)
    }
    const ports = p
    const protocol = entry.port.protocol === 'UDP' ? 'UDP' : 'TCP'
    const filter = sourceFilter(entry.port, nodeIPs, this.family)
    await Promise.all(
      specs.map(async (spec) => {
        let f = ports.frontends.get(spec.key)
        if (f === undefined) {
          f = this.#frontend(protocol, spec, ports.pickers[spec.kind])
          ports.frontends.set(spec.key, f)
        }
        // Before it listens: no connection is ever accepted unfiltered.
        f.sourceFilter = spec.loadBalancer ? filter : undefined
        if (f instanceof UdpFrontend) f.prune()
        const usable = ports.pickers[spec.kind].size > 0
        if (usable && !f.listening) {
          try {
            await f.open()
            tally.operations++
          } catch (err) {
            tally.failures.push({ id, listen: spec.key, error: err as Error })
          }
        } else if (!usable && f.listening) tally.operations += this.#close(f)
      }),
    )
    return true
  }

  #frontend(protocol: 'TCP' | 'UDP', spec: ListenSpec, picker: EndpointPicker): Frontend {
    if (protocol === 'UDP') return new UdpFrontend({ spec, family: this.family, picker, idleMs: this.#udpIdleMs, limits: this.#limits, connectionPolicy: this.#connectionPolicy, log: this.log })
    return new TcpFrontend({ spec, family: this.family, picker, relays: this.#relays, limits: this.#limits, connectTimeoutMs: this.#connectTimeoutMs, reusePort: this.#reusePort, connectionPolicy: this.#connectionPolicy, log: this.log })
  }

  #close(f: Frontend): number {
    if (!f.listening) return 0
    f.close()
    return 1
  }

  /** Closes every listener, destroys the connections still open and removes the Service addresses. */
  async close(): Promise<void> {
    await this.#queue
    this.#closed = true
    await this.#workers?.close()
    for (const p of this.#ports.values()) for (const f of p.frontends.values()) f.close()
    this.#ports.clear()
    this.#relays.destroyAll()
    await this.addresses?.removeAll()
  }
}
