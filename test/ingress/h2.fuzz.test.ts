// Fuzzing the HTTPS listener: raw bytes before any handshake (garbage, real ClientHellos
// mutated or re-framed into tiny records, written whole or trickled, which must end by the
// handshake timeout), and HTTP/2 (ALPN h2): node:http2 client requests with hostile
// headers and pseudo-headers, and raw frame sequences (HPACK-encoded hostile header lists,
// CONTINUATION, DATA, RST_STREAM rapid resets, PING, WINDOW_UPDATE, SETTINGS, PRIORITY,
// GOAWAY, unknown frame types), plain and byte-mutated, in batches (fuzzListener,
// test/helpers/http-fuzz.ts). The server must keep serving valid requests after every batch,
// nothing may throw unhandled, and it must let go of every connection, with fds and memory back
// to the baseline. Seeded: `npm run fuzz -- --seed S`.
import { connect as h2connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2'
import { connect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { fuzzListener } from '../helpers/http-fuzz.ts'
import { catchStray, describeSockets, startRig } from './fuzz-rig.ts'
import { nodeClientHello, reframe } from './server-rig.ts'

const settings = fuzzSettings(240)
if (!settings.long) t.setTimeout(60_000)
const rig = await startRig(t, settings.seed)
const port = rig.server.httpsPort
const hello = await nodeClientHello('fuzz.test')

const AUTHORITIES = ['fuzz.test', 'evil.fuzz.test', 'rpc.fuzz.test', 'tls.fuzz.test', 'nothing.test', 'FUZZ.TEST:443', '[::1]', '']
const PATHS = ['/', '/x/../admin', '/%61', '/%zz', '*', '', 'relative', '/a?b=%', `/${'a'.repeat(3000)}`, '//', '/\u00e9']
const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'CONNECT', 'PRI', 'get', 'X', '']

// HPACK (RFC 7541): literal header fields without indexing, new names, no Huffman.
function hpackInt(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1
  if (value < max) return Buffer.from([first | value])
  const out = [first | max]
  let rest = value - max
  while (rest >= 128) {
    out.push((rest % 128) + 128)
    rest = Math.floor(rest / 128)
  }
  out.push(rest)
  return Buffer.from(out)
}
function hpackString(s: Buffer): Buffer {
  return Buffer.concat([hpackInt(s.length, 7, 0), s])
}
function headerBlock(fields: [string | Buffer, string | Buffer][]): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0]), hpackString(Buffer.from(n)), hpackString(Buffer.from(v))]))
}

const FLAG_END_STREAM = 0x1
const FLAG_END_HEADERS = 0x4
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(Math.min(payload.length, 0xffffff), 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream >>> 0, 5)
  return Buffer.concat([head, payload])
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

function hostileFields(rng: Rng): [string | Buffer, string | Buffer][] {
  const fields: [string | Buffer, string | Buffer][] = [
    [':method', rng.pick(METHODS)],
    [':scheme', rng.pick(['https', 'http', 'ftp', ''])],
    [':authority', rng.chance(0.3) ? rng.hostileString() : rng.pick(AUTHORITIES)],
    [':path', rng.chance(0.3) ? rng.hostileString() : rng.pick(PATHS)],
  ]
  for (let i = rng.int(4); i > 0; i--) {
    const name = rng.pick(['x-a', 'X-Upper', 'connection', 'te', 'transfer-encoding', 'content-length', 'host', ':path', ':status', 'cookie', 'x-forwarded-for', '', 'bad name', 'x\u0000'])
    fields.push([name, rng.chance(0.5) ? rng.hostileString() : rng.pick(['trailers', 'chunked', '5', '-1', 'keep-alive', '1.2.3.4'])])
  }
  if (rng.chance(0.3)) fields.sort(() => rng.next() - 0.5) // pseudo-headers after regular ones
  if (rng.chance(0.1)) fields.splice(rng.int(fields.length), 1) // one missing
  return fields
}

