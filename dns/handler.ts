// Answers one query: from the cluster zone (prebuilt replies, remembered until the zone
// changes), by autopath for pods, or from the cache and the upstream servers.
import { answer } from './answer.ts'
import { autopathAnswer, autopathCandidates } from './autopath.ts'
import type { Forwarding } from './forwarding.ts'
import { Plugin, type DnsMetrics, type PluginId } from './metrics.ts'
import { Opcode, Rcode, RRClass, RRType, type Answer, type Question } from './records.ts'
import { ADVERTISED_UDP_SIZE, assemble, bare, fitUdp, headerOnly, prebuild, replySize, udpLimit, udpSizeLimit, writeReply, type Prebuilt } from './reply.ts'
import { decodeMessage, encodeMessage, HEADER_SIZE, parseQuery, WireError, type ParsedQuery } from './wire.ts'
import type { ZoneIndex } from './zone-index.ts'

export interface HandlerOptions {
  metrics: DnsMetrics
  /** Walk pods' search paths server-side (CoreDNS autopath). */
  autopath: boolean
  /** The search domains a pod gets from its node after the cluster's (the host's resolv.conf). */
  hostSearch: string[]
  /** Undefined: names outside the zone are REFUSED. */
  forwarding?: Forwarding
  /** Remembered replies per zone generation; past this many the memory starts over. */
  memoLimit?: number
}

export type Transport = 'udp' | 'tcp'

/** What a query turned into, for the metrics: the rcode and which part answered. */
interface Outcome {
  reply: Buffer | undefined
  rcode: number
  plugin: PluginId
}

/**
 * The memo key of a question: its wire bytes (name labels, type, class) as a latin1 string,
 * the name lower-cased. Undefined for a name with a compression pointer (never sent by
 * stub resolvers; such queries take the slow path).
 */
export function questionKey(bytes: Uint8Array, questionEnd: number): string | undefined {
  let upper = false
  let pos = HEADER_SIZE
  // Where the root label (the name's final zero byte) must be.
  const nameEnd = questionEnd - 5
  while (pos < nameEnd) {
    const length = bytes[pos]
    if (length === 0 || length > 63) return undefined
    for (let i = pos + 1; i <= pos + length; i++) {
      const c = bytes[i]
      if (c >= 0x41 && c <= 0x5a) upper = true
    }
    pos += length + 1
  }
  if (pos !== nameEnd || bytes[pos] !== 0) return undefined
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  if (!upper) return buf.toString('latin1', HEADER_SIZE, questionEnd)
  const lower = Buffer.from(buf.subarray(HEADER_SIZE, questionEnd))
  for (let i = 0; i < nameEnd - HEADER_SIZE; i++) if (lower[i] >= 0x41 && lower[i] <= 0x5a) lower[i] |= 0x20
  return lower.toString('latin1')
}

/** The header of a plain query in bytes[0..length) (QR clear, QUERY, one question, at most an OPT record): what the fast path handles. */
function plainQueryEnd(bytes: Uint8Array, length: number): number {
  if (length < HEADER_SIZE + 5 || (bytes[2] & 0xf8) !== 0 || bytes[4] !== 0 || bytes[5] !== 1 || (bytes[6] | bytes[7] | bytes[8] | bytes[9] | bytes[10]) !== 0 || bytes[11] > 1) return -1
  let pos = HEADER_SIZE
  while (pos < length && bytes[pos] !== 0) {
    if (bytes[pos] > 63) return -1
    pos += bytes[pos] + 1
  }
  if (pos - HEADER_SIZE > 254) return -1
  const questionEnd = pos + 5
  return questionEnd <= length ? questionEnd : -1
}

