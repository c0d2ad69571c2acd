// The DNS server shell on loopback, with a zone built from objects in memory: replies per
// query (EDNS, truncation, TCP, rcodes for what it does not serve), zone swaps, metrics.
// Hostile input is fuzzed in server.fuzz.test.ts, hostile TCP clients in server-tcp.test.ts.
import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import t from 'tap'
import { questionKey, QueryHandler } from '../../dns/handler.ts'
import { DnsMetrics } from '../../dns/metrics.ts'
import { Rcode, RRType, type Message } from '../../dns/records.ts'
import { DnsServer } from '../../dns/server.ts'
import { frame } from '../../dns/tcp-frames.ts'
import { decodeMessage, encodeMessage } from '../../dns/wire.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'
import { replies } from '../helpers/dns.ts'

function service(name: string, clusterIP: string): any {
  return { metadata: { name, namespace: 'default' }, spec: { clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } }
}

function headless(name: string, addresses: string[]): { svc: any; slice: any } {
  return {
    svc: { metadata: { name, namespace: 'default' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } },
    slice: {
      metadata: { name: `${name}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  }
}

const many = headless('many', Array.from({ length: 60 }, (_, i) => `10.244.1.${i + 1}`))
const zone = (services: any[]) => buildZoneIndex({ services: [...services, many.svc], slices: [many.slice], pods: [] }, defaultZoneConfig)

const metrics = new DnsMetrics('dns://:0')
const handler = new QueryHandler(zone([service('web', '10.96.0.20')]), { metrics, autopath: false, hostSearch: [] })
const server = new DnsServer(handler, { listen: ['127.0.0.1:0'] })
const [{ port }] = await server.start()
t.teardown(() => server.close())
// Every UDP query is asked of the default listener (the batch addon when it is built) and of node:dgram's.
const dgramServer = new DnsServer(handler, { listen: ['127.0.0.1:0'], tcp: false, udpBatch: false })
const [{ port: dgramPort }] = await dgramServer.start()
t.teardown(() => dgramServer.close())

function query(name: string, type: number, opts: { edns?: number; id?: number; version?: number; klass?: number; opcode?: number } = {}): Buffer {
  const msg: Message = {
    id: opts.id ?? 4242,
    flags: { qr: false, opcode: opts.opcode ?? 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type, class: opts.klass ?? 1 }],
    answers: [],
    authority: [],
    additional: [],
    edns: opts.edns ? { udpSize: opts.edns, version: opts.version ?? 0, dnssecOk: false, extendedRcode: 0, options: [] } : undefined,
  }
  return encodeMessage(msg)
}

/** The reply over UDP; throws when the two listeners' replies differ. */
async function ask(bytes: Uint8Array, timeoutMs = 2000): Promise<Buffer | undefined> {
  const [batch, dgram] = await Promise.all([askAt(port, bytes, timeoutMs), askAt(dgramPort, bytes, timeoutMs)])
  if (!(batch === undefined ? dgram === undefined : dgram !== undefined && batch.equals(dgram))) {
    throw new Error(`the listeners replied differently: ${batch?.toString('hex')} and node:dgram ${dgram?.toString('hex')}`)
  }
  return batch
}

function askAt(port: number, bytes: Uint8Array, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((done) => {
    const s = createSocket('udp4')
    const timer = setTimeout(() => {
      s.close()
      done(undefined)
    }, timeoutMs)
    s.on('message', (m) => {
      clearTimeout(timer)
      s.close()
      done(m)
    })
    s.send(bytes, port, '127.0.0.1')
  })
}

async function askTcp(messages: Uint8Array[]): Promise<Buffer[]> {
  const c = connect(port, '127.0.0.1')
  const failed = new Promise<never>((_, fail) => c.on('error', fail))
  const got = replies(c, messages.length)
  // Pipelined in one write: the server must split them.
  c.write(Buffer.concat(messages.map((m) => frame(m))))
  const out = await Promise.race([got, failed])
  c.end()
  return out
}

const dig = (...args: string[]) =>
  new Promise<string>((done) => execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+timeout=3', ...args], (_, out) => done(String(out))))

t.test('an answer keeps the id and the asker\'s case, and echoes EDNS', async (t) => {
  const reply = decodeMessage((await ask(query('WeB.DEFAULT.svc.cluster.local', RRType.A, { edns: 4096, id: 777 })))!)
  t.equal(reply.id, 777)
  t.equal(reply.flags.aa, true)
  t.equal(reply.flags.rd, true)
  t.equal(reply.questions[0].name, 'WeB.DEFAULT.svc.cluster.local')
  t.same(reply.answers.map((r) => (r.data as { address: string }).address), ['10.96.0.20'])
  t.equal(reply.edns?.udpSize, 1232)
})

t.test('a reply too big for UDP is truncated; over TCP it is whole', async (t) => {
  const udp = decodeMessage((await ask(query('many.default.svc.cluster.local', RRType.A)))!)
  t.equal(udp.flags.tc, true)
  t.equal(udp.answers.length, 0)
  const bigger = decodeMessage((await ask(query('many.default.svc.cluster.local', RRType.A, { edns: 1232 })))!)
  t.equal(bigger.flags.tc, false, '60 A records fit in 1232 bytes')
  t.equal(bigger.answers.length, 60)
  const [one, two] = await askTcp([query('many.default.svc.cluster.local', RRType.A, { id: 1 }), query('web.default.svc.cluster.local', RRType.A, { id: 2 })])
  t.equal(decodeMessage(one).answers.length, 60)
  t.equal(decodeMessage(two).id, 2)
  const out = await dig('many.default.svc.cluster.local', '+bufsize=512', '+noall', '+answer')
  t.equal(out.trim().split('\n').length, 60, 'dig retries over TCP after TC')
})

t.test('what the server does not serve gets the right rcode', async (t) => {
  const rcode = async (bytes: Buffer) => {
    const m = decodeMessage((await ask(bytes))!)
    return ((m.edns?.extendedRcode ?? 0) << 4) | m.flags.rcode
  }
  t.equal(await rcode(query('example.com', RRType.A)), Rcode.REFUSED, 'no upstream: names outside the zone are refused')
  t.equal(await rcode(query('web.default.svc.cluster.local', RRType.A, { opcode: 2 })), Rcode.NOTIMP, 'STATUS opcode')
  t.equal(await rcode(query('web.default.svc.cluster.local', RRType.A, { edns: 1232, version: 1 })), Rcode.BADVERS, 'EDNS version 1')
  t.equal(await rcode(query('version.bind', RRType.TXT, { klass: 3 })), Rcode.REFUSED, 'CHAOS class')
  t.equal(await rcode(query('web.default.svc.cluster.local', RRType.AXFR)), Rcode.REFUSED, 'zone transfer')
  t.equal(await rcode(query('web.default.svc.cluster.local', 999)), Rcode.NOERROR, 'an unknown type at an existing name is NODATA')
  const two = query('web.default.svc.cluster.local', RRType.A)
  two.writeUInt16BE(2, 4)
  t.equal(await rcode(two), Rcode.FORMERR, 'two questions')
})

t.test('a new zone is served from the next query on', async (t) => {
  t.equal(decodeMessage((await ask(query('later.default.svc.cluster.local', RRType.A)))!).flags.rcode, Rcode.NXDOMAIN)
  handler.setIndex(zone([service('web', '10.96.0.20'), service('later', '10.96.0.21')]))
  const reply = decodeMessage((await ask(query('later.default.svc.cluster.local', RRType.A)))!)
  t.same(reply.answers.map((r) => (r.data as { address: string }).address), ['10.96.0.21'])
})

t.test('questionKey: one key per question whatever its case, none with a compression pointer', async (t) => {
  const lower = query('web.default.svc.cluster.local', RRType.A)
  const mixed = query('WEB.Default.svc.cluster.local', RRType.A)
  const end = lower.length
  t.equal(questionKey(lower, end), lower.toString('latin1', 12, end))
  t.equal(questionKey(mixed, end), questionKey(lower, end))
  t.not(questionKey(query('web.default.svc.cluster.local', RRType.AAAA), end), questionKey(lower, end))
  const pointer = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0xc0, 12, 0, 1, 0, 1])
  t.equal(questionKey(pointer, pointer.length), undefined)
})

t.test('metrics carry CoreDNS names', async (t) => {
  const text = await metrics.registry.metrics()
  t.match(text, /coredns_dns_requests_total\{server="dns:\/\/:0",zone=".",view="",proto="udp",family="1",type="A"\} \d+/)
  t.match(text, /coredns_dns_responses_total\{server="dns:\/\/:0",zone=".",view="",rcode="NXDOMAIN",plugin="kubernetes"\} \d+/)
  t.match(text, /coredns_dns_request_duration_seconds_bucket\{server="dns:\/\/:0",zone=".",view="",type="A",le="0.00025"\} \d+/)
  t.match(text, /coredns_dns_request_duration_seconds_count\{server="dns:\/\/:0",zone=".",view="",type="A"\} \d+/)
})

t.test('a compression loop gets FORMERR; junk over TCP ends only that connection (the fuzz: server.fuzz.test.ts)', async (t) => {
  const loop = Buffer.from([0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1])
  t.equal(decodeMessage((await ask(loop))!).flags.rcode, Rcode.FORMERR)
  const c = connect(port, '127.0.0.1')
  c.on('error', () => {})
  await new Promise<void>((done) => c.on('connect', () => done()))
  const closed = new Promise<void>((done) => c.on('close', () => done()))
  c.write(Buffer.from([0, 4, 0x80, 0, 0, 0]))
  await closed
  const after = decodeMessage((await ask(query('web.default.svc.cluster.local', RRType.A)))!)
  t.same(after.answers.map((r) => (r.data as { address: string }).address), ['10.96.0.20'], 'still answering')
  t.equal((await metrics.panics.get()).values[0].value, 0, 'no answer failed inside the server')
})

t.test('a malformed EDNS option gets FORMERR even when the question has a remembered reply', async (t) => {
  const good = query('web.default.svc.cluster.local', RRType.A, { edns: 1232 })
  t.equal(decodeMessage((await ask(good))!).flags.rcode, Rcode.NOERROR, 'remembered now')
  // The OPT record's data: one option announcing 0x4c00 bytes where 4 follow.
  const bad = Buffer.concat([good.subarray(0, good.length - 2), Buffer.from([0, 8, 0x61, 0xb0, 0x4c, 0x00, 1, 2, 3, 4])])
  const reply = decodeMessage((await ask(bad))!)
  t.equal(reply.flags.rcode, Rcode.FORMERR)
  t.same(reply.questions, [], 'header only, as for any unreadable query')
})
