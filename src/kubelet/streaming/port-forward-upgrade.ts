// The kubelet's /portForward/{namespace}/{pod}[/{uid}] endpoint: an HTTP upgrade either to
// plain SPDY/3.1 (`Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version: portforward.k8s.io`, as
// upstream's httpstream.Handshake and spdy.ResponseUpgrader answer it) or to a WebSocket
// carrying SPDY (subprotocol `SPDY/3.1+portforward.k8s.io`, kubectl ≥ 1.30's first try).
// Either way one SpdySession runs the portforward.k8s.io protocol into the pod's netns.
import { rejectUpgrade } from '../../util/http-upgrade.ts'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { NetnsDialer } from './netns-dialer.ts'
import { PORT_FORWARD_PROTOCOL, PortForwardHandler } from './port-forward.ts'
import { SpdySession } from './spdy-session.ts'
import { acceptWebSocketTunnel, isWebSocketRequest, WebSocketHandshakeError, type WebSocketTunnelAccept } from './ws-tunnel.ts'

export const SPDY_TUNNEL_PROTOCOL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`

/** Where a pod's ports are: its network namespace (undefined: the host's, for hostNetwork pods). */
export interface PortForwardTarget {
  netnsPath: string | undefined
  uid?: string
}

/** What the kubelet provides: the pod's target, or undefined when it has no such running pod. */
export type PortForwardTargetLookup = (namespace: string, pod: string) => PortForwardTarget | undefined

export interface PortForwardServiceOptions {
  target: PortForwardTargetLookup
  dialer?: NetnsDialer
  webSocket?: WebSocketTunnelAccept
  /** Upstream's streamingConnectionIdleTimeout (default 4 h). */
  idleTimeoutMs?: number
  streamCreationTimeoutMs?: number
}

export interface PortForwardPath {
  namespace: string
  pod: string
  uid?: string
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/

/** The namespace and pod of a `/portForward/NS/POD[/UID]` path; undefined for other paths, an Error for a bad one. */
export function parsePortForwardPath(pathname: string): PortForwardPath | Error | undefined {
  const m = /^\/portForward\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(pathname)
  if (!m) return undefined
  const parts: string[] = []
  for (const raw of m.slice(1, 4)) {
    if (raw === undefined) break
    let v: string
    try {
      v = decodeURIComponent(raw)
    } catch {
      return new Error('the port-forward path is not valid percent-encoding')
    }
    if (!NAME.test(v)) return new Error(`${JSON.stringify(v.slice(0, 64))} in the port-forward path is not a valid name`)
    parts.push(v)
  }
  return { namespace: parts[0]!, pod: parts[1]!, ...(parts[2] ? { uid: parts[2] } : {}) }
}

function commaValues(v: string | string[] | undefined): string[] {
  return (Array.isArray(v) ? v.join(',') : (v ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

/** Answers an upgrade request with a plain HTTP error and closes the connection. */
/** Port-forward sessions of one kubelet server. */
export class PortForwardService {
  readonly #opts: PortForwardServiceOptions
  readonly dialer: NetnsDialer
  readonly #sessions = new Set<SpdySession>()

  constructor(opts: PortForwardServiceOptions) {
    this.#opts = opts
    this.dialer = opts.dialer ?? new NetnsDialer()
  }

  get sessions(): number {
    return this.#sessions.size
  }

  /** Takes over an authorized upgrade request for `path`. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: PortForwardPath): void {
    const target = this.#opts.target(path.namespace, path.pod)
    if (!target || (path.uid && target.uid && path.uid !== target.uid)) {
      rejectUpgrade(socket, 404, `pod ${path.namespace}/${path.pod} not found on this node`)
      return
    }
    let io: Duplex
    if (isWebSocketRequest(req)) {
      try {
        io = (this.#opts.webSocket ?? acceptWebSocketTunnel)(req, socket, head, [SPDY_TUNNEL_PROTOCOL]).stream
      } catch (err) {
        if (err instanceof WebSocketHandshakeError) rejectUpgrade(socket, err.status, `unable to upgrade: ${err.message}`)
        else rejectUpgrade(socket, 500, 'unable to upgrade')
        return
      }
    } else {
      const refusal = spdyUpgradeRefusal(req)
      if (refusal) {
        rejectUpgrade(socket, refusal.status, refusal.body, refusal.headers)
        return
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`)
      if (head.length > 0) socket.unshift(head)
      io = socket
    }
    this.#serve(io, path, target)
  }

  #serve(io: Duplex, path: PortForwardPath, target: PortForwardTarget): void {
    const handler = new PortForwardHandler({
      podRef: `${path.namespace}/${path.pod}`,
      uid: target.uid ?? '',
      dial: (port) => this.dialer.dial(target.netnsPath, port),
      ...(this.#opts.streamCreationTimeoutMs ? { streamCreationTimeoutMs: this.#opts.streamCreationTimeoutMs } : {}),
    })
    const session = new SpdySession(io, { role: 'server', onStream: handler.onStream, idleTimeoutMs: this.#opts.idleTimeoutMs ?? 4 * 3600_000 })
    this.#sessions.add(session)
    void session.done.then(() => {
      handler.close()
      this.#sessions.delete(session)
    })
  }

  /** The pod is gone: its namespace's dialer stops. */
  podGone(netnsPath: string): Promise<void> {
    return this.dialer.stop(netnsPath)
  }

  async close(): Promise<void> {
    for (const s of this.#sessions) s.close()
    this.#sessions.clear()
    await this.dialer.stopAll()
  }
}

/** Why a plain SPDY upgrade cannot go ahead (upstream's wording), or undefined. */
export function spdyUpgradeRefusal(req: IncomingMessage): { status: number; body: string; headers?: Record<string, string> } | undefined {
  const connection = commaValues(req.headers.connection).map((c) => c.toLowerCase())
  const upgrade = commaValues(req.headers.upgrade).map((u) => u.toLowerCase())
  if (!connection.includes('upgrade') || !upgrade.includes('spdy/3.1')) return { status: 400, body: 'unable to upgrade: missing upgrade headers in request (want Connection: Upgrade, Upgrade: SPDY/3.1)' }
  const offered = commaValues(req.headers['x-stream-protocol-version'])
  if (offered.length === 0) return { status: 400, body: 'unable to upgrade: X-Stream-Protocol-Version is required' }
  if (!offered.includes(PORT_FORWARD_PROTOCOL))
    return {
      status: 403,
      body: `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${PORT_FORWARD_PROTOCOL}]`,
      headers: { 'X-Accepted-Stream-Protocol-Versions': PORT_FORWARD_PROTOCOL },
    }
  return undefined
}
