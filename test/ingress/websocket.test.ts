import t from 'tap'
import type { Test } from 'tap'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ClientInfo } from '../../ingress/headers.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { chunkedBodyEnd, parseResponseHead, tunnelUpgrade, type TunnelTarget } from '../../ingress/websocket.ts'

const wsGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

function portOf(server: { address(): string | AddressInfo | null }): number {
  return (server.address() as AddressInfo).port
}

/** Sockets a test opens or accepts, destroyed at teardown. */
function tracked(t: Test): Set<Duplex> {
  const sockets = new Set<Duplex>()
  t.teardown(() => {
    for (const s of sockets) s.destroy()
  })
  return sockets
}

async function listen<S extends Server | ReturnType<typeof createNetServer>>(t: Test, server: S): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  // not awaited: upgraded sockets keep close() pending until the tracked sockets are destroyed
  t.teardown(() => {
    server.close()
  })
  return portOf(server)
}

/** One unmasked frame (server → client); payload under 64 KiB. */
function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
  return Buffer.concat([head, payload])
}

/** One masked frame (client → server), as a raw client must send it. */
function maskedFrame(opcode: number, text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = Buffer.from([1, 2, 3, 4])
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked])
}

/** Echoes every complete client frame back unmasked; answers close with close and ends. */
function echoFrames(socket: Duplex, initial: Buffer): void {
  let buf = initial
  const drain = (): void => {
    for (;;) {
      if (buf.length < 2) return
      const opcode = buf[0] & 0x0f
      let len = buf[1] & 0x7f
      let off = 2
      if (len === 126) {
        if (buf.length < 4) return
        len = buf.readUInt16BE(2)
        off = 4
      }
      const masked = (buf[1] & 0x80) !== 0
      const total = off + (masked ? 4 : 0) + len
      if (buf.length < total) return
      const mask = masked ? buf.subarray(off, off + 4) : Buffer.alloc(4)
      const data = Buffer.from(buf.subarray(total - len, total).map((b, i) => b ^ mask[i % 4]))
      buf = buf.subarray(total)
      if (opcode === 8) {
        socket.end(frame(8, data.subarray(0, 2)))
        return
      }
      socket.write(frame(opcode, data))
    }
  }
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk])
    drain()
  })
  drain()
}

interface Upstream {
  port: number
  requests: IncomingMessage[]
  sockets: Duplex[]
}

