// The contracts between weft load's parts: a protocol client sends requests and reports how each
// ended; the engine decides when each request is meant to go (open loop) or keeps N in flight
// (closed loop) and times it from that intended moment; the recorder keeps HDR histograms per
// second; generators' snapshots merge exactly; the result is what result.json holds.

/** Why a request failed. A request that succeeded has no class. */
export const errorClasses = [
  /** The connection was refused (ECONNREFUSED, or an ICMP port unreachable for UDP). */
  'refused',
  /** The peer reset or closed the connection before the answer was complete (ECONNRESET, EPIPE, early EOF). */
  'reset',
  /** No complete answer within --timeout (connecting included). */
  'timeout',
  /** Connecting failed some other way: no route, host unreachable, address not available. */
  'connect',
  /** The TLS handshake failed (certificate, protocol). */
  'tls',
  /** The target's host name did not resolve. */
  'name-resolution',
  /** HTTP 4xx. */
  'http-4xx',
  /** HTTP 5xx. */
  'http-5xx',
  /** A gRPC status other than OK (grpc-status trailer). */
  'grpc-status',
  /** DNS mode: SERVFAIL. */
  'dns-servfail',
  /** DNS mode: NXDOMAIN. */
  'dns-nxdomain',
  /** DNS mode: REFUSED. */
  'dns-refused',
  /** DNS mode: another non-zero RCODE, a truncated or unmatched answer. */
  'dns-other',
  /** The peer's answer could not be parsed (malformed HTTP, a frame error). */
  'protocol',
  /** Anything else; the first message of each kind is logged once. */
  'other',
] as const
export type ErrorClass = (typeof errorClasses)[number]

export type Protocol = 'http1' | 'http2' | 'grpc' | 'tcp' | 'udp' | 'dns'

/** One address the client connects to. Connections are spread over endpoints round-robin. */
export interface TargetEndpoint {
  /** An IP address or a host name (resolved once, at start). */
  host: string
  port: number
  /** What this address is, for the report (e.g. `pod web-7c9f-abcde`, `node node-1`). */
  label?: string
}

/** A target after resolution: everything a protocol client needs, serialisable (sent to load pods as JSON). */
export interface ResolvedTarget {
  protocol: Protocol
  tls: boolean
  endpoints: TargetEndpoint[]
  /** HTTP: Host header / :authority. */
  authority: string
  /** TLS: the SNI server name (omitted for IP addresses). */
  servername?: string
  /** TLS: accept any certificate. */
  insecure: boolean
  /** HTTP: path and query. gRPC: the method path, e.g. `/grpc.health.v1.Health/Check`. */
  path: string
  /** HTTP method. */
  method: string
  /** Extra HTTP request headers. */
  headers: [string, string][]
  /** HTTP request body, base64 (JSON-safe); gRPC: the serialized request message, base64. */
  body?: string
  /** DNS mode: the question. */
  dns?: { name: string; type: string }
  /** UDP mode: payload bytes per datagram (the echo server sends them back). */
  udpPayloadBytes?: number
  /** How the target was found, for people: `svc/web.default:80 → ClusterIP 10.96.0.12:80`. */
  description: string
  /** The target as the user wrote it. */
  spec: string
}

/** Where a protocol client reports each request's end. Called exactly once per token. */
export interface RequestSink {
  done(token: number, error: ErrorClass | undefined, endpoint: string | undefined): void
}

export interface ClientOptions {
  target: ResolvedTarget
  /** Connections (HTTP/1.1, TCP, gRPC/HTTP/2 sessions, UDP sockets) the client may open at once. */
  connections: number
  /** HTTP/1.1: reuse connections (keep-alive). false: a new connection per request. */
  keepAlive: boolean
  /** A request not complete this long after it started (connecting included) ends as 'timeout'. */
  timeoutMs: number
  /** Report which endpoint answered (weft/echo's and agnhost's replies name the pod); costs a little per response. */
  identifyEndpoints: boolean
  sink: RequestSink
}

/**
 * A protocol client. `send` starts one request now or, when every connection is busy, queues it
 * (never drops it): a queued request's wait counts in its latency, since the engine times every
 * request from its intended send time.
 */
export interface LoadClient {
  send(token: number): void
  /** Started and not yet done, queued included. */
  readonly inFlight: number
  /** Ends queued and in-flight requests (they report no result: the engine has stopped counting) and closes every connection. */
  close(): Promise<void>
}

