// Fuzzing the plain-HTTP listener over raw TCP: mutated and random request heads, bodies,
// chunked encodings, pipelining and slowloris-style partial writes, against both the fast
// path (GET/HEAD) and node:http (everything else), with an endpoint that answers with mutated
// responses too. Cases are written whole, slowly, stalled, abandoned or not read
// (test/helpers/http-fuzz.ts); every answer must be well-formed HTTP/1.1 and never a 500 of
// weft's own, every connection must end within the server's timeouts, the server must keep
// serving valid requests after every batch, nothing may throw unhandled, and fds and memory
// must come back to the baseline. Seeded: `npm run fuzz -- --seed S`.
import { connect } from 'node:net'
import t from 'tap'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { fuzzHttpListener } from '../helpers/http-fuzz.ts'
import { catchStray, describeSockets, startRig } from './fuzz-rig.ts'
import { raw } from './server-rig.ts'

const settings = fuzzSettings(400)
if (!settings.long) t.setTimeout(60_000)
const rig = await startRig(t, settings.seed)
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

/** The bytes of one case (how they are written is runHttpCase's draw). */
function fuzzRequest(rng: Rng): Buffer {
  // The tag the evil backend seeds its answers with, so a case replays alone.
  const n = rng.int(1_000_000)
  const kind = rng.int(10)
  if (kind < 3) return rng.mutate(Buffer.from(validRequest(rng, n), 'latin1'), 6)
  if (kind < 4) {
    // Clean requests to the endpoint that answers with mutated responses.
    const method = rng.pick(['GET', 'GET', 'HEAD', 'POST'])
    return Buffer.from(Array.from({ length: 1 + rng.int(3) }, (_, i) => `${method} /${n * 10 + i} HTTP/1.1\r\nHost: evil.fuzz.test\r\nContent-Length: 0\r\n\r\n`).join(''), 'latin1')
  }
  if (kind < 6) return Buffer.from(Array.from({ length: 1 + rng.int(4) }, () => validRequest(rng, n)).join(''), 'latin1') // pipelined
  if (kind < 7) return rng.bytes(rng.int(300))
  if (kind < 9) {
    // A valid shape with a hostile value in one place.
    const hostile = rng.hostileString()
    return Buffer.from(
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
  }
  return Buffer.from(validRequest(rng, n).slice(0, rng.int(40)), 'latin1') // a head that never ends
}

t.test(`h1 listener: ${settings.iterations} seeded cases (seed ${settings.seed})`, async (t) => {
  const { result, stray } = await catchStray(() =>
    fuzzHttpListener(t, {
      ...settings,
      batch: 40,
      connect: () => connect(port, '127.0.0.1'),
      request: fuzzRequest,
      alive: async () => (await raw(port, 'GET /alive HTTP/1.1\r\nHost: fuzz.test\r\nConnection: close\r\n\r\n')).startsWith('HTTP/1.1 200 OK\r\n'),
      settled: () => rig.settled(),
      // weft's own answers carry no Via; what it passes on from an endpoint (the evil one answers 500 itself) always does.
      relayed: (response) => /\r\nvia: [^\r]*1\.1 weft\r\n/i.test(response.slice(0, response.indexOf('\r\n\r\n') + 2)),
      diagnose: () => ({ sockets: describeSockets(), ports: { http: rig.server.httpPort, https: rig.server.httpsPort } }),
    }),
  )
  t.same(stray, [], 'no unhandled exception or rejection')
  t.ok(Object.keys(result.statuses).length >= 5, `a spread of answers: ${JSON.stringify(result.statuses)}`)
})
