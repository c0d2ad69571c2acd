import t, { type Test } from 'tap'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type Server, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { openssl, tmp } from '../helpers/openssl.ts'
import { createHttp1Client } from '../../load/protocols/http1.ts'
import { buildRequest } from '../../load/protocols/http1-request.ts'
import { malformed, needMore, ResponseParser } from '../../load/protocols/http1-response.ts'
import type { ErrorClass, LoadClient, ResolvedTarget } from '../../load/types.ts'

interface Outcome {
  token: number
  error: ErrorClass | undefined
  endpoint: string | undefined
}

function target(port: number, overrides: Partial<ResolvedTarget> = {}): ResolvedTarget {
  return {
    protocol: 'http1',
    tls: false,
    endpoints: [{ host: '127.0.0.1', port }],
    authority: `example.test:${port}`,
    insecure: false,
    path: '/',
    method: 'GET',
    headers: [],
    description: 'test',
    spec: 'test',
    ...overrides,
  }
}

function client(target: ResolvedTarget, options: { connections?: number; keepAlive?: boolean; timeoutMs?: number; identify?: boolean } = {}) {
  const outcomes: Outcome[] = []
  const waiters: { count: number; resolve: () => void }[] = []
  const http: LoadClient = createHttp1Client({
    target,
    connections: options.connections ?? 4,
    keepAlive: options.keepAlive ?? true,
    timeoutMs: options.timeoutMs ?? 5000,
    identifyEndpoints: options.identify ?? false,
    sink: {
      done(token, error, endpoint) {
        outcomes.push({ token, error, endpoint })
        for (const waiter of waiters) if (outcomes.length >= waiter.count) waiter.resolve()
      },
    },
  })
  const until = (count: number) => new Promise<void>((resolve) => (outcomes.length >= count ? resolve() : waiters.push({ count, resolve })))
  const sendAll = async (count: number) => {
    for (let token = 0; token < count; token++) http.send(token)
    await until(count)
    return outcomes
  }
  return { http, outcomes, until, sendAll }
}

const errorsOf = (outcomes: Outcome[]) => outcomes.map((o) => o.error)

async function httpServer(t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createHttpServer({ keepAliveTimeout: 10_000 }, handler)
  let connections = 0
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as { port: number }).port, connections: () => connections }
}

/** A server that answers each request's bytes with whatever `answer` writes on the raw socket. */
async function rawServer(t: Test, answer: (socket: Socket, request: string) => void): Promise<{ port: number; server: Server; connections: () => number }> {
  let connections = 0
  const server = createNetServer((socket) => {
    connections++
    socket.on('error', () => {})
    let pending = ''
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1')
      let end: number
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        const request = pending.slice(0, end + 4)
        pending = pending.slice(end + 4)
        answer(socket, request)
      }
    })
  })
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as { port: number }).port, server, connections: () => connections }
}

t.test('the request is built once, exactly', async (t) => {
  const request = buildRequest(target(80, { method: 'POST', path: '/a?b=c', headers: [['X-Test', ' yes ']], body: Buffer.from('hello').toString('base64') }), true)
  t.equal(request.toString('latin1'), 'POST /a?b=c HTTP/1.1\r\nHost: example.test:80\r\nX-Test: yes\r\nUser-Agent: weft-load\r\nContent-Length: 5\r\n\r\nhello')
  t.equal(buildRequest(target(80, { headers: [['user-agent', 'mine']] }), false).toString('latin1'), 'GET / HTTP/1.1\r\nHost: example.test:80\r\nuser-agent: mine\r\nConnection: close\r\n\r\n')
  t.throws(() => buildRequest(target(80, { method: 'GE T' }), true), /method/)
  t.throws(() => buildRequest(target(80, { path: 'no-slash' }), true), /path/)
  t.throws(() => buildRequest(target(80, { path: '/a b' }), true), /path/)
  t.throws(() => buildRequest(target(80, { path: '/a\r\nX: y' }), true), /path/)
  t.throws(() => buildRequest(target(80, { authority: 'a b' }), true), /Host/)
  t.throws(() => buildRequest(target(80, { headers: [['Bad Name', 'x']] }), true), /header name/)
  t.throws(() => buildRequest(target(80, { headers: [['X', 'a\r\nInjected: 1']] }), true), /printable/)
  t.throws(() => buildRequest(target(80, { headers: [['Content-Length', '5']] }), true), /set by weft load/)
  t.throws(() => buildRequest(target(80, { body: '!!' }), true), /base64/)
  t.throws(() => createHttp1Client({ target: target(80, { tls: true, servername: 'bad name' }), connections: 1, keepAlive: true, timeoutMs: 1000, identifyEndpoints: false, sink: { done() {} } }), /server name/)
})

