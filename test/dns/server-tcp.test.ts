// The TCP listener against clients that misbehave: a slow writer never completing a query,
// a client that pipelines queries and never reads the replies, a client that half-closes
// before its (forwarded) answers are ready, more connections than allowed. Every wait is
// bounded; nothing here depends on timing beyond "within a few idle periods".
import { connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { Registry } from 'prom-client'
import { CachedForwarder } from '../../dns/forwarding.ts'
import { defaultForwarderOptions, Forwarder } from '../../dns/forwarder.ts'
import { QueryHandler } from '../../dns/handler.ts'
import { DnsMetrics } from '../../dns/metrics.ts'
import { RRClass, RRType, Rcode } from '../../dns/records.ts'
import { defaultCacheOptions, ResponseCache } from '../../dns/response-cache.ts'
import { DnsServer, TCP_MAX_IN_FLIGHT, TCP_MAX_IN_FLIGHT_BYTES, type DnsServerOptions } from '../../dns/server.ts'
import { frame } from '../../dns/tcp-frames.ts'
import { decodeMessage, encodeMessage, type ParsedQuery } from '../../dns/wire.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'
import { fakeUpstream, replies, replyTo, type FakeUpstream } from '../helpers/dns.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// 60 endpoints: a reply of about 1 KB to a query of about 50 bytes.
const many = {
  svc: { metadata: { name: 'many', namespace: 'default' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } },
  slice: {
    metadata: { name: 'many-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'many' } },
    addressType: 'IPv4',
    endpoints: Array.from({ length: 60 }, (_, i) => ({ addresses: [`10.244.1.${i + 1}`], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  },
}
const web = { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80 }] } }
const index = buildZoneIndex({ services: [web, many.svc] as never[], slices: [many.slice] as never[], pods: [] }, defaultZoneConfig)

/** The upstream's answer to every query: A 192.0.2.7. */
const upstreamAnswer = (q: ParsedQuery) => [replyTo(q, { answers: [{ name: q.name, type: RRType.A, class: RRClass.IN, ttl: 0, data: { address: '192.0.2.7' } }] })]

/** Servers on loopback whose upstream answers every query after `upstreamDelayMs`. */
async function start(t: Test, options: Partial<DnsServerOptions> = {}, upstreamDelayMs = 50): Promise<{ port: number; server: DnsServer; upstream: FakeUpstream }> {
  const upstream = await fakeUpstream(t, async (q) => {
    await sleep(upstreamDelayMs)
    return upstreamAnswer(q)
  })
  // Cache capacity 0: every forwarded query really waits for the upstream.
  const forwarding = new CachedForwarder(new Forwarder({ ...defaultForwarderOptions, upstreams: [upstream.address], timeoutMs: 5000 }, new Registry()), new ResponseCache({ ...defaultCacheOptions, capacity: 0 }))
  const handler = new QueryHandler(index, { metrics: new DnsMetrics('dns://:0', { processMetrics: false }), autopath: false, hostSearch: [], forwarding })
  const server = new DnsServer(handler, { listen: ['127.0.0.1:0'], ...options })
  const [{ port }] = await server.start()
  t.teardown(async () => {
    await server.close()
    await forwarding.close()
  })
  return { port, server, upstream }
}

function query(name: string, id: number): Buffer {
  return encodeMessage({
    id,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type: RRType.A, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
  })
}

async function open(t: Test, port: number): Promise<Socket> {
  const c = connect(port, '127.0.0.1')
  c.on('error', () => {})
  t.teardown(() => void c.destroy())
  await new Promise<void>((resolve, reject) => {
    c.once('connect', resolve)
    c.once('close', () => reject(new Error('closed before connecting')))
  })
  return c
}

/** Resolves true once `c` is closed by the server, false if still open after `ms`. */
function closedWithin(c: Socket, ms: number): Promise<boolean> {
  if (c.destroyed || c.readableEnded) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    const done = () => {
      clearTimeout(timer)
      resolve(true)
    }
    c.once('end', done)
    c.once('close', done)
  })
}

t.test('a slow writer that never completes a query is closed after the idle time', async (t) => {
  const { port } = await start(t, { tcpIdleMs: 300 })
  const c = await open(t, port)
  // Announces 200 bytes, then sends one every 100 ms: activity, but never a whole query.
  c.write(Buffer.from([0, 200]))
  let sent = 0
  const trickle = setInterval(() => {
    if (!c.destroyed && sent++ < 200) c.write(Buffer.from([0x41]))
  }, 100)
  t.teardown(() => clearInterval(trickle))
  t.ok(await closedWithin(c, 3000), `closed (after ${sent} bytes of 200)`)
})

t.test('a connection with nothing to say is closed after the idle time', async (t) => {
  const { port } = await start(t, { tcpIdleMs: 200 })
  const c = await open(t, port)
  t.ok(await closedWithin(c, 3000))
})

