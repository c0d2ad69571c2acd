// weft/echo: answers every HTTP request with who served it and what it received, as JSON.
import { createServer } from 'node:http'
import { parseFlags } from './flags.ts'
import { exitOnSignal, fail, joinHostPort, logLine, plainIP, podHostname } from './runtime.ts'

export interface EchoReply {
  pod: string
  namespace: string
  ip: string
  node: string
  method: string
  path: string
  headers: Record<string, string | string[]>
  remoteAddress: string
}

export function echo(args: readonly string[]): void {
  const envPort = process.env.PORT && /^\d+$/.test(process.env.PORT) ? Number(process.env.PORT) : 8080
  const flags = parseFlags('echo', args, { port: envPort })
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok')
      return
    }
    const headers: Record<string, string | string[]> = {}
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = v
    const reply: EchoReply = {
      pod: process.env.POD_NAME || podHostname(),
      namespace: process.env.POD_NAMESPACE ?? '',
      ip: process.env.POD_IP || plainIP(req.socket.localAddress ?? ''),
      node: process.env.NODE_NAME ?? '',
      method: req.method ?? '',
      path: req.url ?? '',
      headers,
      remoteAddress: joinHostPort(req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0),
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(reply)}\n`)
  })
  server.on('error', (err) => fail('echo', `cannot listen on port ${flags.port}: ${err.message}`))
  exitOnSignal()
  server.listen(flags.port, () => logLine('echo', `listening on port ${flags.port}`))
}
