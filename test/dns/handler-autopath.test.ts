// The autopath walk through the real handler, forwarder and cache, against an in-process
// upstream on loopback: which upstream rcodes end the walk and which continue it, what a dead
// upstream costs, and how upstream SERVFAILs are cached.
import { execFile } from 'node:child_process'
import t, { type Test } from 'tap'
import { Registry } from 'prom-client'
import { CachedForwarder } from '../../dns/forwarding.ts'
import { defaultForwarderOptions, Forwarder } from '../../dns/forwarder.ts'
import { QueryHandler } from '../../dns/handler.ts'
import { DnsMetrics } from '../../dns/metrics.ts'
import { Rcode, RRClass, RRType, type Message, type ResourceRecord } from '../../dns/records.ts'
import { defaultCacheOptions, ResponseCache, type CacheOptions } from '../../dns/response-cache.ts'
import { DnsServer } from '../../dns/server.ts'
import { decodeMessage, encodeMessage } from '../../dns/wire.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'
import { clock, fakeUpstream, replyTo, type FakeUpstream } from '../helpers/dns.ts'

type Behaviour = 'answer' | 'nodata' | 'nxdomain' | 'servfail' | 'refused' | 'formerr' | 'silent'

/** The fake upstream with a behaviour per lower-case name; names() is what it was asked (every try counts). */
type Upstream = FakeUpstream & { behave: Map<string, Behaviour> }

const soa: ResourceRecord = {
  name: 'example',
  type: RRType.SOA,
  class: RRClass.IN,
  ttl: 300,
  data: { mname: 'ns.example', rname: 'hostmaster.example', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 },
}

/** An upstream on 127.0.0.1 answering each name as `behave` says (default NXDOMAIN with an SOA). */
async function upstream(t: Test): Promise<Upstream> {
  const behave = new Map<string, Behaviour>()
  const fake = await fakeUpstream(t, (q) => {
    const how = behave.get(q.name.toLowerCase()) ?? 'nxdomain'
    if (how === 'silent') return []
    const rcode = { answer: Rcode.NOERROR, nodata: Rcode.NOERROR, nxdomain: Rcode.NXDOMAIN, servfail: Rcode.SERVFAIL, refused: Rcode.REFUSED, formerr: Rcode.FORMERR }[how]
    const answers: ResourceRecord[] = how === 'answer' ? [{ name: q.name, type: RRType.A, class: RRClass.IN, ttl: 60, data: { address: '192.0.2.10' } }] : []
    return [replyTo(q, { rcode, answers, authority: how === 'nodata' || how === 'nxdomain' ? [soa] : [] })]
  })
  return Object.assign(fake, { behave })
}

const pods = [
  { metadata: { name: 'a', namespace: 'team' }, status: { phase: 'Running', podIP: '10.244.0.5' } },
  { metadata: { name: 'b', namespace: 'other' }, status: { phase: 'Running', podIP: '10.244.0.6' } },
  { metadata: { name: 'c', namespace: 'third' }, status: { phase: 'Running', podIP: '10.244.0.7' } },
]
const services = [{ metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80 }] } }]
const index = buildZoneIndex({ services, slices: [], pods }, defaultZoneConfig)

interface Setup {
  up: Upstream
  handler: QueryHandler
  metrics: DnsMetrics
  advance: (ms: number) => void
}

// A generous deadline, so a loaded machine does not make the forwarder ask twice; the tests
// of a silent upstream set a short one.
async function setup(t: Test, opts: { cache?: Partial<CacheOptions>; timeoutMs?: number; hostSearch?: string[] } = {}): Promise<Setup> {
  const up = await upstream(t)
  const c = clock()
  const metrics = new DnsMetrics('dns://:0', { processMetrics: false })
  const forwarder = new Forwarder({ ...defaultForwarderOptions, upstreams: [up.address], timeoutMs: opts.timeoutMs ?? 5000, policy: 'sequential' }, new Registry())
  const forwarding = new CachedForwarder(forwarder, new ResponseCache({ ...defaultCacheOptions, ...opts.cache }, undefined, c.now))
  t.teardown(() => forwarding.close())
  const handler = new QueryHandler(index, { metrics, autopath: true, hostSearch: opts.hostSearch ?? ['corp.example'], forwarding })
  return { up, handler, metrics, advance: c.advance }
}

function query(name: string, type: number = RRType.A, id = 0x4242): Buffer {
  return encodeMessage({
    id,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
  })
}

