// The mesh's node proxy (the shape of Istio's ztunnel, inside the node agent):
//
// Outbound: nftables redirects TCP from this node's meshed pods to the outbound port. The
// proxy reads the original destination, resolves it (a Service address to one of its
// endpoints, as the service proxy would), and:
// - to a meshed pod: opens an HTTP/2 CONNECT stream to the pod's node proxy, over mutual TLS
//   as the source pod's identity, the server presenting the destination pod's identity (the
//   TLS server name asks for it). One HTTP/2 connection per node pair and identity pair
//   carries every stream between them;
// - to anything else: plain TCP, unless the source's namespace is STRICT (refused).
//
// Inbound: the inbound port takes those mTLS connections. The peer's certificate proves the
// source identity; a CONNECT stream names a pod of this node that must run as the identity the
// server presented, and MeshAuthorization decides. Allowed: the proxy connects to the pod
// (from the node's address) and splices the stream to it.
//
// Certificates change under it (renewal at half-life): new connections use the new one; a
// pooled HTTP/2 connection made with an old one takes no new streams and closes once its
// streams have ended, so established connections are never cut. stop() stops taking new
// connections and lets the carried ones finish (up to a grace period).
//
// This class makes the decisions; the sockets, TLS, HTTP/2 and every byte are the engine's
// (dataplane.ts, native/dataplane.c), which calls it synchronously for each one and reports
// what became of each connection (onEvent) for the metrics.
import { X509Certificate } from 'node:crypto'
import type { Logger } from '../src/util/log.ts'
import type { AuthorizationIndex } from './authorization.ts'
import { createEngine, EngineEvent, type Engine, type OutboundDecision } from './dataplane.ts'
import { IdentityError, spiffeId, verifySvidCertificate, type WorkloadIdentity } from './identity.ts'
import type { MeshMetrics, ConnectionLabels, PairStats } from './metrics.ts'
import { workloadName } from './metrics.ts'
import type { HeldIdentity } from './node-identities.ts'
import { identityKey } from './node-identities.ts'
import { connectAuthority, forwardedFor, parseConnectAuthority, parseForwardedFor, parseServerName, serverName } from './wire.ts'
import { canonicalIp, identityOf, resolveDestination, type ServiceIndex, type Workload, type WorkloadIndex } from './workloads.ts'

export interface MeshState {
  workloads: WorkloadIndex
  services: ServiceIndex
  policies: AuthorizationIndex
}

export interface IdentitySource {
  get(id: Pick<WorkloadIdentity, 'namespace' | 'serviceAccount'>): HeldIdentity | undefined
  readonly rootPem: string | undefined
}

export interface NodeProxyOptions {
  nodeName: string
  trustDomain: string
  identities: IdentitySource
  state: () => MeshState
  /** Where redirected connections arrive (both families; 0: a free port, for tests). */
  outboundPort: number
  /** Where other node proxies connect (both families). */
  inboundPort: number
  /** The inbound port of the other node proxies (default: inboundPort, the same on every node). */
  peerPort?: number
  /** Listen on these addresses instead of every address (tests: loopback). */
  listenHosts?: { v4?: string; v6?: string }
  metrics: MeshMetrics
  log: Logger
  /** Connecting to a pod or a peer proxy (default 10 s). */
  connectTimeoutMs?: number
  /** A TLS handshake on the inbound port (default 10 s). */
  handshakeTimeoutMs?: number
  /** Connections carried at most per direction, and inbound sessions at most (default 16,384). */
  maxConnections?: number
  /** An HTTP/2 connection with no frames this long is closed gracefully; its streams go on (default 10 min). */
  sessionIdleMs?: number
  /** Denials logged per second at most (default 5); the rest are only counted. */
  denialLogRate?: number
  /**
   * NetworkPolicy's verdict on a connection between two pod addresses (the agent's enforcer):
   * mesh traffic leaves and reaches pods through the node proxy, never the forward hook its
   * rules sit on, so the proxy asks on both ends. Default: no NetworkPolicy.
   */
  networkPolicy?: (source: string, destination: string, port: number) => boolean
  /** Where a redirected connection was going (default: conntrack's answer, native/original-dst.c). */
  originalDestination?: (connection: AcceptedConnection) => { address: string; port: number }
}

