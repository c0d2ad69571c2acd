// The batch UDP path: replies written into one reused buffer (QueryHandler.answerUdp, the
// addon's slots), and the listener over loopback against the replies handle() gives. The
// listener cases need the addon (dns/native, built by npm install); the reply-buffer cases
// do not.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import t from 'tap'
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node'
import { Registry } from 'prom-client'
import { CachedForwarder } from '../../dns/forwarding.ts'
import { defaultForwarderOptions, Forwarder } from '../../dns/forwarder.ts'
import { QueryHandler } from '../../dns/handler.ts'
import { DnsMetrics } from '../../dns/metrics.ts'
import { Rcode, RRType, type Edns } from '../../dns/records.ts'
import { defaultCacheOptions, ResponseCache } from '../../dns/response-cache.ts'
import { DnsServer } from '../../dns/server.ts'
import { udpBatchAddon } from '../../dns/udp-batch.ts'
import { decodeMessage, encodeMessage } from '../../dns/wire.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'
import { fakeUpstream, replyTo } from '../helpers/dns.ts'

const Z = 'cluster.local'
const endpoints = Array.from({ length: 60 }, (_, i) => ({ addresses: [`10.244.1.${i + 1}`], hostname: `h${i}` }))
const services: V1Service[] = [
  { metadata: { namespace: 'default', name: 'web' }, spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::a'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
  { metadata: { namespace: 'default', name: 'many' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } },
  { metadata: { namespace: 'default', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } },
]
const slices: V1EndpointSlice[] = [
  { metadata: { namespace: 'default', name: 'many-a', labels: { 'kubernetes.io/service-name': 'many' } }, addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints },
]
const index = () => buildZoneIndex({ services, slices, pods: [] }, defaultZoneConfig)
const handlerFor = (forwarding?: CachedForwarder) => new QueryHandler(index(), { metrics: new DnsMetrics('dns://:0', { processMetrics: false }), autopath: false, hostSearch: [], forwarding })

const edns = (dnssecOk: boolean, udpSize = 1232): Edns => ({ udpSize, version: 0, dnssecOk, extendedRcode: 0, options: [] })
function query(id: number, name: string, type: number, e?: Edns, rd = true): Buffer {
  return encodeMessage({ id, flags: { qr: false, opcode: 0, aa: false, tc: false, rd, ra: false, ad: false, cd: false, rcode: 0 }, questions: [{ name, type, class: 1 }], answers: [], authority: [], additional: [], edns: e })
}

/** Long and short answers in turn, with and without EDNS, truncated and not. */
const cases: Buffer[] = [
  query(1, `many.default.svc.${Z}`, RRType.A, edns(false, 4096)), // 60 A records
  query(2, `nope.default.svc.${Z}`, RRType.A), // NXDOMAIN: header, question and SOA
  query(3, `_http._tcp.many.default.svc.${Z}`, RRType.SRV, edns(true)), // 60 SRV + 60 A: over 1232, truncated
  query(4, `WEB.default.svc.${Z}`, RRType.AAAA, undefined, false),
  query(5, `many.default.svc.${Z}`, RRType.A), // no EDNS: over 512, truncated
  query(6, `ext.default.svc.${Z}`, RRType.CNAME, edns(true)),
  query(7, `10.0.96.10.in-addr.arpa`, RRType.PTR),
  query(8, `h7.many.default.svc.${Z}`, RRType.A, edns(false)),
  query(9, `web.default.svc.${Z}`, RRType.TXT),
]

t.test('answerUdp writes every byte of a reply into a buffer that held a longer one', async (t) => {
  const h = handlerFor()
  const expected = cases.map((q) => h.handle(q, '127.0.0.1', 'udp') as Buffer)
  // Two reused buffers with different leftovers: a byte the reply does not write shows as a difference.
  const zeros = Buffer.alloc(4096)
  const ones = Buffer.alloc(4096, 0xff)
  for (let round = 0; round < 2; round++) {
    cases.forEach((q, i) => {
      const n = h.answerUdp(q, q.length, zeros, false)
      t.equal(n, expected[i].length, `case ${i + 1}: the reply's length`)
      t.equal(h.answerUdp(q, q.length, ones, false), n)
      t.same(zeros.subarray(0, n), expected[i], `case ${i + 1}: the same bytes as handle()`)
      t.same(ones.subarray(0, n), zeros.subarray(0, n), `case ${i + 1}: nothing left over from the previous reply`)
      const m = decodeMessage(zeros.subarray(0, n))
      t.equal(m.id, q.readUInt16BE(0))
    })
  }
  t.ok(expected[0].length > 900 && expected[1].length < 200, 'a long answer is followed by a short one')
  t.equal(decodeMessage(expected[2]).flags.tc, true, 'an answer over the advertised size is truncated')
  t.ok(expected[2].length <= 1232)
})

t.test('answerUdp reads only the query bytes it is given: a slot with a longer query behind it', async (t) => {
  const h = handlerFor()
  const q = query(9, `web.default.svc.${Z}`, RRType.A)
  h.handle(q, '127.0.0.1', 'udp')
  const slot = Buffer.alloc(4096, 0x41)
  q.copy(slot)
  const out = Buffer.alloc(4096)
  const n = h.answerUdp(slot, q.length, out, false)
  t.same(out.subarray(0, n), h.handle(q, '127.0.0.1', 'udp'))
  t.equal(h.answerUdp(slot, q.length + 1, out, false), -1, 'a byte after the question is not a plain query: the slow path answers it')
  t.equal(h.answerUdp(query(1, `unseen.default.svc.${Z}`, RRType.A), 45, out, false), -1, 'a question not answered before goes to handle()')
})

const addon = udpBatchAddon()

function collect(socket: UdpSocket, count: number, ms = 3000): Promise<Map<number, Buffer>> {
  return new Promise((resolve) => {
    const got = new Map<number, Buffer>()
    const done = () => {
      clearTimeout(timer)
      socket.off('message', onMessage)
      resolve(got)
    }
    const timer = setTimeout(done, ms)
    const onMessage = (m: Buffer) => {
      got.set(m.readUInt16BE(0), m)
      if (got.size >= count) done()
    }
    socket.on('message', onMessage)
  })
}

t.test('the batch listener answers a burst with the replies handle() gives', { skip: addon ? false : 'the UDP batch addon is not built (npm install builds it)' }, async (t) => {
  const upstream = await fakeUpstream(t, (q) => [replyTo(q, { answers: [{ name: q.name, type: RRType.A, class: 1, ttl: 30, data: { address: '192.0.2.7' } }] })])
  const forwarding = new CachedForwarder(new Forwarder({ ...defaultForwarderOptions, upstreams: [upstream.address] }, new Registry()), new ResponseCache(defaultCacheOptions, undefined))
  t.teardown(() => forwarding.close())
  const h = handlerFor(forwarding)
  const server = new DnsServer(h, { listen: ['127.0.0.1:0', '[::1]:0'], tcp: false })
  t.equal(server.udpBatch, true)
  const [v4, v6] = await server.start()
  t.teardown(() => server.close())
  const reference = handlerFor(forwarding)

  const burst: Buffer[] = []
  for (let round = 0; round < 8; round++) cases.forEach((q, i) => burst.push(withId(q, 100 + round * cases.length + i)))
  // Slow paths in the same batches: an opcode the fast path does not take, an upstream name (answered later).
  const notify = withId(query(0, `web.default.svc.${Z}`, RRType.A), 900)
  notify[2] = 0x20
  const outside = withId(query(0, 'www.example.org', RRType.A), 901)
  burst.push(notify, outside)

  for (const [address, port, type] of [['127.0.0.1', v4.port, 'udp4'], ['::1', v6.port, 'udp6']] as const) {
    const client = createSocket(type)
    await new Promise<void>((resolve) => client.bind(0, address, resolve))
    const replies = collect(client, burst.length)
    // Sent within one turn: they wait in the socket and are read in batches.
    for (const q of burst) client.send(q, port, address)
    const got = await replies
    client.close()
    t.equal(got.size, burst.length, `${address}: every query answered`)
    for (const q of burst) {
      const id = q.readUInt16BE(0)
      if (id === 901) {
        t.same(decodeMessage(got.get(id)!).answers.map((a) => (a.data as { address: string }).address), ['192.0.2.7'], `${address}: the forwarded answer`)
        continue
      }
      t.same(got.get(id), reference.handle(q, address, 'udp'), `${address}: query ${id}`)
    }
    t.equal(decodeMessage(got.get(900)!).flags.rcode, Rcode.NOTIMP)
  }
})

function withId(q: Buffer, id: number): Buffer {
  const copy = Buffer.from(q)
  copy.writeUInt16BE(id, 0)
  return copy
}

t.test('the batch listener drops a datagram longer than its slot and answers the next', { skip: addon ? false : 'the UDP batch addon is not built' }, async (t) => {
  const h = handlerFor()
  const server = new DnsServer(h, { listen: ['127.0.0.1:0'], tcp: false })
  const [{ port }] = await server.start()
  t.teardown(() => server.close())
  const client = createSocket('udp4')
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve))
  t.teardown(() => client.close())
  const q = query(1, `web.default.svc.${Z}`, RRType.A)
  const big = Buffer.concat([q, Buffer.alloc(5000)])
  big.writeUInt16BE(2, 0)
  const replies = collect(client, 2, 1000)
  client.send(big, port, '127.0.0.1')
  client.send(q, port, '127.0.0.1')
  const got = await replies
  t.same([...got.keys()], [1])
})

