// weft load's DNS client: its query (from the project's codec) and id bookkeeping, then on
// loopback against weft's own DNS server (NOERROR, NXDOMAIN, REFUSED outside the zone; dig
// agrees) and a fake server for what the real one does not do (SERVFAIL, TC, other RCODEs,
// answers to another question, malformed answers, wrong ids, silence, duplicates), refused
// ports, many queries in flight on one socket, and close().
import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import t from 'tap'
import { QueryHandler } from '../../dns/handler.ts'
import { DnsMetrics } from '../../dns/metrics.ts'
import { Rcode, RRType } from '../../dns/records.ts'
import { DnsServer } from '../../dns/server.ts'
import { decodeMessage } from '../../dns/wire.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'
import { ID_SPACE, QueryIds } from '../../load/protocols/dns-ids.ts'
import { createDnsClient, EDNS_UDP_SIZE, encodeQuery, questionType } from '../../load/protocols/dns.ts'
import { fakeUpstream, replyTo } from '../helpers/dns.ts'
import { drive, run, sleep, target } from './proto-rig.ts'

const dnsTarget = (port: number, name: string, type = 'A') => target({ protocol: 'dns', endpoints: [{ host: '127.0.0.1', port }], dns: { name, type } })

t.test('query ids: 65536 per socket, released on answer, quarantined after a timeout', async (t) => {
  const ids = new QueryIds<string>(65530)
  const taken = new Set<number>()
  for (let i = 0; i < ID_SPACE; i++) taken.add(ids.take(`q${i}`))
  t.equal(taken.size, ID_SPACE, 'every id once')
  t.ok(ids.full)
  t.equal(ids.take('one too many'), -1)
  ids.release(7)
  t.equal(ids.take('again'), 7, 'a released id is free at once')
  ids.quarantine(8, 1000)
  t.equal(ids.take('blocked'), -1, 'a quarantined id stays taken')
  ids.expire(999)
  t.ok(ids.full)
  ids.expire(1000)
  t.equal(ids.take('after'), 8, 'free once its quarantine ended')
  ids.quarantine(9, 2000)
  ids.release(9)
  t.equal(ids.take('reused'), 9)
  ids.expire(3000)
  t.equal(ids.get(9), 'reused', "an ended quarantine does not free the id's next holder")
})

t.test('the query: the project codec, RD, EDNS0; types by mnemonic or TYPEnnn', async (t) => {
  const { bytes, name, type } = encodeQuery('Web.Default.svc.cluster.local.', 'srv')
  const message = decodeMessage(bytes)
  t.equal(message.id, 0)
  t.equal(message.flags.rd, true)
  t.equal(message.flags.qr, false)
  t.same(message.questions, [{ name: 'Web.Default.svc.cluster.local', type: RRType.SRV, class: 1 }])
  t.equal(message.edns?.udpSize, EDNS_UDP_SIZE)
  t.equal(name, 'web.default.svc.cluster.local')
  t.equal(type, RRType.SRV)
  t.equal(questionType('AAAA'), 28)
  t.equal(questionType('type65'), 65)
  t.throws(() => questionType('AXFR'), /cannot be asked/)
  t.throws(() => questionType('TYPE41'), /cannot be asked/)
  t.throws(() => questionType('TYPE70000'), /not known/)
  t.throws(() => questionType('BOGUS'), /not known; use A, AAAA/)
  t.throws(() => encodeQuery(`${'a'.repeat(64)}.test`, 'A'), /DNS question name: .*longer than 63/)
  t.throws(() => encodeQuery('a..b', 'A'), /empty label/)
  t.throws(() => encodeQuery('', 'A'), /must be a domain name/)
  const sink = { done() {} }
  t.throws(() => createDnsClient({ target: target({ protocol: 'dns', endpoints: [{ host: '127.0.0.1', port: 53 }] }), connections: 1, keepAlive: true, timeoutMs: 100, identifyEndpoints: false, sink }), /needs a question/)
})

function dig(port: number, name: string, type: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('dig', [`@127.0.0.1`, '-p', String(port), '+tries=1', '+time=2', name, type], (err, stdout) => {
      if (err) return reject(err)
      const status = /status: ([A-Z]+)/.exec(stdout)
      if (!status) return reject(new Error(`no status in dig's output: ${stdout}`))
      resolve(status[1])
    }),
  )
}