/** An upstream WebSocket echo server (plain or TLS) on 127.0.0.1. */
async function echoUpstream(t: Test, tls?: { key: string; cert: string }): Promise<Upstream> {
  const server = tls ? createHttpsServer(tls) : createServer()
  const up: Upstream = { port: 0, requests: [], sockets: [] }
  const sockets = tracked(t)
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    up.requests.push(req)
    up.sockets.push(socket)
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('end', () => socket.end())
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key'] as string}${wsGuid}`).digest('base64')
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nX-Upstream: echo\r\n\r\n`,
    )
    echoFrames(socket, head)
  })
  up.port = await listen(t, server)
  return up
}

/** The ingress side: an http server whose 'upgrade' handler calls tunnelUpgrade. */
async function front(t: Test, target: Omit<TunnelTarget, 'connectTimeoutMs'> & { connectTimeoutMs?: number }) {
  const server = createServer()
  const statuses: number[] = []
  /** The `error` of each result (what goes to the log). */
  const errors: (string | undefined)[] = []
  const sockets = tracked(t)
  let notify: (() => void) | undefined
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket)
    const client: ClientInfo = { remoteAddress: req.socket.remoteAddress ?? '', scheme: 'http', host: req.headers.host ?? '', httpVersion: req.httpVersion }
    void tunnelUpgrade(req, socket, head, { connectTimeoutMs: 2000, ...target }, client).then(({ status, error }) => {
      statuses.push(status)
      errors.push(error)
      notify?.()
    })
  })
  const port = await listen(t, server)
  const nextStatus = async (): Promise<number> => {
    while (statuses.length === 0) await new Promise<void>((r) => (notify = r))
    return statuses.shift() as number
  }
  return { port, nextStatus, sockets, errors }
}

function upgradeRequest(port: number, path = '/chat'): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
  )
}

/** A raw TCP client: the bytes it has received so far, and a wait for a condition on them. */
function rawClient(t: Test, port: number, data: Buffer | string) {
  const socket: Socket = connect(port, '127.0.0.1', () => socket.write(data))
  t.teardown(() => socket.destroy())
  let received = Buffer.alloc(0)
  let closed = false
  const waiters: (() => void)[] = []
  const wake = (): void => {
    for (const w of waiters.splice(0)) w()
  }
  socket.on('data', (c: Buffer) => {
    received = Buffer.concat([received, c])
    wake()
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    closed = true
    wake()
  })
  return {
    socket,
    received: () => received,
    async until(cond: (b: Buffer) => boolean): Promise<Buffer> {
      while (!cond(received) && !closed) await new Promise<void>((r) => waiters.push(r))
      return received
    },
    async closed(): Promise<Buffer> {
      while (!closed) await new Promise<void>((r) => waiters.push(r))
      return received
    },
  }
}

t.test('echo through the tunnel with the built-in WebSocket client', async (t) => {
  const up = await echoUpstream(t)
  const f = await front(t, { address: '127.0.0.1', port: up.port })
  const ws = new WebSocket(`ws://127.0.0.1:${f.port}/chat?room=1`)
  t.teardown(() => ws.close())
  await once(ws, 'open')
  t.equal(await f.nextStatus(), 101)
  const messages: string[] = []
  const got = new Promise<void>((resolve) =>
    ws.addEventListener('message', (e: MessageEvent) => {
      messages.push(String(e.data))
      if (messages.length === 2) resolve()
    }),
  )
  ws.send('hello')
  ws.send('x'.repeat(300))
  await got
  t.same(messages, ['hello', 'x'.repeat(300)])

  const req = up.requests[0]
  t.equal(req.url, '/chat?room=1')
  t.equal(req.headers.host, `127.0.0.1:${f.port}`)
  t.equal(req.headers.connection, 'upgrade')
  t.equal(req.headers.upgrade, 'websocket')
  t.equal(req.headers['x-forwarded-for'], '127.0.0.1')
  t.equal(req.headers['x-forwarded-proto'], 'http')
  t.equal(req.headers.via, '1.1 weft')

  const closed = once(up.sockets[0], 'close')
  ws.close(1000)
  await once(ws, 'close')
  await closed
  t.pass('the upstream connection closed after the WebSocket closing handshake')
})

t.test('raw: 101 head rewritten, bytes sent with the request head reach the upstream', async (t) => {
  const up = await echoUpstream(t)
  const f = await front(t, { address: '127.0.0.1', port: up.port })
  const c = rawClient(t, f.port, Buffer.concat([Buffer.from(upgradeRequest(0)), maskedFrame(1, 'early')]))
  const data = await c.until((b) => b.includes(frame(1, Buffer.from('early'))))
  const head = data.toString('latin1', 0, data.indexOf('\r\n\r\n'))
  const parsed = parseResponseHead(head)
  if (typeof parsed === 'string') throw new Error(parsed)
  t.equal(parsed.status, 101)
  t.equal(parsed.headers.connection, 'upgrade')
  t.equal(parsed.headers.upgrade, 'websocket')
  t.equal(parsed.headers['x-upstream'], 'echo')
  t.equal(parsed.headers.via, '1.1 weft')
  t.ok(parsed.headers['sec-websocket-accept'])
  t.ok(data.subarray(data.indexOf('\r\n\r\n') + 4).equals(frame(1, Buffer.from('early'))), 'the early frame was echoed')
})

t.test('client closes → the upstream connection is closed', async (t) => {
  const up = await echoUpstream(t)
  const f = await front(t, { address: '127.0.0.1', port: up.port })
  const c = rawClient(t, f.port, upgradeRequest(0))
  await c.until((b) => b.includes('\r\n\r\n'))
  t.equal(await f.nextStatus(), 101)
  t.equal(up.sockets.length, 1)
  const upstreamEnded = once(up.sockets[0], 'end')
  const upstreamClosed = once(up.sockets[0], 'close')
  c.socket.destroy()
  await upstreamEnded
  t.pass('the upstream saw its connection end')
  await upstreamClosed
  t.pass('upstream socket closed')
})

