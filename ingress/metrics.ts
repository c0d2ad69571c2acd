// The Ingress controller's Prometheus metrics, named after ingress-nginx's
// (nginx_ingress_controller_… → weft_ingress_…).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class IngressMetrics {
  readonly registry = new Registry()
  readonly #requests = new Counter({
    name: 'weft_ingress_requests_total',
    help: 'Client requests, by Ingress, Service and status code.',
    labelNames: ['ingress', 'service', 'status'] as const,
    registers: [this.registry],
  })
  readonly #duration = new Histogram({
    name: 'weft_ingress_request_duration_seconds',
    help: 'Time from the request to the last byte of the response, by Ingress and Service.',
    labelNames: ['ingress', 'service'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })
  readonly #upstream = new Histogram({
    name: 'weft_ingress_upstream_response_seconds',
    help: 'Time the endpoint took to answer (to its response head), by Ingress and Service.',
    labelNames: ['ingress', 'service'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  })

  /** Bound children per label set: prom-client hashes the labels on every unbound call. */
  #bound = new Map<string, { requests: Counter.Internal; duration: Histogram.Internal<'ingress' | 'service'>; upstream: Histogram.Internal<'ingress' | 'service'> }>()

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }

  request(ingress: string, service: string, status: number, seconds: number, upstreamSeconds: number | undefined): void {
    const key = `${ingress}\0${service}\0${status}`
    let bound = this.#bound.get(key)
    if (!bound) {
      // Label sets come and go with Ingresses; a bounded memo keeps a long-lived process from growing.
      if (this.#bound.size >= 10_000) this.#bound.clear()
      bound = { requests: this.#requests.labels(ingress, service, String(status)), duration: this.#duration.labels(ingress, service), upstream: this.#upstream.labels(ingress, service) }
      this.#bound.set(key, bound)
    }
    bound.requests.inc()
    bound.duration.observe(seconds)
    if (upstreamSeconds !== undefined) bound.upstream.observe(upstreamSeconds)
  }
}
