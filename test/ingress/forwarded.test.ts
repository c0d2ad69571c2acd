// X-Forwarded-For, Forwarded and X-Real-IP on every path (fast path, node:http, h2, WebSocket):
// overwritten with the peer by default, appended to only from --trusted-proxies peers.
import { createServer } from 'node:http'
import { connect as h2connect } from 'node:http2'
import t from 'tap'
import { CertStore } from '../../ingress/cert-store.ts'
import { parseTrustedProxies } from '../../ingress/headers.ts'
import { UpstreamPools } from '../../ingress/proxy.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import type { IngressServer } from '../../ingress/server.ts'
import { listenLoopback, loopbackEndpoints, raw, startIngressServer } from './server-rig.ts'

interface Seen {
  xff: string
  forwarded: string
  realIp: string
}
const pick = (h: Record<string, string | string[] | undefined>): Seen => ({ xff: String(h['x-forwarded-for']), forwarded: String(h.forwarded), realIp: String(h['x-real-ip']) })

const backend = createServer((req, res) => {
  req.resume()
  req.on('end', () => res.end(JSON.stringify(pick(req.headers))))
})
backend.on('upgrade', (req, socket) => socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Seen: ${JSON.stringify(pick(req.headers))}\r\n\r\n`))
const backendPort = await listenLoopback(t, backend)

const { table } = buildRouteTable([{ metadata: { name: 'web', namespace: 'default' }, spec: { rules: [{ host: 'f.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } }])
const balancer = loopbackEndpoints(table, { web: backendPort })
const pools = new UpstreamPools()
t.teardown(() => pools.close())
const certs = new CertStore(await selfSigned(['f.test']))

const start = (trusted: string): Promise<IngressServer> => startIngressServer(t, { table, balancer, certs, pools, trustedProxies: parseTrustedProxies(trusted) })

const spoof = 'X-Forwarded-For: 203.0.113.5\r\nForwarded: for=203.0.113.5\r\nX-Real-IP: 203.0.113.5\r\n'

async function seenOnEveryPath(server: IngressServer): Promise<Record<string, Seen>> {
  const body = (a: string) => JSON.parse(a.slice(a.indexOf('\r\n\r\n') + 4)) as Seen
  const out: Record<string, Seen> = {}
  out.fast = body(await raw(server.httpPort, `GET / HTTP/1.1\r\nHost: f.test\r\n${spoof}Connection: close\r\n\r\n`))
  out.node = body(await raw(server.httpPort, `POST / HTTP/1.1\r\nHost: f.test\r\n${spoof}Content-Length: 1\r\nConnection: close\r\n\r\nx`))
  const upgrade = await raw(server.httpPort, `GET / HTTP/1.1\r\nHost: f.test\r\n${spoof}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`)
  out.websocket = JSON.parse(/x-seen: (.*)\r\n/i.exec(upgrade)![1]!) as Seen
  const session = h2connect(`https://127.0.0.1:${server.httpsPort}`, { rejectUnauthorized: false })
  out.h2 = await new Promise<Seen>((resolve, reject) => {
    const s = session.request({ ':path': '/', ':authority': 'f.test', 'x-forwarded-for': '203.0.113.5', forwarded: 'for=203.0.113.5', 'x-real-ip': '203.0.113.5' })
    let text = ''
    s.setEncoding('utf8')
    s.on('data', (d) => (text += d))
    s.on('end', () => resolve(JSON.parse(text) as Seen))
    s.on('error', reject)
    s.end()
  })
  session.close()
  return out
}

t.test('by default the client’s forwarding headers are overwritten with the peer', async (t) => {
  const seen = await seenOnEveryPath(await start(''))
  for (const [path, s] of Object.entries(seen)) {
    t.equal(s.xff, '127.0.0.1', `${path}: X-Forwarded-For`)
    t.match(s.forwarded, /^for=127\.0\.0\.1;host=f\.test;proto=https?$/, `${path}: Forwarded`)
    t.equal(s.realIp, '127.0.0.1', `${path}: X-Real-IP`)
  }
})

t.test('a peer in --trusted-proxies: appended to, and X-Real-IP is the client it names', async (t) => {
  const seen = await seenOnEveryPath(await start('127.0.0.0/8'))
  for (const [path, s] of Object.entries(seen)) {
    t.equal(s.xff, '203.0.113.5, 127.0.0.1', `${path}: X-Forwarded-For`)
    t.match(s.forwarded, /^for=203\.0\.113\.5, for=127\.0\.0\.1;host=f\.test;proto=https?$/, `${path}: Forwarded`)
    t.equal(s.realIp, '203.0.113.5', `${path}: X-Real-IP`)
  }
})