export class QueryHandler {
  readonly options: HandlerOptions
  #index: ZoneIndex
  /** Replies of this zone generation: by questionKey, and by namespace + questionKey for autopath. */
  #memo = new Map<string, Prebuilt>()
  #memoLimit: number
  #questionEnd = 0
  #dnssec = -1
  #udpSize = 0

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
    const fast = this.#plain(bytes, bytes.length)
    if (fast) {
      const questionEnd = this.#questionEnd
      const dnssec = this.#dnssec
      const maxSize = transport === 'udp' ? udpSizeLimit(dnssec < 0 ? -1 : this.#udpSize) : undefined
      const reply = Buffer.allocUnsafe(replySize(questionEnd, fast, dnssec, maxSize))
      writeReply(reply, bytes, questionEnd, 0, (bytes[2] & 1) === 1, (bytes[3] & 0x10) !== 0, dnssec, fast, maxSize)
      this.options.metrics.observe(transport === 'tcp', client.includes(':'), (bytes[questionEnd - 4] << 8) | bytes[questionEnd - 3], fast.rcode, Plugin.kubernetes, (performance.now() - start) / 1000)
      return reply
    }
    let query: ParsedQuery
    try {
      query = parseQuery(bytes)
    } catch (err) {
      // A query we cannot read gets FORMERR when at least its id could be read; junk is dropped.
      const id = err instanceof WireError ? err.id : undefined
      if (id === undefined || (bytes[2] & 0x80) !== 0) return undefined
      return this.#done(transport, client, 0, start, { reply: headerOnly(bytes, id, Rcode.FORMERR), rcode: Rcode.FORMERR, plugin: Plugin.server })
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

  /**
   * The fast path of a UDP query in bytes[0..length): a remembered reply written into `out`
   * (from offset 0, at most ADVERTISED_UDP_SIZE bytes); returns its length, or -1 when the
   * query needs handle(). Allocates nothing: the batch listener reuses `bytes` and `out`.
   */
  answerUdp(bytes: Uint8Array, length: number, out: Uint8Array, ipv6: boolean): number {
    const start = performance.now()
    const p = this.#plain(bytes, length)
    if (!p) return -1
    const questionEnd = this.#questionEnd
    const dnssec = this.#dnssec
    const size = writeReply(out, bytes, questionEnd, 0, (bytes[2] & 1) === 1, (bytes[3] & 0x10) !== 0, dnssec, p, udpSizeLimit(dnssec < 0 ? -1 : this.#udpSize))
    this.options.metrics.observe(false, ipv6, (bytes[questionEnd - 4] << 8) | bytes[questionEnd - 3], p.rcode, Plugin.kubernetes, (performance.now() - start) / 1000)
    return size
  }

  /**
   * The remembered reply to a plain query in bytes[0..length), read straight from its bytes;
   * undefined for anything else. Leaves the query's question end, DO bit (-1: no OPT record)
   * and UDP size in #questionEnd, #dnssec and #udpSize: no object per query.
   */
  #plain(bytes: Uint8Array, length: number): Prebuilt | undefined {
    const questionEnd = plainQueryEnd(bytes, length)
    if (questionEnd < 0) return undefined
    let dnssec = -1
    let udpSize = 0
    if (bytes[11] === 1) {
      // Exactly one OPT record (root owner, version 0) and nothing after it.
      const at = questionEnd
      if (at + 11 > length || bytes[at] !== 0 || bytes[at + 1] !== 0 || bytes[at + 2] !== 41 || bytes[at + 6] !== 0) return undefined
      if (at + 11 + ((bytes[at + 9] << 8) | bytes[at + 10]) !== length) return undefined
      // Its options must fill its data exactly, or the slow path answers FORMERR.
      let option = at + 11
      while (option + 4 <= length) option += 4 + ((bytes[option + 2] << 8) | bytes[option + 3])
      if (option !== length) return undefined
      udpSize = (bytes[at + 3] << 8) | bytes[at + 4]
      dnssec = (bytes[at + 7] & 0x80) !== 0 ? 1 : 0
    } else if (questionEnd !== length) {
      return undefined
    }
    const key = questionKey(bytes, questionEnd)
    const p = key === undefined ? undefined : this.#memo.get(key)
    if (!p) return undefined
    this.#questionEnd = questionEnd
    this.#dnssec = dnssec
    this.#udpSize = udpSize
    return p
  }

  #done(transport: Transport, client: string, type: number, start: number, o: Outcome): Buffer | undefined {
    this.options.metrics.observe(transport === 'tcp', client.includes(':'), type, o.rcode, o.plugin, (performance.now() - start) / 1000)
    return o.reply
  }

  #failed(err: unknown, query: ParsedQuery, bytes: Uint8Array, maxSize: number | undefined, transport: Transport, client: string, start: number): Buffer | undefined {
    this.options.metrics.panics.inc()
    process.emitWarning(`dns: answering ${query.name} type ${query.type} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    return this.#done(transport, client, query.type, start, { reply: assemble(query, bytes, bare(Rcode.SERVFAIL), maxSize), rcode: Rcode.SERVFAIL, plugin: Plugin.server })
  }

  #answer(query: ParsedQuery, bytes: Uint8Array, client: string, maxSize: number | undefined): Outcome | Promise<Outcome> {
    const reply = (p: Prebuilt, plugin: PluginId): Outcome => ({ reply: assemble(query, bytes, p, maxSize), rcode: p.rcode, plugin })
    if (query.opcode !== Opcode.QUERY) return reply(bare(Rcode.NOTIMP), Plugin.server)
    if (query.edns && query.edns.version > 0) return reply(bare(Rcode.BADVERS), Plugin.server)
    if (query.class !== RRClass.IN && query.class !== RRClass.ANY) return reply(bare(Rcode.REFUSED), Plugin.server)

    const key = questionKey(bytes, query.questionEnd)
    const memo = key === undefined ? undefined : this.#memo.get(key)
    if (memo) return reply(memo, Plugin.kubernetes)

    const index = this.#index
    const autopathable = this.options.autopath && query.lowerName.endsWith(`.svc.${index.zone}`)
    if (autopathable) {
      const namespace = index.podNamespace(client)
      if (namespace !== undefined) {
        // Memory first: an entry under this key was made by a walk (autopath applied to this
        // question from this namespace), so a hit needs no candidates.
        const apKey = key === undefined ? undefined : `${namespace}\0${key}`
        const known = apKey === undefined ? undefined : this.#memo.get(apKey)
        if (known) return reply(known, Plugin.autopath)
        const candidates = autopathCandidates(query.lowerName, namespace, index.zone, this.options.hostSearch)
        if (candidates) return this.#autopath(query, bytes, candidates, apKey, maxSize)
      }
    }

    const zoneAnswer = answer(index, { name: query.lowerName, type: query.type, class: query.class })
    if (!zoneAnswer) return this.#forward(query, bytes, maxSize)
    const target = this.#outsideTarget(zoneAnswer, query.type)
    if (target) return this.#chase(query, zoneAnswer, target).then((a) => ({ reply: assemble(query, bytes, prebuild(query.lowerName, query.type, query.class, a), maxSize), rcode: a.rcode, plugin: Plugin.kubernetes }))
    // An NXDOMAIN a pod could get walked past by autopath is not remembered under the plain key:
    // the fast path would answer it to pods too.
    const p = autopathable && zoneAnswer.rcode === Rcode.NXDOMAIN ? prebuild(query.lowerName, query.type, query.class, zoneAnswer) : this.#remember(key, query, zoneAnswer)
    return reply(p, Plugin.kubernetes)
  }

  /** The target of the answer's last CNAME when it lies outside the zone, there is an upstream, and the question wants more than the CNAME. */
  #outsideTarget(a: Answer, type: number): string | undefined {
    if (!this.options.forwarding || type === RRType.CNAME || type === RRType.ANY || a.answers.length === 0) return undefined
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
    // No guard for a target too long for the wire: the zone's answer carries it in its CNAME
    // and could not be encoded either, so the query ends in SERVFAIL (#failed) whichever throws.
    const hit = await this.#forwardAnswer(this.#encodeQuestion(query, { name: target, type: query.type, class: query.class }))
    if (!hit) return zoneAnswer
    return { ...zoneAnswer, rcode: hit.rcode, answers: [...zoneAnswer.answers, ...hit.answers], authority: hit.answers.length > 0 ? [] : hit.authority }
  }

  #remember(key: string | undefined, query: ParsedQuery, a: Answer): Prebuilt {
    const p = prebuild(query.lowerName, query.type, query.class, a)
    if (key === undefined) return p
    if (this.#memo.size >= this.#memoLimit) this.#memo = new Map()
    this.#memo.set(key, p)
    return p
  }

  async #forward(query: ParsedQuery, bytes: Uint8Array, maxSize: number | undefined): Promise<Outcome> {
    const forwarding = this.options.forwarding
    if (!forwarding) return { reply: assemble(query, bytes, bare(Rcode.REFUSED), maxSize), rcode: Rcode.REFUSED, plugin: Plugin.server }
    const { reply, cached } = await forwarding.resolve(bytes, query)
    return { reply: maxSize === undefined ? reply : fitUdp(query, bytes, reply, maxSize), rcode: reply[3] & 0x0f, plugin: cached ? Plugin.cache : Plugin.forward }
  }

  /**
   * Tries the pod's search path in order; the first result that is not NXDOMAIN is the reply,
   * behind a CNAME from the asked name (NODATA included, as CoreDNS does). Zone results are
   * remembered for the zone's generation; upstream results are not (the cache has them).
   * An upstream candidate that gets anything but NOERROR or NXDOMAIN (SERVFAIL, REFUSED,
   * FORMERR, the forwarder's SERVFAIL after its deadline, REFUSED over its concurrency cap)
   * ends the walk with SERVFAIL: the rest of the path was not looked up, so an NXDOMAIN would
   * be a lie, and a dead upstream costs one deadline per query instead of one per candidate.
   */
  async #autopath(query: ParsedQuery, bytes: Uint8Array, candidates: string[], apKey: string | undefined, maxSize: number | undefined): Promise<Outcome> {
    const index = this.#index
    const ttl = index.config.ttl
    for (const name of candidates) {
      const q: Question = { name, type: query.type, class: query.class }
      const zoneAnswer = answer(index, q)
      let hit: Answer | undefined = zoneAnswer
      if (!zoneAnswer) {
        if (!this.options.forwarding) continue
        // A candidate too long for the wire (a long host search domain) cannot exist: skipped.
        // Encoding it is the check, so only candidates that go upstream pay for it. (One in the
        // zone needs none: no zone name is that long, so the zone's answer is NXDOMAIN.)
        let asked: Buffer
        try {
          asked = this.#encodeQuestion(query, q)
        } catch (err) {
          if (err instanceof WireError) continue
          throw err
        }
        hit = await this.#forwardAnswer(asked)
        if (!hit || (hit.rcode !== Rcode.NOERROR && hit.rcode !== Rcode.NXDOMAIN)) {
          return { reply: assemble(query, bytes, bare(Rcode.SERVFAIL), maxSize), rcode: Rcode.SERVFAIL, plugin: Plugin.autopath }
        }
      }
      if (hit!.rcode === Rcode.NXDOMAIN) continue
      const target = zoneAnswer && this.#outsideTarget(zoneAnswer, query.type)
      if (target) hit = await this.#chase(query, zoneAnswer!, target)
      const a = autopathAnswer(query.lowerName, name, hit!, ttl)
      this.options.metrics.autopathSuccess.inc({ server: this.options.metrics.server })
      if (zoneAnswer && !target && this.#index === index) {
        return { reply: assemble(query, bytes, this.#remember(apKey, query, a), maxSize), rcode: a.rcode, plugin: Plugin.autopath }
      }
      return { reply: assemble(query, bytes, prebuild(query.lowerName, query.type, query.class, a), maxSize), rcode: a.rcode, plugin: Plugin.autopath }
    }
    const own = answer(index, { name: query.lowerName, type: query.type, class: query.class })
    if (own) return { reply: assemble(query, bytes, prebuild(query.lowerName, query.type, query.class, own), maxSize), rcode: own.rcode, plugin: Plugin.kubernetes }
    return this.#forward(query, bytes, maxSize)
  }

  /** One name outside the zone (a query from #encodeQuestion), asked upstream through the cache;
   *  undefined when the upstream failed (SERVFAIL, REFUSED, an unreadable reply). */
  async #forwardAnswer(bytes: Buffer): Promise<Answer | undefined> {
    const { reply } = await this.options.forwarding!.resolve(bytes, parseQuery(bytes))
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

  /** The query for `q` sent on behalf of `asked`; throws a WireError when q's name does not fit the wire. */
  #encodeQuestion(asked: ParsedQuery, q: Question): Buffer {
    return encodeMessage({
      id: asked.id,
      flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: asked.cd, rcode: 0 },
      questions: [q],
      answers: [],
      authority: [],
      additional: [],
      edns: asked.edns ? { udpSize: ADVERTISED_UDP_SIZE, version: 0, dnssecOk: asked.edns.dnssecOk, extendedRcode: 0, options: [] } : undefined,
    })
  }
}

