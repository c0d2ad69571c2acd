// agnhost serve-hostname: the hostname over HTTP (default), or raw over TCP and/or UDP.
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer, type Server } from 'node:net'
import { parseFlags } from './flags.ts'
import { bindUdp } from './udp.ts'
import { exitOnSignal, fail, logLine, podHostname } from './runtime.ts'

export async function serveHostname(args: readonly string[]): Promise<void> {
  const flags = parseFlags('serve-hostname', args, { tcp: false, udp: false, http: true, close: false, port: 9376 })
  if (flags.http && (flags.tcp || flags.udp)) fail('serve-hostname', "can't serve TCP/UDP mode and HTTP mode at the same time (pass --http=false)")
  const name = podHostname()
  exitOnSignal()
  const listening: Promise<void>[] = []
  if (flags.tcp) {
    // A client may reset the connection before it reads the name (a tcpSocket probe does):
    // that ends this connection, not the server.
    const server = createTcpServer((conn) => {
      conn.on('error', () => conn.destroy())
      conn.end(name)
    })
    listening.push(listen(server, flags.port, 'TCP'))
  }
  if (flags.udp) {
    const sock = await bindUdp(flags.port).catch((err: Error) => fail('serve-hostname', `cannot listen on UDP port ${flags.port}: ${err.message}`))
    sock.on('message', (_msg, rinfo) => sock.send(name, rinfo.port, rinfo.address))
  }
  if (flags.http) {
    const server = createHttpServer((_req, res) => {
      const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' }
      if (flags.close) headers.connection = 'close'
      res.writeHead(200, headers).end(name)
    })
    listening.push(listen(server, flags.port, 'HTTP'))
  }
  await Promise.all(listening)
  logLine('serve-hostname', `serving on port ${flags.port}`)
}

function listen(server: Server, port: number, what: string): Promise<void> {
  return new Promise((resolve) => {
    server.on('error', (err) => fail('serve-hostname', `cannot listen on ${what} port ${port}: ${err.message}`))
    server.listen(port, resolve)
  })
}
