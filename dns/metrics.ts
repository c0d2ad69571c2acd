// The DNS server's Prometheus metrics, with CoreDNS's names and labels. The query path only
// bumps numbers in typed arrays (indexed by protocol, family, type, rcode and plugin);
// prom-client reads them when /metrics is scraped.
import { Counter, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricType, type MetricValueWithName } from 'prom-client'

const DURATION = 'coredns_dns_request_duration_seconds'
const DURATION_HELP = 'Histogram of the time (in seconds) each request took per zone.'

const TYPE_NAMES: readonly [number, string][] = [
  [1, 'A'], [2, 'NS'], [5, 'CNAME'], [6, 'SOA'], [12, 'PTR'], [15, 'MX'], [16, 'TXT'], [28, 'AAAA'], [33, 'SRV'],
  [43, 'DS'], [46, 'RRSIG'], [47, 'NSEC'], [48, 'DNSKEY'], [50, 'NSEC3'], [65, 'HTTPS'], [251, 'IXFR'], [252, 'AXFR'], [255, 'ANY'],
]
const TYPE_LABELS = [...TYPE_NAMES.map(([, name]) => name), 'other']
const OTHER_TYPE = TYPE_LABELS.length - 1
const TYPE_INDEX = new Uint8Array(256).fill(OTHER_TYPE)
for (const [i, [type]] of TYPE_NAMES.entries()) TYPE_INDEX[type] = i
const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE']
const RCODES = 24

/** What answered a query, as CoreDNS's `plugin` label: '' is the server itself. */
export const Plugin = { server: 0, kubernetes: 1, autopath: 2, cache: 3, forward: 4 } as const
export type PluginId = (typeof Plugin)[keyof typeof Plugin]
const PLUGIN_LABELS = ['', 'kubernetes', 'autopath', 'cache', 'forward']

/** CoreDNS's buckets: 0.25 ms doubling, 16 of them. */
const BOUNDS = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i)

export function rcodeLabel(rcode: number): string {
  return rcode === 16 ? 'BADVERS' : (RCODE_NAMES[rcode] ?? String(rcode))
}

/** coredns_dns_request_duration_seconds, kept as bucket counts per type. */
class DurationHistogram extends Histogram<'server' | 'zone' | 'view' | 'type'> {
  readonly server: string
  readonly counts = new Float64Array(TYPE_LABELS.length * BOUNDS.length)
  readonly totals = new Float64Array(TYPE_LABELS.length)
  readonly sums = new Float64Array(TYPE_LABELS.length)

  constructor(server: string, registry: Registry) {
    super({
      name: DURATION,
      help: DURATION_HELP,
      labelNames: ['server', 'zone', 'view', 'type'] as const,
      buckets: BOUNDS,
      registers: [registry],
    })
    this.server = server
  }

  record(typeIndex: number, seconds: number): void {
    let b = 0
    while (b < BOUNDS.length && seconds > BOUNDS[b]) b++
    if (b < BOUNDS.length) this.counts[typeIndex * BOUNDS.length + b]++
    this.totals[typeIndex]++
    this.sums[typeIndex] += seconds
  }

  /** The text exposition reads this one (prom-client's Histogram has both). */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<'server' | 'zone' | 'view' | 'type' | 'le'>>> {
    return this.get()
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<'server' | 'zone' | 'view' | 'type' | 'le'>>> {
    const values: MetricValueWithName<'server' | 'zone' | 'view' | 'type' | 'le'>[] = []
    for (let t = 0; t < TYPE_LABELS.length; t++) {
      if (this.totals[t] === 0) continue
      const labels = { server: this.server, zone: '.', view: '', type: TYPE_LABELS[t] }
      let cumulative = 0
      for (let b = 0; b < BOUNDS.length; b++) {
        cumulative += this.counts[t * BOUNDS.length + b]
        values.push({ metricName: `${DURATION}_bucket`, labels: { ...labels, le: BOUNDS[b] }, value: cumulative })
      }
      values.push({ metricName: `${DURATION}_bucket`, labels: { ...labels, le: '+Inf' }, value: this.totals[t] })
      values.push({ metricName: `${DURATION}_sum`, labels, value: this.sums[t] })
      values.push({ metricName: `${DURATION}_count`, labels, value: this.totals[t] })
    }
    // prom-client declares MetricType as an enum it does not export at run time, and a
    // `collect` function that would not survive the trip from a query thread (postMessage).
    return { name: DURATION, help: DURATION_HELP, type: 'histogram' as unknown as MetricType, values, aggregator: 'sum' } as MetricObjectWithValues<MetricValueWithName<'server' | 'zone' | 'view' | 'type' | 'le'>>
  }
}

export class DnsMetrics {
  readonly registry = new Registry()
  readonly server: string
  /** [proto (udp, tcp)][family (1, 2)][type] */
  readonly #requests = new Float64Array(2 * 2 * TYPE_LABELS.length)
  /** [rcode][plugin] */
  readonly #responses = new Float64Array(RCODES * PLUGIN_LABELS.length)
  readonly #duration: DurationHistogram
  readonly panics: Counter
  readonly autopathSuccess: Counter<'server'>

  /** `server` is CoreDNS's label value for the listener, e.g. `dns://:53`. Process metrics are
   *  the process's: only the main thread exports them. */
  constructor(server: string, options: { processMetrics?: boolean } = {}) {
    this.server = server
    const requests = this.#requests
    const responses = this.#responses
    new Counter({
      name: 'coredns_dns_requests_total',
      help: 'Counter of DNS requests made per zone, protocol and family.',
      labelNames: ['server', 'zone', 'view', 'proto', 'family', 'type'] as const,
      registers: [this.registry],
      collect() {
        this.reset()
        requests.forEach((n, i) => {
          if (n === 0) return
          const type = i % TYPE_LABELS.length
          const family = Math.floor(i / TYPE_LABELS.length) % 2
          const proto = Math.floor(i / (2 * TYPE_LABELS.length))
          this.inc({ server, zone: '.', view: '', proto: proto === 0 ? 'udp' : 'tcp', family: String(family + 1), type: TYPE_LABELS[type] }, n)
        })
      },
    })
    new Counter({
      name: 'coredns_dns_responses_total',
      help: 'Counter of response status codes.',
      labelNames: ['server', 'zone', 'view', 'rcode', 'plugin'] as const,
      registers: [this.registry],
      collect() {
        this.reset()
        responses.forEach((n, i) => {
          if (n === 0) return
          this.inc({ server, zone: '.', view: '', rcode: rcodeLabel(Math.floor(i / PLUGIN_LABELS.length)), plugin: PLUGIN_LABELS[i % PLUGIN_LABELS.length] }, n)
        })
      },
    })
    this.#duration = new DurationHistogram(server, this.registry)
    this.panics = new Counter({ name: 'coredns_panics_total', help: 'A metrics that counts the number of panics.', registers: [this.registry] })
    this.autopathSuccess = new Counter({
      name: 'coredns_autopath_success_total',
      help: 'Counter of requests that did autopath.',
      labelNames: ['server'] as const,
      registers: [this.registry],
    })
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  /** One answered query. */
  observe(tcp: boolean, ipv6: boolean, type: number, rcode: number, plugin: PluginId, seconds: number): void {
    const t = type < 256 ? TYPE_INDEX[type] : OTHER_TYPE
    this.#requests[((tcp ? 2 : 0) + (ipv6 ? 1 : 0)) * TYPE_LABELS.length + t]++
    this.#responses[(rcode < RCODES ? rcode : RCODES - 1) * PLUGIN_LABELS.length + plugin]++
    this.#duration.record(t, seconds)
  }
}
