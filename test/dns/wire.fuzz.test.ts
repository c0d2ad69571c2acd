// Seeded fuzz of the DNS wire codec: random bytes, random well-formed messages and mutations
// of them. decodeMessage and parseQuery never throw anything but WireError; a message that
// decodes encodes again and decodes to the same thing (names compared without ASCII case:
// compression is case-insensitive); random messages survive encode → decode.
// `npm run fuzz -- test/dns/wire.fuzz.test.ts --iterations N --seed S` runs it longer.
import t from 'tap'
import { RRType, type Edns, type Message, type ResourceRecord } from '../../dns/records.ts'
import { decodeMessage, encodeMessage, parseQuery, WireError } from '../../dns/wire.ts'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'

const settings = fuzzSettings(20_000)
const rng = new Rng(settings.seed)

/** A label's text as the decoder writes it (zone-file escapes). */
function labelText(bytes: number[]): string {
  let s = ''
  for (const c of bytes) {
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c)
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c)
    else s += '\\' + String(c).padStart(3, '0')
  }
  return s
}

// Labels as text. Some only differ in ways compression must respect: a dot inside a label
// (`a\\.b` is one label, `a.b` two) and bytes above ASCII that a case-folding compare
// would wrongly equate (`\\192` is not `\\224`).
const WORDS = ['a', 'A', 'b', 'www', 'Example', 'com', 'cluster', 'local', 'svc', 'default', '_http', '_tcp', 'in-addr', 'arpa', 'x', 'a\\.b', '\\192', '\\224', '\\.', '\\\\']

/** A random name: mostly common words (so compression kicks in), sometimes any bytes, at most 255 on the wire. */
function randomName(pool: string[]): string {
  if (pool.length > 0 && rng.chance(0.4)) {
    // A suffix of a name already used, with a fresh label or two in front.
    const base = rng.pick(pool)
    const labels = base === '' ? [] : base.split(/(?<!\\)\./)
    const keep = labels.slice(rng.int(labels.length + 1))
    const front = Array.from({ length: rng.int(3) }, () => rng.pick(WORDS))
    const name = [...front, ...keep].join('.')
    return wireLength(name) <= 255 ? name : keep.join('.')
  }
  const labels: string[] = []
  let length = 1
  const count = rng.int(6)
  for (let i = 0; i < count; i++) {
    if (rng.chance(0.6)) {
      const word = rng.pick(WORDS)
      if (length + wireLength(word) > 255) break
      length += wireLength(word) - 1
      labels.push(word)
      continue
    }
    const bytes = [...rng.bytes(1 + rng.int(rng.chance(0.1) ? 63 : 8))]
    if (length + bytes.length + 1 > 255) break
    length += bytes.length + 1
    labels.push(labelText(bytes))
  }
  return labels.join('.')
}

function wireLength(name: string): number {
  if (name === '') return 1
  return name.split(/(?<!\\)\./).reduce((n, l) => n + 1 + l.replace(/\\\d{3}|\\./g, '_').length, 1)
}

const TYPES = [RRType.A, RRType.AAAA, RRType.CNAME, RRType.PTR, RRType.NS, RRType.SRV, RRType.TXT, RRType.SOA]

function randomRecord(pool: string[]): ResourceRecord {
  const name = randomName(pool)
  pool.push(name)
  const ttl = rng.int(2 ** 32)
  const klass = rng.chance(0.8) ? 1 : rng.int(0x10000)
  const type = rng.chance(0.85) ? rng.pick(TYPES) : rng.pick([0, 99, 256, 65535, 41, 250])
  const target = () => {
    const n = randomName(pool)
    pool.push(n)
    return n
  }
  switch (type) {
    case RRType.A:
      return { name, type, class: klass, ttl, data: { address: [...rng.bytes(4)].join('.') } }
    case RRType.AAAA: {
      const groups = Array.from({ length: 8 }, () => (rng.chance(0.4) ? 0 : rng.int(0x10000)).toString(16))
      return { name, type, class: klass, ttl, data: { address: groups.join(':') } }
    }
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.NS:
      return { name, type, class: klass, ttl, data: { target: target() } }
    case RRType.SRV:
      return { name, type, class: klass, ttl, data: { priority: rng.int(0x10000), weight: rng.int(0x10000), port: rng.int(0x10000), target: target() } }
    case RRType.TXT:
      return { name, type, class: klass, ttl, data: { texts: Array.from({ length: rng.int(4) }, () => rng.bytes(rng.int(rng.chance(0.1) ? 256 : 20)).toString('latin1')) } }
    case RRType.SOA:
      return {
        name,
        type,
        class: klass,
        ttl,
        data: { mname: target(), rname: target(), serial: rng.int(2 ** 32), refresh: rng.int(2 ** 32), retry: rng.int(2 ** 32), expire: rng.int(2 ** 32), minimum: rng.int(2 ** 32) },
      }
    default:
      return { name, type, class: klass, ttl, data: { raw: rng.bytes(rng.int(30)) } }
  }
}

