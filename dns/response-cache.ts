// A cache of upstream replies, modelled on CoreDNS's cache plugin. An entry keeps the reply's
// bytes and where each record's TTL sits, so a hit is a copy with the id, the question and
// the TTLs patched, never a re-encode.
import { Counter, Gauge, type Registry } from 'prom-client'
import { Rcode, RRType } from './records.ts'
import { HEADER_SIZE, readName, skipName, type ParsedQuery } from './wire.ts'

export interface CacheOptions {
  /** Entries kept at most; the oldest goes first. */
  capacity: number
  /** Seconds a positive reply is kept at most. */
  maxPositiveTtl: number
  /** Seconds a negative reply (NXDOMAIN, NODATA) is kept at most. */
  maxNegativeTtl: number
  /** Seconds any reply is kept at least (SERVFAIL aside). */
  minTtl: number
  /**
   * Seconds a SERVFAIL is kept (CoreDNS cache `servfail`, default 5; 0: never cached): the
   * upstream's, and the forwarder's own after its deadline, so that a failing or dead upstream
   * is not asked again for the same question by every pod within that time. Records in it are
   * served with TTLs capped at this. RFC 2308 §7.1 allows at most 5 minutes.
   */
  servfailTtl: number
}

/** RFC 2308 §7.1: a server failure may be cached for at most 5 minutes. */
export const MAX_SERVFAIL_TTL = 300

export const defaultCacheOptions: CacheOptions = { capacity: 9984, maxPositiveTtl: 3600, maxNegativeTtl: 1800, minTtl: 0, servfailTtl: 5 }

type Kind = 'success' | 'denial'

interface Entry {
  kind: Kind
  bytes: Buffer
  questionEnd: number
  ttlOffsets: number[]
  /** Each record's TTL when stored, capped at the entry's TTL. */
  ttls: number[]
  storedAt: number
  expiresAt: number
  /** Where the OPT record starts, when it is the message's last record. */
  optStart: number | undefined
}

interface CacheMetrics {
  hits: Counter<'server' | 'type'>
  misses: Counter<'server'>
  entries: Gauge<'server' | 'type'>
}

function cacheMetrics(registry: Registry): CacheMetrics {
  const existing = (name: string) => registry.getSingleMetric(name)
  return {
    hits:
      (existing('coredns_cache_hits_total') as Counter<'server' | 'type'> | undefined) ??
      new Counter({ name: 'coredns_cache_hits_total', help: 'The count of cache hits.', labelNames: ['server', 'type'], registers: [registry] }),
    misses:
      (existing('coredns_cache_misses_total') as Counter<'server'> | undefined) ??
      new Counter({ name: 'coredns_cache_misses_total', help: 'The count of cache misses.', labelNames: ['server'], registers: [registry] }),
    entries:
      (existing('coredns_cache_entries') as Gauge<'server' | 'type'> | undefined) ??
      new Gauge({ name: 'coredns_cache_entries', help: 'The number of elements in the cache.', labelNames: ['server', 'type'], registers: [registry] }),
  }
}

function cacheKey(query: ParsedQuery): string {
  const flags = (query.edns?.dnssecOk ? 2 : 0) | (query.cd ? 1 : 0)
  return `${query.lowerName}\0${query.type}\0${query.class}\0${flags}`
}