/** An outbound connection as accepted: the pod's address and the proxy's. */
export interface AcceptedConnection {
  remoteAddress: string
  remotePort: number
  localAddress: string
  localPort: number
}

interface PooledSession {
  id: number
  certPem: string
}

interface ClientSession {
  poolKey: string
  peer: string
  dest: WorkloadIdentity
}

interface InboundPeer {
  source: WorkloadIdentity
  served: WorkloadIdentity
}

interface Carried {
  direction: 'outbound' | 'inbound'
  pair: PairStats
  established: boolean
}

type SourceLabels = { workload: string; namespace: string; principal: string }

/** An address as the engine writes it (inet_ntop): IPv4 is canonical already, IPv6 goes through the parser (RFC 5952, as index keys are). */
const engineIp = (ip: string): string => (ip.includes(':') ? (canonicalIp(ip) ?? ip) : ip)

/** The pair cache's key for a destination that is no pod. */
const NO_WORKLOAD = {} as Workload

export class NodeProxy {
  readonly #o: NodeProxyOptions
  #engine: Engine | undefined
  #ports = { outbound: 0, inbound: 0 }
  readonly #sessions = new Map<string, PooledSession>()
  readonly #clientSessions = new Map<number, ClientSession>()
  readonly #contexts = new Map<string, { certPem: string; rootPem: string; id: number }>()
  readonly #peers = new Map<number, InboundPeer>()
  readonly #carried = new Map<number, Carried>()
  readonly #pairCache = new WeakMap<Workload, Map<Workload, Map<string, PairStats>>>()
  #logBudget = { second: 0, used: 0, suppressed: 0 }
  #root: { pem: string; cert: X509Certificate } | undefined
  #stopping = false

  constructor(options: NodeProxyOptions) {
    this.#o = options
  }

  get outboundPort(): number {
    return this.#ports.outbound
  }

  get inboundPort(): number {
    return this.#ports.inbound
  }

  /** Connections carried now (both directions). */
  get carried(): number {
    return this.#engine?.carried() ?? 0
  }

  /** Pooled HTTP/2 connections to peer proxies. */
  get pooledSessions(): number {
    return this.#sessions.size
  }

  async start(): Promise<void> {
    const o = this.#o
    const engine = createEngine(
      {
        onOutbound: (...args) => this.#guard(() => this.#onOutbound(...args), 0),
        onInboundStream: (...args) => this.#guard(() => this.#onInboundStream(...args), 500),
        verifyPeer: (...args) => this.#guard(() => this.#verifyPeer(...args), false),
        serverContext: (name) => this.#guard(() => this.#serverContext(name), 0),
        onEvent: (...args) => this.#guard(() => this.#onEvent(...args), undefined),
      },
      { connectTimeoutMs: o.connectTimeoutMs ?? 10_000, handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000, idleTimeoutMs: o.sessionIdleMs ?? 10 * 60_000, maxConnections: o.maxConnections ?? 16_384 },
    )
    this.#engine = engine
    const hosts = o.listenHosts ?? { v4: '0.0.0.0', v6: '::' }
    try {
      for (const inbound of [false, true]) {
        let port = inbound ? o.inboundPort : o.outboundPort
        for (const host of [hosts.v4, hosts.v6]) if (host) port = engine.listen(inbound, host, port)
        if (inbound) this.#ports.inbound = port
        else this.#ports.outbound = port
      }
    } catch (err) {
      engine.destroy()
      this.#engine = undefined
      throw err
    }
  }