async function ask(s: Setup, name: string, client = '10.244.0.5', type: number = RRType.A): Promise<Message> {
  const reply = await s.handler.handle(query(name, type), client, 'udp')
  if (!reply) throw new Error(`no reply to ${name}`)
  return decodeMessage(reply)
}

const summary = (m: Message) => ({
  rcode: m.flags.rcode,
  aa: m.flags.aa,
  answers: m.answers.map((r) => `${r.name} ${r.type} ${JSON.stringify(r.data)}`),
})

for (const [how, label] of [
  ['servfail', 'SERVFAIL'],
  ['refused', 'REFUSED'],
  ['formerr', 'FORMERR'],
] as const) {
  t.test(`an upstream ${label} on a search domain ends the walk with SERVFAIL, not NXDOMAIN`, async (t) => {
    const s = await setup(t)
    s.up.behave.set('app.example.corp.example', how)
    s.up.behave.set('app.example', 'answer')
    const m = await ask(s, 'app.example.team.svc.cluster.local')
    t.same(summary(m), { rcode: Rcode.SERVFAIL, aa: false, answers: [] })
    t.same(m.questions[0].name, 'app.example.team.svc.cluster.local', 'the question as asked')
    t.same(s.up.names(), ['app.example.corp.example'], 'the bare name was not asked: the walk ended')
    t.equal((await s.metrics.panics.get()).values[0]?.value ?? 0, 0, 'no panic')
  })
}

t.test('a dead upstream costs one timeout per query, not one per search domain', async (t) => {
  const s = await setup(t, { hostSearch: ['corp.example', 'lab.example'], timeoutMs: 300 })
  s.up.behave.set('slow.example.corp.example', 'silent')
  s.up.behave.set('slow.example.lab.example', 'silent')
  s.up.behave.set('slow.example', 'silent')
  const m = await ask(s, 'slow.example.team.svc.cluster.local')
  t.same(summary(m), { rcode: Rcode.SERVFAIL, aa: false, answers: [] })
  t.same(new Set(s.up.names()), new Set(['slow.example.corp.example']), `only the first outside candidate was sent (${s.up.names().join(', ')})`)
})

t.test('NXDOMAIN upstream continues the walk; the first answer wins behind a CNAME', async (t) => {
  const s = await setup(t)
  s.up.behave.set('ok.example', 'answer')
  const m = await ask(s, 'ok.example.team.svc.cluster.local')
  t.same(summary(m), {
    rcode: Rcode.NOERROR,
    aa: false,
    answers: ['ok.example.team.svc.cluster.local 5 {"target":"ok.example"}', 'ok.example 1 {"address":"192.0.2.10"}'],
  })
  t.same(s.up.names(), ['ok.example.corp.example', 'ok.example'])
})

t.test('NODATA upstream ends the walk with NOERROR and the CNAME alone', async (t) => {
  const s = await setup(t)
  s.up.behave.set('nd.example.corp.example', 'nodata')
  s.up.behave.set('nd.example', 'answer')
  const m = await ask(s, 'nd.example.team.svc.cluster.local')
  t.same(summary(m), { rcode: Rcode.NOERROR, aa: false, answers: ['nd.example.team.svc.cluster.local 5 {"target":"nd.example.corp.example"}'] })
  t.same(s.up.names(), ['nd.example.corp.example'])
})

t.test('every candidate NXDOMAIN: the asked name\'s own NXDOMAIN', async (t) => {
  const s = await setup(t)
  const m = await ask(s, 'gone.example.team.svc.cluster.local')
  t.equal(m.flags.rcode, Rcode.NXDOMAIN)
  t.equal(m.flags.aa, true)
  t.same(s.up.names(), ['gone.example.corp.example', 'gone.example'])
})

t.test('a zone hit ends the walk before anything is forwarded', async (t) => {
  const s = await setup(t)
  const m = await ask(s, 'web.default.team.svc.cluster.local')
  t.same(summary(m).answers, ['web.default.team.svc.cluster.local 5 {"target":"web.default.svc.cluster.local"}', 'web.default.svc.cluster.local 1 {"address":"10.96.0.20"}'])
  t.same(s.up.names(), [])
})

