// Fuzzing the plain-HTTP listener over raw TCP: mutated and random request heads, bodies,
// chunked encodings, pipelining and slowloris-style partial writes, against both the fast
// path (GET/HEAD) and node:http (everything else), with an endpoint that answers with mutated
// responses too. Every answer must be well-formed HTTP/1.1 and never a 500; the server must
// keep serving valid requests after every batch; nothing may throw unhandled; fds must come
// back to the baseline once the connections are gone. Seeded: `npm run fuzz -- --seed S`.
import { connect } from 'node:net'
import t from 'tap'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { catchStray, describeSockets, settleFds, startRig } from './fuzz-rig.ts'

const settings = fuzzSettings(400)
if (!settings.long) t.setTimeout(60_000)
const rig = await startRig(settings.seed)
t.teardown(() => rig.close())
const port = rig.server.httpPort

const HOSTS = ['fuzz.test', 'evil.fuzz.test', 'evil.fuzz.test', 'evil.fuzz.test', 'tls.fuzz.test', 'rpc.fuzz.test', 'nothing.test', 'FUZZ.test.:80', '[::1]:80', '']

/** A valid request of some kind; `n` tags its path (the evil backend seeds its answer with it). */
function validRequest(rng: Rng, n: number): string {
  const host = rng.pick(HOSTS)
  const path = rng.pick([`/${n}`, `/${n}/x/../y`, `/${n}/%61%2f?q=%zz`, `/${n}?a=b`, '*', `http://fuzz.test/${n}`])
  const close = rng.chance(0.5) ? 'Connection: close\r\n' : ''
  const extra = rng.chance(0.3) ? `X-Forwarded-For: ${rng.pick(['1.2.3.4', '1.2.3.4, 127.0.0.1', 'garbage'])}\r\n` : ''
  switch (rng.int(7)) {
    case 0:
    case 1:
      return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}${close}\r\n`
    case 2:
      return `HEAD ${path} HTTP/1.1\r\nHost: ${host}\r\n${close}\r\n`
    case 3: {
      const body = 'x'.repeat(rng.pick([0, 1, 100, 5000]))
      return `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\n${close}\r\n${body}`
    }
    case 4: {
      const chunks = Array.from({ length: rng.int(4) }, () => 'y'.repeat(1 + rng.int(50)))
      return `PUT ${path} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n${close}\r\n${chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('')}0\r\n\r\n`
    }
    case 5:
      return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
    default:
      return `GET ${path} HTTP/1.0\r\nHost: ${host}\r\n\r\n`
  }
}

/** One case: the bytes a client sends, and how. */
function fuzzCase(rng: Rng, n: number): { pieces: Buffer[]; gapMs: number; end: boolean } {
  let bytes: Buffer
  const kind = rng.int(10)
  if (kind < 3) bytes = rng.mutate(Buffer.from(validRequest(rng, n), 'latin1'), 6)
  else if (kind < 4) {
    // Clean requests to the endpoint that answers with mutated responses.
    const method = rng.pick(['GET', 'GET', 'HEAD', 'POST'])
    bytes = Buffer.from(Array.from({ length: 1 + rng.int(3) }, (_, i) => `${method} /${n * 10 + i} HTTP/1.1\r\nHost: evil.fuzz.test\r\nContent-Length: 0\r\n\r\n`).join(''), 'latin1')
  } else if (kind < 6) bytes = Buffer.from(Array.from({ length: 1 + rng.int(4) }, () => validRequest(rng, n)).join(''), 'latin1') // pipelined
  else if (kind < 7) bytes = rng.bytes(rng.int(300))
  else if (kind < 9) {
    // A valid shape with a hostile value in one place.
    const hostile = rng.hostileString()
    bytes = Buffer.from(
      rng.pick([
        `GET /${hostile} HTTP/1.1\r\nHost: fuzz.test\r\n\r\n`,
        `GET /${n} HTTP/1.1\r\nHost: ${hostile}\r\n\r\n`,
        `GET /${n} HTTP/1.1\r\nHost: fuzz.test\r\nX-A: ${hostile}\r\n\r\n`,
        `POST /${n} HTTP/1.1\r\nHost: fuzz.test\r\nContent-Length: ${hostile}\r\n\r\nabc`,
        `POST /${n} HTTP/1.1\r\nHost: fuzz.test\r\nTransfer-Encoding: ${hostile}\r\n\r\n0\r\n\r\n`,
        `POST /${n} HTTP/1.1\r\nHost: fuzz.test\r\nTransfer-Encoding: chunked\r\n\r\n${hostile}\r\n`,
        `${hostile} / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n`,
      ]),
      'utf8',
    )
  } else bytes = Buffer.from(`${validRequest(rng, n)}`.slice(0, rng.int(40)), 'latin1') // a head that never ends
  // Slowloris: the bytes in small pieces with pauses.
  const split = rng.chance(0.3)
  const pieces: Buffer[] = []
  if (split) for (let at = 0; at < bytes.length; ) {
    const size = 1 + rng.int(16)
    pieces.push(bytes.subarray(at, at + size))
    at += size
  }
  else pieces.push(bytes)
  return { pieces, gapMs: split ? rng.int(15) : 0, end: rng.chance(0.7) }
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3}) /

/** Sends one case; resolves with what came back once the server closes the connection, or after at most 0.8 s. */
function run(c: { pieces: Buffer[]; gapMs: number; end: boolean }): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    const s = connect(port, '127.0.0.1')
    const timer = setTimeout(() => s.destroy(), 800)
    s.on('data', (d) => (got += d.toString('latin1')))
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      resolve(got)
    })
    s.on('connect', async () => {
      for (const p of c.pieces) {
        if (s.destroyed) return
        s.write(p)
        if (c.gapMs) await new Promise((r) => setTimeout(r, c.gapMs))
      }
      if (c.end && !s.destroyed) s.end()
    })
  })
}

/** A plain request that must be answered 200 by the endpoint. */
async function healthy(path: string): Promise<string> {
  const answer = await run({ pieces: [Buffer.from(`GET ${path} HTTP/1.1\r\nHost: fuzz.test\r\nConnection: close\r\n\r\n`)], gapMs: 0, end: false })
  return answer.split('\r\n')[0] ?? ''
}

t.test(`h1 listener: ${settings.iterations} seeded cases (seed ${settings.seed})`, async (t) => {
  t.equal(await healthy('/warm'), 'HTTP/1.1 200 OK')
  await rig.dropIdleUpstreams()
  const baseline = await settleFds(0, Number.MAX_SAFE_INTEGER, 0)
  const heapBefore = process.memoryUsage().heapUsed
  const statuses = new Map<string, number>()
  const problems: string[] = []
  const { stray } = await catchStray(async () => {
    const batch = 40
    for (let start = 0; start < settings.iterations && problems.length < 5; start += batch) {
      const cases = Array.from({ length: Math.min(batch, settings.iterations - start) }, (_, i) => {
        const n = start + i
        return { n, c: fuzzCase(new Rng(settings.seed * 1_000_003 + n), n) }
      })
      const answers = await Promise.all(cases.map(({ c }) => run(c)))
      answers.forEach((answer, i) => {
        if (answer === '') return
        const m = STATUS_LINE.exec(answer)
        const where = `seed ${settings.seed} case ${cases[i]!.n}`
        if (!m) return problems.push(`${where}: not an HTTP answer: ${JSON.stringify(answer.slice(0, 80))}`)
        statuses.set(m[1]!, (statuses.get(m[1]!) ?? 0) + 1)
        // The evil endpoint answers 500 itself; weft never does.
        if (m[1] === '500' && !answer.includes('\r\nvia: 1.0 x, 1.1 weft\r\n')) problems.push(`${where}: weft answered 500: ${JSON.stringify(answer.slice(0, 200))}`)
      })
      const check = await healthy(`/after-${start}`)
      if (check !== 'HTTP/1.1 200 OK') problems.push(`seed ${settings.seed} after case ${start}: a valid request got ${JSON.stringify(check)}`)
    }
  })
  t.same(problems, [], 'every answer well-formed, never a 500 from weft, valid requests served throughout')
  t.same(stray, [], 'no unhandled exception or rejection')
  t.ok(statuses.size >= 5, `a spread of answers: ${JSON.stringify(Object.fromEntries(statuses))}`)
  await rig.dropIdleUpstreams()
  const after = await settleFds(baseline, 0, 3000)
  t.ok(after <= baseline + 3, `fds back to the baseline: ${baseline} → ${after}`, after > baseline + 3 ? { sockets: describeSockets(), ports: { http: rig.server.httpPort, https: rig.server.httpsPort } } : {})
  const grown = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20
  t.ok(grown < 200, `heap grew ${grown.toFixed(1)} MiB`)
})