  /** A callback the engine makes must not throw into C: a bug is logged and the connection refused. */
  #guard<T>(fn: () => T, fallback: T): T {
    try {
      return fn()
    } catch (err) {
      this.#o.log.error({ err: (err as Error).message }, 'mesh node proxy callback failed')
      return fallback
    }
  }

  /**
   * Stops taking connections; those carried go on for up to `graceMs`, then are cut.
   * Pooled HTTP/2 connections close once their streams have ended.
   */
  async stop(graceMs = 0): Promise<void> {
    const engine = this.#engine
    if (!engine || this.#stopping) return
    this.#stopping = true
    engine.stopListening()
    engine.retireSession(0)
    this.#sessions.clear()
    const deadline = Date.now() + graceMs
    while (engine.carried() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    engine.destroy()
    this.#engine = undefined
    for (const [id, c] of this.#carried) this.#ended(id, c, 0, 0)
    this.#contexts.clear()
  }

  /** A certificate was renewed or dropped: pooled connections made with the old one take no new streams. */
  identityChanged(key: string): void {
    for (const [poolKey, pooled] of this.#sessions) {
      if (poolKey.split('|')[1] !== key) continue
      const held = this.#o.identities.get(parseKey(key))
      if (held && held.certPem === pooled.certPem) continue
      this.#sessions.delete(poolKey)
      this.#engine?.retireSession(pooled.id)
    }
  }

  #rootCert(): X509Certificate | undefined {
    const pem = this.#o.identities.rootPem
    if (!pem) return undefined
    if (this.#root?.pem !== pem) this.#root = { pem, cert: new X509Certificate(pem) }
    return this.#root.cert
  }

  /** The engine's TLS context for a held identity (made again when its certificate or the root changed). */
  #context(held: HeldIdentity, rootPem: string): number {
    const key = identityKey(held.identity)
    const cached = this.#contexts.get(key)
    if (cached && cached.certPem === held.certPem && cached.rootPem === rootPem) return cached.id
    const id = this.#engine!.createContext(held.certPem, held.keyPem, rootPem)
    if (cached) this.#engine!.freeContext(cached.id)
    this.#contexts.set(key, { certPem: held.certPem, rootPem, id })
    return id
  }

  #onEvent(type: EngineEvent, id: number, a: number, b: number, text: string | undefined): void {
    const m = this.#o.metrics
    switch (type) {
      case EngineEvent.Established: {
        const c = this.#carried.get(id)
        if (!c) return
        c.established = true
        c.pair.opened++
        m.carried(c.direction, 1)
        return
      }
      case EngineEvent.Failed: {
        const c = this.#carried.get(id)
        this.#carried.delete(id)
        if (a === -2) m.refused.inc({ reason: 'max-connections' })
        else if (!c) return
        else if (a === 0) m.refused.inc({ reason: 'upstream' })
        else if (a === -1) m.refused.inc({ reason: 'tunnel' })
        else if (a === 403) m.refused.inc({ reason: 'denied-by-destination' })
        else m.refused.inc({ reason: `destination-${a}` })
        return
      }
      case EngineEvent.Closed: {
        const c = this.#carried.get(id)
        if (c) this.#ended(id, c, a, b)
        return
      }
      case EngineEvent.SessionDown: {
        if (a === 1) return void this.#peers.delete(id)
        const client = this.#clientSessions.get(id)
        if (!client) return
        this.#clientSessions.delete(id)
        if (this.#sessions.get(client.poolKey)?.id === id) this.#sessions.delete(client.poolKey)
        return
      }
      case EngineEvent.HandshakeFailed:
        m.handshakeFailures.inc({ side: a === 1 ? 'server' : 'client', reason: text ?? 'other' })
        if (a !== 1) this.#o.log.warn({ peer: this.#clientSessions.get(id)?.peer, reason: text }, 'mesh peer proxy handshake failed')
        return
    }
  }

  /** A carried connection ended: its pair's counters (from the pod side's reads and writes). */
  #ended(id: number, c: Carried, readFromPod: number, writtenToPod: number): void {
    this.#carried.delete(id)
    if (!c.established) return
    const outbound = c.direction === 'outbound'
    c.pair.closed++
    c.pair.sent += outbound ? readFromPod : writtenToPod
    c.pair.received += outbound ? writtenToPod : readFromPod
    this.#o.metrics.carried(c.direction, -1)
  }

  // ---- outbound -------------------------------------------------------------------------

  #onOutbound(conn: number, peerIp: string, peerPort: number, localIp: string, localPort: number, dstIp: string | undefined, dstPortOrErrno: number): OutboundDecision {
    const o = this.#o
    if (this.#stopping) return 0
    const sourceIp = engineIp(peerIp)
    localIp = engineIp(localIp)
    const given = o.originalDestination?.({ remoteAddress: sourceIp, remotePort: peerPort, localAddress: localIp, localPort })
    const dest = given ? { address: canonicalIp(given.address) ?? given.address, port: given.port } : dstIp === undefined ? undefined : { address: engineIp(dstIp), port: dstPortOrErrno }
    if (!dest) {
      o.metrics.refused.inc({ reason: 'no-original-destination' })
      return 0
    }
    if (dest.port === localPort && dest.address === localIp) {
      o.metrics.refused.inc({ reason: 'not-redirected' })
      return 0
    }
    const state = o.state()
    const source = state.workloads.byIp(sourceIp)
    if (!source || source.nodeName !== o.nodeName || !source.meshed) {
      o.metrics.refused.inc({ reason: 'unknown-source' })
      return 0
    }
    const target = resolveDestination(dest.address, dest.port, state.workloads, state.services)
    if (target.kind === 'no-endpoints') {
      o.metrics.refused.inc({ reason: 'no-endpoints' })
      return 0
    }
    const destWorkload = target.kind === 'pod' ? target.workload : undefined
    if (o.networkPolicy && !o.networkPolicy(sourceIp, target.ip, target.port)) {
      this.#deny('network-policy', source, destWorkload, `NetworkPolicy does not allow ${sourceIp} to ${target.ip}:${target.port}`)
      return 0
    }
    if (destWorkload?.meshed) return this.#tunnel(conn, source, sourceIp, destWorkload, target.ip, target.port, target.service)
    if (source.mode === 'STRICT') {
      this.#deny('strict', source, destWorkload, `${source.namespace} is STRICT: ${target.ip}:${target.port} is outside the mesh`)
      return 0
    }
    this.#carried.set(conn, { direction: 'outbound', pair: this.#pair('source', source, destWorkload, target.service, false), established: false })
    return [1, target.ip, target.port]
  }

  #labels(reporter: 'source' | 'destination', source: SourceLabels, dest: Workload | undefined, service: string | undefined, mtls: boolean): ConnectionLabels {
    return {
      reporter,
      source_workload: source.workload,
      source_workload_namespace: source.namespace,
      source_principal: source.principal,
      destination_workload: dest ? workloadName(dest.labels, dest.serviceAccount) : 'unknown',
      destination_workload_namespace: dest?.namespace ?? 'unknown',
      destination_principal: dest && mtls ? spiffeId(identityOf(dest, this.#o.trustDomain)) : '',
      destination_service: service ?? '',
      connection_security_policy: mtls ? 'mutual_tls' : 'none',
    }
  }

  /**
   * The counters of a workload pair, found through the pod objects of the current state: the
   * labels (SPIFFE IDs, workload names) are worked out once per pair and state, not per connection.
   */
  #pair(reporter: 'source' | 'destination', source: Workload, dest: Workload | undefined, service: string | undefined, mtls: boolean): PairStats {
    let byDest = this.#pairCache.get(source)
    if (!byDest) this.#pairCache.set(source, (byDest = new Map()))
    const key = `${reporter}|${service ?? ''}|${mtls}`
    let byKey = byDest.get(dest ?? NO_WORKLOAD)
    if (!byKey) byDest.set(dest ?? NO_WORKLOAD, (byKey = new Map()))
    let stats = byKey.get(key)
    if (!stats) byKey.set(key, (stats = this.#o.metrics.pair(this.#labels(reporter, this.#sourceLabels(source), dest, service, mtls))))
    return stats
  }

  #sourceLabels(w: Workload): SourceLabels {
    return { workload: workloadName(w.labels, w.serviceAccount), namespace: w.namespace, principal: spiffeId(identityOf(w, this.#o.trustDomain)) }
  }

  #tunnel(conn: number, source: Workload, sourceIp: string, dest: Workload, ip: string, port: number, service: string | undefined): OutboundDecision {
    const o = this.#o
    const held = o.identities.get(identityOf(source, o.trustDomain))
    if (!held || !dest.hostIP) {
      o.metrics.refused.inc({ reason: held ? 'no-destination-node' : 'no-identity' })
      return 0
    }
    const session = this.#session(dest.hostIP, held, identityOf(dest, o.trustDomain))
    if (session === undefined) {
      o.metrics.refused.inc({ reason: 'no-root' })
      return 0
    }
    this.#carried.set(conn, { direction: 'outbound', pair: this.#pair('source', source, dest, service, true), established: false })
    return [2, session, connectAuthority(ip, port), forwardedFor(sourceIp)]
  }

  /** The pooled HTTP/2 connection to `hostIP` as `held`, to the identity `dest`: made when there is none (or it was made with an older certificate). */
  #session(hostIP: string, held: HeldIdentity, dest: WorkloadIdentity): number | undefined {
    const o = this.#o
    const engine = this.#engine!
    const poolKey = `${hostIP}|${identityKey(held.identity)}|${identityKey(dest)}`
    const pooled = this.#sessions.get(poolKey)
    if (pooled) {
      if (pooled.certPem === held.certPem) return pooled.id
      this.#sessions.delete(poolKey)
      engine.retireSession(pooled.id)
    }
    const rootPem = o.identities.rootPem
    if (!rootPem || !this.#rootCert()) return undefined
    const id = engine.openSession(hostIP, o.peerPort ?? this.inboundPort, serverName(dest), this.#context(held, rootPem))
    this.#sessions.set(poolKey, { id, certPem: held.certPem })
    this.#clientSessions.set(id, { poolKey, peer: hostIP, dest })
    return id
  }

  /** After an mTLS handshake: the peer's certificate must be a mesh identity (and, dialled, the one asked for). */
  #verifyPeer(session: number, der: Buffer, inbound: number, name: string | undefined): boolean {
    const o = this.#o
    const side = inbound ? 'server' : 'client'
    try {
      const root = this.#rootCert()
      if (!root) throw new IdentityError('no mesh root')
      const proven = verifySvidCertificate(new X509Certificate(der), root, o.trustDomain)
      if (inbound) {
        const served = parseServerName(name, o.trustDomain)
        if (!served) throw new IdentityError('no server name')
        this.#peers.set(session, { source: proven, served })
        return true
      }
      const expected = this.#clientSessions.get(session)
      if (!expected) throw new IdentityError('a session the proxy did not open')
      if (identityKey(proven) !== identityKey(expected.dest)) throw new IdentityError(`the peer proxy presented ${spiffeId(proven)}, not ${spiffeId(expected.dest)}`)
      return true
    } catch (err) {
      o.metrics.handshakeFailures.inc({ side, reason: 'peer-identity' })
      o.log.warn({ session, err: (err as Error).message }, inbound ? 'mesh peer refused: its certificate is not a mesh identity' : 'mesh peer proxy refused: wrong identity')
      return false
    }
  }

  // ---- inbound --------------------------------------------------------------------------

  #serverContext(name: string | undefined): number {
    const id = parseServerName(name, this.#o.trustDomain)
    const held = id && this.#o.identities.get(id)
    const rootPem = this.#o.identities.rootPem
    if (!held || !rootPem) return 0
    return this.#context(held, rootPem)
  }

  #onInboundStream(session: number, conn: number, method: string, authority: string | undefined, forwarded: string | undefined): number | [string, number] {
    const o = this.#o
    const peer = this.#peers.get(session)
    if (!peer) return 403
    if (method !== 'CONNECT') return 405
    let target: { ip: string; port: number }
    try {
      target = parseConnectAuthority(authority)
    } catch {
      return 400
    }
    const state = o.state()
    const dest = state.workloads.byIp(target.ip)
    if (!dest || dest.nodeName !== o.nodeName || !dest.meshed) {
      o.metrics.refused.inc({ reason: 'not-a-local-meshed-pod' })
      return 404
    }
    // The source pod's address, as its node proxy says: it must be a pod that runs as the peer's identity.
    const sourceIp = parseForwardedFor(forwarded)
    const found = sourceIp === undefined ? undefined : state.workloads.byIp(sourceIp)
    const claimed = found && identityKey(identityOf(found, o.trustDomain)) === identityKey(peer.source) ? found : undefined
    // Named as the source proxy names it (its pod's workload); the identity alone when the address proves nothing.
    const sourceLabels = claimed ? this.#sourceLabels(claimed) : { workload: peer.source.serviceAccount, namespace: peer.source.namespace, principal: spiffeId(peer.source) }
    if (identityKey(identityOf(dest, o.trustDomain)) !== identityKey(peer.served)) {
      this.#deny('identity', sourceLabels, dest, `${target.ip} runs as ${dest.namespace}/${dest.serviceAccount}, not ${identityKey(peer.served)}`)
      return 403
    }
    if (!claimed) {
      this.#deny('identity', sourceLabels, dest, `the source address ${sourceIp ?? '(none)'} is no pod running as ${identityKey(peer.source)}`)
      return 403
    }
    if (o.networkPolicy && !o.networkPolicy(sourceIp!, target.ip, target.port)) {
      this.#deny('network-policy', sourceLabels, dest, `NetworkPolicy does not allow ${sourceIp} to ${target.ip}:${target.port}`)
      return 403
    }
    const decision = state.policies.decide({ source: peer.source, destination: { namespace: dest.namespace, labels: dest.labels }, port: target.port })
    if (!decision.allowed) {
      this.#deny('policy', sourceLabels, dest, decision.reason)
      return 403
    }
    const pair = claimed ? this.#pair('destination', claimed, dest, undefined, true) : this.#o.metrics.pair(this.#labels('destination', sourceLabels, dest, undefined, true))
    this.#carried.set(conn, { direction: 'inbound', pair, established: false })
    return [target.ip, target.port]
  }

  #deny(reason: 'policy' | 'strict' | 'identity' | 'network-policy', source: Workload | SourceLabels, dest: Workload | undefined, message: string): void {
    const o = this.#o
    const s = 'principal' in source ? source : this.#sourceLabels(source)
    o.metrics.denials.inc({ reason, source_workload_namespace: s.namespace, source_principal: s.principal, destination_workload: dest ? workloadName(dest.labels, dest.serviceAccount) : 'unknown', destination_workload_namespace: dest?.namespace ?? 'unknown' })
    const second = Math.floor(Date.now() / 1000)
    const budget = this.#logBudget
    if (budget.second !== second) {
      if (budget.suppressed > 0) o.log.warn({ suppressed: budget.suppressed }, 'mesh denials not logged (rate limit); weft_mesh_policy_denials_total counts them all')
      budget.second = second
      budget.used = 0
      budget.suppressed = 0
    }
    if (budget.used >= (o.denialLogRate ?? 5)) {
      budget.suppressed++
      return
    }
    budget.used++
    o.log.warn({ reason, source: s.principal, destination: dest ? `${dest.namespace}/${dest.name}` : 'unknown', why: message }, 'mesh connection denied')
  }
}

function parseKey(key: string): { namespace: string; serviceAccount: string } {
  const slash = key.indexOf('/')
  return { namespace: key.slice(0, slash), serviceAccount: key.slice(slash + 1) }
}