t.test("weft's DNS server: answers, NXDOMAIN and REFUSED; dig agrees", async (t) => {
  const service = { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } }
  const zone = buildZoneIndex({ services: [service as never], slices: [], pods: [] }, defaultZoneConfig)
  const server = new DnsServer(new QueryHandler(zone, { metrics: new DnsMetrics('dns://:0'), autopath: false, hostSearch: [] }), { listen: ['127.0.0.1:0'] })
  const [{ port }] = await server.start()
  t.teardown(() => server.close())

  const cases: [string, string, string, string][] = [
    ['web.default.svc.cluster.local', 'A', 'ok', 'NOERROR'],
    ['WEB.default.svc.cluster.local.', 'A', 'ok', 'NOERROR'],
    ['_http._tcp.web.default.svc.cluster.local', 'SRV', 'ok', 'NOERROR'],
    ['web.default.svc.cluster.local', 'AAAA', 'ok', 'NOERROR'],
    ['nope.default.svc.cluster.local', 'A', 'dns-nxdomain', 'NXDOMAIN'],
    ['example.com', 'A', 'dns-refused', 'REFUSED'],
  ]
  for (const [name, type, expected, digStatus] of cases) {
    const d = drive(createDnsClient, dnsTarget(port, name, type), { connections: 2, identifyEndpoints: true })
    await run(d, 100)
    await d.client.close()
    t.same(d.collected.tally(), { [expected]: 100 }, `${name} ${type}`)
    t.ok([...d.collected.results.values()].every((o) => o.endpoint === undefined), 'no endpoint for DNS')
    t.equal(await dig(port, name, type), digStatus, `dig agrees on ${name} ${type}`)
  }
})

t.test('a fake server: SERVFAIL, TC, other RCODEs, another question, malformed answers, wrong ids, silence, duplicates', async (t) => {
  const up = await fakeUpstream(t, (q) => {
    const label = q.lowerName.split('.')[0]
    switch (label) {
      case 'servfail':
        return [replyTo(q, { rcode: Rcode.SERVFAIL })]
      case 'notimp':
        return [replyTo(q, { rcode: Rcode.NOTIMP })]
      case 'tc':
        return [replyTo(q, { tc: true })]
      case 'other':
        return [replyTo(q, { name: 'elsewhere.test' })]
      case 'noq':
        return [replyTo(q, { rcode: Rcode.REFUSED, questions: [] })]
      case 'noqok':
        return [replyTo(q, { questions: [] })]
      case 'junk': {
        const reply = replyTo(q)
        return [Buffer.concat([reply, Buffer.from([1, 2, 3])])]
      }
      case 'wrongid':
        // Not an id in flight: ids are taken in sequence, so this one is 32768 away from any.
        return [replyTo(q, { id: q.id ^ 0x8000 })]
      case 'silent':
        return []
      case 'twice':
        return [replyTo(q), replyTo(q, { rcode: Rcode.SERVFAIL })]
      default:
        return [replyTo(q, { answers: [{ name: q.name, type: RRType.A, class: 1, ttl: 5, data: { address: '192.0.2.1' } }] })]
    }
  })
  const cases: [string, string][] = [
    ['fine.test', 'ok'],
    ['servfail.test', 'dns-servfail'],
    ['notimp.test', 'dns-other'],
    ['tc.test', 'dns-other'],
    ['other.test', 'dns-other'],
    ['noq.test', 'dns-refused'],
    ['noqok.test', 'dns-other'],
    ['junk.test', 'protocol'],
    ['wrongid.test', 'timeout'],
    ['silent.test', 'timeout'],
    ['twice.test', 'ok'],
  ]
  for (const [name, expected] of cases) {
    const d = drive(createDnsClient, dnsTarget(up.port, name), { timeoutMs: 300 })
    await run(d, 20)
    await sleep(expected === 'ok' ? 20 : 0)
    await d.client.close()
    t.same(d.collected.tally(), { [expected]: 20 }, name)
    t.same(d.collected.repeated, [], `${name}: one result per query`)
  }
})

t.test('many queries in flight on one socket, each with its own id', async (t) => {
  const up = await fakeUpstream(t, (q) => new Promise((resolve) => setTimeout(() => resolve([replyTo(q)]), 200)))
  const d = drive(createDnsClient, dnsTarget(up.port, 'many.test'))
  t.teardown(() => d.client.close())
  for (let batch = 0; batch < 10; batch++) {
    for (let i = 0; i < 100; i++) d.client.send(batch * 100 + i)
    await sleep(5)
  }
  t.ok(d.client.inFlight > 500, `queries wait for answers together (${d.client.inFlight} in flight)`)
  await d.collected.waitFor(1000)
  t.same(d.collected.tally(), { ok: 1000 })
  const ids = new Set(up.asked.map((a) => a.id))
  t.equal(ids.size, up.asked.length, 'no id was used twice')
  t.equal(new Set(up.asked.map((a) => a.port)).size, 1, 'all on one socket')
})

t.test('a closed port: refused; close() reports nothing more', async (t) => {
  const probe = createSocket('udp4')
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve))
  const port = probe.address().port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  const refused = drive(createDnsClient, dnsTarget(port, 'web.test'), { connections: 2, timeoutMs: 3000 })
  await run(refused, 50)
  await refused.client.close()
  t.same(refused.collected.tally(), { refused: 50 })

  const up = await fakeUpstream(t, () => [])
  const d = drive(createDnsClient, dnsTarget(up.port, 'silent.test'), { timeoutMs: 200 })
  for (let i = 0; i < 10; i++) d.client.send(i)
  while (up.asked.length < 10) await sleep(5)
  await d.client.close()
  t.equal(d.client.inFlight, 0)
  await sleep(300)
  t.equal(d.collected.results.size, 0)
})
