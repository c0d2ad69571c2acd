// The tunnel engine of the mesh addon (native/dataplane.c): sockets, TLS, HTTP/2 and every
// byte, on Node's event loop; the node proxy (node-proxy.ts) makes every decision through
// these callbacks, which the engine calls synchronously.
import { meshAddon } from './addon.ts'

/** [1, ip, port]: plain TCP to there; [2, session, authority, forwarded]: a CONNECT stream on that session; 0: refused (reset). */
export type OutboundDecision = 0 | [1, string, number] | [2, number, string, string]

/** What onEvent reports. */
export const EngineEvent = {
  /** A connection is carried (tunnel answered 200, or the upstream connected). */
  Established: 1,
  /** A connection could not be carried: a = 0 the upstream did not connect, -1 the tunnel failed, -2 too many connections, else the destination's HTTP status. */
  Failed: 2,
  /** A carried connection ended: a = bytes read from the pod side, b = bytes written to it. */
  Closed: 3,
  /** A session takes no more streams (a = 1 for an inbound one). */
  SessionDown: 4,
  /** A session's handshake failed: a = 1 inbound; text = the reason. */
  HandshakeFailed: 5,
} as const
export type EngineEvent = (typeof EngineEvent)[keyof typeof EngineEvent]

export interface EngineCallbacks {
  /** An accepted outbound connection. dstIp is undefined when the original destination is unknown (dstPortOrErrno is then the errno). */
  onOutbound(conn: number, peerIp: string, peerPort: number, localIp: string, localPort: number, dstIp: string | undefined, dstPortOrErrno: number): OutboundDecision
  /** A request on an inbound session: a status to answer, or the pod address to connect to (then 200). */
  onInboundStream(session: number, conn: number, method: string, authority: string | undefined, forwarded: string | undefined): number | [string, number]
  /** The peer's certificate (DER) after the mTLS handshake; false closes the session. */
  verifyPeer(session: number, certificate: Buffer, inbound: number, serverName: string | undefined): boolean
  /** The context (identity) an inbound handshake asking for this server name presents; 0 refuses it. */
  serverContext(serverName: string | undefined): number
  onEvent(type: EngineEvent, id: number, a: number, b: number, text: string | undefined): void
}

export interface EngineOptions {
  connectTimeoutMs: number
  handshakeTimeoutMs: number
  idleTimeoutMs: number
  maxConnections: number
}

export interface Engine {
  /** Listens (SO_REUSEPORT; IPv6 only on an IPv6 address); the port bound. */
  listen(inbound: boolean, host: string, port: number): number
  stopListening(): void
  /** A TLS 1.3 context presenting this certificate and trusting only this root. */
  createContext(certPem: string, keyPem: string, rootPem: string): number
  freeContext(id: number): void
  /** An mTLS HTTP/2 session to a peer proxy, asking for `serverName`; connects in the background. */
  openSession(host: string, port: number, serverName: string, context: number): number
  /** No new streams on it; it closes once its streams end (0: every outbound session). */
  retireSession(id: number): void
  /** Connections under way, both directions. */
  carried(): number
  /** Resets every connection and closes everything; the engine takes no more calls. */
  destroy(): void
}

export function createEngine(callbacks: EngineCallbacks, options: EngineOptions): Engine {
  return meshAddon().createEngine(callbacks, options)
}
