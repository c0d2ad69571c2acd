// The Ingress server the listener fuzz suites (h1.fuzz.test.ts, h2.fuzz.test.ts) attack: HTTP
// and HTTPS listeners on loopback with short timeouts (started by server-rig.ts), and three
// backends: an echo (node:http), an `evil` raw backend whose answers are seeded mutations of
// valid responses (so the fast path's response parser and chunked scanner meet hostile bytes
// too), and a gRPC (h2c) echo.
import { createServer as createHttpServer } from 'node:http'
import { createServer as createH2Server } from 'node:http2'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { CertStore } from '../../ingress/cert-store.ts'
import { parseTrustedProxies } from '../../ingress/headers.ts'
import type { IngressMetrics } from '../../ingress/metrics.ts'
import { UpstreamPools } from '../../ingress/proxy.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import type { IngressServer } from '../../ingress/server.ts'
import { Rng } from '../helpers/fuzz.ts'
import { listenLoopback, loopbackEndpoints, startIngressServer, teardownStep, type Teardown } from './server-rig.ts'

export interface Rig {
  server: IngressServer
  pools: UpstreamPools
  /** Requests answered so far, by status (from the server's metrics). */
  statuses(): Promise<Record<string, number>>
  /** Closes idle upstream connections (pooled keep-alive ones are not leaks). */
  dropIdleUpstreams(): Promise<void>
  /** Idle upstream connections dropped; then whether the server holds no client connection. */
  settled(): Promise<boolean>
}

/** Valid responses the evil backend mutates: every framing the fast path handles. */
const RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n',
  'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end',
  'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
  'HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok',
  'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\nServer: evil\r\nVia: 1.0 x\r\nConnection: x-hop\r\nX-Hop: 1\r\n\r\nbad',
]

const route = (host: string, service: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } }] } })

