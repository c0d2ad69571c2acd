// Fuzzing the node proxy's two listeners (fuzzListener, test/helpers/http-fuzz.ts):
// - inbound (mTLS HTTP/2): raw garbage before any handshake, whole or trickled; and, as an
//   authenticated peer, CONNECT streams with hostile targets, forwarded headers, methods and
//   extra headers, some sending data, some reset at once, some abandoned, and raw HTTP/2
//   frames of any type, flags, stream and length after the preface;
// - outbound (redirected TCP): bytes from sources that are and are not meshed pods, to
//   original destinations that are pods, Services without endpoints, or the proxy itself.
// The proxy must keep tunnelling valid connections after every batch, throw nothing, and let
// go of every connection. Seeded: `npm run fuzz -- --seed S`.
import t from 'tap'
import { connect as h2connect, type ClientHttp2Session } from 'node:http2'
import { connect, createServer } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import { createCA } from '../../src/pki/certificates.ts'
import { logger } from '../../src/util/log.ts'
import { makeServicePort } from '../../proxy/model.ts'
import { AuthorizationIndex } from '../../mesh/authorization.ts'
import { MeshMetrics } from '../../mesh/metrics.ts'
import { identityKey } from '../../mesh/node-identities.ts'
import { NodeProxy } from '../../mesh/node-proxy.ts'
import { ServiceIndex, WorkloadIndex } from '../../mesh/workloads.ts'
import { fuzzSettings, type Rng } from '../helpers/fuzz.ts'
import { fuzzListener } from '../helpers/http-fuzz.ts'
import { freePort } from '../helpers/ports.ts'
import { issueSvid } from '../helpers/mesh.ts'

const settings = fuzzSettings(240)
if (!settings.long) t.setTimeout(90_000)
const TD = 'cluster.local'
const ca = await createCA('weft mesh CA', 1)
const web = await issueSvid(ca, 'shop', 'web')
const db = await issueSvid(ca, 'shop', 'db')
const held = new Map([web, db].map((h) => [identityKey(h.identity), h]))
const namespaces: Record<string, V1Namespace> = { shop: { metadata: { name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } } } }
const pod = (name: string, ip: string): V1Pod => ({ metadata: { namespace: 'shop', name, labels: { app: name } }, spec: { containers: [], nodeName: 'n1', serviceAccountName: name }, status: { phase: 'Running', hostIP: '127.0.0.1', podIP: ip, podIPs: [{ ip }] } })
const state = {
  workloads: new WorkloadIndex([pod('web', '127.0.3.5'), pod('db', '127.0.3.9')], (n) => namespaces[n]),
  services: new ServiceIndex([{ port: makeServicePort({ namespace: 'shop', name: 'empty', portName: '', protocol: 'TCP', clusterIP: '10.96.0.77', port: 80 }), endpoints: [] }]),
  policies: new AuthorizationIndex([]),
}
const echo = createServer({ allowHalfOpen: true }, (s) => {
  s.on('data', (d) => s.write(d))
  s.on('end', () => s.end())
  s.on('error', () => {})
})
await new Promise<void>((r) => echo.listen(7100, '127.0.3.9', r))
t.teardown(() => new Promise<void>((r) => echo.close(() => r())))
const targets = new Map<string, string>()
const inboundPort = await freePort()
const proxy = new NodeProxy({
  nodeName: 'n1',
  trustDomain: TD,
  identities: { get: (id) => held.get(identityKey(id)), rootPem: ca.certPem },
  state: () => state,
  outboundPort: 0,
  inboundPort,
  listenHosts: { v4: '127.0.0.1' },
  metrics: new MeshMetrics(),
  log: logger('fuzz'),
  handshakeTimeoutMs: 1500,
  connectTimeoutMs: 1500,
  originalDestination: (s) => {
    const target = targets.get(`${s.remoteAddress}:${s.remotePort}`)
    if (!target) return { address: s.localAddress!, port: s.localPort! }
    const colon = target.lastIndexOf(':')
    return { address: target.slice(0, colon), port: Number(target.slice(colon + 1)) }
  },
})
await proxy.start()
t.teardown(() => proxy.stop())

const sessions = new Set<ClientHttp2Session>()
function peerSession(servername: string): ClientHttp2Session {
  const session = h2connect(`https://127.0.0.1:${inboundPort}`, { createConnection: () => tlsConnect({ host: '127.0.0.1', port: inboundPort, servername, ca: ca.certPem, cert: web.certPem, key: web.keyPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }) })
  session.on('error', () => {})
  sessions.add(session)
  session.once('close', () => sessions.delete(session))
  return session
}

const AUTHORITIES = ['127.0.3.9:7100', '127.0.3.5:7100', '127.0.3.9:1', '127.0.3.9', '[::1]:7100', 'db.shop:80', '127.0.3.9:99999', '', '127.0.3.9:7100:1', '%31.0.0.1:80', '127.0.0.1:' + inboundPort]
const FORWARDED = ['for=127.0.3.5', 'for=127.0.3.9', 'for="[::1]"', 'for=127.0.3.5, for=1.2.3.4', 'by=x', '', 'for=' + 'x'.repeat(200)]
const METHODS = ['CONNECT', 'GET', 'POST', 'connect']
const SERVER_NAMES = ['db.shop.weft-mesh', 'web.shop.weft-mesh', 'nothing.weft-mesh', 'db.shop.example', '']

