import t from 'tap'
import { RRClass, RRType, type Message } from '../../dns/records.ts'
import { decodeMessage, encodeMessage, nameLabels, parseQuery, readName, WireError } from '../../dns/wire.ts'

function errorId(fn: () => unknown): number | undefined | 'no error' {
  try {
    fn()
  } catch (err) {
    if (err instanceof WireError) return err.id
    throw err
  }
  return 'no error'
}

const flags = { qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, ad: false, cd: false, rcode: 0 }

function query(name: string, type: number, edns = false): Buffer {
  return encodeMessage({
    id: 0xbeef,
    flags: { ...flags, qr: false, aa: false, ra: false },
    questions: [{ name, type, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
    edns: edns ? { udpSize: 1232, version: 0, dnssecOk: true, extendedRcode: 0, options: [{ code: 10, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }] } : undefined,
  })
}

t.test('every record type survives encode and decode', async (t) => {
  const msg: Message = {
    id: 7,
    flags,
    questions: [{ name: 'Echo.default.svc.cluster.local', type: RRType.ANY, class: RRClass.IN }],
    answers: [
      { name: 'Echo.default.svc.cluster.local', type: RRType.A, class: 1, ttl: 5, data: { address: '10.96.0.12' } },
      { name: 'echo.default.svc.cluster.local', type: RRType.AAAA, class: 1, ttl: 5, data: { address: 'fd00::12' } },
      { name: 'echo.default.svc.cluster.local', type: RRType.AAAA, class: 1, ttl: 5, data: { address: '2001:db8:0:1:0:0:0:1' } },
      { name: '_http._tcp.echo.default.svc.cluster.local', type: RRType.SRV, class: 1, ttl: 5, data: { priority: 0, weight: 100, port: 80, target: 'echo.default.svc.cluster.local' } },
      { name: 'x.default.svc.cluster.local', type: RRType.CNAME, class: 1, ttl: 5, data: { target: 'example.com' } },
      { name: '12.0.96.10.in-addr.arpa', type: RRType.PTR, class: 1, ttl: 5, data: { target: 'echo.default.svc.cluster.local' } },
      { name: 'dns-version.cluster.local', type: RRType.TXT, class: 1, ttl: 5, data: { texts: ['1.1.0', ''] } },
      { name: 'cluster.local', type: 99, class: 1, ttl: 5, data: { raw: Uint8Array.from([1, 2, 3]) } },
    ],
    authority: [{ name: 'cluster.local', type: RRType.SOA, class: 1, ttl: 5, data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 4294967295, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 } }],
    additional: [{ name: 'cluster.local', type: RRType.NS, class: 1, ttl: 5, data: { target: 'ns.dns.cluster.local' } }],
    edns: { udpSize: 1232, version: 0, dnssecOk: false, extendedRcode: 0, options: [] },
  }
  const wire = encodeMessage(msg)
  const back = decodeMessage(wire)
  t.same(back.questions, msg.questions)
  t.same(back.answers.map((r) => r.data), [
    { address: '10.96.0.12' }, { address: 'fd00::12' }, { address: '2001:db8:0:1::1' },
    { priority: 0, weight: 100, port: 80, target: 'echo.default.svc.cluster.local' },
    { target: 'example.com' }, { target: 'Echo.default.svc.cluster.local' }, { texts: ['1.1.0', ''] }, { raw: Uint8Array.from([1, 2, 3]) },
  ])
  t.equal(back.answers[1].name, 'Echo.default.svc.cluster.local', 'a compressed owner name takes the case first written')
  t.same(back.authority, msg.authority)
  t.same(back.additional, msg.additional)
  t.same(back.edns, msg.edns)
  t.same(back.flags, flags)
  t.ok(wire.length < 400, `names are compressed (${wire.length} bytes)`)
})

t.test('parseQuery reads the question, case and EDNS', async (t) => {
  const q = parseQuery(query('ECHO.Default.svc.cluster.local', RRType.AAAA, true))
  t.equal(q.id, 0xbeef)
  t.equal(q.name, 'ECHO.Default.svc.cluster.local')
  t.equal(q.lowerName, 'echo.default.svc.cluster.local')
  t.equal(q.type, RRType.AAAA)
  t.equal(q.class, RRClass.IN)
  t.equal(q.rd, true)
  t.equal(q.questionEnd, 12 + 32 + 4)
  t.equal(q.edns?.udpSize, 1232)
  t.equal(q.edns?.dnssecOk, true)
  t.same(q.edns?.options[0].code, 10)
  t.equal(parseQuery(query('a.b', RRType.A)).edns, undefined)
})

t.test('malformed input is a WireError, with the id when the header was readable', async (t) => {
  t.throws(() => parseQuery(Buffer.alloc(5)), WireError)
  const response = query('a.b', RRType.A)
  response[2] |= 0x80
  t.equal(errorId(() => parseQuery(response)), 0xbeef)
  const cut = query('abc.def', RRType.A).subarray(0, 17)
  t.equal(errorId(() => parseQuery(cut)), 0xbeef)
  const loop = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1])
  t.throws(() => readName(loop, 12), /backwards/)
  const long = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from(Array.from({ length: 5 }, () => [63, ...Array(63).fill(97)]).flat()), Buffer.from([0, 0, 1, 0, 1])])
  t.throws(() => parseQuery(long), /longer than 255/)
  t.throws(() => nameLabels('a..b'), /empty label/)
  t.throws(() => nameLabels('x'.repeat(64)), /63/)
  const trailing = Buffer.concat([query('a.b', RRType.A), Buffer.from([1])])
  t.throws(() => decodeMessage(trailing), /after the last record/)
})

