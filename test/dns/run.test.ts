// `startDns` as `weft dns` runs it, against a real API server, with two query threads on
// loopback: readiness, answers from every thread, a new Service seen by all of them, one
// shared cache for forwarded names, and metrics summed over the threads.
import { createSocket } from 'node:dgram'
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { Rcode, RRType } from '../../dns/records.ts'
import { defaultDnsConfig, startDns } from '../../dns/run.ts'
import { decodeMessage, encodeMessage } from '../../dns/wire.ts'
import { logger } from '../../src/util/log.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { fakeUpstream, replyTo } from '../helpers/dns.ts'

const serviceInfo = resources.find((r) => r.kind === 'Service')!

function query(name: string, id: number): Buffer {
  return encodeMessage({
    id,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type: RRType.A, class: 1 }],
    answers: [],
    authority: [],
    additional: [],
  })
}

/** Each query from a socket of its own, so SO_REUSEPORT spreads them over the threads. */
function ask(port: number, name: string, id = 1): Promise<ReturnType<typeof decodeMessage> | undefined> {
  return new Promise((done) => {
    const s = createSocket('udp4')
    const timer = setTimeout(() => {
      s.close()
      done(undefined)
    }, 3000)
    s.on('message', (m) => {
      clearTimeout(timer)
      s.close()
      done(decodeMessage(m))
    })
    s.send(query(name, id), port, '127.0.0.1')
  })
}

const addresses = (m: ReturnType<typeof decodeMessage> | undefined) => (m?.answers ?? []).filter((r) => r.type === RRType.A).map((r) => (r.data as { address: string }).address)

// A stand-in upstream on loopback: every name has 192.0.2.1; it counts what it is asked.
const upstream = await fakeUpstream(t, (q) => [replyTo(q, { answers: [{ name: q.name, type: RRType.A, class: 1, ttl: 300, data: { address: '192.0.2.1' } }] })])

const server = await startTestServer(t)
const client = new RestClient(server.address)
t.teardown(() => client.destroy())
const dns = await startDns(
  {
    ...defaultDnsConfig,
    listen: ['127.0.0.1:0'],
    upstreams: [upstream.address],
    autopath: false,
    threads: 2,
    healthListen: '',
    readyListen: '127.0.0.1:0',
    metricsListen: '127.0.0.1:0',
  },
  client,
  logger('dns-test'),
)
t.teardown(() => dns.stop())
const port = dns.addresses[0].port
const [readyPort, metricsPort] = dns.httpPorts

t.test('ready once loaded; every thread answers the zone', async (t) => {
  const ready = await fetch(`http://127.0.0.1:${readyPort}/ready`)
  t.equal(ready.status, 200)
  const replies = await Promise.all(Array.from({ length: 24 }, (_, i) => ask(port, 'kubernetes.default.svc.cluster.local', i)))
  t.ok(replies.every((r) => addresses(r)[0] === '10.96.0.1'), 'all 24 answered with the kubernetes Service')
})

t.test('a new Service reaches every thread', async (t) => {
  const svc = await client.create<any>(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'fresh', namespace: 'default' }, spec: { ports: [{ port: 80 }] } })
  let replies: Awaited<ReturnType<typeof ask>>[] = []
  for (let attempt = 0; attempt < 50; attempt++) {
    replies = await Promise.all(Array.from({ length: 16 }, (_, i) => ask(port, 'fresh.default.svc.cluster.local', i)))
    if (replies.every((r) => addresses(r)[0] === svc.spec.clusterIP)) break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.ok(replies.every((r) => addresses(r)[0] === svc.spec.clusterIP), 'all 16 answered with its ClusterIP')
})

t.test('forwarded names share one cache across the threads', async (t) => {
  upstream.asked.length = 0
  const first = await ask(port, 'www.example.org')
  t.same(addresses(first), ['192.0.2.1'])
  t.equal(first?.flags.rcode, Rcode.NOERROR)
  const more = await Promise.all(Array.from({ length: 16 }, (_, i) => ask(port, 'www.example.org', i)))
  t.ok(more.every((r) => addresses(r)[0] === '192.0.2.1'), 'all answered')
  t.same(upstream.asked.map((a) => a.name), ['www.example.org'], 'the upstream was asked once')
  t.ok(more.every((r) => r!.answers[0].ttl <= 30), 'TTLs capped at the 30 s success cap')
})

t.test('metrics are summed over the threads', async (t) => {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const total = [...text.matchAll(/^coredns_dns_requests_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0)
  t.ok(total >= 24 + 16 + 17, `${total} requests counted`)
  t.match(text, /coredns_cache_hits_total\{server="dns:\/\/:0",type="success"\} 16/)
  t.match(text, /coredns_forward_requests_total\{to="127\.0\.0\.1:\d+"\} 1/)
  t.match(text, /process_cpu_seconds_total/)
})