export type ClientFactory = (options: ClientOptions) => LoadClient

/** A stretch of the run with one rate (or a linear ramp). Absent `rate`: closed loop. */
export interface Phase {
  name: string
  durationMs: number
  /** Requests per second for this generator (open loop). */
  rate?: number
  /** Ramp linearly from `rate` to this by the phase's end. */
  rateTo?: number
}

export interface LoadPlan {
  /** Every phase open loop (a rate each) or one closed-loop phase. */
  phases: Phase[]
  /** Closed loop: requests in flight. Open loop: the most connections the client opens. */
  connections: number
  keepAlive: boolean
  /** Stop after this many requests have been sent (all phases). */
  requests?: number
  /** Sent and timed like the rest, but not recorded; the timeline's second 0 starts after it. */
  warmupMs: number
  timeoutMs: number
  identifyEndpoints: boolean
}

/** One second of the run (by intended send time, from t0 = the end of warm-up). */
export interface WindowSnapshot {
  second: number
  /** Requests whose intended send time fell in this second. */
  sent: number
  ok: number
  errors: Partial<Record<ErrorClass, number>>
  /** HDR histogram of these requests' latencies in microseconds (successes and failures), compressed base64. */
  histogram: string
}

/** What a generator reports, as it goes (windows) and at the end; snapshots of several generators merge exactly. */
export interface RunSnapshot {
  /** Epoch ms of t0. */
  startedAtMs: number
  /** How long requests were sent for after t0, ms (a run cut short by --requests or Ctrl-C is shorter than planned); merged: the longest. */
  durationMs?: number
  windows: WindowSnapshot[]
  endpoints: Record<string, number>
}

/** Progress of a run, once a second. */
export interface Progress {
  elapsedMs: number
  totalMs: number | undefined
  sent: number
  done: number
  errors: number
  /** Completed per second over the last second. */
  rate: number
  /** Latency of the last complete second, ms. */
  p50: number
  p99: number
}

/** A scenario action as it happened, on the run's timeline (seconds from t0). */
export interface ActionRecord {
  name: string
  kind: string
  atSecond: number
  completedSecond?: number
  ok: boolean
  message: string
}

/** result.json (schema `weft.dev/load-result/v1`); documented in README "weft load". Latencies in ms. */
export interface LoadResult {
  schema: 'weft.dev/load-result/v1'
  startedAt: string
  durationSeconds: number
  target: { spec: string; description: string; protocol: Protocol; tls: boolean; endpoints: string[] }
  options: {
    mode: 'open-loop' | 'closed-loop'
    /** Total across generators. */
    rate?: number
    connections: number
    keepAlive: boolean
    durationSeconds?: number
    requests?: number
    warmupSeconds: number
    timeoutSeconds: number
  }
  generators: { name: string; node?: string }[]
  phases: { name: string; startSecond: number; durationSeconds: number; rate?: number; rateTo?: number }[]
  totals: { sent: number; ok: number; errors: number; errorRate: number; sentRate: number; okRate: number }
  errors: { class: ErrorClass; count: number }[]
  latency: {
    count: number
    min: number
    mean: number
    stddev: number
    max: number
    /** p50, p75, p90, p95, p99, p99.9, p99.99, p100. */
    percentiles: { p: number; ms: number }[]
    /** The percentile spectrum for charts: log-spaced points from p0 to p100. */
    spectrum: { p: number; ms: number }[]
    /** The whole HDR histogram (µs), compressed base64: merge or re-analyse results exactly. */
    histogram: string
  }
  endpoints: { name: string; requests: number; share: number }[]
  timeline: {
    second: number
    sent: number
    ok: number
    errors: number
    errorClasses: Partial<Record<ErrorClass, number>>
    p50: number
    p90: number
    p99: number
    max: number
  }[]
  actions: ActionRecord[]
}

/** What `runLoad` (load/engine.ts) takes: one generator's run. */
export interface RunOptions {
  plan: LoadPlan
  target: ResolvedTarget
  createClient: ClientFactory
  /** Epoch ms when sending starts (warm-up first, then t0); default: now. Generators of one run share it. */
  startAtMs?: number
  /** Aborting ends the run early: what was recorded is returned. */
  signal?: AbortSignal
  onProgress?(progress: Progress): void
  /** Each second's window once every request meant for it has ended (or timed out), in order. */
  onWindow?(window: WindowSnapshot): void
}