t.test('a candidate too long for a DNS name is skipped, not a server failure', async (t) => {
  const long = 'l'.repeat(40)
  const s = await setup(t, { hostSearch: [`${long}.${long}.${long}.example`, 'corp.example'] })
  // 4 labels of 50 bytes: 204 bytes + `.team.svc.cluster.local` fits, + the 124-byte host domain does not.
  const base = Array.from({ length: 4 }, (_, i) => String(i).repeat(50)).join('.')
  s.up.behave.set(`${base}.corp.example`, 'answer')
  const m = await ask(s, `${base}.team.svc.cluster.local`)
  t.equal(m.flags.rcode, Rcode.NOERROR)
  t.same(m.answers.map((r) => r.name.toLowerCase()), [`${base}.team.svc.cluster.local`, `${base}.corp.example`])
  t.equal((await s.metrics.panics.get()).values[0]?.value ?? 0, 0, 'no panic')
  t.same(s.up.names(), [`${base}.corp.example`])
})

t.test('an upstream SERVFAIL is cached for servfailTtl: the same walk within it asks nobody', async (t) => {
  const s = await setup(t)
  s.up.behave.set('app.example.corp.example', 'servfail')
  s.up.behave.set('app.example', 'answer')
  t.equal((await ask(s, 'app.example.team.svc.cluster.local')).flags.rcode, Rcode.SERVFAIL)
  t.equal((await ask(s, 'app.example.other.svc.cluster.local', '10.244.0.6')).flags.rcode, Rcode.SERVFAIL, 'another pod in another namespace')
  t.equal((await ask(s, 'app.example.corp.example', '10.244.0.6')).flags.rcode, Rcode.SERVFAIL, 'the failing name asked directly')
  t.same(s.up.names(), ['app.example.corp.example'], 'asked upstream once')
  s.advance(5_000)
  s.up.behave.set('app.example.corp.example', 'nxdomain')
  const m = await ask(s, 'app.example.team.svc.cluster.local')
  t.equal(m.flags.rcode, Rcode.NOERROR, 'after 5 s the upstream is asked again')
  t.same(s.up.names(), ['app.example.corp.example', 'app.example.corp.example', 'app.example'])
})

t.test('a dead upstream: pods asking the same name within servfailTtl pay one deadline between them', async (t) => {
  const s = await setup(t, { timeoutMs: 300 })
  s.up.behave.set('down.example.corp.example', 'silent')
  t.equal((await ask(s, 'down.example.team.svc.cluster.local')).flags.rcode, Rcode.SERVFAIL)
  const tries = s.up.names().length
  t.ok(tries >= 1)
  const clients = ['10.244.0.5', '10.244.0.6', '10.244.0.7']
  const namespaces = ['team', 'other', 'third']
  const replies = await Promise.all(clients.map((c, i) => ask(s, `down.example.${namespaces[i]}.svc.cluster.local`, c)))
  t.same(replies.map((m) => m.flags.rcode), [Rcode.SERVFAIL, Rcode.SERVFAIL, Rcode.SERVFAIL])
  t.equal(s.up.names().length, tries, 'answered from the cached SERVFAIL, no new deadline')
})

t.test('servfailTtl 0: every walk asks again', async (t) => {
  const s = await setup(t, { cache: { servfailTtl: 0 } })
  s.up.behave.set('app.example.corp.example', 'servfail')
  await ask(s, 'app.example.team.svc.cluster.local')
  await ask(s, 'app.example.team.svc.cluster.local')
  t.same(s.up.names(), ['app.example.corp.example', 'app.example.corp.example'])
})

t.test('dig through the UDP listener: a dead upstream gives SERVFAIL, not an authoritative NXDOMAIN', async (t) => {
  // dig asks from 127.0.0.1: a pod at that address makes it a pod of `team` to autopath.
  const loopbackIndex = buildZoneIndex({ services, slices: [], pods: [{ metadata: { name: 'dig', namespace: 'team' }, status: { phase: 'Running', podIP: '127.0.0.1' } }] }, defaultZoneConfig)
  const s = await setup(t, { timeoutMs: 300 })
  s.handler.setIndex(loopbackIndex)
  s.up.behave.set('dead.example.corp.example', 'silent')
  s.up.behave.set('dead.example', 'answer')
  const server = new DnsServer(s.handler, { listen: ['127.0.0.1:0'] })
  const [{ port }] = await server.start()
  t.teardown(() => server.close())
  const out = await new Promise<string>((done) =>
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+timeout=5', 'dead.example.team.svc.cluster.local'], (_, stdout) => done(String(stdout))),
  )
  t.match(out, /status: SERVFAIL/, out)
  t.notMatch(/;; flags: ([a-z ]+);/.exec(out)?.[1] ?? '', /\baa\b/, 'not authoritative')
  t.same(new Set(s.up.names()), new Set(['dead.example.corp.example']))
})