t.test('each whole query resets the idle time', async (t) => {
  const { port } = await start(t, { tcpIdleMs: 400 })
  const c = await open(t, port)
  for (let i = 0; i < 5; i++) {
    const got = replies(c, 1)
    c.write(frame(query('web.default.svc.cluster.local', i)))
    t.equal((await got).length, 1, `reply ${i}`)
    await sleep(150)
  }
  t.ok(await closedWithin(c, 3000), 'then closed once idle')
})

t.test('a client that pipelines queries and never reads: the server stops reading, holds little, and closes', async (t) => {
  const { port } = await start(t, { tcpIdleMs: 500 })
  const c = await open(t, port)
  c.pause()
  let closed = false
  c.once('close', () => (closed = true))
  // 100,000 queries of ~50 bytes whose replies are ~1 KB each: 100 MB if the server answered
  // them all. What it holds is its bounded queue plus garbage of the replies the kernel took.
  const q = frame(query('many.default.svc.cluster.local', 1))
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => q))
  const before = process.memoryUsage().arrayBuffers
  for (let i = 0; i < 100; i++) c.write(batch)
  // Past the idle time after the server stopped: the kernel buffers hold a few MB of replies at most.
  await sleep(1500)
  const held = process.memoryUsage().arrayBuffers - before - c.writableLength
  t.ok(held < 32 * 1024 * 1024, `the server holds ${(held / 1048576).toFixed(1)} MB of replies for a client that does not read`)
  c.resume()
  const got = await replies(c, 100_000, 5000)
  t.ok(got.length < 100_000, `the client got ${got.length} replies before the connection ended, not all 100,000`)
  t.ok(closed, 'closed for making no progress')
})

t.test(`at most ${TCP_MAX_IN_FLIGHT} of one connection's queries are being answered at once`, async (t) => {
  const { port, upstream } = await start(t)
  // The upstream holds every reply until released: what reaches it meanwhile is what the
  // server took in at once, whatever the timing.
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  upstream.behaviour = async (q) => {
    await gate
    return upstreamAnswer(q)
  }
  t.teardown(() => release())
  const c = await open(t, port)
  // Small queries (about 40 bytes each): far below the byte limit, so only the count limits.
  const n = 3 * TCP_MAX_IN_FLIGHT
  const got = replies(c, n, 10_000)
  c.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(query(`held${i}.example.org`, i)))))
  const end = Date.now() + 5000
  while (upstream.asked.length < TCP_MAX_IN_FLIGHT && Date.now() < end) await sleep(10)
  // Time to take more, were it allowed to.
  await sleep(300)
  t.equal(upstream.asked.length, TCP_MAX_IN_FLIGHT, `${upstream.asked.length} of ${n} pipelined queries reached the upstream before any answer`)
  release()
  t.equal((await got).length, n, 'all answered once the upstream replies')
})

t.test('pipelined forwarded queries beyond the in-flight limit are all answered, in any order', async (t) => {
  const { port } = await start(t, {}, 20)
  const c = await open(t, port)
  const n = 300
  const got = replies(c, n, 10_000)
  c.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(query(`n${i}.example.org`, i)))))
  const ids = (await got).map((r) => decodeMessage(r).id)
  t.equal(ids.length, n)
  t.same([...new Set(ids)].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i))
})

t.test('a client that half-closes after its queries still gets every answer, then the server closes', async (t) => {
  const { port } = await start(t, {}, 100)
  const c = await open(t, port)
  const got = replies(c, 3)
  c.end(Buffer.concat([frame(query('slow.example.org', 1)), frame(query('web.default.svc.cluster.local', 2)), frame(query('later.example.org', 3))]))
  const answers = (await got).map((r) => decodeMessage(r))
  t.same(answers.map((m) => m.id).sort(), [1, 2, 3])
  t.ok(answers.every((m) => m.flags.rcode === Rcode.NOERROR && m.answers.length === 1))
  t.ok(await closedWithin(c, 3000), 'the server ends its side too')
})

t.test('connections beyond tcpMaxConnections are refused; freed slots are reused', async (t) => {
  const { port } = await start(t, { tcpMaxConnections: 4 })
  const held = await Promise.all(Array.from({ length: 4 }, () => open(t, port)))
  await sleep(50)
  const extra = connect(port, '127.0.0.1')
  extra.on('error', () => {})
  t.ok(await closedWithin(extra, 3000), 'the fifth is closed')
  const got = replies(held[0], 1)
  held[0].write(frame(query('web.default.svc.cluster.local', 9)))
  t.equal((await got).length, 1, 'the held ones still answer')
  held[1].destroy()
  await sleep(100)
  const again = await open(t, port)
  const reply = replies(again, 1)
  again.write(frame(query('web.default.svc.cluster.local', 10)))
  t.equal((await reply).length, 1, 'a freed slot takes a new connection')
})

