// Seeded fuzz of the DNS listeners (UDP and TCP on loopback) with the whole query path behind
// them: the zone, autopath (the test's own address is a pod's), the cache and the forwarder,
// whose upstream is hostile too (errors, silence, truncation, malformed replies, wrong ids).
// Every reply must be a well-formed message for the query (QR, its id, one question at most,
// within the UDP size limit); the server must not crash, panic or stall, must close TCP
// connections that misbehave within bounded time, and must give back every fd and most memory.
// CI runs a bounded number of cases from seed 1;
// `npm run fuzz -- test/dns/server.fuzz.test.ts --iterations N --seed S` runs it longer.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, type Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import { Registry } from 'prom-client'
import { CachedForwarder } from '../../dns/forwarding.ts'
import { defaultForwarderOptions, Forwarder } from '../../dns/forwarder.ts'
import { QueryHandler, type Transport } from '../../dns/handler.ts'
import { DnsMetrics } from '../../dns/metrics.ts'
import { Rcode, RRClass, RRType, type Message, type ResourceRecord } from '../../dns/records.ts'
import { udpLimit } from '../../dns/reply.ts'
import { defaultCacheOptions, ResponseCache } from '../../dns/response-cache.ts'
import { DnsServer } from '../../dns/server.ts'
import { frame, FrameReader } from '../../dns/tcp-frames.ts'
import { decodeMessage, encodeMessage, parseQuery, type ParsedQuery } from '../../dns/wire.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'
import { fakeUpstream } from '../helpers/dns.ts'
import { fuzzSettings, openFdCount, Rng } from '../helpers/fuzz.ts'

// CI: this many UDP cases; a tenth as many TCP connection scenarios.
const settings = fuzzSettings(3000)
// The UDP cases come from one generator in order; each TCP scenario has its own (they run
// concurrently) and draws it whole before connecting; the upstream's delays follow from the
// query. So a seed replays the same cases.
const rng = new Rng(settings.seed)
const scenarioRng = (i: number) => new Rng((settings.seed * 1_000_003 + i) >>> 0)
const tcpScenarios = Math.max(60, Math.floor(settings.iterations / 10))

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Stalls of this process's event loop (the machine is shared): the server's idle clock runs
 * on, so a client of the same process whose next bytes were held up by a stall longer than
 * the idle time is rightly closed as idle. Those closes are allowed, and counted.
 */
const stalls: { at: number; gap: number }[] = []
let lastTick = performance.now()
const ticker = setInterval(() => {
  const now = performance.now()
  if (now - lastTick > 50) stalls.push({ at: now, gap: now - lastTick })
  lastTick = now
}, 10)
ticker.unref()
function stalledDuring(from: number): number {
  return Math.max(0, ...stalls.filter((s) => s.at >= from).map((s) => s.gap), performance.now() - lastTick)
}
let excusedByStalls = 0

// ---- a hostile upstream (UDP and TCP on one loopback port) --------------------------------

/** What the upstream does, chosen by a `b-<kind>` label in the name (else by a hash of it). */
const KINDS = ['answer', 'nxdomain', 'nodata', 'servfail', 'refused', 'formerr', 'silent', 'slow', 'tc', 'garbage', 'wrongid', 'wrongq', 'big', 'twice'] as const
type Kind = (typeof KINDS)[number]

function hash(text: string): number {
  let h = 0
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0
  return h
}

function kindOf(name: string): Kind {
  const m = /(?:^|\.)b-([a-z]+)(?:\.|$)/.exec(name.toLowerCase())
  if (m && (KINDS as readonly string[]).includes(m[1])) return m[1] as Kind
  return KINDS[hash(name) % KINDS.length]
}

