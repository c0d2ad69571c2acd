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

  readonly #restarts = new Counter({
    name: 'weft_ingress_worker_restarts_total',
    help: 'Worker threads (--workers) started again after they died.',
    registers: [this.registry],
  })

  /** The label sets seen per Ingress ('service\0status'), so that forget() can remove them. */
  #series = new Map<string, Set<string>>()
  /** Bound children per label set: prom-client hashes the labels on every unbound call. */
  #bound = new Map<string, { requests: Counter.Internal; duration: Histogram.Internal<'ingress' | 'service'>; upstream: Histogram.Internal<'ingress' | 'service'> }>()

  /** `processMetrics`: the process's own (CPU, memory, event loop); false in worker threads, whose process the main thread reports. */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry })
  }

  request(ingress: string, service: string, status: number, seconds: number, upstreamSeconds: number | undefined): void {
    const key = `${ingress}\0${service}\0${status}`
    let bound = this.#bound.get(key)
    if (!bound) {
      // Label sets come and go with Ingresses; a bounded memo keeps a long-lived process from growing.
      if (this.#bound.size >= 10_000) this.#bound.clear()
      bound = { requests: this.#requests.labels(ingress, service, String(status)), duration: this.#duration.labels(ingress, service), upstream: this.#upstream.labels(ingress, service) }
      this.#bound.set(key, bound)
      let series = this.#series.get(ingress)
      if (!series) this.#series.set(ingress, (series = new Set()))
      series.add(`${service}\0${status}`)
    }
    bound.requests.inc()
    bound.duration.observe(seconds)
    if (upstreamSeconds !== undefined) bound.upstream.observe(upstreamSeconds)
  }

  workerRestarted(): void {
    this.#restarts.inc()
  }

  /** Removes the series of every Ingress not in `served` ('namespace/name'); those of requests no Ingress matched ('') stay. */
  forget(served: ReadonlySet<string>): void {
    for (const [ingress, series] of this.#series) {
      if (ingress === '' || served.has(ingress)) continue
      for (const s of series) {
        const [service, status] = s.split('\0') as [string, string]
        this.#requests.remove(ingress, service, status)
        this.#duration.remove(ingress, service)
        this.#upstream.remove(ingress, service)
      }
      this.#series.delete(ingress)
    }
    for (const key of this.#bound.keys()) if (!this.#series.has(key.slice(0, key.indexOf('\0')))) this.#bound.delete(key)
  }
}
