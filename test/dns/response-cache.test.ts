import t from 'tap'
import { Registry } from 'prom-client'
import { Rcode, RRClass, RRType, type Edns, type Message, type ResourceRecord } from '../../dns/records.ts'
import { defaultCacheOptions, ResponseCache } from '../../dns/response-cache.ts'
import { decodeMessage, encodeMessage, parseQuery, type ParsedQuery } from '../../dns/wire.ts'
import { clock } from '../helpers/dns.ts'

const ednsDo: Edns = { udpSize: 1232, version: 0, dnssecOk: true, extendedRcode: 0, options: [] }
const ednsPlain: Edns = { ...ednsDo, dnssecOk: false }

function query(name: string, type: number = RRType.A, opts: { id?: number; edns?: Edns; cd?: boolean } = {}): { bytes: Buffer; query: ParsedQuery } {
  const bytes = encodeMessage({
    id: opts.id ?? 0x1111,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: opts.cd ?? false, rcode: 0 },
    questions: [{ name, type, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
    edns: opts.edns,
  })
  return { bytes, query: parseQuery(bytes) }
}

function reply(q: ParsedQuery, rest: Partial<Message> & { rcode?: number; tc?: boolean }): Buffer {
  return encodeMessage({
    id: 0x9999,
    flags: { qr: true, opcode: 0, aa: false, tc: rest.tc ?? false, rd: true, ra: true, ad: false, cd: q.cd, rcode: rest.rcode ?? Rcode.NOERROR },
    questions: [{ name: q.name, type: q.type, class: q.class }],
    answers: rest.answers ?? [],
    authority: rest.authority ?? [],
    additional: rest.additional ?? [],
    edns: rest.edns,
  })
}

const a = (name: string, address: string, ttl: number): ResourceRecord => ({ name, type: RRType.A, class: RRClass.IN, ttl, data: { address } })
const soa = (ttl: number, minimum: number): ResourceRecord => ({
  name: 'example.com',
  type: RRType.SOA,
  class: RRClass.IN,
  ttl,
  data: { mname: 'ns.example.com', rname: 'hostmaster.example.com', serial: 1, refresh: 7200, retry: 900, expire: 1209600, minimum },
})

t.test('a hit counts TTLs down, carries the asker id and expires', async (t) => {
  const c = clock()
  const cache = new ResponseCache(defaultCacheOptions, undefined, c.now)
  const first = query('example.com')
  cache.set(first.query, reply(first.query, { answers: [a('example.com', '192.0.2.1', 100), a('example.com', '192.0.2.2', 120)], additional: [a('ns.example.com', '192.0.2.53', 30)] }))
  t.equal(cache.size, 1)

  c.advance(10_500)
  const second = query('example.com', RRType.A, { id: 0x2222 })
  const hit = cache.get(second.query, second.bytes)
  t.ok(hit, 'hit')
  const msg = decodeMessage(hit!)
  t.equal(msg.id, 0x2222)
  t.same(
    msg.answers.map((r) => r.ttl),
    [90, 90],
    'capped at the entry TTL (the least answer TTL) and counted down in whole seconds',
  )
  t.same(msg.additional.map((r) => r.ttl), [20])
  t.same(msg.answers.map((r) => (r.data as { address: string }).address), ['192.0.2.1', '192.0.2.2'])

  c.advance(60_000)
  t.same(decodeMessage(cache.get(second.query, second.bytes)!).additional.map((r) => r.ttl), [0], 'never below zero')

  c.advance(29_500)
  t.equal(cache.get(second.query, second.bytes), undefined, 'expired after 100 s')
  t.equal(cache.size, 0)
})

t.test("the cached reply carries the asker's case in its question", async (t) => {
  const cache = new ResponseCache(defaultCacheOptions)
  const first = query('Example.COM')
  cache.set(first.query, reply(first.query, { answers: [a('Example.COM', '192.0.2.1', 60)] }))
  const second = query('eXample.com')
  const msg = decodeMessage(cache.get(second.query, second.bytes)!)
  t.equal(msg.questions[0].name, 'eXample.com')
  t.equal(msg.answers[0].name, 'eXample.com', 'an answer name compressed against the question follows it')
})

t.test('negative entries live min(SOA TTL, SOA minimum), capped at maxNegativeTtl', async (t) => {
  const c = clock()
  const cache = new ResponseCache({ ...defaultCacheOptions, maxNegativeTtl: 1800 }, undefined, c.now)
  const nx = query('nope.example.com')
  const first = cache.set(nx.query, reply(nx.query, { rcode: Rcode.NXDOMAIN, authority: [soa(7200, 3600)] }))
  t.equal(decodeMessage(first).authority[0].ttl, 1800, 'the reply sent at once carries the capped TTL too')
  const nodata = query('example.com', RRType.AAAA)
  cache.set(nodata.query, reply(nodata.query, { authority: [soa(300, 60)] }))
  t.equal(cache.size, 2)

  c.advance(59_000)
  const nxHit = decodeMessage(cache.get(nx.query, nx.bytes)!)
  t.equal(nxHit.flags.rcode, Rcode.NXDOMAIN)
  t.equal(nxHit.authority[0].ttl, 1800 - 59, 'SOA TTL capped at 1800, counted down')
  t.equal(decodeMessage(cache.get(nodata.query, nodata.bytes)!).authority[0].ttl, 1, 'NODATA lives the SOA minimum (60 s)')
  c.advance(1_000)
  t.equal(cache.get(nodata.query, nodata.bytes), undefined, 'NODATA expired')

  c.advance(1800_000 - 60_000 - 1)
  t.ok(cache.get(nx.query, nx.bytes), 'NXDOMAIN still there just before 1800 s')
  c.advance(1)
  t.equal(cache.get(nx.query, nx.bytes), undefined, 'NXDOMAIN expired at 1800 s')
})

t.test('replies that must not be cached', async (t) => {
  const cache = new ResponseCache({ ...defaultCacheOptions, servfailTtl: 0 })
  const q = query('example.com').query
  const answers = [a('example.com', '192.0.2.1', 60)]
  cache.set(q, reply(q, { rcode: Rcode.SERVFAIL }))
  cache.set(q, reply(q, { rcode: Rcode.REFUSED }))
  cache.set(q, reply(q, { rcode: Rcode.SERVFAIL, answers }))
  cache.set(q, reply(q, { tc: true, answers }))
  cache.set(q, reply(q, { rcode: Rcode.NXDOMAIN }))
  cache.set(q, reply(q, {}))
  cache.set(q, reply(q, { answers: [a('example.com', '192.0.2.1', 0)] }))
  cache.set(q, reply(q, { answers }).subarray(0, 40))
  cache.set(q, reply(query('other.example.com').query, { answers }))
  cache.set(q, Buffer.concat([reply(q, { answers }), Buffer.from([0])]))
  cache.set(q, reply(q, { answers, edns: { ...ednsPlain, extendedRcode: 1 } }))
  cache.set(q, reply(q, { rcode: Rcode.FORMERR }))
  cache.set(q, reply(q, { rcode: Rcode.NOTIMP }))
  t.equal(cache.size, 0, 'SERVFAIL (servfailTtl 0), REFUSED, truncated, no-SOA negatives, TTL 0, malformed, other question, BADVERS, FORMERR, NOTIMP')
  cache.set(q, reply(q, { answers }))
  t.equal(cache.size, 1, 'a plain positive reply is cached')
})

t.test('SERVFAIL is kept servfailTtl (5 s by default), counted with the denials, its TTLs capped', async (t) => {
  t.equal(defaultCacheOptions.servfailTtl, 5)
  const c = clock()
  const registry = new Registry()
  const cache = new ResponseCache(defaultCacheOptions, registry, c.now)
  const q = query('broken.example.com', RRType.A, { edns: ednsPlain })
  const first = cache.set(q.query, reply(q.query, { rcode: Rcode.SERVFAIL, authority: [soa(3600, 3600)], edns: ednsPlain }))
  t.equal(decodeMessage(first).authority[0].ttl, 5, 'the reply sent at once carries the capped TTL')
  t.equal(cache.size, 1)
  c.advance(4_999)
  const asked = query('Broken.example.com', RRType.A, { id: 0x3333 })
  const hit = decodeMessage(cache.get(asked.query, asked.bytes)!)
  t.same([hit.id, hit.flags.rcode, hit.questions[0].name, hit.edns], [0x3333, Rcode.SERVFAIL, 'Broken.example.com', undefined], 'for the asker, OPT dropped without EDNS')
  t.equal(hit.authority[0].ttl, 1, 'counted down')
  c.advance(1)
  t.equal(cache.get(asked.query, asked.bytes), undefined, 'gone at 5 s')
  t.match(await registry.metrics(), /coredns_cache_hits_total\{server="dns:\/\/:53",type="denial"\} 1/)

  const short = new ResponseCache({ ...defaultCacheOptions, servfailTtl: 0.5, minTtl: 60 }, undefined, c.now)
  short.set(q.query, reply(q.query, { rcode: Rcode.SERVFAIL }))
  c.advance(499)
  t.ok(short.get(q.query, q.bytes), 'a fraction of a second is honoured, minTtl does not stretch it')
  c.advance(1)
  t.equal(short.get(q.query, q.bytes), undefined)

  const long = new ResponseCache({ ...defaultCacheOptions, servfailTtl: 3600 }, undefined, c.now)
  long.set(q.query, reply(q.query, { rcode: Rcode.SERVFAIL }))
  c.advance(300_000)
  t.equal(long.get(q.query, q.bytes), undefined, 'never longer than 5 minutes (RFC 2308)')
})

t.test('a SERVFAIL replaces an expired answer and is replaced by the next good one', async (t) => {
  const c = clock()
  const cache = new ResponseCache(defaultCacheOptions, undefined, c.now)
  const q = query('flaky.example.com')
  cache.set(q.query, reply(q.query, { answers: [a('flaky.example.com', '192.0.2.1', 10)] }))
  c.advance(10_000)
  t.equal(cache.get(q.query, q.bytes), undefined, 'the answer expired')
  cache.set(q.query, reply(q.query, { rcode: Rcode.SERVFAIL }))
  t.equal(decodeMessage(cache.get(q.query, q.bytes)!).flags.rcode, Rcode.SERVFAIL)
  cache.set(q.query, reply(q.query, { answers: [a('flaky.example.com', '192.0.2.2', 10)] }))
  t.same(decodeMessage(cache.get(q.query, q.bytes)!).answers.map((r) => (r.data as { address: string }).address), ['192.0.2.2'])
  t.equal(cache.size, 1)
})

t.test('the key holds the name (any case), type, class and the DO and CD bits', async (t) => {
  const cache = new ResponseCache(defaultCacheOptions)
  const plain = query('example.com', RRType.A, { edns: ednsPlain })
  cache.set(plain.query, reply(plain.query, { answers: [a('example.com', '192.0.2.1', 60)], edns: ednsPlain }))
  const misses = [query('example.com', RRType.AAAA), query('example.com', RRType.A, { edns: ednsDo }), query('example.com', RRType.A, { cd: true }), query('example.org')]
  for (const m of misses) t.equal(cache.get(m.query, m.bytes), undefined)
  const same = query('EXAMPLE.com', RRType.A, { edns: ednsPlain })
  t.ok(cache.get(same.query, same.bytes))
  const noEdns = query('example.com')
  const hit = cache.get(noEdns.query, noEdns.bytes)!
  t.equal(decodeMessage(hit).edns, undefined, 'the OPT record is dropped for a query without EDNS')
  t.ok(decodeMessage(cache.get(same.query, same.bytes)!).edns, 'and kept for one with EDNS')
})

t.test('minTtl and maxPositiveTtl bound the entry TTL', async (t) => {
  const c = clock()
  const cache = new ResponseCache({ ...defaultCacheOptions, minTtl: 30, maxPositiveTtl: 120 }, undefined, c.now)
  const short = query('short.example.com')
  cache.set(short.query, reply(short.query, { answers: [a('short.example.com', '192.0.2.1', 5)] }))
  const long = query('long.example.com')
  cache.set(long.query, reply(long.query, { answers: [a('long.example.com', '192.0.2.1', 86400)] }))
  c.advance(20_000)
  t.ok(cache.get(short.query, short.bytes), 'a 5 s answer is kept 30 s')
  t.equal(decodeMessage(cache.get(long.query, long.bytes)!).answers[0].ttl, 100, 'a 1 day answer is served with at most 120 s')
  c.advance(100_000)
  t.equal(cache.get(long.query, long.bytes), undefined)
})

t.test('at capacity the oldest entry goes', async (t) => {
  const cache = new ResponseCache({ ...defaultCacheOptions, capacity: 2 })
  const qs = ['a.example.com', 'b.example.com', 'c.example.com'].map((n) => query(n))
  for (const q of qs) cache.set(q.query, reply(q.query, { answers: [a(q.query.name, '192.0.2.1', 60)] }))
  t.equal(cache.size, 2)
  t.equal(cache.get(qs[0].query, qs[0].bytes), undefined)
  t.ok(cache.get(qs[1].query, qs[1].bytes))
  t.ok(cache.get(qs[2].query, qs[2].bytes))
  cache.clear()
  t.equal(cache.size, 0)
})

t.test('metrics carry CoreDNS names', async (t) => {
  const registry = new Registry()
  const cache = new ResponseCache(defaultCacheOptions, registry, Date.now, 'dns://:1053')
  const pos = query('example.com')
  const neg = query('nope.example.com')
  cache.get(pos.query, pos.bytes)
  cache.set(pos.query, reply(pos.query, { answers: [a('example.com', '192.0.2.1', 60)] }))
  cache.set(neg.query, reply(neg.query, { rcode: Rcode.NXDOMAIN, authority: [soa(60, 60)] }))
  cache.get(pos.query, pos.bytes)
  cache.get(neg.query, neg.bytes)
  cache.get(neg.query, neg.bytes)
  const text = await registry.metrics()
  t.match(text, /coredns_cache_misses_total\{server="dns:\/\/:1053"\} 1/)
  t.match(text, /coredns_cache_hits_total\{server="dns:\/\/:1053",type="success"\} 1/)
  t.match(text, /coredns_cache_hits_total\{server="dns:\/\/:1053",type="denial"\} 2/)
  t.match(text, /coredns_cache_entries\{server="dns:\/\/:1053",type="success"\} 1/)
  t.match(text, /coredns_cache_entries\{server="dns:\/\/:1053",type="denial"\} 1/)
  t.doesNotThrow(() => new ResponseCache(defaultCacheOptions, registry), 'a second cache shares the registry')
})
