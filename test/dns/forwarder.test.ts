import t, { type Test } from 'tap'
import { createSocket } from 'node:dgram'
import { Registry } from 'prom-client'
import { defaultForwarderOptions, Forwarder, type ForwarderOptions } from '../../dns/forwarder.ts'
import { Rcode, RRClass, RRType, type Edns, type Message } from '../../dns/records.ts'
import { parseUpstream } from '../../dns/upstream.ts'
import { decodeMessage, encodeMessage, parseQuery, type ParsedQuery } from '../../dns/wire.ts'
import { fakeUpstream as fake, replyTo, type UpstreamBehaviour } from '../helpers/dns.ts'

/** Answers every A query with `address`. */
const answers = (address: string): UpstreamBehaviour => (q) => [replyTo(q, { answers: [{ name: q.name, type: RRType.A, class: RRClass.IN, ttl: 30, data: { address } }] })]
const silent: UpstreamBehaviour = () => []

function query(name: string, id = 0x1234, edns?: Edns): { bytes: Buffer; query: ParsedQuery } {
  const bytes = encodeMessage({
    id,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type: RRType.A, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
    edns,
  })
  return { bytes, query: parseQuery(bytes) }
}

function forwarder(t: Test, options: Partial<ForwarderOptions> & { upstreams: string[] }, registry?: Registry): Forwarder {
  const f = new Forwarder({ ...defaultForwarderOptions, ...options }, registry)
  t.teardown(() => f.close())
  return f
}

async function ask(f: Forwarder, name: string, id = 0x1234, edns?: Edns): Promise<Message> {
  const q = query(name, id, edns)
  return decodeMessage(await f.forward(q.bytes, q.query))
}

const addressOf = (m: Message) => (m.answers[0]?.data as { address: string } | undefined)?.address

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

t.test('forwards a query and restores its id', async (t) => {
  const up = await fake(t, answers('192.0.2.1'))
  const f = forwarder(t, { upstreams: [up.address] })
  const replies = await Promise.all([0x1234, 0x1234, 0x1234, 0x1234].map((id) => ask(f, 'Example.com', id)))
  for (const m of replies) {
    t.equal(m.id, 0x1234)
    t.equal(m.flags.rcode, Rcode.NOERROR)
    t.equal(addressOf(m), '192.0.2.1')
    t.equal(m.questions[0].name, 'Example.com')
  }
  t.equal(up.asked.length, 4)
  t.ok(up.asked.some((s) => s.id !== 0x1234), 'the upstream saw fresh ids')
  t.equal(new Set(up.asked.map((s) => s.id)).size > 1, true, 'a different id per exchange')
})

t.test('UDP source ports rotate: 4 sockets, 100 exchanges each', async (t) => {
  const up = await fake(t, answers('192.0.2.1'))
  const f = forwarder(t, { upstreams: [up.address] })
  for (let i = 0; i < 500; i += 50) await Promise.all(Array.from({ length: 50 }, () => ask(f, 'example.com')))
  t.equal(up.asked.length, 500)
  t.equal(new Set(up.asked.slice(0, 400).map((s) => s.port)).size, 4, 'the first 400 from 4 ports')
  t.ok(new Set(up.asked.map((s) => s.port)).size > 4, 'then fresh ones')
})