const soa: ResourceRecord = {
  name: 'example',
  type: RRType.SOA,
  class: RRClass.IN,
  ttl: 60,
  data: { mname: 'ns.example', rname: 'hostmaster.example', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
}

/** The upstream's replies to `q` over `transport` (none: silence). */
function upstreamReplies(q: ParsedQuery, transport: Transport): Buffer[] {
  const kind = kindOf(q.name)
  const reply = (rcode: number, answers: ResourceRecord[] = [], authority: ResourceRecord[] = [], rest: Partial<Message> = {}): Buffer =>
    encodeMessage({
      id: q.id,
      flags: { qr: true, opcode: 0, aa: false, tc: false, rd: q.rd, ra: true, ad: false, cd: q.cd, rcode },
      questions: [{ name: q.name, type: q.type, class: q.class }],
      answers,
      authority,
      additional: [],
      edns: q.edns && { udpSize: 1232, version: 0, dnssecOk: false, extendedRcode: 0, options: [] },
      ...rest,
    })
  const a = (i: number): ResourceRecord => ({ name: q.name, type: RRType.A, class: RRClass.IN, ttl: 30, data: { address: `192.0.2.${i % 256}` } })
  switch (kind) {
    case 'answer':
    case 'slow':
      return [reply(Rcode.NOERROR, q.type === RRType.A ? [a(1)] : [], q.type === RRType.A ? [] : [soa])]
    case 'nxdomain':
      return [reply(Rcode.NXDOMAIN, [], [soa])]
    case 'nodata':
      return [reply(Rcode.NOERROR, [], [soa])]
    case 'servfail':
      return [reply(Rcode.SERVFAIL)]
    case 'refused':
      return [reply(Rcode.REFUSED)]
    case 'formerr':
      return [reply(Rcode.FORMERR)]
    case 'silent':
      return []
    case 'tc':
      return transport === 'udp' ? [reply(Rcode.NOERROR, [], [], { flags: { qr: true, opcode: 0, aa: false, tc: true, rd: q.rd, ra: true, ad: false, cd: q.cd, rcode: 0 } })] : [reply(Rcode.NOERROR, [a(2)])]
    case 'garbage': {
      // The right header and question, then bytes that are no records.
      const good = reply(Rcode.NOERROR, [a(3)])
      return [Buffer.concat([good.subarray(0, q.questionEnd), Buffer.from([0xc0, 0xff, 0, 1, 0, 1, 0xde, 0xad])])]
    }
    case 'wrongid': {
      const r = reply(Rcode.NOERROR, [a(4)])
      r.writeUInt16BE((q.id + 1) & 0xffff, 0)
      return [r]
    }
    case 'wrongq':
      return [reply(Rcode.NOERROR, [a(5)], [], { questions: [{ name: 'other.example', type: q.type, class: q.class }] })]
    case 'big':
      return [reply(Rcode.NOERROR, Array.from({ length: 80 }, (_, i) => a(i)))]
    case 'twice':
      // A malformed copy first, the real reply after it.
      return [Buffer.concat([reply(Rcode.NOERROR).subarray(0, q.questionEnd), Buffer.from([1, 2, 3])]), reply(Rcode.NOERROR, [a(6)])]
  }
}

// UDP and TCP on one loopback port; a slow answer over UDP waits a delay set by the query (the
// order queries arrive in varies from run to run, so no generator is drawn from here).
const upstream = await fakeUpstream(t, (q, transport) => {
  const out = upstreamReplies(q, transport)
  if (transport === 'tcp' || out.length === 0 || kindOf(q.name) !== 'slow') return out
  return sleep(50 + (hash(`${settings.seed} ${q.type} ${q.name}`) % 100)).then(() => out)
})

// ---- the server under test ------------------------------------------------------------

const many = Array.from({ length: 60 }, (_, i) => `10.244.1.${i + 1}`)
const index = buildZoneIndex(
  {
    services: [
      { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
      { metadata: { name: 'many', namespace: 'default' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } },
      { metadata: { name: 'ext', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'target.b-answer.example' } },
      { metadata: { name: 'extbad', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'target.b-garbage.example' } },
    ],
    slices: [
      {
        metadata: { name: 'many-a', namespace: 'default', labels: { 'kubernetes.io/service-name': 'many' } },
        addressType: 'IPv4',
        endpoints: many.map((a) => ({ addresses: [a], conditions: { ready: true } })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ],
    // Queries come from 127.0.0.1: a pod of `team`, so its queries are autopathed.
    pods: [{ metadata: { name: 'me', namespace: 'team' }, status: { phase: 'Running', podIP: '127.0.0.1' } }],
  } as never,
  defaultZoneConfig,
)

const metrics = new DnsMetrics('dns://:0', { processMetrics: false })
const forwarding = new CachedForwarder(
  new Forwarder({ ...defaultForwarderOptions, upstreams: [upstream.address], timeoutMs: 300, maxConcurrent: 200, healthCheckMs: 200 }, new Registry()),
  new ResponseCache(defaultCacheOptions, undefined),
)
const handler = new QueryHandler(index, { metrics, autopath: true, hostSearch: ['corp.example', 'b-silent.example'], forwarding })
const IDLE_MS = 300
/** Queries the listeners handed the handler (UDP ones counted), answers not back yet, and UDP replies given back. */
const served = { udpAsked: 0, pending: 0, udpReplies: 0 }
const counting = new Proxy(handler, {
  get(target, key) {
    if (key === 'answerUdp') {
      // The batch listener's fast path; a query it does not answer goes on to handle().
      return (...args: Parameters<QueryHandler['answerUdp']>): number => {
        const size = target.answerUdp(...args)
        if (size >= 0) {
          served.udpAsked++
          served.udpReplies++
        }
        return size
      }
    }
    if (key !== 'handle') return Reflect.get(target, key, target)
    return (bytes: Uint8Array, client: string, transport: Transport): ReturnType<QueryHandler['handle']> => {
      const given = (r: Buffer | undefined) => {
        if (r && transport === 'udp') served.udpReplies++
        return r
      }
      if (transport === 'udp') served.udpAsked++
      const r = target.handle(bytes, client, transport)
      if (!(r instanceof Promise)) return given(r)
      served.pending++
      return r.then((reply) => {
        served.pending--
        return given(reply)
      })
    }
  },
})
const server = new DnsServer(counting, { listen: ['127.0.0.1:0'], tcpIdleMs: IDLE_MS, tcpMaxConnections: 64 })
const [{ port }] = await server.start()
// UDP cases alternate between the default listener (the batch addon when it is built) and node:dgram.
const dgramServer = new DnsServer(counting, { listen: ['127.0.0.1:0'], tcp: false, udpBatch: false })
const [{ port: dgramPort }] = await dgramServer.start()
t.teardown(async () => {
  await server.close()
  await dgramServer.close()
  await forwarding.close()
})

// ---- queries ----------------------------------------------------------------------------

const BASES = ['web', 'many', 'ext', 'extbad', 'nope', 'web.default', 'web.default.svc', 'kubernetes.default', '_http._tcp.web', 'dns-version', '10-244-0-5.team.pod']
const TYPES = [RRType.A, RRType.AAAA, RRType.SRV, RRType.PTR, RRType.TXT, RRType.ANY, RRType.CNAME, RRType.SOA, RRType.NS, RRType.AXFR, RRType.IXFR, RRType.MX]

function outside(rng: Rng): string {
  return `${rng.pick(['www', 'api', 'x' + rng.int(1000)])}.b-${rng.pick(KINDS)}.example`
}

function randomName(rng: Rng): string {
  switch (rng.int(6)) {
    case 0:
      return `${rng.pick(BASES)}.default.svc.cluster.local`
    case 1:
      // What a pod's resolver asks first: autopath walks the rest of the search path.
      return `${rng.chance(0.5) ? outside(rng) : rng.pick(BASES)}.team.svc.cluster.local`
    case 2:
      return outside(rng)
    case 3:
      return rng.pick(['cluster.local', 'svc.cluster.local', 'dns-version.cluster.local', '20.0.96.10.in-addr.arpa', '5.1.244.10.in-addr.arpa', '1.0.0.127.in-addr.arpa', `${rng.int(300)}.0.96.10.in-addr.arpa`])
    case 4: {
      // Hostile text as labels, escaped where it must be.
      const text = rng.hostileString().slice(0, 60)
      const label = [...Buffer.from(text, 'latin1')].map((c) => (c === 0x2e || c === 0x5c || c <= 0x20 || c >= 0x7f ? '\\' + String(c).padStart(3, '0') : String.fromCharCode(c))).join('')
      return `${label || 'empty'}.${rng.pick(['team.svc.cluster.local', 'default.svc.cluster.local', 'b-answer.example', 'cluster.local'])}`
    }
    default:
      return Array.from({ length: 1 + rng.int(5) }, () => 'x'.repeat(1 + rng.int(63))).join('.')
  }
}

/** Random letters upper-cased, as 0x20-randomising resolvers do. */
function mixCase(rng: Rng, name: string): string {
  return [...name].map((c) => (rng.chance(0.2) ? c.toUpperCase() : c)).join('')
}

function validQuery(rng: Rng): Buffer {
  for (;;) {
    const edns = rng.chance(0.5)
    try {
      return encodeMessage({
        id: rng.int(0x10000),
        flags: { qr: false, opcode: rng.chance(0.95) ? 0 : rng.int(16), aa: false, tc: false, rd: rng.chance(0.9), ra: false, ad: rng.chance(0.1), cd: rng.chance(0.1), rcode: 0 },
        questions: [{ name: mixCase(rng, randomName(rng)), type: rng.chance(0.9) ? rng.pick(TYPES) : rng.int(0x10000), class: rng.chance(0.9) ? RRClass.IN : rng.pick([RRClass.CH, RRClass.ANY, rng.int(0x10000)]) }],
        answers: [],
        authority: [],
        additional: [],
        edns: edns
          ? {
              udpSize: rng.pick([0, 512, 1232, 4096, 65535, rng.int(0x10000)]),
              version: rng.chance(0.9) ? 0 : rng.int(256),
              dnssecOk: rng.chance(0.3),
              extendedRcode: 0,
              options: rng.chance(0.2) ? [{ code: rng.int(0x10000), data: rng.bytes(rng.int(16)) }] : [],
            }
          : undefined,
      })
    } catch {
      // A name too long for the wire: draw again.
    }
  }
}

function fuzzPacket(rng: Rng): Buffer {
  const r = rng.int(10)
  if (r < 4) return validQuery(rng)
  if (r < 8) return rng.mutate(validQuery(rng), 6)
  return rng.bytes(rng.int(rng.chance(0.9) ? 80 : 700))
}

// ---- what every reply must be -----------------------------------------------------------

const violations: string[] = []

function check(query: Buffer, reply: Buffer, transport: Transport, where: string): void {
  const problem = replyProblem(query, reply, transport)
  if (problem && violations.length < 20) violations.push(`${where}: ${problem}\n  query ${query.toString('hex')}\n  reply ${reply.toString('hex')}`)
}

function replyProblem(query: Buffer, reply: Buffer, transport: Transport): string | undefined {
  let m: Message
  try {
    m = decodeMessage(reply)
  } catch (err) {
    return `the reply does not decode: ${(err as Error).message}`
  }
  if (!m.flags.qr) return 'the reply has QR clear'
  if (m.id !== query.readUInt16BE(0)) return `the reply has id ${m.id}, the query ${query.readUInt16BE(0)}`
  if (m.questions.length > 1) return `the reply has ${m.questions.length} questions`
  let parsed: ParsedQuery | undefined
  try {
    parsed = parseQuery(query)
  } catch {
    parsed = undefined
  }
  if (transport === 'udp') {
    const limit = parsed ? udpLimit(parsed) : 512
    if (reply.length > limit) return `a UDP reply of ${reply.length} bytes, over the ${limit} allowed`
  }
  if (m.questions.length === 1) {
    if (!parsed) return 'a question in the reply to an unreadable query'
    if (m.questions[0].name.toLowerCase() !== parsed.lowerName) return `the reply is for ${m.questions[0].name}, not ${parsed.name}`
  }
  return undefined
}

async function panics(): Promise<number> {
  return (await metrics.panics.get()).values[0]?.value ?? 0
}

/** One UDP query from a fresh socket; the reply or undefined after `ms`. */
function askUdp(bytes: Buffer, ms = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4')
    const timer = setTimeout(() => {
      s.close()
      resolve(undefined)
    }, ms)
    s.on('message', (m) => {
      clearTimeout(timer)
      s.close()
      resolve(m)
    })
    s.send(bytes, port, '127.0.0.1')
  })
}

/** Whole replies read from `c` until it closes or `ms` pass; `c` is destroyed after. */
function readAll(c: Socket, ms: number, want = Infinity): Promise<{ replies: Buffer[]; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const reader = new FrameReader()
    const replies: Buffer[] = []
    let closedByServer = false
    const done = () => {
      clearTimeout(timer)
      c.destroy()
      resolve({ replies, closedByServer })
    }
    const timer = setTimeout(done, ms)
    c.on('data', (chunk: Buffer) => {
      reader.push(chunk)
      for (let m = reader.next(); m; m = reader.next()) replies.push(Buffer.from(m))
      if (replies.length >= want) done()
    })
    c.once('end', () => {
      closedByServer = true
      done()
    })
    c.once('close', () => {
      closedByServer = true
      done()
    })
  })
}