t.test('junk or an empty message ends the connection; other connections are untouched', async (t) => {
  const { port } = await start(t)
  const good = await open(t, port)
  for (const junk of [Buffer.from([0, 0]), Buffer.from([0, 3, 1, 2, 3])]) {
    const bad = await open(t, port)
    bad.write(junk)
    t.ok(await closedWithin(bad, 3000), `closed after ${junk.toString('hex')}`)
  }
  const got = replies(good, 1)
  good.write(frame(query('web.default.svc.cluster.local', 5)))
  t.equal((await got).length, 1)
})

t.test('a query still being answered keeps its connection open past the idle time', async (t) => {
  const { port } = await start(t, { tcpIdleMs: 200 }, 600)
  const c = await open(t, port)
  const got = replies(c, 1, 5000)
  c.write(frame(query('slow.example.org', 77)))
  const [reply] = await got
  t.equal(reply && decodeMessage(reply).id, 77, 'the answer arrived after 600 ms')
  t.ok(await closedWithin(c, 3000), 'then idle, then closed')
})

t.test('port 0: when the UDP port the kernel picked is taken for TCP, start() picks another', async (t) => {
  const net = await import('node:net')
  let refusals = 1
  // The first TCP listen fails as if another process held that port.
  const { DnsServer: Mocked } = await t.mockImport<typeof import('../../dns/server.ts')>('../../dns/server.ts', {
    'node:net': {
      ...net,
      createServer: (...args: Parameters<typeof net.createServer>) => {
        const s = net.createServer(...args)
        if (refusals-- > 0) {
          s.listen = ((..._: unknown[]) => {
            queueMicrotask(() => s.emit('error', Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })))
            return s
          }) as typeof s.listen
        }
        return s
      },
    },
  })
  const handler = new QueryHandler(index, { metrics: new DnsMetrics('dns://:0', { processMetrics: false }), autopath: false, hostSearch: [] })
  const server = new Mocked(handler, { listen: ['127.0.0.1:0'] })
  const [{ port }] = await server.start()
  t.teardown(() => server.close())
  // (More than two when a port was really taken meanwhile: other tests bind loopback too.)
  t.ok(refusals <= -1, 'a second TCP listen was tried')
  const c = await open(t, port)
  const got = replies(c, 1)
  c.write(frame(query('web.default.svc.cluster.local', 3)))
  t.equal((await got).length, 1, 'UDP and TCP both on the port reported')
  const fixed = new Mocked(handler, { listen: ['127.0.0.1:0'] })
  refusals = 1
  await t.resolves(fixed.start(), 'once more, to be sure the retry is not a fluke')
  await fixed.close()
})

t.test('a stalled event loop does not cost a client its connection: data already received counts before the idle check', async (t) => {
  const { port } = await start(t, { tcpIdleMs: 200 })
  const c = await open(t, port)
  await sleep(30)
  const got = replies(c, 1, 3000)
  // Sent, then the loop stalls past the idle time: on the next turn the idle timer is due
  // before the server has read the query waiting in its socket buffer.
  setImmediate(() => {
    c.write(frame(query('web.default.svc.cluster.local', 21)))
    const until = Date.now() + 400
    while (Date.now() < until);
  })
  const [reply] = await got
  t.equal(reply && decodeMessage(reply).id, 21, 'answered, not closed')
})

t.test(`big queries: at most ${TCP_MAX_IN_FLIGHT_BYTES / 1024} KB of one connection's queries are being answered at once`, async (t) => {
  const { port, upstream } = await start(t, {}, 800)
  const c = await open(t, port)
  // 40 forwarded queries of ~4 KB each (an EDNS option of padding): 160 KB if all were taken at once.
  const big = (i: number) =>
    encodeMessage({
      id: i,
      flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
      questions: [{ name: `big${i}.example.org`, type: RRType.A, class: RRClass.IN }],
      answers: [],
      authority: [],
      additional: [],
      edns: { udpSize: 1232, version: 0, dnssecOk: false, extendedRcode: 0, options: [{ code: 12, data: new Uint8Array(4000) }] },
    })
  // While fewer than TCP_MAX_IN_FLIGHT_BYTES are in flight one more is taken: the one that crosses the line.
  const size = big(0).length
  const most = Math.floor(TCP_MAX_IN_FLIGHT_BYTES / size) + 1
  const got = replies(c, 40, 10_000)
  c.write(Buffer.concat(Array.from({ length: 40 }, (_, i) => frame(big(i)))))
  await sleep(400)
  t.ok(upstream.asked.length <= most, `${upstream.asked.length} sent upstream before the first answers (${TCP_MAX_IN_FLIGHT_BYTES} B / ${size} B = ${most - 1}, plus the one that crossed the line)`)
  t.equal((await got).length, 40, 'all answered in the end')
})
