// The ClientHello reader: real ClientHellos (from node:tls and openssl), split at every byte,
// re-framed over several records, and hostile ones (truncated lengths, garbage, oversize);
// fed in pieces, it says what the bytes so far say, in time linear in their number.
import { execFile } from 'node:child_process'
import t from 'tap'
import { ClientHelloReader, MAX_CLIENT_HELLO_BYTES, scanClientHello } from '../../ingress/client-hello.ts'
import { Rng } from '../helpers/fuzz.ts'
import { captureClientHello, nodeClientHello as fromNode, reframe } from './server-rig.ts'

const fromOpenssl = (args: string[]) =>
  captureClientHello((port) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], () => {})
    child.stdin?.end()
  })

const named = await fromNode('app.example.test')
const unnamed = await fromNode()
const ossl = await fromOpenssl(['-servername', 'Mixed.Case.test', '-tls1_2'])
const osslNone = await fromOpenssl(['-noservername'])

t.test('real ClientHellos: the name, or none', async (t) => {
  t.same(scanClientHello(named), { complete: true, servername: 'app.example.test' })
  t.same(scanClientHello(unnamed), { complete: true, servername: undefined })
  t.same(scanClientHello(ossl), { complete: true, servername: 'Mixed.Case.test' }, 'case is the store’s business')
  t.same(scanClientHello(osslNone), { complete: true, servername: undefined })
  t.same(scanClientHello(Buffer.concat([named, Buffer.from('trailing bytes of the next record')])), { complete: true, servername: 'app.example.test' })
})

t.test('incomplete until the whole ClientHello is there, at every split and over several records', async (t) => {
  for (const hello of [named, reframe(named, 7), reframe(named, 100), reframe(named, 1)]) {
    let early = 0
    for (let n = 0; n < hello.length; n++) if (scanClientHello(hello.subarray(0, n)).complete) early++
    t.equal(early, 0, `no answer before byte ${hello.length}`)
    t.same(scanClientHello(hello), { complete: true, servername: 'app.example.test' })
  }
})

t.test('not a ClientHello: no name, and never a wait', async (t) => {
  const cases: [string, Buffer][] = [
    ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['an alert record', Buffer.from([21, 3, 3, 0, 2, 2, 40])],
    ['SSLv2-style hello', Buffer.from([0x80, 0x2e, 1, 0, 2])],
    ['an empty record', Buffer.from([22, 3, 1, 0, 0])],
    ['a record over 18 KiB', Buffer.from([22, 3, 1, 0x48, 0x01])],
    ['a ServerHello', Buffer.concat([Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0])])],
  ]
  for (const [what, bytes] of cases) t.same(scanClientHello(bytes), { complete: true, servername: undefined }, what)
  const giant = Buffer.from([22, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff])
  t.same(scanClientHello(giant), { complete: true, servername: undefined }, 'a handshake length beyond the limit is not waited for')
  const endless = Buffer.concat(Array.from({ length: 8 }, () => Buffer.concat([Buffer.from([22, 3, 1, 0x40, 0x00]), Buffer.alloc(0x4000, 1)])))
  t.ok(endless.length > MAX_CLIENT_HELLO_BYTES)
  t.equal(scanClientHello(endless).complete, true, 'more than the limit ends the wait')
})

t.test('hostile lengths inside the hello: no crash, no name beyond its bounds', async (t) => {
  const rng = new Rng(3)
  let names = 0
  for (let i = 0; i < 20_000; i++) {
    const bytes = rng.mutate(rng.pick([named, unnamed, ossl, reframe(named, 50)]), 4)
    const r = scanClientHello(bytes)
    if (r.complete && r.servername !== undefined) {
      names++
      if (!/^[\x21-\x7e]{1,255}$/.test(r.servername)) t.fail(`a name that is not printable ASCII: ${JSON.stringify(r.servername)}`)
    }
  }
  t.ok(names > 0, 'mutations that keep the name still find it')
})

t.test('the reader, fed in any pieces, says what the bytes so far say', async (t) => {
  const rng = new Rng(11)
  let checked = 0
  let differ = 0
  for (let i = 0; i < 2000; i++) {
    let bytes = rng.pick([named, ossl, reframe(named, 1), reframe(named, 3), reframe(ossl, 40), rng.bytes(rng.int(100))])
    if (rng.chance(0.6)) bytes = rng.mutate(bytes, 4)
    const reader = new ClientHelloReader()
    for (let at = 0; at < bytes.length; ) {
      const next = Math.min(bytes.length, at + 1 + rng.int(rng.pick([1, 16, 400])))
      const got = reader.push(bytes.subarray(at, next))
      at = next
      checked++
      if (JSON.stringify(got) !== JSON.stringify(scanClientHello(bytes.subarray(0, at)))) differ++
      // It keeps every byte, for TLS to read again.
      if (!reader.bytes.equals(bytes.subarray(0, at))) differ++
      if (got.complete) break
    }
  }
  t.equal(differ, 0, `the same answer and bytes after each of ${checked} pieces`)
})

t.test('a ClientHello trickled in one-byte records, a byte at a time, is read in linear time', async (t) => {
  // 10,000 one-byte records of a ClientHello that is still incomplete at the end: scanning all
  // of it again for every byte took seconds; the bound is far above the reader's few ms.
  const message = Buffer.concat([Buffer.from([1, 0, 0x27, 0x10]), Buffer.alloc(9_996, 0x41)])
  const trickle = reframe(Buffer.concat([Buffer.from([22, 3, 1, 0x27, 0x10]), message]), 1)
  t.equal(trickle.length, 60_000)
  const reader = new ClientHelloReader()
  const started = performance.now()
  let complete = 0
  for (let at = 0; at < trickle.length; at++) if (reader.push(trickle.subarray(at, at + 1)).complete) complete++
  const ms = performance.now() - started
  t.equal(complete, 0, 'still waiting for the rest')
  t.ok(ms < 500, `60,000 pushes in ${ms.toFixed(0)} ms`)
})