/** A raw frame sequence after the preface and an empty SETTINGS. */
function rawFrames(rng: Rng): Buffer {
  const out: Buffer[] = [PREFACE, frame(4, 0, 0, Buffer.alloc(0))]
  let stream = 1
  for (let i = 1 + rng.int(8); i > 0; i--) {
    switch (rng.int(12)) {
      case 0:
      case 1:
      case 2: {
        const block = rng.chance(0.15) ? rng.bytes(rng.int(64)) : headerBlock(hostileFields(rng))
        const end = rng.chance(0.5) ? FLAG_END_STREAM : 0
        if (rng.chance(0.2) && block.length > 2) {
          // Split over CONTINUATION frames.
          const at = 1 + rng.int(block.length - 1)
          out.push(frame(1, end, stream, block.subarray(0, at)), frame(9, FLAG_END_HEADERS, stream, block.subarray(at)))
        } else out.push(frame(1, end | FLAG_END_HEADERS, stream, block))
        if (!end && rng.chance(0.6)) out.push(frame(0, rng.chance(0.7) ? FLAG_END_STREAM : 0, stream, rng.bytes(rng.int(200))))
        stream += 2
        break
      }
      case 3: // rapid reset
        for (let k = rng.int(40); k > 0; k--, stream += 2) out.push(frame(1, FLAG_END_HEADERS, stream, headerBlock([[':method', 'GET'], [':scheme', 'https'], [':authority', 'fuzz.test'], [':path', '/']])), frame(3, 0, stream, u32(8)))
        break
      case 4:
        out.push(frame(0, rng.int(2), rng.pick([0, stream, stream + 2, 2]), rng.bytes(rng.int(100)))) // DATA on odd streams
        break
      case 5:
        out.push(frame(6, rng.int(2), rng.pick([0, 1]), rng.bytes(rng.pick([8, 8, 7, 9])))) // PING
        break
      case 6:
        out.push(frame(8, 0, rng.pick([0, 1, stream]), u32(rng.pick([0, 1, 0x7fffffff, 0xffffffff])))) // WINDOW_UPDATE
        break
      case 7: {
        const entries = Buffer.alloc(6 * rng.int(8))
        for (let at = 0; at < entries.length; at += 6) {
          entries.writeUInt16BE(rng.int(10), at)
          entries.writeUInt32BE(rng.pick([0, 1, 16384, 0x7fffffff, 0xffffffff]) >>> 0, at + 2)
        }
        out.push(frame(4, rng.chance(0.1) ? 1 : 0, rng.chance(0.1) ? 1 : 0, rng.chance(0.1) ? rng.bytes(5) : entries))
        break
      }
      case 8:
        out.push(frame(2, 0, rng.pick([0, 1, stream]), rng.bytes(rng.pick([5, 4, 6])))) // PRIORITY
        break
      case 9:
        out.push(frame(3, 0, rng.pick([0, 1, stream, 99]), rng.bytes(rng.pick([4, 3])))) // RST_STREAM
        break
      case 10:
        out.push(frame(rng.pick([7, 5, 0x0a, 0xfe]), rng.int(256), rng.int(5), rng.bytes(rng.int(40)))) // GOAWAY, PUSH_PROMISE, unknown
        break
      default:
        out.push(frame(9, FLAG_END_HEADERS, rng.pick([1, stream]), rng.bytes(rng.int(30)))) // a stray CONTINUATION
    }
  }
  const bytes = Buffer.concat(out)
  return rng.chance(0.25) ? Buffer.concat([PREFACE, rng.mutate(bytes.subarray(PREFACE.length), 4)]) : bytes
}

/** Sends raw frames over TLS with ALPN h2; resolves once the server closes or after at most 0.8 s. */
function sendRaw(bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'fuzz.test', rejectUnauthorized: false, ALPNProtocols: ['h2'] })
    const timer = setTimeout(() => s.destroy(), 800)
    s.on('secureConnect', () => s.write(bytes))
    s.on('data', () => {})
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/**
 * Raw bytes to the TLS port before any handshake: garbage, or a real ClientHello (mutated, or
 * re-framed into records of a few bytes), written whole or trickled in pieces. The server
 * must end the connection by its handshake timeout (400 ms), whatever it got. Drawn whole
 * here; the case runs when the returned function is called.
 */
