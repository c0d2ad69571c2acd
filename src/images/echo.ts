// weft/echo: answers every HTTP request with who served it and what it received, as JSON.
// On SIGTERM it drains: it goes on answering, but every answer says `connection: close`, so a
// client moves off each keep-alive connection at a response boundary (never mid-request);
// after --drain-seconds it stops listening, closes the connections left idle and exits once the
// last one is gone (or --shutdown-seconds after SIGTERM at the latest; 0: at once, dropping
// what is in flight). `?delay=D` (a Go duration up to 10s) holds the answer that long: a server
// with requests in flight, for load tests.
import { createServer } from 'node:http'
import { parseGoDuration } from '../util/go-duration.ts'
import { parseFlags } from './flags.ts'
import { fail, joinHostPort, logLine, plainIP, podHostname } from './runtime.ts'

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

const maxDelayMs = 10_000

/** The `delay` query parameter in ms: 0 when absent, undefined when it is not a duration up to 10s. */
export function requestDelay(url: string): number | undefined {
  const query = url.indexOf('?')
  if (query < 0) return 0
  const value = new URLSearchParams(url.slice(query + 1)).get('delay')
  if (value === null) return 0
  const ms = parseGoDuration(value)
  return ms !== undefined && ms >= 0 && ms <= maxDelayMs ? ms : undefined
}

export function echo(args: readonly string[]): void {
  const envPort = process.env.PORT && /^\d+$/.test(process.env.PORT) ? Number(process.env.PORT) : 8080
  const flags = parseFlags('echo', args, { port: envPort, 'drain-seconds': 2, 'shutdown-seconds': 10 })
  let draining = false
  const server = createServer((req, res) => {
    if (draining) res.setHeader('connection', 'close')
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok')
      return
    }
    const delay = requestDelay(req.url ?? '/')
    if (delay === undefined) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('delay must be a duration from 0s to 10s, like 50ms\n')
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
    const answer = (): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(reply)}\n`)
    if (delay > 0) setTimeout(answer, delay)
    else answer()
  })
  // Longer than a load generator's pauses: an idle connection the server closes is one a client may be writing to.
  server.keepAliveTimeout = 65_000
  server.on('error', (err) => fail('echo', `cannot listen on port ${flags.port}: ${err.message}`))
  const drain = (): void => {
    if (draining) return
    draining = true
    setTimeout(() => process.exit(0), flags['shutdown-seconds'] * 1000).unref()
    setTimeout(() => server.close(() => process.exit(0)), flags['drain-seconds'] * 1000)
  }
  process.once('SIGTERM', drain)
  process.once('SIGINT', () => process.exit(0))
  server.listen(flags.port, () => logLine('echo', `listening on port ${flags.port}`))
}