function open(): Promise<Socket> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1')
    c.on('error', () => {})
    c.once('connect', () => resolve(c))
    c.once('close', () => resolve(c))
  })
}

/** The server still answers a plain query over UDP and TCP. */
async function healthy(t: Test): Promise<void> {
  const q = encodeMessage({
    id: 0x5151,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name: 'web.default.svc.cluster.local', type: RRType.A, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
  })
  const udp = await askUdp(q)
  t.same(udp && decodeMessage(udp).answers.map((r) => (r.data as { address: string }).address), ['10.96.0.20'], 'answers over UDP')
  const c = await open()
  const got = readAll(c, 3000, 1)
  c.write(frame(q))
  const { replies } = await got
  t.same(replies.map((r) => decodeMessage(r).answers.map((a) => (a.data as { address: string }).address)), [['10.96.0.20']], 'answers over TCP')
}

/** Polls `what` until true or `ms` pass. */
async function eventually(what: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!what()) {
    if (Date.now() > end) return false
    await sleep(20)
  }
  return true
}

// Warm up: the forwarder's UDP sockets open on first use; they count in the fd baseline.
for (let i = 0; i < 8; i++) await askUdp(encodeMessage({ id: i, flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 }, questions: [{ name: `warm${i}.b-answer.example`, type: RRType.A, class: 1 }], answers: [], authority: [], additional: [] }))
await sleep(50)
gc()
const fdBaseline = openFdCount()
const heapBaseline = process.memoryUsage().heapUsed

