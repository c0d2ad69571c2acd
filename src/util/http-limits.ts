// The limits every small weft HTTP listener has (health, metrics, the kubelet API, service
// health checks): a node:http server that cuts off slow or idle clients, refuses
// oversized heads and caps its open connections.
import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https'

export interface HttpLimits {
  /** Time to receive a request's headers. */
  headersTimeoutMs: number
  /** Time to receive a whole request, body included; a response may stream for longer. */
  requestTimeoutMs: number
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number
  /** Open connections per listener; more are closed at once. */
  maxConnections: number
  /** Largest request head in bytes; more gets 431. */
  maxHeaderSize: number
  /** Requests served on one connection before it is closed. */
  maxRequestsPerSocket: number
}

/** For endpoints a few local scrapers and probes call: /healthz, /metrics, health check ports. */
export const smallEndpointLimits: HttpLimits = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 64,
  maxHeaderSize: 8 * 1024,
  maxRequestsPerSocket: 1_000,
}

function serverOptions(limits: HttpLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderSize,
    // Node checks the two timeouts above only this often (30 s by default).
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, limits.headersTimeoutMs / 2)),
  }
}

/** An HTTP server with `limits`; a malformed request gets its connection closed, never an exception. */
export function createLimitedServer(limits: HttpLimits, handler: RequestListener): Server {
  const server = createServer(serverOptions(limits), handler)
  server.maxConnections = limits.maxConnections
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket
  return server
}

/** The same over TLS; a TLS handshake gets the headers timeout too (not node's 120 s). */
export function createLimitedHttpsServer(limits: HttpLimits, tls: HttpsServerOptions, handler: RequestListener): HttpsServer {
  const server = createHttpsServer({ ...tls, ...serverOptions(limits), handshakeTimeout: limits.headersTimeoutMs }, handler)
  server.maxConnections = limits.maxConnections
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket
  return server
}