t.test('policies order the upstreams', async (t) => {
  const ups = await Promise.all(['192.0.2.1', '192.0.2.2', '192.0.2.3'].map((a) => fake(t, answers(a))))
  const upstreams = ups.map((u) => u.address)
  const reset = () => ups.forEach((u) => (u.asked.length = 0))

  const seq = forwarder(t, { upstreams, policy: 'sequential' })
  for (let i = 0; i < 6; i++) t.equal(addressOf(await ask(seq, 'example.com')), '192.0.2.1')
  t.same(ups.map((u) => u.asked.length), [6, 0, 0], 'sequential: always the first')

  reset()
  const rr = forwarder(t, { upstreams, policy: 'round_robin' })
  const order: (string | undefined)[] = []
  for (let i = 0; i < 6; i++) order.push(addressOf(await ask(rr, 'example.com')))
  t.same(order, ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.1', '192.0.2.2', '192.0.2.3'], 'round_robin: rotating')

  reset()
  const random = forwarder(t, { upstreams, policy: 'random' })
  for (let i = 0; i < 60; i++) await ask(random, 'example.com')
  t.ok(
    ups.every((u) => u.asked.length > 0),
    `random: every upstream asked (${ups.map((u) => u.asked.length).join('/')})`,
  )
})

t.test('a silent upstream gives way to the next one', async (t) => {
  const quiet = await fake(t, silent)
  const good = await fake(t, answers('192.0.2.2'))
  const f = forwarder(t, { upstreams: [quiet.address, good.address], policy: 'sequential', timeoutMs: 1000 })
  const m = await ask(f, 'example.com')
  t.equal(addressOf(m), '192.0.2.2')
  t.equal(quiet.asked.length, 1)
  t.equal(f.upstreams[0].fails, 1, 'the silent one counted a failure')
})

t.test('a slow reply past its slice still wins while the retry is out', async (t) => {
  const slow = await fake(t, async (q) => {
    await sleep(600)
    return answers('192.0.2.5')(q, 'udp')
  })
  // One upstream gets two tries of half the deadline each: the retry goes out at 500 ms.
  const f = forwarder(t, { upstreams: [slow.address], timeoutMs: 1000 })
  const m = await ask(f, 'example.com')
  t.equal(addressOf(m), '192.0.2.5')
  t.equal(slow.asked.length, 2, 'retried after the first slice')
  t.equal(f.upstreams[0].fails, 0, 'an answer is no failure')
})

t.test('an unreachable upstream (ICMP port unreachable) fails over', async (t) => {
  const closed = createSocket('udp4')
  await new Promise<void>((resolve) => closed.bind(0, '127.0.0.1', resolve))
  const deadPort = closed.address().port
  await new Promise<void>((resolve) => closed.close(resolve))
  const good = await fake(t, answers('192.0.2.2'))
  // A long slice: only the unreachable error, not the slice timer, can move on in time.
  const f = forwarder(t, { upstreams: [`127.0.0.1:${deadPort}`, good.address], policy: 'sequential', timeoutMs: 20_000 })
  const started = Date.now()
  const m = await ask(f, 'example.com')
  t.equal(addressOf(m), '192.0.2.2')
  t.equal(f.upstreams[0].fails, 1)
  t.ok(Date.now() - started < 10_000, 'did not wait for the slice')
})

t.test('every upstream silent: SERVFAIL by the deadline', async (t) => {
  const ups = await Promise.all([fake(t, silent), fake(t, silent)])
  const f = forwarder(t, { upstreams: ups.map((u) => u.address), timeoutMs: 300 })
  const edns: Edns = { udpSize: 4096, version: 0, dnssecOk: true, extendedRcode: 0, options: [] }
  const started = Date.now()
  const m = await ask(f, 'Example.com', 0x4321, edns)
  const elapsed = Date.now() - started
  t.equal(m.flags.rcode, Rcode.SERVFAIL)
  t.equal(m.id, 0x4321)
  t.ok(m.flags.qr && m.flags.ra && m.flags.rd)
  t.same(m.questions, [{ name: 'Example.com', type: RRType.A, class: RRClass.IN }])
  t.same([m.answers.length, m.authority.length, m.additional.length], [0, 0, 0])
  t.equal(m.edns?.dnssecOk, true, 'keeps an OPT record with DO')
  t.ok(elapsed >= 250 && elapsed < 300 + 1500, `answered after ${elapsed} ms`)
  t.same(ups.map((u) => u.asked.length), [1, 1], 'each tried once')
})

t.test('after maxFails an upstream is down, probed, and back up when it answers', async (t) => {
  const flaky = await fake(t, silent)
  const good = await fake(t, answers('192.0.2.2'))
  const registry = new Registry()
  const f = forwarder(t, { upstreams: [flaky.address, good.address], policy: 'sequential', timeoutMs: 400, maxFails: 2, healthCheckMs: 50 }, registry)
  await ask(f, 'one.example.com')
  t.equal(f.upstreams[0].down, false, 'one failure: still up')
  await ask(f, 'two.example.com')
  t.equal(f.upstreams[0].down, true, 'two failures: down')

  await until('a probe', () => flaky.asked.some((s) => s.name === '' && s.type === RRType.NS))
  const probe = flaky.asked.find((s) => s.name === '')!
  t.equal(probe.rd, false, 'the probe is `. IN NS` with RD off')
  t.same(good.asked.filter((s) => s.name === ''), [], 'an upstream that is up is not probed')

  const before = flaky.asked.filter((s) => s.name !== '').length
  t.equal(addressOf(await ask(f, 'three.example.com')), '192.0.2.2')
  t.equal(flaky.asked.filter((s) => s.name !== '').length, before, 'a down upstream is skipped')

  const failedProbes = new RegExp(`coredns_forward_healthcheck_failures_total\\{to="${flaky.address}"\\} [1-9]`)
  await until('a failed probe counted', async () => failedProbes.test(await registry.metrics()))
  flaky.behaviour = answers('192.0.2.1')
  await until('recovery', () => !f.upstreams[0].down)
  t.equal(addressOf(await ask(f, 'four.example.com')), '192.0.2.1', 'back in use')
  const probes = flaky.asked.filter((s) => s.name === '').length
  await sleep(200)
  t.equal(flaky.asked.filter((s) => s.name === '').length, probes, 'no probes once up')
})

t.test('over maxConcurrent, REFUSED at once', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  const slow = await fake(t, async (q) => {
    await gate
    return answers('192.0.2.1')(q, 'udp')
  })
  const registry = new Registry()
  const f = forwarder(t, { upstreams: [slow.address], maxConcurrent: 2, timeoutMs: 5000 }, registry)
  const first = Promise.all([ask(f, 'a.example.com'), ask(f, 'b.example.com')])
  const third = await ask(f, 'c.example.com', 0x7777)
  t.equal(third.flags.rcode, Rcode.REFUSED)
  t.equal(third.id, 0x7777)
  release()
  t.same((await first).map((m) => m.flags.rcode), [Rcode.NOERROR, Rcode.NOERROR])
  t.match(await registry.metrics(), /coredns_forward_max_concurrent_rejects_total 1/)
  t.equal((await ask(f, 'd.example.com')).flags.rcode, Rcode.NOERROR, 'room again')
})