t.test(`UDP: ${settings.iterations} random, mutated and hostile packets (seed ${settings.seed})`, async (t) => {
  const client: UdpSocket = createSocket('udp4')
  const sent = new Map<number, Buffer>()
  const pending: Promise<unknown>[] = []
  let received = 0
  client.on('message', (reply) => {
    received++
    if (reply.length < 2) return check(Buffer.alloc(2), reply, 'udp', 'UDP listener')
    const query = sent.get(reply.readUInt16BE(0))
    if (query) check(query, reply, 'udp', 'UDP listener')
  })
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve))
  const before = { ...served }
  for (let i = 0; i < settings.iterations; i++) {
    const bytes = fuzzPacket(rng)
    // Each case its own id, so a reply finds its query.
    if (bytes.length >= 2) bytes.writeUInt16BE(i & 0xffff, 0)
    sent.set(i & 0xffff, bytes)
    // Straight into the handler too, from any kind of client address and transport.
    const from = rng.chance(0.8) ? '127.0.0.1' : rng.pick(['10.244.0.5', '::1', 'fe80::1%lo', '', '999.1.1.1', rng.hostileString()])
    const transport: Transport = rng.chance(0.8) ? 'udp' : 'tcp'
    try {
      const direct = handler.handle(bytes, from, transport)
      if (direct instanceof Promise) {
        pending.push(
          direct.then(
            (r) => r && check(bytes, r, transport, `case ${i}, handle() from ${JSON.stringify(from)}`),
            (err: unknown) => void violations.push(`case ${i}: handle() rejected: ${(err as Error).stack}`),
          ),
        )
      } else if (direct) {
        check(bytes, direct, transport, `case ${i}, handle() from ${JSON.stringify(from)}`)
      }
    } catch (err) {
      violations.push(`case ${i}: handle() threw ${(err as Error).stack}`)
    }
    await new Promise<void>((resolve) => client.send(bytes, i % 2 === 0 ? port : dgramPort, '127.0.0.1', () => resolve()))
    if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(pending)
  // The slowest reply is a forwarded query at its 300 ms deadline; a loaded machine takes longer.
  const asked = () => served.udpAsked - before.udpAsked
  const replies = () => served.udpReplies - before.udpReplies
  const caughtUp = await eventually(() => asked() >= settings.iterations && served.pending === 0 && received >= replies(), 10_000)
  if (!caughtUp) t.comment(`after 10 s: ${asked()} UDP queries read, ${served.pending} being answered, ${received} of ${replies()} replies back`)
  client.close()
  t.same(violations, [], 'every reply well-formed for its query')
  t.ok(received > settings.iterations / 4, `${received} UDP replies`)
  t.equal(await panics(), 0, 'no answer failed inside the server')
  await healthy(t)
})

