// The node proxy's metrics, in the L4 shape Istio's proxies report (istio_tcp_* → weft_mesh_tcp_*)
// with Istio's labels: `reporter` is source (the client's node proxy) or destination (the
// server's); a workload is the pod's app.kubernetes.io/name or app label, else its service
// account (never the pod name: one series per pod would grow without bound); a principal is
// the SPIFFE ID, empty for plaintext. Registered on the agent's metrics endpoint.
import { Counter, Gauge, Registry, type Metric } from 'prom-client'

export const CONNECTION_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_service',
  'connection_security_policy',
] as const

export type ConnectionLabels = Record<(typeof CONNECTION_LABELS)[number], string>

/** One workload pair's connection counters, counted in plain numbers on the data path and published when scraped. */
export interface PairStats {
  readonly labels: ConnectionLabels
  opened: number
  closed: number
  sent: number
  received: number
}

export class MeshMetrics {
  readonly registry = new Registry()
  readonly #pairs = new Map<string, PairStats>()
  readonly #active = { outbound: 0, inbound: 0 }
  readonly opened = this.#pairCounter('weft_mesh_tcp_connections_opened_total', 'TCP connections the node proxy opened, per workload pair.', 'opened')
  readonly closed = this.#pairCounter('weft_mesh_tcp_connections_closed_total', 'TCP connections the node proxy closed, per workload pair.', 'closed')
  readonly sent = this.#pairCounter('weft_mesh_tcp_sent_bytes_total', 'Bytes the client sent through the node proxy, per workload pair.', 'sent')
  readonly received = this.#pairCounter('weft_mesh_tcp_received_bytes_total', 'Bytes the client received through the node proxy, per workload pair.', 'received')
  readonly handshakeFailures = new Counter({
    name: 'weft_mesh_tls_handshake_failures_total',
    help: 'mTLS handshakes between node proxies that failed, by side (client: this proxy dialled; server: it was dialled) and reason.',
    labelNames: ['side', 'reason'] as const,
    registers: [this.registry],
  })
  readonly denials = new Counter({
    name: 'weft_mesh_policy_denials_total',
    help: 'Connections the mesh refused, by reason (policy: a MeshAuthorization; strict: plaintext under STRICT mode; identity: the destination is not the identity asked for).',
    labelNames: ['reason', 'source_workload_namespace', 'source_principal', 'destination_workload', 'destination_workload_namespace'] as const,
    registers: [this.registry],
  })
  readonly refused = new Counter({
    name: 'weft_mesh_refused_connections_total',
    help: 'Connections the node proxy could not carry, by reason (no-identity, no-endpoints, unknown-source, upstream, not-redirected, …).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  readonly active = new Gauge({
    name: 'weft_mesh_active_connections',
    help: 'Connections the node proxy carries now, by direction.',
    labelNames: ['direction'] as const,
    registers: [this.registry],
    collect: () => {
      for (const direction of ['outbound', 'inbound'] as const) this.active.set({ direction }, this.#active[direction])
    },
  })
  readonly identities = new Gauge({ name: 'weft_mesh_identities', help: 'Workload identities this node proxy holds.', registers: [this.registry] })

  get all(): Metric<string>[] {
    return [this.opened, this.closed, this.sent, this.received, this.handshakeFailures, this.denials, this.refused, this.active, this.identities]
  }

  /** The counters of one workload pair (the same object for the same labels, for as long as the metrics live). */
  pair(labels: ConnectionLabels): PairStats {
    const key = CONNECTION_LABELS.map((l) => labels[l]).join('\u0000')
    let stats = this.#pairs.get(key)
    if (!stats) {
      stats = { labels, opened: 0, closed: 0, sent: 0, received: 0 }
      this.#pairs.set(key, stats)
    }
    return stats
  }

  /** A carried connection began (+1) or ended (-1). */
  carried(direction: 'outbound' | 'inbound', delta: 1 | -1): void {
    this.#active[direction] += delta
  }

  #pairCounter(name: string, help: string, field: 'opened' | 'closed' | 'sent' | 'received'): Counter<(typeof CONNECTION_LABELS)[number]> {
    const pairs = this.#pairs
    return new Counter({
      name,
      help,
      labelNames: CONNECTION_LABELS,
      registers: [this.registry],
      collect() {
        this.reset()
        for (const stats of pairs.values()) if (stats[field] > 0) this.inc(stats.labels, stats[field])
      },
    })
  }
}

export function workloadName(labels: Record<string, string>, serviceAccount: string): string {
  return labels['app.kubernetes.io/name'] || labels.app || serviceAccount
}