/** The server and its backends, closed when the test `t` ends. */
export async function startRig(t: Teardown, seed: number): Promise<Rig> {
  const echo = createHttpServer({ keepAliveTimeout: 1000 }, (req, res) => {
    let length = 0
    req.on('data', (c: Buffer) => (length += c.length))
    req.on('error', () => {})
    req.on('end', () => res.end(`${req.method} ${req.url} ${length}`))
  })
  echo.on('upgrade', (_req, socket: Socket) => {
    socket.on('error', () => {})
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
  })
  echo.on('clientError', (_e, socket) => socket.destroy())
  const evilSockets = new Set<Socket>()
  t.teardown(() => {
    for (const s of evilSockets) s.destroy()
  })
  const evil = createTcpServer((socket) => {
    evilSockets.add(socket)
    socket.on('close', () => evilSockets.delete(socket))
    socket.on('error', () => {})
    let buf = ''
    socket.on('data', (d) => {
      buf += d.toString('latin1')
      let end: number
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end)
        buf = buf.slice(end + 4)
        // The number in the path seeds the answer, so a failure replays.
        const n = Number(/^\w+ \/(\d+)/.exec(head)?.[1] ?? 0)
        const rng = new Rng(seed * 1_000_003 + n)
        const base = Buffer.from(rng.pick(RESPONSES), 'latin1')
        const answer = rng.chance(0.25) ? base : rng.mutate(base, 5)
        if (rng.chance(0.3)) {
          // Split in two writes, so the head or a chunk straddles reads.
          const at = rng.int(answer.length + 1)
          socket.write(answer.subarray(0, at))
          setTimeout(() => !socket.destroyed && socket.write(answer.subarray(at)), 2)
        } else socket.write(answer)
        // A tunnel (or an answer to an upgrade framed until close) lasts as long as the endpoint
        // keeps it: weft sets no idle limit on it. So this endpoint hangs up after answering an
        // upgrade, and every other connection a case opens ends within the server's timeouts.
        if (rng.chance(0.2) || /\r\nupgrade:/i.test(head)) setTimeout(() => socket.destroy(), 5)
      }
    })
  })
  const grpc = createH2Server((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/grpc' })
      res.end()
    })
  })
  grpc.on('sessionError', () => {})
  const ports = { echo: await listenLoopback(t, echo), evil: await listenLoopback(t, evil), grpc: await listenLoopback(t, grpc) }

  const { table, errors } = buildRouteTable([
    { metadata: { name: 'fuzz', namespace: 'default', annotations: { 'weft.dev/proxy-read-timeout': '500ms', 'weft.dev/proxy-body-size': '4k' } }, spec: { tls: [{ hosts: ['tls.fuzz.test'], secretName: 'x' }], rules: [route('fuzz.test', 'echo'), route('tls.fuzz.test', 'echo'), route('evil.fuzz.test', 'evil')] } },
    { metadata: { name: 'rpc', namespace: 'default', annotations: { 'weft.dev/backend-protocol': 'GRPC', 'weft.dev/proxy-read-timeout': '500ms' } }, spec: { rules: [route('rpc.fuzz.test', 'grpc')] } },
    { metadata: { name: 'catch', namespace: 'default' }, spec: { defaultBackend: { service: { name: 'echo', port: { number: 80 } } } } },
  ])
  if (errors.length > 0) throw new Error(JSON.stringify(errors))
  const pools = new UpstreamPools()
  teardownStep(t, 'close the upstream pools', () => pools.close())
  // Short limits, so that every connection a case leaves ends within the fuzz helpers' wait.
  const server = await startIngressServer(t, {
    table,
    balancer: loopbackEndpoints(table, ports),
    pools,
    headersTimeoutMs: 400,
    requestTimeoutMs: 1000,
    keepAliveTimeoutMs: 300,
    handshakeTimeoutMs: 400,
    h2IdleTimeoutMs: 400,
    sslRedirect: false,
    trustedProxies: parseTrustedProxies('127.0.0.0/8'),
    certs: new CertStore(await selfSigned(['fuzz.test', '*.fuzz.test'])),
  })
  const metrics: IngressMetrics = server.options.metrics
  const dropIdleUpstreams = async () => {
    await pools.prune(new Set())
    await server.grpcSessions.prune(new Set())
    server.rawPools.prune(new Set())
  }
  return {
    server,
    pools,
    async statuses() {
      const out: Record<string, number> = {}
      for (const m of (await metrics.registry.getSingleMetric('weft_ingress_requests_total')!.get()).values) {
        const status = String(m.labels.status)
        out[status] = (out[status] ?? 0) + m.value
      }
      return out
    },
    dropIdleUpstreams,
    async settled() {
      await dropIdleUpstreams()
      return server.openConnections === 0
    },
  }
}

/** This process's open TCP sockets as 'local → remote STATE' (to say what a leak holds). */
export function describeSockets(): string[] {
  const inodes = new Set<string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
      if (m) inodes.add(m[1]!)
    } catch {
      // closed meanwhile
    }
  }
  const states: Record<string, string> = { '01': 'ESTABLISHED', '06': 'TIME_WAIT', '08': 'CLOSE_WAIT', '0A': 'LISTEN', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '07': 'CLOSE', '09': 'LAST_ACK' }
  const out: string[] = []
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || !inodes.has(f[9]!)) continue
      const port = (a: string) => parseInt(a.split(':')[1]!, 16)
      out.push(`${port(f[1]!)} → ${port(f[2]!)} ${states[f[3]!] ?? f[3]}`)
    }
  }
  return out.sort()
}

/** Exceptions nobody handled while `run` ran (they would otherwise surface as a crash, or not at all). */
export async function catchStray<T>(run: () => Promise<T>): Promise<{ result: T; stray: string[] }> {
  const stray: string[] = []
  const onError = (err: unknown) => stray.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err))
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
  try {
    return { result: await run(), stray }
  } finally {
    process.off('uncaughtException', onError)
    process.off('unhandledRejection', onError)
  }
}
