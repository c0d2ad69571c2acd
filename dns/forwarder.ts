// Forwards queries for names outside the cluster zone to upstream resolvers, modelled on
// CoreDNS's forward plugin: a policy orders the upstreams, down ones are skipped while any is
// up, and each query has one deadline within which the upstreams are tried in turn. A try
// that has not answered within its slice of the deadline stays open (its late reply still
// wins) while the next upstream is asked.
import { Counter, Histogram, type Registry } from 'prom-client'
import { rcodeLabel } from './metrics.ts'
import { ADVERTISED_UDP_SIZE } from './reply.ts'
import { Rcode } from './records.ts'
import { ExchangeError, parseUpstream, Upstream, type Exchange } from './upstream.ts'
import { encodeMessage, type ParsedQuery } from './wire.ts'

export type ForwardPolicy = 'random' | 'sequential' | 'round_robin'

export interface ForwarderOptions {
  /** 'IP' (port 53), 'IP:PORT' or '[IPv6]:PORT'. */
  upstreams: string[]
  policy: ForwardPolicy
  /** The whole query's deadline: SERVFAIL after it. */
  timeoutMs: number
  /** Queries beyond this many in flight are answered REFUSED at once. */
  maxConcurrent: number
  /** How often a down upstream is probed. */
  healthCheckMs: number
  /** Consecutive network failures before an upstream is marked down (0: never). */
  maxFails: number
}

export const defaultForwarderOptions: Omit<ForwarderOptions, 'upstreams'> = {
  policy: 'random',
  timeoutMs: 2000,
  maxConcurrent: 1000,
  healthCheckMs: 500,
  maxFails: 2,
}

/** A reply built on this side: the query's header and question, no records, `rcode`, an OPT record if the query had one. */
export function errorReply(query: ParsedQuery, rcode: number): Buffer {
  return encodeMessage({
    id: query.id,
    flags: { qr: true, opcode: query.opcode, aa: false, tc: false, rd: query.rd, ra: true, ad: false, cd: query.cd, rcode },
    questions: [{ name: query.name, type: query.type, class: query.class }],
    answers: [],
    authority: [],
    additional: [],
    edns: query.edns && { udpSize: ADVERTISED_UDP_SIZE, version: 0, dnssecOk: query.edns.dnssecOk, extendedRcode: 0, options: [] },
  })
}

interface ForwardMetrics {
  requests: Counter<'to'>
  responses: Counter<'to' | 'rcode'>
  duration: Histogram<'to' | 'rcode'>
  healthcheckFailures: Counter<'to'>
  maxConcurrentRejects: Counter<string>
}

function forwardMetrics(registry: Registry): ForwardMetrics {
  const counter = <T extends string>(name: string, help: string, labelNames: T[]): Counter<T> =>
    (registry.getSingleMetric(name) as Counter<T> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] })
  return {
    requests: counter('coredns_forward_requests_total', 'Counter of requests made per upstream.', ['to']),
    responses: counter('coredns_forward_responses_total', 'Counter of responses received per upstream.', ['to', 'rcode']),
    duration:
      (registry.getSingleMetric('coredns_forward_request_duration_seconds') as Histogram<'to' | 'rcode'> | undefined) ??
      new Histogram({
        name: 'coredns_forward_request_duration_seconds',
        help: 'Histogram of the time each request took.',
        labelNames: ['to', 'rcode'],
        buckets: Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i),
        registers: [registry],
      }),
    healthcheckFailures: counter('coredns_forward_healthcheck_failures_total', 'Counter of the number of failed healthchecks.', ['to']),
    maxConcurrentRejects: counter('coredns_forward_max_concurrent_rejects_total', 'Counter of the number of queries rejected because the concurrent queries were at maximum.', []),
  }
}

interface Attempt {
  upstream: Upstream
  exchange: Exchange
  startedAt: number
  sliceMs: number
  done: boolean
}

export class Forwarder {
  readonly #options: ForwarderOptions
  readonly #upstreams: Upstream[]
  readonly #metrics: ForwardMetrics | undefined
  #inflight = 0
  #roundRobin = 0
  #closed = false