t.test('escaped labels round-trip', async (t) => {
  const msg: Message = { id: 1, flags, questions: [{ name: 'a\\.b\\\\c\\000.example', type: 1, class: 1 }], answers: [], authority: [], additional: [] }
  t.equal(decodeMessage(encodeMessage(msg)).questions[0].name, 'a\\.b\\\\c\\000.example')
  t.same(nameLabels('a\\.b.c.').map((l) => l.length), [3, 1])
})

t.test('a message too large for maxSize is truncated to its question', async (t) => {
  const answers = Array.from({ length: 40 }, (_, i) => ({ name: 'many.example', type: RRType.A, class: 1, ttl: 5, data: { address: `10.0.0.${i}` } }))
  const msg: Message = { id: 9, flags, questions: [{ name: 'many.example', type: 1, class: 1 }], answers, authority: [], additional: [], edns: { udpSize: 512, version: 0, dnssecOk: false, extendedRcode: 0, options: [] } }
  const full = decodeMessage(encodeMessage(msg))
  t.equal(full.answers.length, 40)
  t.equal(full.flags.tc, false)
  const cut = decodeMessage(encodeMessage(msg, 512))
  t.equal(cut.flags.tc, true)
  t.equal(cut.answers.length, 0)
  t.equal(cut.questions[0].name, 'many.example')
  t.ok(cut.edns, 'the OPT record stays')
})

t.test('compression tells apart names that differ beyond ASCII case or in where labels end', async (t) => {
  const rr = (name: string, target: string) => ({ name, type: RRType.CNAME, class: 1, ttl: 5, data: { target } })
  const msg: Message = {
    id: 1,
    flags,
    questions: [{ name: 'x.\\224', type: RRType.CNAME, class: RRClass.IN }],
    answers: [rr('svc.\\192', 'a\\.b'), rr('a.b', 'A.B'), rr('\\224.X', 'c.a\\.b')],
    authority: [],
    additional: [],
  }
  const back = decodeMessage(encodeMessage(msg))
  t.same(
    back.answers.map((r) => [r.name, (r.data as { target: string }).target]),
    [
      ['svc.\\192', 'a\\.b'],
      ['a.b', 'a.b'],
      ['\\224.X', 'c.a\\.b'],
    ],
    'only ASCII letters compare without case (RFC 4343); a dot inside a label is no label boundary',
  )
})

t.test('a compression pointer into the header is refused: a reply echoing the question would name something else', async (t) => {
  // `s` then a pointer to offset 1, inside the id: the name would be read from header bytes.
  const q = Buffer.from('1b05000000010000000000000173c00100010001', 'hex')
  t.equal(errorId(() => parseQuery(q)), 0x1b05)
  t.equal(errorId(() => decodeMessage(q)), 0x1b05)
  t.throws(() => readName(q, 12), /compression pointer into the header/)
})