/** One TCP client, misbehaving in one of several ways; resolves once its connection is gone. */
async function scenario(i: number): Promise<string | undefined> {
  const rng = scenarioRng(i)
  const kind = rng.int(9)
  const queries = Array.from({ length: 1 + rng.int(kind === 0 ? 40 : 8) }, () => (kind === 0 || kind === 5 ? validQuery(rng) : fuzzPacket(rng)))
  queries.forEach((q, n) => q.length >= 2 && q.writeUInt16BE(n, 0))
  const stream = Buffer.concat(queries.map((q) => frame(q)))
  // The rest of the scenario's draws, in the order the cases below use them.
  const cuts: { n: number; pauseMs?: number }[] = []
  if (kind === 0) {
    for (let at = 0; at < stream.length; ) {
      const n = 1 + rng.int(Math.min(200, stream.length - at))
      cuts.push({ n, pauseMs: rng.chance(0.3) ? rng.int(20) : undefined })
      at += n
    }
  }
  const partial = kind === 2 ? (rng.chance(0.5) ? Buffer.from([rng.int(256)]) : Buffer.concat([Buffer.from([0xff, 0xff]), rng.bytes(rng.int(2000))])) : undefined
  const halfClose = kind === 2 && rng.chance(0.3)
  const trickleMs = kind === 3 ? Array.from(stream, () => 80 + rng.int(80)) : []
  const flood = kind === 4 ? frame(validQuery(rng)) : undefined
  const waitMs = kind === 4 ? rng.int(400) : kind === 6 ? rng.int(50) : 0
  const junk = kind === 7 ? rng.bytes(1 + rng.int(3000)) : undefined
  const opened = server.tcpConnections
  const c = await open()
  if (c.destroyed) return undefined
  const checkAll = (replies: Buffer[]) => {
    for (const r of replies) {
      if (r.length < 2) continue
      const q = queries[r.readUInt16BE(0)]
      if (q) check(q, r, 'tcp', `TCP scenario ${i} (kind ${kind})`)
      else violations.push(`TCP scenario ${i}: a reply with id ${r.readUInt16BE(0)} nobody asked`)
    }
  }
  switch (kind) {
    case 0: {
      // Valid queries, pipelined, the stream cut anywhere and sent with pauses: all answered.
      const began = performance.now()
      const result = readAll(c, 10_000, queries.length)
      let at = 0
      for (const { n, pauseMs } of cuts) {
        c.write(stream.subarray(at, at + n))
        at += n
        if (pauseMs !== undefined) await sleep(pauseMs)
      }
      const started = Date.now()
      const { replies, closedByServer } = await result
      checkAll(replies)
      if (replies.length === queries.length) return undefined
      if (closedByServer && stalledDuring(began) > IDLE_MS / 2) return void excusedByStalls++
      const names = queries.map((q) => parseQuery(q).name)
      return `scenario ${i}: ${replies.length} replies to ${queries.length} valid pipelined queries (${closedByServer ? 'closed by the server' : 'still open'} after ${Date.now() - started} ms; ${opened} connections when it opened; longest stall ${Math.round(stalledDuring(began))} ms; ${names.join(' ').slice(0, 200)})`
    }
    case 1: {
      // Anything, pipelined: answered until junk ends the connection.
      const result = readAll(c, 10_000)
      c.write(stream)
      const { replies, closedByServer } = await result
      checkAll(replies)
      return closedByServer ? undefined : `scenario ${i}: the connection was not closed after the idle time`
    }
    case 2: {
      // Half a length prefix, or a length announced and never sent in full, then silence.
      const result = readAll(c, 10_000)
      c.write(partial!)
      if (halfClose) c.end()
      const { closedByServer } = await result
      return closedByServer ? undefined : `scenario ${i}: a partial message kept the connection open`
    }
    case 3: {
      // A slow writer: a few bytes now and then, never enough in time.
      const result = readAll(c, 10_000)
      let stop = false
      void (async () => {
        for (let at = 0; at < stream.length && !stop && !c.destroyed; at++) {
          c.write(stream.subarray(at, at + 1))
          await sleep(trickleMs[at]!)
        }
      })()
      const { replies, closedByServer } = await result
      stop = true
      checkAll(replies)
      return closedByServer ? undefined : `scenario ${i}: a slow writer kept the connection open`
    }
    case 4: {
      // Never reads: lots of queries, then gone.
      c.pause()
      for (let n = 0; n < 20; n++) c.write(Buffer.concat(Array.from({ length: 200 }, () => flood!)))
      await sleep(waitMs)
      c.destroy()
      return undefined
    }
    case 5: {
      // Queries, then half-closed: every answer, then the server's end.
      const result = readAll(c, 10_000)
      const started = Date.now()
      const began = performance.now()
      c.end(stream)
      const { replies, closedByServer } = await result
      checkAll(replies)
      if (replies.length !== queries.length && closedByServer && stalledDuring(began) > IDLE_MS / 2) {
        excusedByStalls++
      } else if (replies.length !== queries.length) {
        const names = queries.map((q) => parseQuery(q).name)
        return `scenario ${i}: ${replies.length} replies to ${queries.length} queries before a half-close (${closedByServer ? 'closed by the server' : 'still open'} after ${Date.now() - started} ms; ${names.join(' ')})`
      }
      return closedByServer ? undefined : `scenario ${i}: the server did not end a half-closed connection`
    }
    case 6: {
      // Queries (forwarded, some slow), then a reset before the answers.
      c.write(stream)
      await sleep(waitMs)
      c.resetAndDestroy()
      return undefined
    }
    case 7: {
      // A junk stream.
      const result = readAll(c, 10_000)
      c.write(junk!)
      const { closedByServer } = await result
      return closedByServer ? undefined : `scenario ${i}: junk kept the connection open`
    }
    default:
      c.destroy()
      return undefined
  }
}