function randomMessage(): Message {
  const pool: string[] = []
  const questions = Array.from({ length: rng.chance(0.8) ? 1 : rng.int(4) }, () => {
    const name = randomName(pool)
    pool.push(name)
    return { name, type: rng.chance(0.8) ? rng.pick(TYPES) : rng.int(0x10000), class: rng.chance(0.9) ? 1 : rng.int(0x10000) }
  })
  const section = () => Array.from({ length: rng.chance(0.5) ? 0 : rng.int(6) }, () => randomRecord(pool))
  const answers = section()
  const authority = section()
  // The OPT pseudo-record lives in `edns`, never among the additional records.
  const additional = section().filter((r) => r.type !== RRType.OPT)
  const edns: Edns | undefined = rng.chance(0.5)
    ? {
        udpSize: rng.int(0x10000),
        version: rng.int(256),
        dnssecOk: rng.chance(0.5),
        extendedRcode: rng.int(256),
        options: Array.from({ length: rng.int(3) }, () => ({ code: rng.int(0x10000), data: rng.bytes(rng.int(12)) })),
      }
    : undefined
  return {
    id: rng.int(0x10000),
    flags: { qr: rng.chance(0.5), opcode: rng.int(16), aa: rng.chance(0.5), tc: rng.chance(0.5), rd: rng.chance(0.5), ra: rng.chance(0.5), ad: rng.chance(0.5), cd: rng.chance(0.5), rcode: rng.int(16) },
    questions,
    answers,
    authority,
    additional,
    edns,
  }
}

/** Names with ASCII letters lowered and addresses in one spelling: what survives a round trip exactly. */
function normal(m: Message): unknown {
  const name = (n: string) => n.replace(/[A-Z]/g, (c) => c.toLowerCase())
  const data = (r: ResourceRecord) => {
    const d = r.data as unknown as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(d)) out[k] = k === 'target' || k === 'mname' || k === 'rname' ? name(v as string) : v instanceof Uint8Array ? [...v] : v
    if (r.type === RRType.AAAA && typeof d.address === 'string') out.address = ipv6Groups(d.address)
    return out
  }
  const rr = (r: ResourceRecord) => ({ ...r, name: name(r.name), data: data(r) })
  return {
    ...m,
    questions: m.questions.map((q) => ({ ...q, name: name(q.name) })),
    answers: m.answers.map(rr),
    authority: m.authority.map(rr),
    additional: m.additional.map(rr),
    edns: m.edns && {
      udpSize: m.edns.udpSize,
      version: m.edns.version,
      dnssecOk: m.edns.dnssecOk,
      extendedRcode: m.edns.extendedRcode,
      options: m.edns.options.map((o) => ({ code: o.code, data: [...o.data] })),
    },
  }
}

function ipv6Groups(text: string): number[] {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const h = head ? head.split(':').map((g) => parseInt(g, 16)) : []
  const tl = tail ? tail.split(':').map((g) => parseInt(g, 16)) : []
  return tail === undefined ? h : [...h, ...Array(8 - h.length - tl.length).fill(0), ...tl]
}

/** Decodes `bytes`; only a WireError may come out. */
function decodeOrWireError(bytes: Buffer): Message | WireError {
  try {
    return decodeMessage(bytes)
  } catch (err) {
    if (err instanceof WireError) return err
    throw new Error(`decodeMessage threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} for ${bytes.toString('hex')}`)
  }
}

/** A decodable message encodes and decodes back to itself; returns what went wrong, if anything. */
function roundTrip(m: Message, what: string): string | undefined {
  let wire: Buffer
  try {
    wire = encodeMessage(m)
  } catch (err) {
    return `${what}: encode threw ${(err as Error).message}`
  }
  const back = decodeOrWireError(wire)
  if (back instanceof WireError) return `${what}: its encoding does not decode: ${back.message} (${wire.toString('hex')})`
  const a = JSON.stringify(normal(m))
  const b = JSON.stringify(normal(back))
  return a === b ? undefined : `${what}: round trip changed it:\n  ${a}\n  ${b}`
}

t.test(`wire codec fuzz: seed ${settings.seed}, ${settings.iterations} cases`, async (t) => {
  let decoded = 0
  let failures = 0
  const fail = (i: number, why: string) => {
    failures++
    if (failures <= 5) t.fail(`case ${i} (seed ${settings.seed}): ${why}`)
  }
  for (let i = 0; i < settings.iterations; i++) {
    const kind = i % 4
    let bytes: Buffer
    if (kind === 0) {
      const m = randomMessage()
      const why = roundTrip(m, 'a random message')
      if (why) fail(i, why)
      bytes = encodeMessage(m)
    } else if (kind === 1) {
      bytes = rng.bytes(rng.int(rng.chance(0.9) ? 64 : 600))
      // A plausible header now and then, so the decoder gets past it.
      if (bytes.length >= 12 && rng.chance(0.5)) bytes.writeUInt32BE(rng.int(4) * 0x10000 + rng.int(4), 4)
    } else {
      bytes = rng.mutate(encodeMessage(randomMessage()), 8)
    }
    let decodedMessage: Message | WireError
    try {
      decodedMessage = decodeOrWireError(bytes)
    } catch (err) {
      fail(i, (err as Error).message)
      continue
    }
    if (!(decodedMessage instanceof WireError)) {
      decoded++
      const why = roundTrip(decodedMessage, `decoded ${bytes.toString('hex')}`)
      if (why) fail(i, why)
    }
    try {
      const q = parseQuery(bytes)
      if (!(decodedMessage instanceof WireError) && decodedMessage.questions[0].name !== q.name) fail(i, `parseQuery read ${q.name}, decodeMessage ${decodedMessage.questions[0].name}`)
    } catch (err) {
      if (!(err instanceof WireError)) fail(i, `parseQuery threw ${(err as Error).name}: ${(err as Error).message} for ${bytes.toString('hex')}`)
    }
  }
  t.equal(failures, 0, `${failures} failing cases of ${settings.iterations}; ${decoded} decoded`)
  t.ok(decoded > settings.iterations / 8, `enough cases decode to exercise the round trip (${decoded})`)
})
