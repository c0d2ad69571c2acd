// Each Ingress listener holds at most maxConnections client connections: past it a new one is
// closed as it arrives, so clients that connect and send nothing (each may hold its connection
// for the headers or handshake timeout) cannot take every descriptor. The default comes from
// the open-file limit.
import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { defaultSocketLimit } from '../../proxy/userspace/limits.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { defaultMaxConnections, IngressServer, MAX_CONNECTIONS } from '../../ingress/server.ts'
import { listenLoopback, loopbackEndpoints, raw, startIngressServer } from './server-rig.ts'

t.test('the default: a quarter of what the open-file limit leaves, at most 16384', async (t) => {
  for (const [files, want] of [[1024, 192], [20_000, 4000], [65_536, 13_107], [1_048_576, MAX_CONNECTIONS]]) t.equal(defaultMaxConnections(defaultSocketLimit(files)), want, `RLIMIT_NOFILE ${files}`)
  const options = { httpListen: '', httpsListen: '' } as ConstructorParameters<typeof IngressServer>[0]
  t.equal(new IngressServer(options).maxConnections, defaultMaxConnections(), 'what a server gets unless told')
  t.equal(new IngressServer({ ...options, maxConnections: 7 }).maxConnections, 7)
  t.throws(() => new IngressServer({ ...options, maxConnections: 0 }), /maxConnections must be a positive whole number/)
})

const port = await listenLoopback(t, createServer((_req, res) => res.end('served')))
const { table } = buildRouteTable([{ metadata: { name: 'web', namespace: 'default' }, spec: { rules: [{ host: 'l.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } }])

const get = 'GET / HTTP/1.1\r\nHost: l.test\r\nConnection: close\r\n\r\n'

/** A connection that sends nothing; resolves once it is open, with whether the server closed it within `ms`. */
async function silent(port: number, ms: number): Promise<{ socket: Socket; closedWithin: Promise<boolean> }> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const closedWithin = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  await new Promise((resolve) => socket.once('connect', resolve).once('close', resolve))
  return { socket, closedWithin }
}

t.test('past maxConnections a listener closes new connections; one freed is one more served', async (t) => {
  const server = await startIngressServer(t, { table, balancer: loopbackEndpoints(table, { web: port }), maxConnections: 3, headersTimeoutMs: 10_000, handshakeTimeoutMs: 10_000 })
  const https = (): Promise<string> =>
    new Promise((resolve) => {
      let got = ''
      const s = tlsConnect({ host: '127.0.0.1', port: server.httpsPort, servername: 'l.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => s.write(get))
      s.on('data', (d: Buffer) => (got += d.toString('latin1')))
      s.on('error', () => {})
      s.on('close', () => resolve(got))
      setTimeout(() => s.destroy(), 3000)
    })
  for (const [name, listenerPort, request] of [['HTTP', server.httpPort, () => raw(server.httpPort, get)], ['HTTPS', server.httpsPort, https]] as const) {
    const held = await Promise.all([1, 2, 3].map(() => silent(listenerPort, 1500)))
    for (let i = 0; i < 20 && server.openConnections < 3; i++) await new Promise((resolve) => setTimeout(resolve, 25))
    t.equal(server.openConnections, 3, `${name}: three connections held`)
    const extra = await silent(listenerPort, 1000)
    t.equal(await extra.closedWithin, true, `${name}: a fourth is closed at once`)
    t.same(await Promise.all(held.map((h) => h.closedWithin)), [false, false, false], `${name}: the three held ones stay open`)
    held[0]!.socket.destroy()
    for (let i = 0; i < 20 && server.openConnections > 2; i++) await new Promise((resolve) => setTimeout(resolve, 25))
    t.match(await request(), /^HTTP\/1\.1 200 /, `${name}: with one freed, a request is served`)
    for (const h of held) h.socket.destroy()
    for (let i = 0; i < 20 && server.openConnections > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25))
  }
})
