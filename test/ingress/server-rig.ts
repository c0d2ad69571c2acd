// What the tests of the Ingress server share: backends on loopback, a balancer that sends a
// route table's Services to them, an IngressServer serving that table, a raw TCP client, and
// real ClientHellos. Everything started here is closed when the test that started it ends.
import type { Server as HttpServer } from 'node:http'
import type { Http2Server } from 'node:http2'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { Balancer } from '../../ingress/balancer.ts'
import { CertStore } from '../../ingress/cert-store.ts'
import { backendKey } from '../../ingress/endpoints.ts'
import { IngressMetrics } from '../../ingress/metrics.ts'
import { UpstreamPools } from '../../ingress/proxy.ts'
import type { RouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { IngressServer, type IngressServerOptions } from '../../ingress/server.ts'
import { logger } from '../../src/util/log.ts'

export interface Teardown {
  teardown(fn: () => unknown): void
}

/** Listens on a loopback port; at teardown the server is closed (an HTTP server's connections first). */
/**
 * A teardown step whose failure says which step failed and why on stderr: tap reports a
 * teardown that rejects after the test's end only as "error thrown in teardown".
 */
export function teardownStep(t: Teardown, name: string, step: () => unknown): void {
  t.teardown(async () => {
    try {
      await step()
    } catch (err) {
      process.stderr.write(`teardown step "${name}" failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      throw err
    }
  })
}

export async function listenLoopback(t: Teardown, server: Server | HttpServer | Http2Server): Promise<number> {
  // Every connection it took, to end at teardown: close() alone waits for them, and what holds
  // their other ends (a pool whose teardown comes later, an unref'd socket) may not keep the
  // process alive meanwhile: it then exits with the teardown unfinished.
  const open = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  teardownStep(t, 'close a loopback server', () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of open) socket.destroy()
    return closed
  })
  return (server.address() as AddressInfo).port
}

/** A balancer that sends each backend Service of `table` named in `ports` to those ports on 127.0.0.1 (the others have no endpoints). */
export function loopbackEndpoints(table: RouteTable, ports: Record<string, number | number[]>): Balancer {
  const balancer = new Balancer()
  for (const { backend } of [...table.routes(), ...table.defaultBackends()]) {
    const p = ports[backend.service]
    if (p !== undefined) balancer.setEndpoints(backendKey(backend), (Array.isArray(p) ? p : [p]).map((port) => ({ address: '127.0.0.1', port })))
  }
  return balancer
}

export interface TestServerOptions extends Partial<IngressServerOptions> {
  table: RouteTable
  balancer: Balancer
}

/**
 * An IngressServer serving `o.table`: HTTP and HTTPS on loopback ports unless `httpListen` or
 * `httpsListen` say otherwise, a self-signed default certificate unless `certs`, upstream
 * pools of its own unless `pools`; closed (with the pools it made) at teardown.
 */
export async function startIngressServer(t: Teardown, o: TestServerOptions): Promise<IngressServer> {
  const { table, ...options } = o
  const pools = options.pools ?? new UpstreamPools()
  if (!options.pools) teardownStep(t, 'close the upstream pools', () => pools.close())
  const server = new IngressServer({
    httpListen: '127.0.0.1:0',
    httpsListen: '127.0.0.1:0',
    metrics: new IngressMetrics(),
    log: logger('ingress-test'),
    ...options,
    certs: options.certs ?? new CertStore(await selfSigned(['ingress.test'])),
    pools,
  })
  server.setTable(table)
  await server.start()
  teardownStep(t, 'close the ingress server', () => server.close())
  return server
}

/** Raw bytes in on a new connection; everything that came back once the server closes it, or after `waitMs` (then the client hangs up). */
export function raw(port: number, bytes: string | Buffer, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    const s = connect(port, '127.0.0.1', () => s.write(bytes))
    const timer = setTimeout(() => s.destroy(), waitMs)
    s.on('data', (d: Buffer) => (got += d.toString('latin1')))
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      resolve(got)
    })
  })
}

/** The first record a TLS client sends (its ClientHello), caught by a TCP listener that `start` points the client at. */
export function captureClientHello(start: (port: number) => void): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      let got = Buffer.alloc(0)
      socket.on('data', (d: Buffer) => {
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

/** The ClientHello node:tls sends (for `servername`, or without SNI). */
export function nodeClientHello(servername?: string): Promise<Buffer> {
  return captureClientHello((port) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, ALPNProtocols: ['h2', 'http/1.1'] })
    s.on('error', () => {})
  })
}

/** The handshake message of a one-record ClientHello again, in records of at most `size` bytes. */
export function reframe(hello: Buffer, size: number): Buffer {
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
