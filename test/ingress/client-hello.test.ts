// The ClientHello reader: real ClientHellos (from node:tls and openssl), split at every byte,
// re-framed over several records, and hostile ones (truncated lengths, garbage, oversize).
import { execFile } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { MAX_CLIENT_HELLO_BYTES, scanClientHello } from '../../ingress/client-hello.ts'
import { Rng } from '../helpers/fuzz.ts'

/** The first bytes a client sends: its ClientHello. */
async function capture(start: (port: number) => void): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      let got = Buffer.alloc(0)
      socket.on('data', (d) => {
        got = Buffer.concat([got, d])
        const length = got.length >= 5 ? got.readUInt16BE(3) : Infinity
        if (got.length >= 5 + length) {
          socket.destroy()
          server.close()
          resolve(got)
        }
      })
      socket.on('error', () => {})
    })
    server.listen(0, '127.0.0.1', () => start((server.address() as AddressInfo).port))
  })
}

const fromNode = (servername?: string) =>
  capture((port) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, ALPNProtocols: ['h2', 'http/1.1'] })
    s.on('error', () => {})
  })
const fromOpenssl = (args: string[]) =>
  capture((port) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], () => {})
    child.stdin?.end()
  })

/** The same handshake message in records of at most `size` bytes. */
function reframe(hello: Buffer, size: number): Buffer {
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3))
  const records: Buffer[] = []
  for (let at = 0; at < body.length; at += size) {
    const part = body.subarray(at, at + size)
    const head = Buffer.from([22, 3, 1, 0, 0])
    head.writeUInt16BE(part.length, 3)
    records.push(head, part)
  }
  return Buffer.concat(records)
}

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