/** What the cache needs from a reply, or undefined when it must not be cached. */
function analyse(
  reply: Uint8Array,
  query: ParsedQuery,
  options: CacheOptions,
): { kind: Kind; ttl: number; ttlOffsets: number[]; ttls: number[]; optStart: number | undefined } | undefined {
  if (reply.length < HEADER_SIZE) return undefined
  const b2 = reply[2]
  if ((b2 & 0x80) === 0 || (b2 & 0x02) !== 0 || ((b2 >> 3) & 0x0f) !== 0) return undefined
  const rcode = reply[3] & 0x0f
  if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN && rcode !== Rcode.SERVFAIL) return undefined
  if (rcode === Rcode.SERVFAIL && !(options.servfailTtl > 0)) return undefined
  const count = (at: number) => (reply[at] << 8) | reply[at + 1]
  if (count(4) !== 1) return undefined
  const question = readName(reply, HEADER_SIZE)
  if (question.end + 4 !== query.questionEnd || question.name.toLowerCase() !== query.lowerName) return undefined
  if (count(question.end) !== query.type || count(question.end + 2) !== query.class) return undefined

  const an = count(6)
  const ns = count(8)
  const total = an + ns + count(10)
  const ttlOffsets: number[] = []
  const ttls: number[] = []
  let minTtl = Infinity
  let soaTtl: number | undefined
  let optStart: number | undefined
  let pos = query.questionEnd
  for (let i = 0; i < total; i++) {
    const start = pos
    const nameEnd = skipName(reply, pos)
    if (nameEnd + 10 > reply.length) return undefined
    const type = count(nameEnd)
    const ttl = ((reply[nameEnd + 4] << 24) | (reply[nameEnd + 5] << 16) | (reply[nameEnd + 6] << 8) | reply[nameEnd + 7]) >>> 0
    const rdEnd = nameEnd + 10 + count(nameEnd + 8)
    if (rdEnd > reply.length) return undefined
    pos = rdEnd
    if (type === RRType.OPT && i >= an + ns) {
      // The upper bits of an extended rcode (BADVERS and the like) sit in the TTL's first byte.
      if (reply[nameEnd + 4] !== 0) return undefined
      if (rdEnd === reply.length) optStart = start
      continue
    }
    ttlOffsets.push(nameEnd + 4)
    ttls.push(ttl)
    if (i < an + ns) minTtl = Math.min(minTtl, ttl)
    if (type === RRType.SOA && i >= an && i < an + ns) {
      const rnameEnd = skipName(reply, skipName(reply, nameEnd + 10))
      if (rnameEnd + 20 !== rdEnd) return undefined
      const minimum = ((reply[rdEnd - 4] << 24) | (reply[rdEnd - 3] << 16) | (reply[rdEnd - 2] << 8) | reply[rdEnd - 1]) >>> 0
      soaTtl = Math.min(soaTtl ?? Infinity, ttl, minimum)
    }
  }
  if (pos !== reply.length) return undefined

  let kind: Kind
  let ttl: number
  if (rcode === Rcode.SERVFAIL) {
    // Counted with the denials, as CoreDNS does; kept exactly servfailTtl, whatever its records say.
    const failTtl = Math.min(options.servfailTtl, MAX_SERVFAIL_TTL)
    const cap = Math.floor(failTtl)
    return { kind: 'denial', ttl: failTtl, ttlOffsets, ttls: ttls.map((t) => Math.min(t, cap)), optStart }
  }
  if (rcode === Rcode.NOERROR && an > 0) {
    kind = 'success'
    ttl = Math.min(minTtl, options.maxPositiveTtl)
  } else if (soaTtl !== undefined) {
    // RFC 2308: a negative reply lives as long as the lesser of the SOA's TTL and its minimum.
    kind = 'denial'
    ttl = Math.min(soaTtl, options.maxNegativeTtl)
  } else {
    return undefined
  }
  ttl = Math.max(ttl, options.minTtl)
  if (ttl <= 0) return undefined
  return { kind, ttl, ttlOffsets, ttls: ttls.map((t) => Math.min(t, ttl)), optStart }
}

export class ResponseCache {
  readonly #options: CacheOptions
  readonly #now: () => number
  readonly #server: string
  readonly #metrics: CacheMetrics | undefined
  readonly #entries = new Map<string, Entry>()
  readonly #counts: Record<Kind, number> = { success: 0, denial: 0 }