t.test('upstream refuses the connection → 502', async (t) => {
  const probe = createNetServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const deadPort = portOf(probe)
  await new Promise<void>((r) => probe.close(() => r()))

  const f = await front(t, { name: 'service default/ws port 80', address: '127.0.0.1', port: deadPort })
  const c = rawClient(t, f.port, upgradeRequest(0))
  const text = (await c.closed()).toString()
  t.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/)
  t.match(text, /connection: close\r\n/)
  t.match(text, /\r\n\r\n502 Bad Gateway: service default\/ws port 80 could not be reached\n$/, 'the body names the Service, not the endpoint or the error')
  t.equal(await f.nextStatus(), 502)
  t.match(f.errors.at(-1), new RegExp(`^upstream tcp://127\\.0\\.0\\.1:${deadPort} refused or unreachable: ECONNREFUSED$`), 'the cause is returned for the log')

  const ws = new WebSocket(`ws://127.0.0.1:${f.port}/`)
  await once(ws, 'error')
  t.equal(await f.nextStatus(), 502, 'the WebSocket client sees a failed handshake')
})

t.test('upstream answers 403 → relayed, then closed (Content-Length and chunked)', async (t) => {
  const bodies: Record<string, string> = {
    '/cl': 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\n\r\nforbidden',
    '/chunked': 'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\n\r\n4\r\nforb\r\n5;ext=1\r\nidden\r\n0\r\nx-t: 1\r\n\r\n',
    '/interim': 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden',
  }
  const server = createServer()
  const sockets = tracked(t)
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    sockets.add(socket)
    socket.write(bodies[req.url ?? ''])
    // the upstream keeps its connection open: the relay must end on the body's framing
  })
  const port = await listen(t, server)
  const f = await front(t, { address: '127.0.0.1', port })

  for (const path of ['/cl', '/chunked', '/interim']) {
    const c = rawClient(t, f.port, upgradeRequest(0, path))
    const text = (await c.closed()).toString()
    t.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/, path)
    t.match(text, /\r\nconnection: close\r\n/, `${path}: Connection: close`)
    t.match(text, /\r\nvia: 1\.1 weft\r\n/, `${path}: Via`)
    t.notMatch(text, /keep-alive/i, `${path}: no keep-alive`)
    if (path === '/chunked') {
      t.match(text, /\r\ntransfer-encoding: chunked\r\n/, 'chunked framing kept')
      t.match(text, /\r\n\r\n4\r\nforb\r\n5;ext=1\r\nidden\r\n0\r\nx-t: 1\r\n\r\n$/, 'chunked body relayed whole')
    } else t.match(text, /\r\ncontent-length: 9\r\n(.*\r\n)*\r\nforbidden$/, `${path}: body relayed`)
    t.equal(await f.nextStatus(), 403)
  }
})

t.test('upstream accepts but never answers → 504', async (t) => {
  const silent = createNetServer((s) => sockets.add(s))
  const sockets = tracked(t)
  const port = await listen(t, silent)
  const f = await front(t, { address: '127.0.0.1', port, connectTimeoutMs: 200 })
  const c = rawClient(t, f.port, upgradeRequest(0))
  const text = (await c.closed()).toString()
  t.match(text, /^HTTP\/1\.1 504 Gateway Timeout\r\n/)
  t.match(text, /did not answer within 200 ms\n$/)
  t.equal(await f.nextStatus(), 504)
})

t.test('TLS upstream', async (t) => {
  const up = await echoUpstream(t, await selfSigned(['backend.test']))
  const f = await front(t, { address: '127.0.0.1', port: up.port, tls: true })
  const ws = new WebSocket(`ws://127.0.0.1:${f.port}/`)
  t.teardown(() => ws.close())
  await once(ws, 'open')
  ws.send('over tls')
  const [e] = (await once(ws, 'message')) as [MessageEvent]
  t.equal(String(e.data), 'over tls')
  t.equal(await f.nextStatus(), 101)
})

t.test('chunkedBodyEnd finds the end at every split point', async (t) => {
  const body = Buffer.from('4\r\nWiki\r\n7;a=b\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nx-trailer: 1\r\n\r\n')
  const tail = Buffer.from('NEXT')
  const all = Buffer.concat([body, tail])
  for (let cut = 0; cut <= all.length; cut++) {
    const end = chunkedBodyEnd()
    const a = end(all.subarray(0, cut))
    const got = a !== -1 ? a : cut + end(all.subarray(cut))
    if (got !== body.length) t.fail(`split at ${cut}: end ${got}, want ${body.length}`)
  }
  t.pass('all split points')
  t.equal(chunkedBodyEnd()(Buffer.from('0\r\n\r\n')), 5, 'empty body')
  t.throws(() => chunkedBodyEnd()(Buffer.from('zz\r\n')), /malformed chunk size/)
})
