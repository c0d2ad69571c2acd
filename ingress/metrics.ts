// The Ingress controller's Prometheus metrics, named after ingress-nginx's
// (nginx_ingress_controller_… → weft_ingress_…).
//
// The per-request series are counted in plain numbers, one RequestSeries per Ingress and
// Service (a route keeps its handle), and handed to prom-client's registry as custom metrics
// read at scrape time: prom-client hashes the label values on every inc() and observe(), bound
// children included, which cost more per request than the request's parsing.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client'

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Observations per bucket (not cumulative; the last slot is +Inf), their sum and count. */
class HistogramCounts {
  buckets = new Float64Array(BUCKETS.length + 1)
  sum = 0
  count = 0

  observe(v: number): void {
    let i = 0
    while (i < BUCKETS.length && v > BUCKETS[i]!) i++
    this.buckets[i]!++
    this.sum += v
    this.count++
  }
}

/** The requests of one Ingress and Service: counts by status, total time and upstream time. */
export class RequestSeries {
  readonly ingress: string
  readonly service: string
  statuses = new Map<number, number>()
  duration = new HistogramCounts()
  upstream = new HistogramCounts()
  #owner: IngressMetrics
  /** False once forget() dropped it: the next observation counts afresh. */
  live = true

  constructor(owner: IngressMetrics, ingress: string, service: string) {
    this.#owner = owner
    this.ingress = ingress
    this.service = service
  }

  observe(status: number, seconds: number, upstreamSeconds: number | undefined): void {
    if (!this.live) this.#owner.revive(this)
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
    this.duration.observe(seconds)
    if (upstreamSeconds !== undefined) this.upstream.observe(upstreamSeconds)
  }
}

interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** What prom-client's Registry reads of a metric: its get() (also what AggregatorRegistry sums). */
function customMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue[]) {
  const read = () => ({ name, help, type, aggregator: 'sum' as const, values: values() })
  return { name, help, type, aggregator: 'sum' as const, get: async () => read(), reset: () => {} }
}

function histogramValues(name: string, all: Iterable<RequestSeries>, pick: (s: RequestSeries) => HistogramCounts): MetricValue[] {
  const out: MetricValue[] = []
  for (const s of all) {
    const h = pick(s)
    if (h.count === 0) continue
    const labels = { ingress: s.ingress, service: s.service }
    let cumulative = 0
    for (let i = 0; i <= BUCKETS.length; i++) {
      cumulative += h.buckets[i]!
      out.push({ value: cumulative, labels: { le: i < BUCKETS.length ? BUCKETS[i]! : '+Inf', ...labels }, metricName: `${name}_bucket` })
    }
    out.push({ value: h.sum, labels, metricName: `${name}_sum` }, { value: h.count, labels, metricName: `${name}_count` })
  }
  return out
}

export class IngressMetrics {
  readonly registry = new Registry()
  /** Per 'ingress\0service'. */
  #series = new Map<string, RequestSeries>()
  readonly #restarts = new Counter({
    name: 'weft_ingress_worker_restarts_total',
    help: 'Worker threads (--workers) started again after they died.',
    registers: [this.registry],
  })

  /** `processMetrics`: the process's own (CPU, memory, event loop); false in worker threads, whose process the main thread reports. */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry })
    const all = () => this.#series.values()
    const requests = customMetric('weft_ingress_requests_total', 'Client requests, by Ingress, Service and status code.', 'counter', () =>
      [...all()].flatMap((s) => [...s.statuses].map(([status, value]) => ({ value, labels: { ingress: s.ingress, service: s.service, status: String(status) } }))),
    )
    const duration = customMetric('weft_ingress_request_duration_seconds', 'Time from the request to the last byte of the response, by Ingress and Service.', 'histogram', () => histogramValues('weft_ingress_request_duration_seconds', all(), (s) => s.duration))
    const upstream = customMetric('weft_ingress_upstream_response_seconds', 'Time the endpoint took to answer (to its response head), by Ingress and Service.', 'histogram', () => histogramValues('weft_ingress_upstream_response_seconds', all(), (s) => s.upstream))
    for (const m of [requests, duration, upstream]) this.registry.registerMetric(m as never)
  }

  /** The series of one Ingress ('namespace/name', '' for none) and Service: a caller may keep it for the requests of one route. */
  series(ingress: string, service: string): RequestSeries {
    const key = `${ingress}\0${service}`
    let s = this.#series.get(key)
    if (!s) this.#series.set(key, (s = new RequestSeries(this, ingress, service)))
    return s
  }

  request(ingress: string, service: string, status: number, seconds: number, upstreamSeconds: number | undefined): void {
    this.series(ingress, service).observe(status, seconds, upstreamSeconds)
  }

  /** A forgotten series observed again (a kept handle may outlive forget()): it counts afresh, or on with the handle that took its place. */
  revive(s: RequestSeries): void {
    const key = `${s.ingress}\0${s.service}`
    const current = this.#series.get(key)
    if (current && current !== s) {
      current.live = false
      s.statuses = current.statuses
      s.duration = current.duration
      s.upstream = current.upstream
    } else if (!current) {
      s.statuses = new Map()
      s.duration = new HistogramCounts()
      s.upstream = new HistogramCounts()
    }
    s.live = true
    this.#series.set(key, s)
  }

  workerRestarted(): void {
    this.#restarts.inc()
  }

  /** Removes the series of every Ingress not in `served` ('namespace/name'); those of requests no Ingress matched ('') stay. */
  forget(served: ReadonlySet<string>): void {
    for (const [key, s] of this.#series) {
      if (s.ingress === '' || served.has(s.ingress)) continue
      this.#series.delete(key)
      s.live = false
      s.statuses = new Map()
      s.duration = new HistogramCounts()
      s.upstream = new HistogramCounts()
    }
  }
}