function rawCase(rng: Rng, port: number, localAddress?: string): () => Promise<string | undefined> {
  const bytes = rng.bytes(rng.int(2048))
  const trickle = rng.chance(0.3)
  return () =>
    new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) })
      const timer = setTimeout(() => {
        s.destroy()
        resolve(undefined)
      }, 3000)
      s.on('error', () => {})
      s.on('data', () => {})
      s.once('close', () => {
        clearTimeout(timer)
        resolve(undefined)
      })
      s.once('connect', async () => {
        if (localAddress && rng.chance(0.7)) targets.set(`${localAddress}:${s.localPort}`, rng.pick(['127.0.3.9:7100', '10.96.0.77:80', '127.0.0.1:1', `127.0.0.1:${proxy.outboundPort}`]))
        if (trickle) {
          for (let i = 0; i < bytes.length && !s.destroyed; i += 64) {
            s.write(bytes.subarray(i, i + 64))
            await new Promise((r) => setTimeout(r, 5))
          }
        } else s.write(bytes)
        if (rng.chance(0.5)) s.end()
      })
    })
}

function streamCase(rng: Rng): () => Promise<string | undefined> {
  const servername = rng.chance(0.8) ? 'db.shop.weft-mesh' : rng.pick(SERVER_NAMES)
  const headers: Record<string, string> = { ':method': rng.pick(METHODS), ':authority': rng.pick(AUTHORITIES) }
  if (rng.chance(0.8)) headers.forwarded = rng.pick(FORWARDED)
  if (rng.chance(0.2)) headers[`x-${rng.int(1000)}`] = 'y'.repeat(rng.int(4000))
  const body = rng.bytes(rng.int(4096))
  const mode = rng.pick(['send', 'reset', 'abandon'] as const)
  return () =>
    new Promise((resolve) => {
      const session = peerSession(servername)
      const finish = () => {
        session.destroy()
        resolve(undefined)
      }
      const timer = setTimeout(finish, 3000)
      let stream
      try {
        stream = session.request(headers as never)
      } catch {
        clearTimeout(timer)
        return finish()
      }
      stream.on('error', () => {})
      stream.on('data', () => {})
      stream.once('close', () => {
        clearTimeout(timer)
        finish()
      })
      if (mode === 'reset') stream.close()
      else if (mode === 'send') stream.end(body)
    })
}

/** An authenticated peer that speaks HTTP/2 badly: the preface, then frames of any type, flags, stream and payload. */
function framesCase(rng: Rng): () => Promise<string | undefined> {
  const frames: Buffer[] = []
  if (rng.chance(0.7)) frames.push(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]))
  for (let i = rng.int(12); i >= 0; i--) {
    const payload = rng.bytes(rng.int(300))
    const header = Buffer.alloc(9)
    header.writeUIntBE(rng.chance(0.1) ? rng.int(1 << 24) : payload.length, 0, 3)
    header[3] = rng.chance(0.8) ? rng.int(10) : rng.int(256)
    header[4] = rng.int(256)
    header.writeUInt32BE(rng.chance(0.2) ? rng.int(2 ** 31) : rng.int(8), 5)
    frames.push(header, payload)
  }
  const bytes = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), ...frames])
  return () =>
    new Promise((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: inboundPort, servername: 'db.shop.weft-mesh', ca: ca.certPem, cert: web.certPem, key: web.keyPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined })
      const timer = setTimeout(() => s.destroy(), 3000)
      s.on('error', () => {})
      s.on('data', () => {})
      s.once('close', () => {
        clearTimeout(timer)
        resolve(undefined)
      })
      s.once('secureConnect', () => {
        s.write(bytes)
        if (rng.chance(0.5)) s.end()
      })
    })
}

/** A real tunnelled exchange: an authenticated peer's CONNECT to db, echoed. */
async function alive(): Promise<boolean> {
  const session = peerSession('db.shop.weft-mesh')
  try {
    return await new Promise<boolean>((resolve) => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': '127.0.3.9:7100', forwarded: 'for=127.0.3.5' })
      let got = ''
      stream.on('data', (d: Buffer) => (got += d.toString()))
      stream.on('error', () => resolve(false))
      stream.once('end', () => resolve(got === 'ping'))
      stream.end('ping')
      setTimeout(() => resolve(false), 3000)
    })
  } finally {
    session.close()
  }
}

t.test('the node proxy survives hostile peers and sources', async (t) => {
  await fuzzListener(t, {
    seed: settings.seed,
    iterations: settings.iterations,
    batch: 24,
    prepare: (rng) => {
      const kind = rng.int(5)
      if (kind === 0) return rawCase(rng, inboundPort)
      if (kind === 1) return rawCase(rng, proxy.outboundPort, rng.pick(['127.0.3.5', '127.0.3.9', '127.0.3.200']))
      if (kind === 2) return framesCase(rng)
      return streamCase(rng)
    },
    alive,
    settled: () => proxy.carried === 0 && sessions.size === 0,
    diagnose: () => ({ carried: proxy.carried, sessions: sessions.size }),
  })
})

