// Answers one query: from the cluster zone (prebuilt replies, remembered until the zone
// changes), by autopath for pods, or from the cache and the upstream servers.
import { answer } from './answer.ts'
import { autopathAnswer, autopathCandidates } from './autopath.ts'
import type { Forwarder } from './forwarder.ts'
import type { DnsMetrics } from './metrics.ts'
import { Opcode, Rcode, RRClass, RRType, type Answer, type Question } from './records.ts'
import { assemble, bare, fitUdp, headerOnly, prebuild, udpLimit, type Prebuilt } from './reply.ts'
import type { ResponseCache } from './response-cache.ts'
import { decodeMessage, encodeMessage, parseQuery, WireError, type ParsedQuery } from './wire.ts'
import type { ZoneIndex } from './zone-index.ts'

export interface HandlerOptions {
  metrics: DnsMetrics
  /** Walk pods' search paths server-side (CoreDNS autopath). */
  autopath: boolean
  /** The search domains a pod gets from its node after the cluster's (the host's resolv.conf). */
  hostSearch: string[]
  /** Undefined: names outside the zone are REFUSED. */
  forwarder?: Forwarder
  cache?: ResponseCache
  /** Remembered replies per zone generation; past this many the memory starts over. */
  memoLimit?: number
}

export type Transport = 'udp' | 'tcp'

/** What a query turned into, for the metrics: the rcode and which part answered. */
interface Outcome {
  reply: Buffer | undefined
  rcode: number
  plugin: string
}

export class QueryHandler {
  readonly options: HandlerOptions
  #index: ZoneIndex
  #memo = new Map<string, Prebuilt>()
  #memoLimit: number

  constructor(index: ZoneIndex, options: HandlerOptions) {
    this.#index = index
    this.options = options
    this.#memoLimit = options.memoLimit ?? 200_000
  }

  get index(): ZoneIndex {
    return this.#index
  }

  /** Swaps in a new zone: from the next query on, every answer comes from it. */
  setIndex(index: ZoneIndex): void {
    this.#index = index
    this.#memo = new Map()
  }

  /** The reply to send for `bytes` from `client`, or undefined to send nothing. Never throws. */
  handle(bytes: Uint8Array, client: string, transport: Transport): Buffer | Promise<Buffer | undefined> | undefined {
    const start = performance.now()
    let query: ParsedQuery
    try {
      query = parseQuery(bytes)
    } catch (err) {
      // A query we cannot read gets FORMERR when at least its id could be read; junk is dropped.
      const id = err instanceof WireError ? err.id : undefined
      if (id === undefined || (bytes[2] & 0x80) !== 0) return undefined
      return this.#done(transport, client, 0, start, { reply: headerOnly(bytes, id, Rcode.FORMERR), rcode: Rcode.FORMERR, plugin: '' })
    }
    const maxSize = transport === 'udp' ? udpLimit(query) : undefined
    try {
      const outcome = this.#answer(query, bytes, client, maxSize)
      if (outcome instanceof Promise) {
        return outcome.then(
          (o) => this.#done(transport, client, query.type, start, o),
          (err: unknown) => this.#failed(err, query, bytes, maxSize, transport, client, start),
        )
      }
      return this.#done(transport, client, query.type, start, outcome)
    } catch (err) {
      return this.#failed(err, query, bytes, maxSize, transport, client, start)
    }
  }