t.test('a truncated UDP reply is redone over TCP', async (t) => {
  const up = await fake(t, (q, transport) => (transport === 'udp' ? [replyTo(q, { tc: true })] : answers('192.0.2.9')(q, transport)))
  const f = forwarder(t, { upstreams: [up.address] })
  const m = await ask(f, 'big.example.com', 0x0abc)
  t.equal(m.id, 0x0abc)
  t.equal(m.flags.tc, false)
  t.equal(addressOf(m), '192.0.2.9')
  t.same(up.asked.map((s) => s.transport), ['udp', 'tcp'])
  t.equal(up.asked[0].id, up.asked[1].id, 'the same exchange id over both')
})

t.test('a truncated UDP reply cut off in the middle of a record is still redone over TCP', async (t) => {
  // TC with the records cut short, as a server that truncates at the byte limit sends it: not
  // a readable message, but the signal to ask over TCP all the same.
  const cut = (q: ParsedQuery) => {
    const whole = replyTo(q, { tc: true, answers: [{ name: q.name, type: RRType.A, class: RRClass.IN, ttl: 30, data: { address: '192.0.2.9' } }] })
    return whole.subarray(0, whole.length - 3)
  }
  const up = await fake(t, (q, transport) => (transport === 'udp' ? [cut(q)] : answers('192.0.2.9')(q, transport)))
  const f = forwarder(t, { upstreams: [up.address], timeoutMs: 2000 })
  const m = await ask(f, 'big.example.com')
  t.equal(addressOf(m), '192.0.2.9')
  t.same(up.asked.map((s) => s.transport), ['udp', 'tcp'])
})

t.test('replies with the wrong id, question or source are ignored', async (t) => {
  const stranger = createSocket('udp4')
  await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.1', resolve))
  t.teardown(() => stranger.close())
  let clientPort = 0
  const up = await fake(t, (q) => [
    replyTo(q, { id: (q.id + 1) & 0xffff, answers: [{ name: q.name, type: RRType.A, class: 1, ttl: 1, data: { address: '198.51.100.1' } }] }),
    replyTo(q, { name: 'evil.example.com', answers: [{ name: q.name, type: RRType.A, class: 1, ttl: 1, data: { address: '198.51.100.2' } }] }),
    replyTo(q, { answers: [{ name: 'EXAMPLE.com', type: RRType.A, class: 1, ttl: 1, data: { address: '192.0.2.1' } }], name: q.name.toUpperCase() }),
  ])
  // Replies from another port, sent before the real ones, must not be taken either.
  up.udp.prependListener('message', (raw, rinfo) => {
    clientPort = rinfo.port
    const q = parseQuery(raw)
    stranger.send(replyTo(q, { answers: [{ name: q.name, type: RRType.A, class: 1, ttl: 1, data: { address: '198.51.100.3' } }] }), clientPort, '127.0.0.1')
  })
  const f = forwarder(t, { upstreams: [up.address], timeoutMs: 2000 })
  const m = await ask(f, 'example.com')
  t.equal(addressOf(m), '192.0.2.1', 'only the matching reply (question case aside) is taken')
  t.equal(m.id, 0x1234)
  t.not(clientPort, 0)
})

