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

export class MeshMetrics {
  readonly registry = new Registry()
  readonly opened = new Counter({ name: 'weft_mesh_tcp_connections_opened_total', help: 'TCP connections the node proxy opened, per workload pair.', labelNames: CONNECTION_LABELS, registers: [this.registry] })
  readonly closed = new Counter({ name: 'weft_mesh_tcp_connections_closed_total', help: 'TCP connections the node proxy closed, per workload pair.', labelNames: CONNECTION_LABELS, registers: [this.registry] })
  readonly sent = new Counter({ name: 'weft_mesh_tcp_sent_bytes_total', help: 'Bytes the client sent through the node proxy, per workload pair.', labelNames: CONNECTION_LABELS, registers: [this.registry] })
  readonly received = new Counter({ name: 'weft_mesh_tcp_received_bytes_total', help: 'Bytes the client received through the node proxy, per workload pair.', labelNames: CONNECTION_LABELS, registers: [this.registry] })
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
  readonly active = new Gauge({ name: 'weft_mesh_active_connections', help: 'Connections the node proxy carries now, by direction.', labelNames: ['direction'] as const, registers: [this.registry] })
  readonly identities = new Gauge({ name: 'weft_mesh_identities', help: 'Workload identities this node proxy holds.', registers: [this.registry] })

  get all(): Metric<string>[] {
    return [this.opened, this.closed, this.sent, this.received, this.handshakeFailures, this.denials, this.refused, this.active, this.identities]
  }
}

export function workloadName(labels: Record<string, string>, serviceAccount: string): string {
  return labels['app.kubernetes.io/name'] || labels.app || serviceAccount
}