  #done(transport: Transport, client: string, type: number, start: number, o: Outcome): Buffer | undefined {
    const m = this.options.metrics
    m.request(transport, client.includes(':') ? 2 : 1, type)
    m.response(o.rcode, o.plugin, type, (performance.now() - start) / 1000)
    return o.reply
  }

  #failed(err: unknown, query: ParsedQuery, bytes: Uint8Array, maxSize: number | undefined, transport: Transport, client: string, start: number): Buffer | undefined {
    this.options.metrics.panics.inc()
    process.emitWarning(`dns: answering ${query.name} type ${query.type} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    return this.#done(transport, client, query.type, start, { reply: assemble(query, bytes, bare(Rcode.SERVFAIL), maxSize), rcode: Rcode.SERVFAIL, plugin: '' })
  }

  #answer(query: ParsedQuery, bytes: Uint8Array, client: string, maxSize: number | undefined): Outcome | Promise<Outcome> {
    const reply = (p: Prebuilt, plugin: string): Outcome => ({ reply: assemble(query, bytes, p, maxSize), rcode: p.rcode, plugin })
    if (query.opcode !== Opcode.QUERY) return reply(bare(Rcode.NOTIMP), '')
    if (query.edns && query.edns.version > 0) return reply(bare(Rcode.BADVERS), '')
    if (query.class !== RRClass.IN && query.class !== RRClass.ANY) return reply(bare(Rcode.REFUSED), '')

    const key = `${query.lowerName}\0${query.type}\0${query.class}`
    const memo = this.#memo.get(key)
    if (memo) return reply(memo, 'kubernetes')

    const index = this.#index
    if (this.options.autopath && query.lowerName.endsWith(`.svc.${index.zone}`)) {
      const namespace = index.podNamespace(client)
      const candidates = namespace === undefined ? undefined : autopathCandidates(query.lowerName, namespace, index.zone, this.options.hostSearch)
      if (candidates) {
        const apKey = `${namespace}\0${key}`
        const known = this.#memo.get(apKey)
        if (known) return reply(known, 'autopath')
        return this.#autopath(query, bytes, candidates, apKey, maxSize)
      }
    }

    const zoneAnswer = answer(index, { name: query.lowerName, type: query.type, class: query.class })
    if (!zoneAnswer) return this.#forward(query, bytes, maxSize)
    const target = this.#outsideTarget(zoneAnswer, query.type)
    if (target) return this.#chase(query, zoneAnswer, target).then((a) => ({ reply: assemble(query, bytes, prebuild(query.lowerName, query.type, query.class, a), maxSize), rcode: a.rcode, plugin: 'kubernetes' }))
    return reply(this.#remember(key, query, zoneAnswer), 'kubernetes')
  }

  /** The target of the answer's last CNAME when it lies outside the zone, there is an upstream, and the question wants more than the CNAME. */
  #outsideTarget(a: Answer, type: number): string | undefined {
    if (!this.options.forwarder || type === RRType.CNAME || type === RRType.ANY || a.answers.length === 0) return undefined
    const last = a.answers[a.answers.length - 1]
    if (last.type !== RRType.CNAME) return undefined
    const target = (last.data as { target: string }).target.toLowerCase()
    const zone = this.#index.zone
    return target === zone || target.endsWith(`.${zone}`) ? undefined : target
  }

  /**
   * An ExternalName's CNAME to a name outside the zone, followed upstream as CoreDNS does:
   * stub resolvers (glibc's among them) do not chase CNAMEs themselves. Never remembered: the
   * upstream part has its own TTLs (the cache keeps it).
   */
  async #chase(query: ParsedQuery, zoneAnswer: Answer, target: string): Promise<Answer> {
    const hit = await this.#forwardAnswer(query, { name: target, type: query.type, class: query.class })
    if (!hit) return zoneAnswer
    return { ...zoneAnswer, rcode: hit.rcode, answers: [...zoneAnswer.answers, ...hit.answers], authority: hit.answers.length > 0 ? [] : hit.authority }
  }

  #remember(key: string, query: ParsedQuery, a: Answer): Prebuilt {
    const p = prebuild(query.lowerName, query.type, query.class, a)
    if (this.#memo.size >= this.#memoLimit) this.#memo = new Map()
    this.#memo.set(key, p)
    return p
  }

  async #forward(query: ParsedQuery, bytes: Uint8Array, maxSize: number | undefined): Promise<Outcome> {
    const { forwarder, cache } = this.options
    if (!forwarder) return { reply: assemble(query, bytes, bare(Rcode.REFUSED), maxSize), rcode: Rcode.REFUSED, plugin: '' }
    const cached = cache?.get(query, bytes)
    if (cached) return { reply: maxSize === undefined ? cached : fitUdp(query, bytes, cached, maxSize), rcode: cached[3] & 0x0f, plugin: 'cache' }
    const reply = await forwarder.forward(bytes, query)
    cache?.set(query, reply)
    return { reply: maxSize === undefined ? reply : fitUdp(query, bytes, reply, maxSize), rcode: reply[3] & 0x0f, plugin: 'forward' }
  }

  /**
   * Tries the pod's search path in order; the first result that is not NXDOMAIN is the reply,
   * behind a CNAME from the asked name. Zone results are remembered for the zone's
   * generation; upstream results are not (the cache has them).
   */
  async #autopath(query: ParsedQuery, bytes: Uint8Array, candidates: string[], apKey: string, maxSize: number | undefined): Promise<Outcome> {
    const index = this.#index
    const ttl = index.config.ttl
    for (const name of candidates) {
      const q: Question = { name, type: query.type, class: query.class }
      const zoneAnswer = answer(index, q)
      let hit: Answer | undefined = zoneAnswer
      if (!zoneAnswer) {
        if (!this.options.forwarder) continue
        hit = await this.#forwardAnswer(query, q)
        if (!hit) continue
      }
      if (hit!.rcode === Rcode.NXDOMAIN) continue
      const target = zoneAnswer && this.#outsideTarget(zoneAnswer, query.type)
      if (target) hit = await this.#chase(query, zoneAnswer!, target)
      const a = autopathAnswer(query.lowerName, name, hit!, ttl)
      this.options.metrics.autopathSuccess.inc({ server: this.options.metrics.server })
      if (zoneAnswer && !target && this.#index === index) {
        return { reply: assemble(query, bytes, this.#remember(apKey, query, a), maxSize), rcode: a.rcode, plugin: 'autopath' }
      }
      return { reply: assemble(query, bytes, prebuild(query.lowerName, query.type, query.class, a), maxSize), rcode: a.rcode, plugin: 'autopath' }
    }
    const own = answer(index, { name: query.lowerName, type: query.type, class: query.class })
    if (own) return { reply: assemble(query, bytes, prebuild(query.lowerName, query.type, query.class, own), maxSize), rcode: own.rcode, plugin: 'kubernetes' }
    return this.#forward(query, bytes, maxSize)
  }

  /** One search-path candidate outside the zone, asked upstream (through the cache). */
  async #forwardAnswer(asked: ParsedQuery, q: Question): Promise<Answer | undefined> {
    const { forwarder, cache } = this.options
    const bytes = encodeMessage({
      id: asked.id,
      flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: asked.cd, rcode: 0 },
      questions: [q],
      answers: [],
      authority: [],
      additional: [],
      edns: asked.edns ? { udpSize: 1232, version: 0, dnssecOk: asked.edns.dnssecOk, extendedRcode: 0, options: [] } : undefined,
    })
    const query = parseQuery(bytes)
    let reply = cache?.get(query, bytes)
    if (!reply) {
      reply = await forwarder!.forward(bytes, query)
      cache?.set(query, reply)
    }
    let message
    try {
      message = decodeMessage(reply)
    } catch {
      return undefined
    }
    if (message.flags.rcode === Rcode.SERVFAIL || message.flags.rcode === Rcode.REFUSED) return undefined
    const rcode = ((message.edns?.extendedRcode ?? 0) << 4) | message.flags.rcode
    const additional = message.additional.filter((rr) => rr.type !== RRType.OPT)
    return { rcode, authoritative: false, answers: message.answers, authority: message.authority, additional }
  }
}