  constructor(options: CacheOptions, registry?: Registry, now: () => number = Date.now, server = 'dns://:53') {
    this.#options = options
    this.#now = now
    this.#server = server
    this.#metrics = registry && cacheMetrics(registry)
    if (this.#metrics) for (const type of ['success', 'denial'] as const) this.#metrics.entries.set({ server, type }, 0)
  }

  get size(): number {
    return this.#entries.size
  }

  /** A cached reply rewritten for this query: its id, its question bytes (the asker's case), TTLs counted down; undefined on a miss or expiry. */
  get(query: ParsedQuery, queryBytes: Uint8Array): Buffer | undefined {
    const key = cacheKey(query)
    const entry = this.#entries.get(key)
    const now = this.#now()
    if (entry && now >= entry.expiresAt) this.#delete(key, entry)
    if (!entry || now >= entry.expiresAt || entry.questionEnd !== query.questionEnd) {
      this.#metrics?.misses.inc({ server: this.#server })
      return undefined
    }
    let out = Buffer.from(entry.bytes)
    out[0] = queryBytes[0]
    out[1] = queryBytes[1]
    out[2] = (out[2] & 0xfe) | (queryBytes[2] & 0x01)
    out.set(queryBytes.subarray(HEADER_SIZE, query.questionEnd), HEADER_SIZE)
    const elapsed = Math.floor((now - entry.storedAt) / 1000)
    for (let i = 0; i < entry.ttlOffsets.length; i++) out.writeUInt32BE(Math.max(0, entry.ttls[i] - elapsed), entry.ttlOffsets[i])
    if (!query.edns && entry.optStart !== undefined) {
      // RFC 6891: no OPT record in a reply to a query without one.
      out = out.subarray(0, entry.optStart)
      out.writeUInt16BE(out.readUInt16BE(10) - 1, 10)
    }
    this.#metrics?.hits.inc({ server: this.#server, type: entry.kind })
    return out
  }

  /**
   * Stores a reply (NOERROR with answers = positive, NXDOMAIN or NOERROR/NODATA with an SOA
   * = negative, SERVFAIL for `servfailTtl`; never REFUSED or other errors, truncated or malformed
   * replies). Answers the reply to send
   * now: the stored one, its TTLs already capped (as CoreDNS does, so that a client never sees
   * 3600 first and then 30), or the reply as it was when it is not stored.
   */
  set(query: ParsedQuery, reply: Buffer): Buffer {
    let facts: ReturnType<typeof analyse>
    try {
      facts = analyse(reply, query, this.#options)
    } catch {
      return reply
    }
    if (!facts || this.#options.capacity <= 0) return reply
    const key = cacheKey(query)
    const old = this.#entries.get(key)
    if (old) this.#delete(key, old)
    while (this.#entries.size >= this.#options.capacity) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Entry]
      this.#delete(oldestKey, oldest)
    }
    const bytes = Buffer.from(reply)
    for (let i = 0; i < facts.ttlOffsets.length; i++) bytes.writeUInt32BE(facts.ttls[i], facts.ttlOffsets[i])
    const now = this.#now()
    this.#entries.set(key, {
      kind: facts.kind,
      bytes,
      questionEnd: query.questionEnd,
      ttlOffsets: facts.ttlOffsets,
      ttls: facts.ttls,
      storedAt: now,
      expiresAt: now + facts.ttl * 1000,
      optStart: facts.optStart,
    })
    this.#counts[facts.kind]++
    this.#metrics?.entries.set({ server: this.#server, type: facts.kind }, this.#counts[facts.kind])
    return bytes
  }

  clear(): void {
    this.#entries.clear()
    for (const kind of ['success', 'denial'] as const) {
      this.#counts[kind] = 0
      this.#metrics?.entries.set({ server: this.#server, type: kind }, 0)
    }
  }

  #delete(key: string, entry: Entry): void {
    this.#entries.delete(key)
    this.#counts[entry.kind]--
    this.#metrics?.entries.set({ server: this.#server, type: entry.kind }, this.#counts[entry.kind])
  }
}