t.test('close() answers queries in flight with SERVFAIL', async (t) => {
  const up = await fake(t, silent)
  const f = forwarder(t, { upstreams: [up.address], timeoutMs: 60_000 })
  const pending = ask(f, 'example.com')
  await until('the query sent', () => up.asked.length === 1)
  await f.close()
  t.equal((await pending).flags.rcode, Rcode.SERVFAIL)
  t.equal((await ask(f, 'example.com')).flags.rcode, Rcode.SERVFAIL, 'and later ones')
})

t.test('metrics carry CoreDNS names', async (t) => {
  const up = await fake(t, (q) => (q.name.startsWith('nx') ? [replyTo(q, { rcode: Rcode.NXDOMAIN })] : answers('192.0.2.1')(q, 'udp')))
  const registry = new Registry()
  const f = forwarder(t, { upstreams: [up.address] }, registry)
  await ask(f, 'example.com')
  await ask(f, 'nx.example.com')
  const text = await registry.metrics()
  const to = `to="${up.address}"`
  t.match(text, new RegExp(`coredns_forward_requests_total\\{${to}\\} 2`))
  t.match(text, new RegExp(`coredns_forward_responses_total\\{${to},rcode="NOERROR"\\} 1`))
  t.match(text, new RegExp(`coredns_forward_responses_total\\{${to},rcode="NXDOMAIN"\\} 1`))
  t.match(text, new RegExp(`coredns_forward_request_duration_seconds_count\\{${to},rcode="NOERROR"\\} 1`))
  t.match(text, /# TYPE coredns_forward_healthcheck_failures_total counter/)
  t.match(text, /coredns_forward_max_concurrent_rejects_total 0/)
})

t.test('upstream specs are validated', async (t) => {
  t.same(parseUpstream('10.0.0.10'), { host: '10.0.0.10', port: 53, family: 4, label: '10.0.0.10:53' })
  t.same(parseUpstream('10.0.0.10:5353'), { host: '10.0.0.10', port: 5353, family: 4, label: '10.0.0.10:5353' })
  t.same(parseUpstream('[fd00::a]:5353'), { host: 'fd00::a', port: 5353, family: 6, label: '[fd00::a]:5353' })
  t.same(parseUpstream('fd00::a'), { host: 'fd00::a', port: 53, family: 6, label: '[fd00::a]:53' })
  t.same(parseUpstream('dns://1.1.1.1'), { host: '1.1.1.1', port: 53, family: 4, label: '1.1.1.1:53' })
  for (const bad of ['example.com', '10.0.0.1:0', '10.0.0.1:70000', '[10.0.0.1]:53', '10.0.0:53', '']) {
    t.throws(() => parseUpstream(bad), { message: new RegExp(`upstream ${JSON.stringify(bad).replace(/[.[\]]/g, '\\$&')}`) }, bad)
  }
  t.throws(() => new Forwarder({ ...defaultForwarderOptions, upstreams: ['1.1.1.1', 'nope'] }), /upstream "nope"/)
  t.throws(() => new Forwarder({ ...defaultForwarderOptions, upstreams: [] }), /at least one upstream/)
})

t.test('a reply that is not a readable message is never relayed; the real one after it is', async (t) => {
  const mangled = (q: ParsedQuery) => Buffer.concat([replyTo(q).subarray(0, q.questionEnd), Buffer.from([0xc0, 0xff, 0, 1, 0, 1])])
  const up = await fake(t, (q) => (q.name.startsWith('only') ? [mangled(q)] : [mangled(q), answers('192.0.2.8')(q, 'udp') as Buffer[]].flat()))
  const f = forwarder(t, { upstreams: [up.address], timeoutMs: 400 })
  const good = await ask(f, 'then.example.com')
  t.equal(addressOf(good), '192.0.2.8', 'the mangled copy was ignored')
  const bad = await ask(f, 'only.example.com')
  t.equal(bad.flags.rcode, Rcode.SERVFAIL, 'only mangled replies: SERVFAIL by the deadline')
  t.same([bad.answers.length, bad.authority.length], [0, 0])
})

t.test('over TCP, an unreadable reply fails the exchange', async (t) => {
  const up = await fake(t, (q, transport) =>
    transport === 'udp' ? [replyTo(q, { tc: true })] : [Buffer.concat([replyTo(q).subarray(0, q.questionEnd), Buffer.from([0xc0, 0xff])])],
  )
  const f = forwarder(t, { upstreams: [up.address], timeoutMs: 2000 })
  const m = await ask(f, 'big.example.com')
  t.equal(m.flags.rcode, Rcode.SERVFAIL)
  t.same(up.asked.map((s) => s.transport).slice(0, 2), ['udp', 'tcp'])
})