  constructor(options: ForwarderOptions, registry?: Registry) {
    if (options.upstreams.length === 0) throw new Error('the forwarder needs at least one upstream; give IP, IP:PORT or [IPv6]:PORT')
    this.#options = options
    this.#metrics = registry && forwardMetrics(registry)
    this.#upstreams = options.upstreams.map((spec) => {
      const address = parseUpstream(spec)
      return new Upstream(address, {
        maxFails: options.maxFails,
        healthCheckMs: options.healthCheckMs,
        onProbeFailure: () => this.#metrics?.healthcheckFailures.inc({ to: address.label }),
      })
    })
  }

  /** The upstreams, in configured order (for status and tests). */
  get upstreams(): readonly Upstream[] {
    return this.#upstreams
  }

  /**
   * The upstream's reply to the raw query, with the query's id; or a reply this side built
   * (SERVFAIL when every try failed or the deadline passed, REFUSED over the concurrency cap).
   * Never rejects.
   */
  async forward(queryBytes: Uint8Array, query: ParsedQuery): Promise<Buffer> {
    if (this.#inflight >= this.#options.maxConcurrent) {
      this.#metrics?.maxConcurrentRejects.inc()
      return errorReply(query, Rcode.REFUSED)
    }
    this.#inflight++
    try {
      return (await this.#forward(queryBytes, query)) ?? errorReply(query, Rcode.SERVFAIL)
    } catch {
      return errorReply(query, Rcode.SERVFAIL)
    } finally {
      this.#inflight--
    }
  }

  /** The upstreams to try, in policy order: those up, or all when every one is down. */
  #order(): Upstream[] {
    let list = this.#upstreams
    if (this.#options.policy === 'random') {
      list = [...list]
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1))
        ;[list[i], list[j]] = [list[j], list[i]]
      }
    } else if (this.#options.policy === 'round_robin') {
      const start = this.#roundRobin++ % list.length
      list = [...list.slice(start), ...list.slice(0, start)]
    }
    const up = list.filter((u) => !u.down)
    return up.length > 0 ? up : list
  }

  #forward(queryBytes: Uint8Array, query: ParsedQuery): Promise<Buffer | undefined> {
    if (this.#closed) return Promise.resolve(undefined)
    const list = this.#order()
    const deadline = Date.now() + this.#options.timeoutMs
    // One upstream gets two tries, so a single lost datagram does not cost the whole deadline.
    const tryMs = this.#options.timeoutMs / Math.max(2, list.length)
    const metrics = this.#metrics
    const attempts: Attempt[] = []
    let next = 0
    let current: Attempt | undefined

    return new Promise((resolve) => {
      let finished = false
      let sliceTimer: NodeJS.Timeout | undefined
      const end = (reply: Buffer | undefined) => {
        if (finished) return
        finished = true
        clearTimeout(sliceTimer)
        clearTimeout(deadlineTimer)
        const now = Date.now()
        for (const a of attempts) {
          if (a.done) continue
          a.done = true
          a.exchange.cancel()
          if (!this.#closed && now - a.startedAt >= a.sliceMs) a.upstream.failed()
        }
        resolve(reply)
      }
      const deadlineTimer = setTimeout(() => end(undefined), this.#options.timeoutMs)

      const launch = () => {
        clearTimeout(sliceTimer)
        const remaining = deadline - Date.now()
        if (this.#closed || remaining <= 0) {
          if (attempts.every((a) => a.done)) end(undefined)
          return
        }
        const upstream = list[next++ % list.length]
        const to = upstream.address.label
        const sliceMs = Math.min(tryMs, remaining)
        const startedAt = Date.now()
        const started = performance.now()
        const attempt: Attempt = { upstream, exchange: upstream.exchange(queryBytes, query.questionEnd, remaining), startedAt, sliceMs, done: false }
        attempts.push(attempt)
        current = attempt
        metrics?.requests.inc({ to })
        sliceTimer = setTimeout(launch, sliceMs)
        attempt.exchange.reply.then(
          (reply) => {
            if (attempt.done) return
            attempt.done = true
            upstream.succeeded()
            if (metrics) {
              const rcode = rcodeLabel(reply[3] & 0x0f)
              metrics.responses.inc({ to, rcode })
              metrics.duration.observe({ to, rcode }, (performance.now() - started) / 1000)
            }
            reply.writeUInt16BE(query.id, 0)
            end(reply)
          },
          (err: unknown) => {
            if (attempt.done) return
            attempt.done = true
            const closing = err instanceof ExchangeError && err.code === 'cancelled'
            if (!closing) upstream.failed()
            if (closing || this.#closed) end(undefined)
            else if (attempt === current) launch()
            else if (attempts.every((a) => a.done) && deadline <= Date.now()) end(undefined)
          },
        )
      }
      launch()
    })
  }

  /** Stops health checks and cancels every exchange in flight (their queries get SERVFAIL). */
  async close(): Promise<void> {
    this.#closed = true
    for (const upstream of this.#upstreams) upstream.close()
  }
}
