// The DNS server's Prometheus metrics, with CoreDNS's names and labels. Counting happens in
// plain maps on the query path; prom-client reads them when /metrics is scraped.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

const typeNames = new Map<number, string>([
  [1, 'A'], [2, 'NS'], [5, 'CNAME'], [6, 'SOA'], [12, 'PTR'], [15, 'MX'], [16, 'TXT'], [28, 'AAAA'], [33, 'SRV'],
  [43, 'DS'], [46, 'RRSIG'], [47, 'NSEC'], [48, 'DNSKEY'], [50, 'NSEC3'], [65, 'HTTPS'], [251, 'IXFR'], [252, 'AXFR'], [255, 'ANY'],
])
const rcodeNames = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE']

export function typeLabel(type: number): string {
  return typeNames.get(type) ?? 'other'
}

export function rcodeLabel(rcode: number): string {
  return rcode === 16 ? 'BADVERS' : (rcodeNames[rcode] ?? String(rcode))
}

/** A counter per label tuple, kept in a map until scraped. */
class TupleCounts {
  readonly counts = new Map<string, number>()
  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n)
  }
}

export class DnsMetrics {
  readonly registry = new Registry()
  readonly server: string
  readonly #requests = new TupleCounts()
  readonly #responses = new TupleCounts()
  #durations = new Map<string, ReturnType<Histogram<'server' | 'zone' | 'view' | 'type'>['labels']>>()
  readonly #duration: Histogram<'server' | 'zone' | 'view' | 'type'>
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
        for (const [key, n] of requests.counts) {
          const [proto, family, type] = key.split('/')
          this.inc({ server, zone: '.', view: '', proto, family, type }, n)
        }
      },
    })
    new Counter({
      name: 'coredns_dns_responses_total',
      help: 'Counter of response status codes.',
      labelNames: ['server', 'zone', 'view', 'rcode', 'plugin'] as const,
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [key, n] of responses.counts) {
          const [rcode, plugin] = key.split('/')
          this.inc({ server, zone: '.', view: '', rcode, plugin }, n)
        }
      },
    })
    this.#duration = new Histogram({
      name: 'coredns_dns_request_duration_seconds',
      help: 'Histogram of the time (in seconds) each request took per zone.',
      labelNames: ['server', 'zone', 'view', 'type'] as const,
      buckets: Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i),
      registers: [this.registry],
    })
    this.panics = new Counter({ name: 'coredns_panics_total', help: 'A metrics that counts the number of panics.', registers: [this.registry] })
    this.autopathSuccess = new Counter({
      name: 'coredns_autopath_success_total',
      help: 'Counter of requests that did autopath.',
      labelNames: ['server'] as const,
      registers: [this.registry],
    })
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  request(proto: 'udp' | 'tcp', family: 1 | 2, type: number): void {
    this.#requests.add(`${proto}/${family}/${typeLabel(type)}`)
  }

  /** `plugin` is what answered: kubernetes, forward, cache, autopath, or '' for the server itself. */
  response(rcode: number, plugin: string, type: number, seconds: number): void {
    this.#responses.add(`${rcodeLabel(rcode)}/${plugin}`)
    const label = typeLabel(type)
    let child = this.#durations.get(label)
    if (!child) {
      child = this.#duration.labels({ server: this.server, zone: '.', view: '', type: label })
      this.#durations.set(label, child)
    }
    child.observe(seconds)
  }
}
