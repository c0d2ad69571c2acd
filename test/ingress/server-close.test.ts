// IngressServer.close() ends every client connection, whatever runs on it: the HTTP/1.1 fast
// path, node:http (a request whose body is still coming), a TLS handshake, HTTPS/1.1, an h2
// session with a stream open, and a WebSocket tunnel. It destroys each accepted socket, and
// that is enough: what runs on a socket ends with it.
import { createServer, type IncomingMessage } from 'node:http'
import { connect as h2connect } from 'node:http2'
import { connect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { listenLoopback, loopbackEndpoints, startIngressServer } from './server-rig.ts'

const backend = createServer((req: IncomingMessage, res) => {
  req.resume()
  req.on('end', () => res.end('ok'))
})
// A tunnel the endpoint keeps open until weft hangs up.
backend.on('upgrade', (_req, socket: Socket) => {
  socket.on('error', () => {})
  socket.on('end', () => socket.end())
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
})
const port = await listenLoopback(t, backend)
const { table } = buildRouteTable([{ metadata: { name: 'web', namespace: 'default' }, spec: { rules: [{ host: 'c.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } }])

t.test('close() ends every kind of connection at once', async (t) => {
  const server = await startIngressServer(t, { table, balancer: loopbackEndpoints(table, { web: port }) })
  const { httpPort, httpsPort } = server
  const ended = new Map<string, Promise<void>>()
  const watch = (name: string, s: { on(event: 'close' | 'error', fn: () => void): unknown }) => {
    s.on('error', () => {})
    ended.set(name, new Promise<void>((resolve) => s.on('close', () => resolve())))
  }
  const opened = (s: Socket) => new Promise((resolve) => s.once('connect', resolve))

  const idle = connect(httpPort, '127.0.0.1')
  watch('HTTP, idle (fast path)', idle)
  await opened(idle)
  const body = connect(httpPort, '127.0.0.1')
  watch('HTTP, a body still coming (node:http)', body)
  await opened(body)
  body.write('POST / HTTP/1.1\r\nHost: c.test\r\nContent-Length: 100\r\n\r\nabc')
  const upgrade = connect(httpPort, '127.0.0.1')
  watch('HTTP, a WebSocket tunnel', upgrade)
  await opened(upgrade)
  upgrade.write('GET / HTTP/1.1\r\nHost: c.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
  await new Promise<void>((resolve) => upgrade.once('data', () => resolve()))
  const handshake = connect(httpsPort, '127.0.0.1')
  watch('TLS, mid-handshake', handshake)
  await opened(handshake)
  handshake.write(Buffer.from([22, 3, 1, 2, 0]))
  const https = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'c.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
  watch('HTTPS/1.1, idle', https)
  await new Promise((resolve) => https.once('secureConnect', resolve))
  const session = h2connect(`https://127.0.0.1:${httpsPort}`, { rejectUnauthorized: false, servername: 'c.test' })
  watch('h2, a stream open', session)
  const stream = session.request({ ':method': 'POST', ':path': '/', ':authority': 'c.test' }, { endStream: false })
  stream.on('error', () => {})
  stream.write('part')
  await new Promise((resolve) => session.once('remoteSettings', resolve))
  // Everything has reached the server.
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(server.openConnections, ended.size, 'the server holds each connection')

  await server.close()
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 2000).unref())
  for (const [name, closed] of ended) t.equal(await Promise.race([closed.then(() => 'closed'), timeout]), 'closed', name)
  for (let i = 0; i < 20 && server.openConnections > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(server.openConnections, 0, 'and lets go of them')
})