t.test(`TCP: ${tcpScenarios} misbehaving clients, up to 24 at once, and a burst past the connection limit (seed ${settings.seed})`, async (t) => {
  const problems: string[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: 24 }, async () => {
      while (next < tcpScenarios) {
        const i = next++
        const problem = await scenario(i)
        if (problem && problems.length < 10) problems.push(problem)
      }
    }),
  )
  // 100 connections against a limit of 64: the excess is closed, the rest time out.
  const burst = await Promise.all(Array.from({ length: 100 }, () => open()))
  const closed = await Promise.all(burst.map((c) => readAll(c, 10_000)))
  t.ok(closed.every((r) => r.closedByServer), 'every connection of the burst closed by the server (within 10 s)')
  t.same(problems, [], 'every scenario ended as it should')
  if (excusedByStalls > 0) t.comment(`${excusedByStalls} well-behaved clients closed as idle during event-loop stalls longer than ${IDLE_MS / 2} ms`)
  t.same(violations, [], 'every reply well-formed for its query')
  t.equal(await panics(), 0, 'no answer failed inside the server')
  await healthy(t)
})

t.test('no leak: fds back to the baseline, memory sane', async (t) => {
  // Forwarded exchanges end by their deadline; retired upstream sockets close once idle.
  const fdsBack = await eventually(() => openFdCount() <= fdBaseline, 5000)
  t.ok(fdsBack, `open fds ${openFdCount()}, baseline ${fdBaseline}`)
  gc()
  const growth = process.memoryUsage().heapUsed - heapBaseline
  t.ok(growth < 64 * 1024 * 1024, `heap grew ${(growth / 1048576).toFixed(1)} MB`)
})
