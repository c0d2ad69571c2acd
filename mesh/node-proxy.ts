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
import { X509Certificate } from 'node:crypto'
import { connect as http2Connect, createSecureServer, type ClientHttp2Session, type Http2SecureServer, type Http2Session, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net'
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls'
import type { Duplex } from 'node:stream'
import type { Logger } from '../src/util/log.ts'
import type { AuthorizationIndex } from './authorization.ts'
import { IdentityError, spiffeId, verifySvidCertificate, type WorkloadIdentity } from './identity.ts'
import type { MeshMetrics, ConnectionLabels } from './metrics.ts'
import { workloadName } from './metrics.ts'
import type { HeldIdentity } from './node-identities.ts'
import { identityKey } from './node-identities.ts'
import { originalDestination } from './original-dst.ts'
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
  /** Connections carried at most per direction (default 16,384). */
  maxConnections?: number
  /** Denials logged per second at most (default 5); the rest are only counted. */
  denialLogRate?: number
  /**
   * NetworkPolicy's verdict on a connection between two pod addresses (the agent's enforcer):
   * mesh traffic leaves and reaches pods through the node proxy, never the forward hook its
   * rules sit on, so the proxy asks on both ends. Default: no NetworkPolicy.
   */
  networkPolicy?: (source: string, destination: string, port: number) => boolean
  /** Where a redirected connection was going (default: conntrack's answer, original-dst.ts). */
  originalDestination?: (socket: Socket) => { address: string; port: number }
}

/** HTTP/2 flow-control windows: one tunnel stream must be able to fill a fast link. */
const STREAM_WINDOW = 4 * 1024 * 1024
const SESSION_WINDOW = 32 * 1024 * 1024
/** An HTTP/2 connection with no frames this long is closed gracefully (its streams, idle tunnels included, go on). */
const SESSION_IDLE_MS = 10 * 60_000

interface PooledSession {
  session: ClientHttp2Session
  certPem: string
}

interface InboundPeer {
  source: WorkloadIdentity
  served: WorkloadIdentity
}

const noop = () => {}

/** Pipes a and b both ways with half-closes carried over; either one failing ends both. */
function splice(a: Duplex, b: Duplex): void {
  a.pipe(b)
  b.pipe(a)
  const kill = () => {
    a.destroy()
    b.destroy()
  }
  a.once('error', kill)
  b.once('error', kill)
  // A side that closed before it had ended (reset, not half-closed): the other cannot finish either.
  a.once('close', () => setImmediate(() => !b.destroyed && !a.readableEnded && b.destroy()))
  b.once('close', () => setImmediate(() => !a.destroyed && !b.readableEnded && a.destroy()))
}

/** Refuses a connection not yet spliced with a TCP reset (never one whose end is under way: its close would never come). */
function reset(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy()
}

export class NodeProxy {
  readonly #o: NodeProxyOptions
  #outbound: Server[] = []
  #inbound: Http2SecureServer[] = []
  readonly #sessions = new Map<string, PooledSession>()
  readonly #contexts = new Map<string, { certPem: string; rootPem: string; context: SecureContext }>()
  readonly #peers = new WeakMap<Http2Session, InboundPeer>()
  readonly #carried = new Set<Duplex>()
  #logBudget = { second: 0, used: 0, suppressed: 0 }
  #root: { pem: string; cert: X509Certificate } | undefined
  #stopping = false

  constructor(options: NodeProxyOptions) {
    this.#o = options
  }

  get outboundPort(): number {
    const a = this.#outbound[0]?.address()
    return typeof a === 'object' && a ? a.port : 0
  }

  get inboundPort(): number {
    const a = this.#inbound[0]?.address()
    return typeof a === 'object' && a ? a.port : 0
  }

  /** Connections carried now (both directions). */
  get carried(): number {
    return this.#carried.size
  }

  /** Pooled HTTP/2 connections to peer proxies. */
  get pooledSessions(): number {
    return this.#sessions.size
  }