/** Feeds `text` to a parser in pieces of `step` bytes; returns the result of the last feed and the parser. */
function parse(text: string, step = Infinity, headRequest = false) {
  const parser = new ResponseParser(true)
  parser.reset(headRequest)
  const bytes = Buffer.from(text, 'latin1')
  let result = needMore
  for (let at = 0; at < bytes.length && result === needMore; at += Math.min(step, bytes.length)) {
    const piece = Buffer.concat([Buffer.from('garbage-before'), bytes.subarray(at, Math.min(at + step, bytes.length)), Buffer.from('garbage-after')])
    const end = piece.length - 'garbage-after'.length
    const after = parser.feed(piece, 'garbage-before'.length, end)
    result = after >= 0 ? at + after - 'garbage-before'.length : after
  }
  return { result, parser, body: parser.capture!.subarray(0, parser.captured).toString('latin1') }
}

t.test('the response parser: framing, whole or split at every byte', async (t) => {
  const cases: { name: string; text: string; status: number; body: string; closeAfter?: boolean; head?: boolean }[] = [
    { name: 'content-length', text: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Other: 1\r\n\r\nhello', status: 200, body: 'hello' },
    { name: 'no reason phrase', text: 'HTTP/1.1 204\r\n\r\n', status: 204, body: '' },
    { name: 'chunked with extensions and trailers', text: 'HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n', status: 200, body: 'abc0123456789' },
    { name: 'interim 100 Continue first', text: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok', status: 201, body: 'ok' },
    { name: 'connection: close', text: 'HTTP/1.1 503 Busy\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n', status: 503, body: '', closeAfter: true },
    { name: 'HTTP/1.0 closes by default', text: 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx', status: 200, body: 'x', closeAfter: true },
    { name: 'HTTP/1.0 keep-alive', text: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx', status: 200, body: 'x', closeAfter: false },
    { name: 'HEAD: no body despite the length', text: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', status: 200, body: '', head: true },
    { name: 'duplicate equal lengths', text: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi', status: 200, body: 'hi' },
  ]
  for (const c of cases) {
    for (const step of [Infinity, 1, 2, 7]) {
      const { result, parser, body } = parse(c.text, step, c.head)
      t.equal(result, Buffer.byteLength(c.text, 'latin1'), `${c.name} (pieces of ${step}): complete at its end`)
      t.equal(parser.status, c.status, `${c.name}: status`)
      t.equal(body, c.body, `${c.name}: body`)
      if (c.closeAfter !== undefined) t.equal(parser.closeAfter, c.closeAfter, `${c.name}: connection kept or not`)
    }
  }
  const untilClose = parse('HTTP/1.1 200 OK\r\n\r\nall of it')
  t.equal(untilClose.result, needMore, 'no length: the body runs until the connection closes')
  t.ok(untilClose.parser.endOfStream())
  t.equal(untilClose.body, 'all of it')
  t.ok(untilClose.parser.closeAfter)
  const short = parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')
  t.equal(short.result, needMore)
  t.notOk(short.parser.endOfStream(), 'an early end is not a complete response')
  const extra = parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA')
  t.equal(extra.result, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'.length, 'bytes after the response are left over')
})

t.test('the response parser refuses what it does not expect', async (t) => {
  const bad = [
    'HTTP/2 200 OK\r\n\r\n',
    'FTP/1.1 200 OK\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/1.1 600 Nope\r\n\r\n',
    'HTTP/1.1 200OK\r\n\r\n',
    'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n',
    'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\n folded: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\n\r\n',
    'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    `HTTP/1.1 200 OK\r\n${'X: y\r\n'.repeat(201)}\r\n`,
    `HTTP/1.1 200 OK\r\nX: ${'y'.repeat(17_000)}`,
  ]
  for (const text of bad) {
    for (const step of [Infinity, 3]) {
      const { result, parser } = parse(text, step)
      t.equal(result, malformed, `${JSON.stringify(text.slice(0, 50))} (pieces of ${step}): ${parser.problem}`)
    }
  }
})

t.test('keep-alive: requests share connections; every answer is read to its end', async (t) => {
  const seen: string[] = []
  const server = await httpServer(t, (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.host} ${req.headers.connection ?? ''}`)
    if (req.url === '/chunked') {
      res.write('a'.repeat(100))
      setImmediate(() => res.end('b'.repeat(5000)))
    } else {
      res.end('ok')
    }
  })
  const { http, sendAll } = client(target(server.port), { connections: 3 })
  const outcomes = await sendAll(60)
  t.same(new Set(errorsOf(outcomes)), new Set([undefined]))
  t.equal(server.connections(), 3, 'three connections for 60 requests')
  t.equal(seen[0], `GET / example.test:${server.port} `)
  t.equal(http.inFlight, 0)
  await http.close()
  const chunked = client(target(server.port, { path: '/chunked' }), { connections: 2 })
  t.same(new Set(errorsOf(await chunked.sendAll(20))), new Set([undefined]), 'chunked answers')
  await chunked.http.close()
})

t.test('keepAlive=false: a new connection per request, asking the server to close', async (t) => {
  const seen: string[] = []
  const server = await httpServer(t, (req, res) => {
    seen.push(req.headers.connection ?? '')
    res.end('ok')
  })
  const { http, sendAll } = client(target(server.port), { connections: 2, keepAlive: false })
  const outcomes = await sendAll(20)
  t.same(new Set(errorsOf(outcomes)), new Set([undefined]))
  t.equal(server.connections(), 20)
  t.same(new Set(seen), new Set(['close']))
  await http.close()
})

t.test('servers that close after each response, or send bodies until close, work', async (t) => {
  const closing = await rawServer(t, (socket) => socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'))
  const a = client(target(closing.port), { connections: 2 })
  t.same(new Set(errorsOf(await a.sendAll(10))), new Set([undefined]))
  t.equal(closing.connections(), 10)
  await a.http.close()
  const untilClose = await rawServer(t, (socket) => socket.end('HTTP/1.0 200 OK\r\n\r\nthe whole body'))
  const b = client(target(untilClose.port), { connections: 2 })
  t.same(new Set(errorsOf(await b.sendAll(10))), new Set([undefined]))
  await b.http.close()
})

t.test('HTTP status classes', async (t) => {
  const server = await httpServer(t, (req, res) => {
    res.statusCode = Number(req.url!.slice(1))
    res.end()
  })
  for (const [status, expected] of [[200, undefined], [302, undefined], [404, 'http-4xx'], [429, 'http-4xx'], [500, 'http-5xx'], [503, 'http-5xx']] as const) {
    const c = client(target(server.port, { path: `/${status}` }))
    t.same(errorsOf(await c.sendAll(2)), [expected, expected], `${status}`)
    await c.http.close()
  }
})

t.test('a closed port is refused', async (t) => {
  const server = await rawServer(t, () => {})
  const port = server.port
  await new Promise<void>((resolve) => server.server.close(() => resolve()))
  const c = client(target(port))
  t.same(errorsOf(await c.sendAll(3)), ['refused', 'refused', 'refused'])
  await c.http.close()
})

t.test('a server that resets or closes early: reset', async (t) => {
  const destroying = await rawServer(t, (socket) => socket.destroy())
  const a = client(target(destroying.port))
  t.same(new Set(errorsOf(await a.sendAll(4))), new Set(['reset']))
  await a.http.close()
  const halfway = await rawServer(t, (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this'))
  const b = client(target(halfway.port))
  t.same(new Set(errorsOf(await b.sendAll(4))), new Set(['reset']), 'an early EOF')
  await b.http.close()
})

t.test('a server that never answers: timeout; the connection is replaced', async (t) => {
  let answer = false
  const server = await httpServer(t, (_req, res) => {
    if (answer) res.end('late but fine')
  })
  const c = client(target(server.port), { connections: 2, timeoutMs: 200 })
  const began = performance.now()
  t.same(errorsOf(await c.sendAll(4)), ['timeout', 'timeout', 'timeout', 'timeout'], 'two in flight and two queued time out')
  t.ok(performance.now() - began >= 190, 'not before the timeout')
  answer = true
  c.http.send(10)
  await c.until(5)
  t.equal(c.outcomes[4].error, undefined)
  await c.http.close()
})

t.test('malformed responses: protocol, and the connection is dropped', async (t) => {
  let count = 0
  const server = await rawServer(t, (socket) => {
    count++
    socket.write(count % 2 === 1 ? 'HTTP/1.1 2x0 Broken\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
  })
  const c = client(target(server.port), { connections: 1 })
  t.same(errorsOf(await c.sendAll(4)), ['protocol', undefined, 'protocol', undefined])
  t.equal(server.connections(), 3, 'a new connection after each malformed response')
  await c.http.close()
})

t.test('endpoint identification from weft/echo and agnhost replies; else the endpoint connected to', async (t) => {
  const echo = await httpServer(t, (_req, res) => res.end('{"pod":"web-7c9f-abcde","namespace":"default"}\n'))
  const hostname = await httpServer(t, (_req, res) => {
    res.write('web-')
    res.end('0\n')
  })
  const plain = await httpServer(t, (_req, res) => res.end('<html>hello</html>'))
  const c = client(
    {
      ...target(echo.port),
      endpoints: [
        { host: '127.0.0.1', port: echo.port },
        { host: '127.0.0.1', port: hostname.port },
        { host: '127.0.0.1', port: plain.port, label: 'pod plain' },
      ],
    },
    { connections: 3, identify: true },
  )
  const outcomes = await c.sendAll(30)
  const counts: Record<string, number> = {}
  for (const o of outcomes) counts[o.endpoint ?? 'none'] = (counts[o.endpoint ?? 'none'] ?? 0) + 1
  t.same(Object.keys(counts).sort(), ['pod plain', 'web-0', 'web-7c9f-abcde'])
  t.equal(outcomes.length, 30)
  await c.http.close()
  const quiet = client(target(echo.port))
  t.same((await quiet.sendAll(1)).map((o) => o.endpoint), [undefined], 'not identified unless asked')
  await quiet.http.close()
})

t.test('TLS: SNI, certificate checks, --insecure', async (t) => {
  const dir = tmp('weft-load-tls-')
  t.teardown(() => dir.remove())
  const made = await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=load.test', '-addext', 'subjectAltName=DNS:load.test',
    '-keyout', `${dir.path}/key.pem`, '-out', `${dir.path}/cert.pem`,
  ])
  t.equal(made.code, 0, made.stderr)
  const names: (string | false | null)[] = []
  const server = createHttpsServer({ key: readFileSync(`${dir.path}/key.pem`), cert: readFileSync(`${dir.path}/cert.pem`) }, (req, res) => {
    names.push((req.socket as import('node:tls').TLSSocket).servername)
    res.end('{"pod":"tls-pod"}')
  })
  server.on('tlsClientError', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const port = (server.address() as { port: number }).port
  const tls = { tls: true, servername: 'load.test', authority: 'load.test' }

  const strict = client(target(port, tls))
  t.same(errorsOf(await strict.sendAll(2)), ['tls', 'tls'], 'a self-signed certificate is refused')
  await strict.http.close()

  const insecure = client(target(port, { ...tls, insecure: true }), { connections: 2, identify: true })
  const outcomes = await insecure.sendAll(10)
  t.same(new Set(errorsOf(outcomes)), new Set([undefined]), '--insecure accepts it')
  t.same(new Set(outcomes.map((o) => o.endpoint)), new Set(['tls-pod']))
  t.same(new Set(names), new Set(['load.test']), 'the server saw the SNI name')
  await insecure.http.close()

  const perRequest = client(target(port, { ...tls, insecure: true }), { connections: 2, keepAlive: false })
  t.same(new Set(errorsOf(await perRequest.sendAll(6))), new Set([undefined]), 'a TLS connection per request')
  await perRequest.http.close()

  const wrongName = client(target(port, { ...tls, servername: 'other.test', insecure: false }))
  t.same(errorsOf(await wrongName.sendAll(1)), ['tls'])
  await wrongName.http.close()
})

t.test('close ends queued and in-flight requests without results', async (t) => {
  const server = await httpServer(t, () => {})
  const c = client(target(server.port), { connections: 2 })
  for (let token = 0; token < 5; token++) c.http.send(token)
  t.equal(c.http.inFlight, 5)
  await new Promise((resolve) => setTimeout(resolve, 50))
  await c.http.close()
  t.equal(c.http.inFlight, 0)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(c.outcomes, [])
})