t.test('a closed batch listener answers nothing, also not a reply that comes back from upstream later', { skip: addon ? false : 'the UDP batch addon is not built' }, async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  const upstream = await fakeUpstream(t, async (q) => {
    await held
    return [replyTo(q)]
  })
  const forwarding = new CachedForwarder(new Forwarder({ ...defaultForwarderOptions, upstreams: [upstream.address] }, new Registry()), new ResponseCache(defaultCacheOptions, undefined))
  t.teardown(() => forwarding.close())
  const server = new DnsServer(handlerFor(forwarding), { listen: ['127.0.0.1:0'], tcp: false })
  const [{ port }] = await server.start()
  const client = createSocket('udp4')
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve))
  t.teardown(() => client.close())
  const replies = collect(client, 1, 1000)
  client.send(query(5, 'slow.example.org', RRType.A), port, '127.0.0.1')
  while (upstream.names().length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  await server.close()
  release()
  t.equal((await replies).size, 0)
})

t.test('the batch listener hands the client address on as node:dgram does (autopath finds the pod by it)', { skip: addon ? false : 'the UDP batch addon is not built' }, async (t) => {
  const pods = [
    { metadata: { name: 'v4', namespace: 'team' }, status: { phase: 'Running', podIP: '127.0.0.1' } },
    { metadata: { name: 'v6', namespace: 'team' }, status: { phase: 'Running', podIP: '::1' } },
  ]
  const h = new QueryHandler(buildZoneIndex({ services, slices, pods }, defaultZoneConfig), { metrics: new DnsMetrics('dns://:0', { processMetrics: false }), autopath: true, hostSearch: [] })
  const batch = new DnsServer(h, { listen: ['127.0.0.1:0', '[::1]:0', '[::]:0'], tcp: false })
  const dgram = new DnsServer(h, { listen: ['127.0.0.1:0', '[::1]:0', '[::]:0'], tcp: false, udpBatch: false })
  const b = await batch.start()
  const d = await dgram.start()
  t.teardown(async () => {
    await batch.close()
    await dgram.close()
  })
  const ask = async (port: number, from: string, type: 'udp4' | 'udp6', to: string): Promise<Buffer | undefined> => {
    const client = createSocket(type)
    await new Promise<void>((resolve) => client.bind(0, from, resolve))
    const got = collect(client, 1, 2000)
    // A pod of `team` asks for web.default with its first search domain appended.
    client.send(query(77, `web.default.team.svc.${Z}`, RRType.A), port, to)
    const reply = (await got).get(77)
    client.close()
    return reply
  }
  for (const [i, from, type, to] of [[0, '127.0.0.1', 'udp4', '127.0.0.1'], [1, '::1', 'udp6', '::1'], [2, '127.0.0.1', 'udp4', '127.0.0.1']] as const) {
    const viaBatch = await ask(b[i].port, from, type, to)
    const viaDgram = await ask(d[i].port, from, type, to)
    t.ok(viaBatch, `${b[i].host}: answered`)
    t.same(viaBatch, viaDgram, `${b[i].host} from ${from}: the same reply as node:dgram`)
    if (i < 2) t.same(decodeMessage(viaBatch!).answers.map((a) => a.type), [RRType.CNAME, RRType.A], `${b[i].host}: autopath knew the pod at ${from}`)
  }
})
