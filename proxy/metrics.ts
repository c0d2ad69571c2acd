// The proxy's Prometheus metrics, named after kube-proxy's (kubeproxy_ → weft_proxy_).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { UserspaceLimits } from './userspace/limits.ts'

export class ProxyMetrics {
  readonly registry = new Registry()
  readonly syncDuration = new Histogram({
    name: 'weft_proxy_sync_proxy_rules_duration_seconds',
    help: 'SyncProxyRules latency in seconds, for full and partial syncs.',
    labelNames: ['sync', 'family'] as const,
    buckets: [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384],
    registers: [this.registry],
  })
  readonly syncFailures = new Counter({
    name: 'weft_proxy_sync_proxy_rules_failures_total',
    help: 'Syncs of the proxy rules that failed.',
    labelNames: ['sync', 'family'] as const,
    registers: [this.registry],
  })
  readonly lastSync = new Gauge({
    name: 'weft_proxy_sync_proxy_rules_last_timestamp_seconds',
    help: 'The last time the proxy rules were successfully synced.',
    registers: [this.registry],
  })
  readonly pendingChanges = new Gauge({
    name: 'weft_proxy_sync_proxy_rules_pending_changes',
    help: 'Services with changes not yet applied.',
    registers: [this.registry],
  })
  readonly servicesProgrammed = new Gauge({
    name: 'weft_proxy_services',
    help: 'Service ports programmed, per family.',
    labelNames: ['family'] as const,
    registers: [this.registry],
  })
  readonly invalidServiceFields = new Counter({
    name: 'weft_proxy_invalid_service_fields_total',
    help: 'Values of Services and EndpointSlices the proxy dropped because they do not parse, by field (each distinct problem of a Service counted once).',
    labelNames: ['field'] as const,
    registers: [this.registry],
  })
  readonly refusedServiceRules = new Counter({
    name: 'weft_proxy_refused_service_rules_total',
    help: 'Service ports whose nftables rules the renderer refused (a token that is not valid nft), by family (each distinct refusal counted once).',
    labelNames: ['family'] as const,
    registers: [this.registry],
  })
  readonly invalidNodeAddresses = new Counter({
    name: 'weft_proxy_invalid_node_addresses_total',
    help: 'InternalIP and ExternalIP addresses of the Node that do not parse, dropped (counted when the set of bad addresses changes).',
    registers: [this.registry],
  })
  readonly mode = new Gauge({
    name: 'weft_proxy_mode',
    help: 'The data plane in use (1 for the active mode), with why it was chosen.',
    labelNames: ['mode', 'reason'] as const,
    registers: [this.registry],
  })

  // Userspace mode's relay limits (proxy/userspace/limits.ts); all zero in nftables mode.
  #userspace: UserspaceLimits | undefined
  readonly userspaceUdpSessions = this.#usage('weft_proxy_userspace_udp_sessions', 'UDP sessions the userspace proxy relays now.', (l) => l.udpSessions)
  readonly userspaceUdpSessionLimit = this.#usage('weft_proxy_userspace_udp_session_limit', 'UDP sessions the userspace proxy relays at most (--udp-session-limit).', (l) => l.udpSessionLimit)
  readonly userspaceSockets = this.#usage('weft_proxy_userspace_relay_sockets', 'Sockets the userspace relays hold now: two per TCP connection, one per UDP session.', (l) => l.sockets)
  readonly userspaceSocketLimit = this.#usage('weft_proxy_userspace_relay_socket_limit', "The userspace relays' share of the open-file limit.", (l) => l.socketLimit)
  readonly userspaceUdpDropped = new Counter({
    name: 'weft_proxy_userspace_udp_sessions_dropped_total',
    help: 'New UDP sessions dropped (their datagrams discarded) at a limit: session_limit or fd_limit.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly userspaceTcpRejected = new Counter({
    name: 'weft_proxy_userspace_tcp_connections_rejected_total',
    help: "New TCP connections reset at the userspace relays' socket limit (fd_limit).",
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly userspaceSourceRangeRefused = new Counter({
    name: 'weft_proxy_userspace_source_range_refused_total',
    help: 'TCP connections reset and UDP datagrams dropped at a load-balancer IP by the userspace proxy: their source is outside the Service loadBalancerSourceRanges.',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  })
  readonly userspaceTcpIdleClosed = new Counter({
    name: 'weft_proxy_userspace_tcp_idle_closed_total',
    help: 'Relayed TCP connections the userspace proxy closed after --tcp-idle-timeout without traffic.',
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }

  #usage(name: string, help: string, read: (limits: UserspaceLimits) => number): Gauge {
    const metrics = this
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(metrics.#userspace === undefined ? 0 : read(metrics.#userspace))
      },
    })
  }

  /** Reports the userspace relays' usage and refusals from `limits`. */
  watchUserspace(limits: UserspaceLimits): void {
    this.#userspace = limits
    limits.onRefuse = (protocol, reason) => (protocol === 'UDP' ? this.userspaceUdpDropped : this.userspaceTcpRejected).inc({ reason })
    limits.onSourceRangeRefused = (protocol) => this.userspaceSourceRangeRefused.inc({ protocol })
    limits.onTcpIdleClosed = () => this.userspaceTcpIdleClosed.inc()
  }
}