  async start(): Promise<void> {
    const o = this.#o
    const max = o.maxConnections ?? 16_384
    const hosts = o.listenHosts ?? { v4: '0.0.0.0', v6: '::' }
    const listen = (server: Server | Http2SecureServer, host: string, port: number) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        // reusePort: a restarted agent can take new connections while the old one drains.
        server.listen({ host, port, ipv6Only: host.includes(':'), reusePort: true }, () => {
          server.off('error', reject)
          resolve()
        })
      })
    for (const host of [hosts.v4, hosts.v6]) {
      if (!host) continue
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (s) => this.#onOutbound(s))
      server.maxConnections = max
      await listen(server, host, this.#outbound.length ? this.outboundPort : o.outboundPort)
      this.#outbound.push(server)
    }
    for (const host of [hosts.v4, hosts.v6]) {
      if (!host) continue
      const server = this.#inboundServer(max)
      await listen(server, host, this.#inbound.length ? this.inboundPort : o.inboundPort)
      this.#inbound.push(server)
    }
  }

  /** One per family: a TLS 1.3 HTTP/2 server that takes only mesh peers' certificates. */
  #inboundServer(max: number): Http2SecureServer {
    const o = this.#o
    const server = createSecureServer({
      SNICallback: (name, cb) => {
        const context = this.#serverContext(name)
        if (context instanceof Error) {
          o.metrics.handshakeFailures.inc({ side: 'server', reason: 'server-name' })
          cb(context)
        } else cb(null, context)
      },
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      allowHTTP1: false,
      handshakeTimeout: o.handshakeTimeoutMs ?? 10_000,
      settings: { initialWindowSize: STREAM_WINDOW, maxConcurrentStreams: 4096, maxHeaderListSize: 8192 },
      maxSessionMemory: 64,
    })
    server.maxConnections = max
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => o.metrics.handshakeFailures.inc({ side: 'server', reason: tlsReason(err) }))
    server.on('session', (session) => this.#onInboundSession(session))
    server.on('stream', (stream, headers) => this.#onInboundStream(stream, headers))
    server.on('sessionError', noop)
    server.on('connection', (socket: Socket) => socket.setNoDelay(true))
    return server
  }

  /**
   * Stops taking connections; those carried go on for up to `graceMs`, then are cut.
   * Pooled HTTP/2 connections close once their streams have ended.
   */
  async stop(graceMs = 0): Promise<void> {
    this.#stopping = true
    const servers: Array<Server | Http2SecureServer> = [...this.#outbound, ...this.#inbound]
    const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
    for (const { session } of this.#sessions.values()) session.close()
    this.#sessions.clear()
    const deadline = Date.now() + graceMs
    while (this.#carried.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    for (const s of this.#carried) s.destroy()
    await closed
  }

  /** A certificate was renewed or dropped: pooled connections made with the old one take no new streams. */
  identityChanged(key: string): void {
    for (const [poolKey, pooled] of this.#sessions) {
      if (poolKey.split('|')[1] !== key) continue
      const held = this.#o.identities.get(parseKey(key))
      if (held && held.certPem === pooled.certPem) continue
      this.#sessions.delete(poolKey)
      pooled.session.close()
    }
  }

  #rootCert(): X509Certificate | undefined {
    const pem = this.#o.identities.rootPem
    if (!pem) return undefined
    if (this.#root?.pem !== pem) this.#root = { pem, cert: new X509Certificate(pem) }
    return this.#root.cert
  }

  #track(s: Duplex, direction: 'outbound' | 'inbound'): void {
    this.#carried.add(s)
    this.#o.metrics.active.inc({ direction })
    s.once('close', () => {
      this.#carried.delete(s)
      this.#o.metrics.active.dec({ direction })
    })
  }

  // ---- outbound -------------------------------------------------------------------------

  #onOutbound(socket: Socket): void {
    const o = this.#o
    socket.on('error', noop)
    if (this.#stopping) return reset(socket)
    let dest: { address: string; port: number }
    try {
      dest = (o.originalDestination ?? originalDestination)(socket)
    } catch {
      o.metrics.refused.inc({ reason: 'no-original-destination' })
      return reset(socket)
    }
    if (dest.port === socket.localPort && dest.address === socket.localAddress) {
      o.metrics.refused.inc({ reason: 'not-redirected' })
      return reset(socket)
    }
    const state = o.state()
    const source = state.workloads.byIp(socket.remoteAddress ?? '')
    if (!source || source.nodeName !== o.nodeName || !source.meshed) {
      o.metrics.refused.inc({ reason: 'unknown-source' })
      return reset(socket)
    }
    const target = resolveDestination(dest.address, dest.port, state.workloads, state.services)
    if (target.kind === 'no-endpoints') {
      o.metrics.refused.inc({ reason: 'no-endpoints' })
      return reset(socket)
    }
    const sourceIp = canonicalIp(socket.remoteAddress)!
    if (o.networkPolicy && !o.networkPolicy(sourceIp, target.ip, target.port)) {
      this.#deny('network-policy', source, target.kind === 'pod' ? target.workload : undefined, `NetworkPolicy does not allow ${sourceIp} to ${target.ip}:${target.port}`)
      return reset(socket)
    }
    this.#track(socket, 'outbound')
    if (target.kind === 'pod' && target.workload.meshed) return this.#tunnel(socket, source, sourceIp, target.workload, target.ip, target.port, target.service)
    if (source.mode === 'STRICT') {
      this.#deny('strict', source, target.kind === 'pod' ? target.workload : undefined, `${source.namespace} is STRICT: ${target.ip}:${target.port} is outside the mesh`)
      return reset(socket)
    }
    this.#plain(socket, source, target.kind === 'pod' ? target.workload : undefined, target.ip, target.port, target.service)
  }

  #labels(reporter: 'source' | 'destination', source: { workload: string; namespace: string; principal: string }, dest: Workload | undefined, service: string | undefined, mtls: boolean): ConnectionLabels {
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

  #sourceLabels(w: Workload): { workload: string; namespace: string; principal: string } {
    return { workload: workloadName(w.labels, w.serviceAccount), namespace: w.namespace, principal: spiffeId(identityOf(w, this.#o.trustDomain)) }
  }

  #account(labels: ConnectionLabels, client: Socket): void {
    const m = this.#o.metrics
    m.opened.inc(labels)
    client.once('close', () => {
      m.closed.inc(labels)
      m.sent.inc(labels, client.bytesRead)
      m.received.inc(labels, client.bytesWritten)
    })
  }

  #plain(socket: Socket, source: Workload, dest: Workload | undefined, ip: string, port: number, service: string | undefined): void {
    const upstream = netConnect({ host: ip, port, allowHalfOpen: true, noDelay: true, timeout: this.#o.connectTimeoutMs ?? 10_000 })
    upstream.once('timeout', () => upstream.destroy(new Error('connect timeout')))
    let spliced = false
    upstream.once('connect', () => {
      spliced = true
      upstream.setTimeout(0)
      this.#account(this.#labels('source', this.#sourceLabels(source), dest, service, false), socket)
      socket.resume()
      splice(socket, upstream)
    })
    // Before the splice only: after it, splice ends both (a reset during a pending shutdown would leave the socket open).
    upstream.once('error', () => {
      if (spliced) return
      this.#o.metrics.refused.inc({ reason: 'upstream' })
      reset(socket)
    })
  }

  #tunnel(socket: Socket, source: Workload, sourceIp: string, dest: Workload, ip: string, port: number, service: string | undefined): void {
    const o = this.#o
    const sourceId = identityOf(source, o.trustDomain)
    const held = o.identities.get(sourceId)
    if (!held || !dest.hostIP) {
      o.metrics.refused.inc({ reason: held ? 'no-destination-node' : 'no-identity' })
      return reset(socket)
    }
    let session: ClientHttp2Session
    try {
      session = this.#session(dest.hostIP, held, identityOf(dest, o.trustDomain))
    } catch {
      o.metrics.refused.inc({ reason: 'no-root' })
      return reset(socket)
    }
    const stream = session.request({ ':method': 'CONNECT', ':authority': connectAuthority(ip, port), forwarded: forwardedFor(sourceIp) })
    stream.on('error', noop)
    const timer = setTimeout(() => stream.close(), o.connectTimeoutMs ?? 10_000)
    let answered = false
    stream.once('response', (headers) => {
      answered = true
      clearTimeout(timer)
      const status = Number(headers[':status'])
      if (status !== 200) {
        if (status === 403) o.metrics.refused.inc({ reason: 'denied-by-destination' })
        else o.metrics.refused.inc({ reason: `destination-${status}` })
        stream.close()
        return reset(socket)
      }
      this.#account(this.#labels('source', this.#sourceLabels(source), dest, service, true), socket)
      socket.resume()
      splice(socket, stream)
    })
    stream.once('close', () => {
      clearTimeout(timer)
      if (!answered) reset(socket)
    })
  }

  /** The pooled HTTP/2 connection to `hostIP` as `held`, to the identity `dest`: made when there is none (or it was made with an older certificate). */
  #session(hostIP: string, held: HeldIdentity, dest: WorkloadIdentity): ClientHttp2Session {
    const o = this.#o
    const key = `${hostIP}|${identityKey(held.identity)}|${identityKey(dest)}`
    const pooled = this.#sessions.get(key)
    if (pooled && !pooled.session.closed && !pooled.session.destroyed) {
      if (pooled.certPem === held.certPem) return pooled.session
      pooled.session.close()
    }
    const root = this.#rootCert()
    const rootPem = o.identities.rootPem
    if (!root || !rootPem) throw new Error('no mesh root')
    const peerPort = o.peerPort ?? o.inboundPort
    const authority = hostIP.includes(':') ? `https://[${hostIP}]:${peerPort}` : `https://${hostIP}:${peerPort}`
    const session = http2Connect(authority, {
      settings: { initialWindowSize: STREAM_WINDOW, enablePush: false },
      createConnection: () => {
        const tls = tlsConnect({ host: hostIP, port: peerPort, servername: serverName(dest), key: held.keyPem, cert: held.certPem, ca: rootPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' as const, checkServerIdentity: () => undefined, timeout: o.connectTimeoutMs ?? 10_000 })
        tls.setNoDelay(true)
        tls.once('timeout', () => tls.destroy(new Error('connect timeout')))
        tls.once('secureConnect', () => {
          tls.setTimeout(0)
          try {
            const proven = verifySvidCertificate(tls.getPeerX509Certificate()!, root, o.trustDomain)
            if (identityKey(proven) !== identityKey(dest)) throw new IdentityError(`the peer proxy presented ${spiffeId(proven)}, not ${spiffeId(dest)}`)
          } catch (err) {
            o.metrics.handshakeFailures.inc({ side: 'client', reason: 'peer-identity' })
            o.log.warn({ peer: hostIP, err: (err as Error).message }, 'mesh peer proxy refused: wrong identity')
            tls.destroy(err as Error)
          }
        })
        tls.once('error', (err: NodeJS.ErrnoException) => {
          if (!tls.encrypted || !(tls as TLSSocket).authorized) o.metrics.handshakeFailures.inc({ side: 'client', reason: tlsReason(err) })
        })
        return tls
      },
    })
    session.on('error', noop)
    session.setTimeout(SESSION_IDLE_MS, () => session.close())
    session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW))
    const entry = { session, certPem: held.certPem }
    this.#sessions.set(key, entry)
    session.once('close', () => {
      if (this.#sessions.get(key) === entry) this.#sessions.delete(key)
    })
    return session
  }

  // ---- inbound --------------------------------------------------------------------------

  #serverContext(name: string): SecureContext | Error {
    const id = parseServerName(name, this.#o.trustDomain)
    if (!id) return new Error(`server name ${JSON.stringify(name)} names no mesh identity`)
    const held = this.#o.identities.get(id)
    const rootPem = this.#o.identities.rootPem
    if (!held || !rootPem) return new Error(`this node proxy holds no identity ${identityKey(id)}`)
    const key = identityKey(id)
    const cached = this.#contexts.get(key)
    if (cached && cached.certPem === held.certPem && cached.rootPem === rootPem) return cached.context
    const context = createSecureContext({ key: held.keyPem, cert: held.certPem, ca: rootPem, minVersion: 'TLSv1.3' })
    this.#contexts.set(key, { certPem: held.certPem, rootPem, context })
    return context
  }

  #onInboundSession(session: ServerHttp2Session): void {
    session.on('error', noop)
    session.setTimeout(SESSION_IDLE_MS, () => session.close())
    const socket = session.socket as TLSSocket
    const root = this.#rootCert()
    const served = parseServerName(socket.servername || undefined, this.#o.trustDomain)
    try {
      if (!root || !served) throw new IdentityError('no mesh root or server name')
      const source = verifySvidCertificate(socket.getPeerX509Certificate()!, root, this.#o.trustDomain)
      this.#peers.set(session, { source, served })
      session.setLocalWindowSize(SESSION_WINDOW)
    } catch (err) {
      this.#o.metrics.handshakeFailures.inc({ side: 'server', reason: 'peer-identity' })
      this.#o.log.warn({ peer: socket.remoteAddress, err: (err as Error).message }, 'mesh peer refused: its certificate is not a mesh identity')
      session.destroy()
    }
  }

  #onInboundStream(stream: ServerHttp2Stream, headers: Record<string, string | string[] | undefined>): void {
    const o = this.#o
    stream.on('error', noop)
    const peer = stream.session ? this.#peers.get(stream.session) : undefined
    if (!peer) return void stream.close()
    const answer = (status: number) => {
      if (!stream.destroyed && !stream.headersSent) stream.respond({ ':status': status }, { endStream: true })
    }
    if (headers[':method'] !== 'CONNECT') return answer(405)
    let target: { ip: string; port: number }
    try {
      target = parseConnectAuthority(headers[':authority'])
    } catch {
      return answer(400)
    }
    const state = o.state()
    const dest = state.workloads.byIp(target.ip)
    if (!dest || dest.nodeName !== o.nodeName || !dest.meshed) {
      o.metrics.refused.inc({ reason: 'not-a-local-meshed-pod' })
      return answer(404)
    }
    // The source pod's address, as its node proxy says: it must be a pod that runs as the peer's identity.
    const sourceIp = parseForwardedFor(headers.forwarded)
    const found = sourceIp === undefined ? undefined : state.workloads.byIp(sourceIp)
    const claimed = found && identityKey(identityOf(found, o.trustDomain)) === identityKey(peer.source) ? found : undefined
    // Named as the source proxy names it (its pod's workload); the identity alone when the address proves nothing.
    const sourceLabels = claimed ? this.#sourceLabels(claimed) : { workload: peer.source.serviceAccount, namespace: peer.source.namespace, principal: spiffeId(peer.source) }
    if (identityKey(identityOf(dest, o.trustDomain)) !== identityKey(peer.served)) {
      this.#deny('identity', sourceLabels, dest, `${target.ip} runs as ${dest.namespace}/${dest.serviceAccount}, not ${identityKey(peer.served)}`)
      return answer(403)
    }
    if (!claimed) {
      this.#deny('identity', sourceLabels, dest, `the source address ${sourceIp ?? '(none)'} is no pod running as ${identityKey(peer.source)}`)
      return answer(403)
    }
    if (o.networkPolicy && !o.networkPolicy(sourceIp!, target.ip, target.port)) {
      this.#deny('network-policy', sourceLabels, dest, `NetworkPolicy does not allow ${sourceIp} to ${target.ip}:${target.port}`)
      return answer(403)
    }
    const decision = state.policies.decide({ source: peer.source, destination: { namespace: dest.namespace, labels: dest.labels }, port: target.port })
    if (!decision.allowed) {
      this.#deny('policy', sourceLabels, dest, decision.reason)
      return answer(403)
    }
    const upstream = netConnect({ host: target.ip, port: target.port, allowHalfOpen: true, noDelay: true, timeout: o.connectTimeoutMs ?? 10_000 })
    upstream.once('timeout', () => upstream.destroy(new Error('connect timeout')))
    upstream.once('connect', () => {
      upstream.setTimeout(0)
      if (stream.destroyed) return upstream.destroy()
      stream.respond({ ':status': 200 })
      this.#track(upstream, 'inbound')
      const labels = this.#labels('destination', sourceLabels, dest, undefined, true)
      o.metrics.opened.inc(labels)
      upstream.once('close', () => {
        o.metrics.closed.inc(labels)
        o.metrics.sent.inc(labels, upstream.bytesWritten)
        o.metrics.received.inc(labels, upstream.bytesRead)
      })
      splice(stream, upstream)
    })
    upstream.once('error', () => {
      if (!stream.headersSent) {
        o.metrics.refused.inc({ reason: 'upstream' })
        answer(503)
      } else stream.close()
    })
  }

  #deny(reason: 'policy' | 'strict' | 'identity' | 'network-policy', source: Workload | { workload: string; namespace: string; principal: string }, dest: Workload | undefined, message: string): void {
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

function tlsReason(err: NodeJS.ErrnoException): string {
  const code = err.code ?? ''
  if (code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return 'unknown-ca'
  if (code === 'CERT_HAS_EXPIRED') return 'expired'
  if (code.includes('PEER_DID_NOT_RETURN_A_CERTIFICATE') || code.includes('CERTIFICATE_REQUIRED')) return 'no-client-certificate'
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || err.message?.includes('timeout')) return 'timeout'
  return 'other'
}