function helloCase(rng: Rng): () => Promise<string | undefined> {
  let bytes = rng.chance(0.2) ? rng.bytes(rng.int(400)) : rng.pick([hello, reframe(hello, 1), reframe(hello, 1 + rng.int(64))])
  if (rng.chance(0.5)) bytes = rng.mutate(bytes, 4)
  const trickle = rng.chance(0.6)
  const pieces: { n: number; pauseMs: number }[] = []
  for (let at = 0; trickle && at < bytes.length; ) {
    const n = 1 + rng.int(rng.pick([1, 8, 64]))
    pieces.push({ n, pauseMs: rng.int(3) })
    at += n
  }
  const deadlineMs = 3000
  return () => new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      s.destroy()
      resolve(`raw bytes to the TLS port (${trickle ? 'trickled' : 'whole'}): the connection did not end within ${deadlineMs} ms: ${bytes.subarray(0, 48).toString('hex')}`)
    }, deadlineMs)
    s.on('data', () => {})
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      resolve(undefined)
    })
    s.on('connect', async () => {
      if (!trickle) return void s.write(bytes)
      let at = 0
      for (const { n, pauseMs } of pieces) {
        if (s.destroyed) break
        s.write(bytes.subarray(at, at + n))
        at += n
        await new Promise((r) => setTimeout(r, pauseMs))
      }
    })
  })
}

/** Hostile requests through node:http2's own client (which refuses some itself: that is fine), drawn whole here. */
function clientCase(rng: Rng): () => Promise<undefined> {
  const plans = Array.from({ length: 1 + rng.int(4) }, () => {
    const headers: OutgoingHttpHeaders = {}
    for (const [name, value] of hostileFields(rng)) if (typeof name === 'string' && !name.startsWith(':status')) headers[name] = String(value)
    const endStream = rng.chance(0.5)
    const body = rng.chance(0.5) ? rng.bytes(rng.int(6000)) : undefined
    const end = rng.chance(0.8)
    return { headers, endStream, body, end, closeAfterMs: end ? 0 : rng.int(20), closeCode: end ? 0 : rng.int(14) }
  })
  return async () => {
    const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'fuzz.test' })
    session.on('error', () => {})
    const requests = plans.map(
      (plan) =>
        new Promise<void>((resolve) => {
          try {
            const stream = session.request(plan.headers, { endStream: plan.endStream })
            stream.on('error', () => resolve())
            stream.on('close', () => resolve())
            stream.resume()
            if (!stream.writableEnded) {
              if (plan.body) stream.write(plan.body)
              if (plan.end) stream.end()
              else setTimeout(() => stream.close(plan.closeCode), plan.closeAfterMs)
            }
          } catch {
            resolve()
          }
        }),
    )
    await Promise.race([Promise.all(requests), new Promise((r) => setTimeout(r, 800))])
    session.destroy()
    return undefined
  }
}

async function healthy(session: ClientHttp2Session): Promise<number> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(-1), 3000)
    const s = session.request({ ':path': '/health', ':authority': 'fuzz.test' })
    let status = 0
    s.on('response', (h) => (status = Number(h[':status'])))
    s.resume()
    s.on('close', () => {
      clearTimeout(timer)
      resolve(status)
    })
    s.on('error', () => {})
    s.end()
  })
}

async function freshHealthy(): Promise<number> {
  const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'fuzz.test' })
  session.on('error', () => {})
  try {
    return await healthy(session)
  } finally {
    session.destroy()
  }
}

t.test(`h2 listener: ${settings.iterations} seeded cases (seed ${settings.seed})`, async (t) => {
  const { stray } = await catchStray(() =>
    fuzzListener(t, {
      ...settings,
      batch: 16,
      prepare: (rng) => {
        const kind = rng.next()
        if (kind < 0.3) return clientCase(rng)
        if (kind < 0.5) return helloCase(rng)
        const bytes = rawFrames(rng)
        return () => sendRaw(bytes).then(() => undefined)
      },
      alive: async () => (await freshHealthy()) === 200,
      settled: () => rig.settled(),
      diagnose: () => ({ sockets: describeSockets(), ports: { http: rig.server.httpPort, https: rig.server.httpsPort } }),
    }),
  )
  t.same(stray, [], 'no unhandled exception or rejection')
  const statuses = await rig.statuses()
  t.ok(Object.keys(statuses).length >= 3, `requests reached routing and answers: ${JSON.stringify(statuses)}`)
})
