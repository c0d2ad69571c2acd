// The node proxy's tunnel on loopback: two proxies as two nodes (127.0.0.1 and 127.0.0.2),
// pods as loopback addresses, and the original destination given by the test (the redirect
// itself is the kernel's, tested in original-dst.test.ts and end to end in the lab).
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { connect as http2Connect } from 'node:http2'
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import { makeServicePort } from '../../proxy/model.ts'
import { createCA } from '../../src/pki/certificates.ts'
import { generateKeyPair, readPrivateKey } from '../../src/pki/keys.ts'
import { logger } from '../../src/util/log.ts'
import { AuthorizationIndex, parseAuthorization } from '../../mesh/authorization.ts'
import type { WorkloadIdentity } from '../../mesh/identity.ts'
import { MeshMetrics } from '../../mesh/metrics.ts'
import { identityKey, type HeldIdentity } from '../../mesh/node-identities.ts'
import { NodeProxy, type AcceptedConnection, type MeshState } from '../../mesh/node-proxy.ts'
import { ServiceIndex, WorkloadIndex } from '../../mesh/workloads.ts'
import { freePort } from '../helpers/ports.ts'
import { issueSvid } from '../helpers/mesh.ts'
import { until } from '../helpers/control-plane.ts'

const TD = 'cluster.local'
const log = logger('mesh-test')
const ca = await createCA('weft mesh CA', 1)

const svid = (namespace: string, serviceAccount: string, signer = ca) => issueSvid(signer, namespace, serviceAccount)

class Identities {
  readonly held = new Map<string, HeldIdentity>()
  rootPem: string | undefined = ca.certPem
  get(id: Pick<WorkloadIdentity, 'namespace' | 'serviceAccount'>) {
    return this.held.get(identityKey(id))
  }
  add(h: HeldIdentity) {
    this.held.set(identityKey(h.identity), h)
  }
}

const namespaces: Record<string, V1Namespace> = {
  shop: { metadata: { name: 'shop', labels: { 'weft.dev/mesh': 'enabled' } } },
  vault: { metadata: { name: 'vault', labels: { 'weft.dev/mesh': 'enabled', 'weft.dev/mesh-mode': 'STRICT' } } },
  plain: { metadata: { name: 'plain' } },
}
const pod = (ns: string, name: string, sa: string, ip: string, node: string): V1Pod => ({
  metadata: { namespace: ns, name, labels: { app: name } },
  spec: { containers: [], nodeName: node, serviceAccountName: sa },
  status: { phase: 'Running', hostIP: node === 'n1' ? '127.0.0.1' : '127.0.0.2', podIP: ip, podIPs: [{ ip }] },
})
// Clients on n1, servers on n2 (and one on n1).
const pods = [
  pod('shop', 'web', 'web', '127.0.1.5', 'n1'),
  pod('shop', 'batch', 'batch', '127.0.1.6', 'n1'),
  pod('vault', 'keeper', 'keeper', '127.0.1.7', 'n1'),
  pod('shop', 'db', 'db', '127.0.2.9', 'n2'),
  pod('shop', 'cache', 'cache', '127.0.1.10', 'n1'),
  pod('plain', 'legacy', 'legacy', '127.0.2.20', 'n2'),
  // A second workload running as web's service account.
  pod('shop', 'frontend', 'web', '127.0.1.11', 'n1'),
]
let policies = new AuthorizationIndex([])
let networkPolicy = (_source: string, _destination: string, _port: number) => true
const services = new ServiceIndex([{ port: makeServicePort({ namespace: 'shop', name: 'db', portName: '', protocol: 'TCP', clusterIP: '10.96.0.50', port: 5432 }), endpoints: [{ ip: '127.0.2.9', port: 7000, ready: true, serving: true, terminating: false, local: false }] }])
const state = (): MeshState => ({ workloads: new WorkloadIndex(pods, (n) => namespaces[n]), services, policies })

/** A server that echoes upper-cased and reports who connected, for each pod address. */
async function echo(t: { teardown(fn: () => unknown): void }, host: string, port: number): Promise<{ server: Server; peers: string[] }> {
  const peers: string[] = []
  const server = createServer({ allowHalfOpen: true }, (s) => {
    peers.push(s.remoteAddress!)
    s.on('data', (d) => s.write(d.toString().toUpperCase()))
    s.on('end', () => s.end('<bye>'))
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(port, host, r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return { server, peers }
}

/** Connects from a pod's address to the outbound port as if redirected from `target` (one target per source address at a time). */
function dial(proxy: NodeProxy, from: string, target: string, targets: Map<string, string>): Socket {
  targets.set(from, target)
  const s = connect({ host: '127.0.0.1', port: proxy.outboundPort, localAddress: from, allowHalfOpen: true })
  s.on('error', () => {})
  return s
}

/** Writes, half-closes and reads everything back; resolves with the text or the error code. */
function exchange(s: Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    s.on('data', (d) => (got += d.toString()))
    s.once('end', () => resolve(got))
    s.once('error', (err: NodeJS.ErrnoException) => resolve(`error:${err.code}`))
    s.once('close', () => resolve(got || 'closed'))
    s.end(text)
  })
}

t.test('node proxies tunnel meshed pods over mTLS, enforce policy and STRICT, and pass the rest', async (t) => {
  const [inboundPort] = await Promise.all([freePort()])
  const idsN1 = new Identities()
  const idsN2 = new Identities()
  for (const [ns, sa] of [['shop', 'web'], ['shop', 'batch'], ['vault', 'keeper'], ['shop', 'cache']]) idsN1.add(await svid(ns!, sa!))
  idsN2.add(await svid('shop', 'db'))
  const targets = new Map<string, string>()
  const originalDestination = (s: AcceptedConnection) => {
    const target = targets.get(s.remoteAddress!)
    if (!target) return { address: s.localAddress!, port: s.localPort! }
    const colon = target.lastIndexOf(':')
    return { address: target.slice(0, colon), port: Number(target.slice(colon + 1)) }
  }
  const metrics1 = new MeshMetrics()
  const metrics2 = new MeshMetrics()
  const n1 = new NodeProxy({ nodeName: 'n1', trustDomain: TD, identities: idsN1, state, outboundPort: 0, inboundPort, listenHosts: { v4: '127.0.0.1' }, metrics: metrics1, log, originalDestination, networkPolicy: (a, b, p) => networkPolicy(a, b, p) })
  const makeN2 = () => new NodeProxy({ nodeName: 'n2', trustDomain: TD, identities: idsN2, state, outboundPort: 0, inboundPort, listenHosts: { v4: '127.0.0.2' }, metrics: metrics2, log, originalDestination, networkPolicy: (a, b, p) => networkPolicy(a, b, p) })
  // Replaced by the restart test; the teardown stops whichever runs then.
  let n2 = makeN2()
  await n1.start()
  await n2.start()
  t.teardown(() => Promise.all([n1.stop(), n2.stop()]))
  const db = await echo(t, '127.0.2.9', 7000)
  const legacy = await echo(t, '127.0.2.20', 7001)

  t.test('meshed to meshed, across nodes, by pod IP and through a Service', async (t) => {
    t.equal(await exchange(dial(n1, '127.0.1.5', '127.0.2.9:7000', targets), 'hello'), 'HELLO<bye>', 'bytes both ways, half-close carried')
    t.equal(await exchange(dial(n1, '127.0.1.5', '10.96.0.50:5432', targets), 'via service'), 'VIA SERVICE<bye>', 'a ClusterIP resolves to the endpoint')
    t.notOk(db.peers.includes('127.0.1.5'), 'the pod sees its node proxy, not the client pod (on loopback the kernel picks 127.0.0.1)')
    t.equal(n1.pooledSessions, 1, 'one HTTP/2 connection for both')
    const metrics = await metrics2.registry.getMetricsAsJSON()
    const opened = metrics.find((m) => m.name === 'weft_mesh_tcp_connections_opened_total')!.values
    t.match(opened, [{ value: 2, labels: { reporter: 'destination', source_principal: 'spiffe://cluster.local/ns/shop/sa/web', destination_principal: 'spiffe://cluster.local/ns/shop/sa/db', destination_workload: 'db', connection_security_policy: 'mutual_tls' } }], "the destination's proxy reports the source's SPIFFE identity")
    const sentBytes = async () => (await metrics1.registry.getMetricsAsJSON()).find((m) => m.name === 'weft_mesh_tcp_sent_bytes_total')!.values.reduce((n, v) => n + v.value, 0)
    await until('both connections are counted', async () => (await sentBytes()) === 'hello'.length + 'via service'.length)
    t.pass('bytes counted per pair, when each connection closes')
  })

  t.test('large transfers arrive intact both ways, through a pod that reads slowly', async (t) => {
    // 24 MiB of pseudo-random bytes, echoed back by db's pod: DATA frames of every size, the
    // sealing of large frames in place, partial TLS writes and a pod that pauses its reads
    // (flow control holds the sender) all in one exchange, checked by hash.
    const payload = randomBytes(24 * 1024 * 1024)
    const slow = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {})
      let paused = 0
      s.on('data', (d) => {
        if (!s.write(d) || ++paused % 64 === 0) {
          s.pause()
          setTimeout(() => s.resume(), 20)
        }
      })
      s.on('end', () => s.end())
    })
    await new Promise<void>((r) => slow.listen(7002, '127.0.2.9', r))
    t.teardown(() => new Promise<void>((r) => slow.close(() => r())))
    const s = dial(n1, '127.0.1.5', '127.0.2.9:7002', targets)
    const hash = createHash('sha256')
    let received = 0
    const done = new Promise<void>((resolve, reject) => {
      s.on('data', (d: Buffer) => {
        hash.update(d)
        received += d.length
      })
      s.once('end', () => resolve())
      s.once('error', reject)
    })
    s.end(payload)
    await done
    t.equal(received, payload.length, 'every byte came back')
    t.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'), 'in order and unchanged')
  })

  t.test('a pod that stops reading holds the sender back: nothing buffers without bound', async (t) => {
    const stuck: Socket[] = []
    const server = createServer((s) => {
      s.on('error', () => {})
      s.pause()
      stuck.push(s)
    })
    await new Promise<void>((r) => server.listen(7003, '127.0.2.9', r))
    t.teardown(async () => {
      for (const s of stuck) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    })
    const s = dial(n1, '127.0.1.5', '127.0.2.9:7003', targets)
    const chunk = Buffer.alloc(256 * 1024, 7)
    const offered = 96 * 1024 * 1024
    let accepted = 0
    // Writes as fast as the path takes them, for 2 s: what is accepted is what the kernel's
    // buffers and the stream's 4 MiB window hold, not the 96 MiB offered.
    const deadline = Date.now() + 2000
    while (accepted < offered && Date.now() < deadline) {
      accepted += chunk.length
      if (!s.write(chunk)) await Promise.race([new Promise((r) => s.once('drain', r)), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))])
    }
    t.ok(accepted < 64 * 1024 * 1024, `the sender was held back (${(accepted / 1048576).toFixed(0)} MiB of ${offered / 1048576} MiB taken)`)
    s.destroy()
  })

  t.test('both proxies name the source workload alike: its pod, not only its service account', async (t) => {
    t.equal(await exchange(dial(n1, '127.0.1.11', '127.0.2.9:7000', targets), 'front'), 'FRONT<bye>')
    for (const [reporter, m] of [['source', metrics1], ['destination', metrics2]] as const) {
      const opened = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'weft_mesh_tcp_connections_opened_total')!.values
      t.ok(opened.some((v) => v.labels.reporter === reporter && v.labels.source_workload === 'frontend' && v.labels.source_principal === 'spiffe://cluster.local/ns/shop/sa/web'), `${reporter} reporter`)
    }
  })

  t.test('many connections at once share the pooled connection', async (t) => {
    const texts = Array.from({ length: 20 }, (_, i) => `m${i}`)
    const answers = await Promise.all(texts.map(async (x) => exchange(dial(n1, '127.0.1.5', '127.0.2.9:7000', targets), x)))
    t.same(answers, texts.map((x) => `${x.toUpperCase()}<bye>`))
    t.equal(n1.pooledSessions, 1)
  })

  t.test('a MeshAuthorization deny stops one service account only', async (t) => {
    policies = new AuthorizationIndex([parseAuthorization({ metadata: { namespace: 'shop', name: 'no-batch' }, spec: { action: 'DENY', rules: [{ from: [{ serviceAccounts: ['shop/batch'] }] }] } })])
    t.teardown(() => void (policies = new AuthorizationIndex([])))
    t.match(await exchange(dial(n1, '127.0.1.6', '127.0.2.9:7000', targets), 'x'), /^(error:ECONNRESET|closed)$/, 'batch is refused')
    t.equal(await exchange(dial(n1, '127.0.1.5', '127.0.2.9:7000', targets), 'y'), 'Y<bye>', 'web still gets through')
    const denials = (await metrics2.registry.getMetricsAsJSON()).find((m) => m.name === 'weft_mesh_policy_denials_total')!.values
    t.match(denials, [{ value: 1, labels: { reason: 'policy', source_principal: 'spiffe://cluster.local/ns/shop/sa/batch', destination_workload_namespace: 'shop' } }])
  })

  t.test('plaintext to pods outside the mesh, except from a STRICT namespace', async (t) => {
    t.equal(await exchange(dial(n1, '127.0.1.5', '127.0.2.20:7001', targets), 'plain'), 'PLAIN<bye>')
    t.equal(legacy.peers.at(-1), '127.0.0.1', 'from the source node')
    t.match(await exchange(dial(n1, '127.0.1.7', '127.0.2.20:7001', targets), 'x'), /^(error:ECONNRESET|closed)$/, 'vault is STRICT')
    const denials = (await metrics1.registry.getMetricsAsJSON()).find((m) => m.name === 'weft_mesh_policy_denials_total')!.values
    t.match(denials, [{ labels: { reason: 'strict', source_workload_namespace: 'vault' } }])
  })

  t.test('connections the proxy must not carry', async (t) => {
    t.match(await exchange(dial(n1, '127.0.1.200', '127.0.2.9:7000', targets), 'x'), /^(error:ECONNRESET|closed)$/, 'a source that is no meshed pod of this node')
    targets.delete('127.0.1.10')
    const direct = connect({ host: '127.0.0.1', port: n1.outboundPort, localAddress: '127.0.1.10' }).on('error', () => {})
    t.match(await exchange(direct, 'x'), /^(error:ECONNRESET|closed)$/, 'not redirected: the proxy is not an open relay')
    const refused = (await metrics1.registry.getMetricsAsJSON()).find((m) => m.name === 'weft_mesh_refused_connections_total')!.values
    t.match(refused.map((v) => v.labels.reason).sort(), ['denied-by-destination', 'not-redirected', 'unknown-source'])
  })

  t.test('the inbound port takes only mesh peers, for identities it holds, to pods that run as them', async (t) => {
    const foreignCa = await createCA('someone else', 1)
    const foreign = await svid('shop', 'web', foreignCa)
    const handshake = (cert: HeldIdentity | undefined, servername: string) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.2', port: inboundPort, servername, ca: ca.certPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}), ALPNProtocols: ['h2'], checkServerIdentity: () => undefined })
        s.once('secureConnect', () => s.once('close', () => resolve('closed after handshake')).once('data', () => resolve('data')))
        s.once('error', (err: NodeJS.ErrnoException) => resolve(`error:${err.code ?? err.message}`))
      })
    t.match(await handshake(undefined, 'db.shop.weft-mesh'), /error|closed/, 'no client certificate')
    t.match(await handshake(foreign, 'db.shop.weft-mesh'), /error|closed/, 'a certificate of another CA')
    t.match(await handshake(idsN1.get({ namespace: 'shop', serviceAccount: 'web' }), 'web.shop.weft-mesh'), /^error/, 'an identity n2 does not hold')
    const failures = (await metrics2.registry.getMetricsAsJSON()).find((m) => m.name === 'weft_mesh_tls_handshake_failures_total')!.values
    t.ok(failures.reduce((n, v) => n + v.value, 0) >= 2, 'handshake failures are counted')
  })

  t.test('NetworkPolicy is asked on both ends, for the pod addresses', async (t) => {
    const asked: string[] = []
    networkPolicy = (a, b, p) => {
      asked.push(`${a}>${b}:${p}`)
      return b !== '127.0.2.9' || a !== '127.0.1.10'
    }
    t.teardown(() => void (networkPolicy = () => true))
    t.equal(await exchange(dial(n1, '127.0.1.5', '127.0.2.9:7000', targets), 'ok'), 'OK<bye>')
    t.same(asked, ['127.0.1.5>127.0.2.9:7000', '127.0.1.5>127.0.2.9:7000'], 'the source node and the destination node')
    t.match(await exchange(dial(n1, '127.0.1.10', '127.0.2.9:7000', targets), 'x'), /^(error:ECONNRESET|closed)$/, 'cache may not reach db')
  })

  t.test('the inbound proxy takes a source address only for a pod of the proven identity', async (t) => {
    const web = idsN1.get({ namespace: 'shop', serviceAccount: 'web' })!
    const session = http2Connect('https://127.0.0.2:' + inboundPort, { createConnection: () => tlsConnect({ host: '127.0.0.2', port: inboundPort, servername: 'db.shop.weft-mesh', ca: ca.certPem, cert: web.certPem, key: web.keyPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }) })
    session.on('error', () => {})
    t.teardown(() => session.close())
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const stream = session.request({ ':method': 'CONNECT', ':authority': '127.0.2.9:7000', ...headers })
        stream.on('error', () => resolve(-1))
        stream.once('response', (h) => {
          resolve(Number(h[':status']))
          stream.close()
        })
      })
    t.equal(await status({ forwarded: 'for=127.0.1.5' }), 200, "web's own address")
    t.equal(await status({ forwarded: 'for=127.0.1.6' }), 403, "batch's address: not web's")
    t.equal(await status({}), 403, 'none')
    t.equal(await status({ forwarded: 'for=127.0.1.5, for=127.0.1.6' }), 403, 'anything but one address')
    t.not(await status({ forwarded: 'for=127.0.1.5', 'x-padding': 'y'.repeat(9000) }), 200, 'more than 8 KiB of headers is refused')
    t.equal(await status({ forwarded: 'for=127.0.1.5' }), 200, 'and the connection goes on')
  })

  t.test('a peer proxy that restarts: the pooled connection to it goes, new connections reach the new one', async (t) => {
    t.equal(await exchange(dial(n1, '127.0.1.5', '127.0.2.9:7000', targets), 'one'), 'ONE<bye>')
    t.ok(n1.pooledSessions > 0)
    await n2.stop()
    await until('the pooled connection to the stopped proxy is dropped', () => n1.pooledSessions === 0)
    // The engine saw TLS end without close_notify: OpenSSL's error queue, which Node's crypto
    // shares on this thread, must be left empty, or JS's next key read fails.
    const key = await generateKeyPair('ecdsa-p256')
    t.ok(readPrivateKey(key.privateKeyPem, 'generated key'), "Node's crypto still reads a key")
    t.match(await exchange(dial(n1, '127.0.1.5', '127.0.2.9:7000', targets), 'x'), /^(error:ECONNRESET|closed)$/, 'refused while it is down')
    n2 = makeN2()
    await n2.start()
    t.equal(await exchange(dial(n1, '127.0.1.5', '127.0.2.9:7000', targets), 'two'), 'TWO<bye>', 'through the restarted proxy')
  })

  t.test('a renewed certificate: new connections use it, an established one keeps going', async (t) => {
    const long = dial(n1, '127.0.1.5', '127.0.2.9:7000', targets)
    let got = ''
    long.on('data', (d) => (got += d.toString()))
    long.write('before ')
    await new Promise((r) => setTimeout(r, 100))
    const renewed = await svid('shop', 'web')
    idsN1.add(renewed)
    n1.identityChanged('shop/web')
    t.equal(await exchange(dial(n1, '127.0.1.5', '127.0.2.9:7000', targets), 'new'), 'NEW<bye>', 'a new connection, on a new pooled session')
    long.write('after')
    await new Promise((r) => setTimeout(r, 100))
    t.equal(got, 'BEFORE AFTER', 'the long-lived connection survived the rotation')
    t.equal(await exchange(long, '!'), '!<bye>', 'and ends cleanly')
  })

  t.test('a second proxy listens on the same ports beside a running one, as a restarted agent does', async (t) => {
    const next = new NodeProxy({ nodeName: 'n1', trustDomain: TD, identities: idsN1, state, outboundPort: n1.outboundPort, inboundPort, listenHosts: { v4: '127.0.0.1' }, metrics: new MeshMetrics(), log, originalDestination })
    await next.start()
    t.equal(next.outboundPort, n1.outboundPort)
    t.equal(next.inboundPort, n1.inboundPort)
    await next.stop()
  })

  t.test('stop: no new connections; carried ones finish within the grace period', async (t) => {
    const held = dial(n1, '127.0.1.5', '127.0.2.9:7000', targets)
    let got = ''
    held.on('data', (d) => (got += d.toString()))
    held.write('a')
    await new Promise((r) => setTimeout(r, 100))
    const port = n1.outboundPort
    const stopping = n1.stop(2000)
    await new Promise((r) => setTimeout(r, 100))
    held.write('b')
    await new Promise((r) => setTimeout(r, 100))
    t.equal(got, 'AB', 'still carried while draining')
    held.end()
    await stopping
    const refused = await new Promise<string>((r) => connect({ host: '127.0.0.1', port }).once('error', (err: NodeJS.ErrnoException) => r(err.code ?? '')).once('connect', () => r('connected')))
    t.equal(refused, 'ECONNREFUSED', 'the listener is gone')
  })
})

t.test('limits: connections per direction, inbound sessions, and idle HTTP/2 connections', async (t) => {
  const inboundPort = await freePort()
  const ids1 = new Identities()
  const ids2 = new Identities()
  ids1.add(await svid('shop', 'web'))
  ids2.add(await svid('shop', 'db'))
  const targets = new Map<string, string>()
  const originalDestination = (s: AcceptedConnection) => {
    const target = targets.get(s.remoteAddress)!
    return { address: target.slice(0, target.lastIndexOf(':')), port: Number(target.slice(target.lastIndexOf(':') + 1)) }
  }
  const common = { trustDomain: TD, state, outboundPort: 0, inboundPort, metrics: new MeshMetrics(), log, originalDestination, maxConnections: 1, sessionIdleMs: 600 }
  const a = new NodeProxy({ ...common, nodeName: 'n1', identities: ids1, listenHosts: { v4: '127.0.0.1' } })
  const b = new NodeProxy({ ...common, nodeName: 'n2', identities: ids2, listenHosts: { v4: '127.0.0.2' } })
  await a.start()
  await b.start()
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  await echo(t, '127.0.2.9', 7004)

  const held = dial(a, '127.0.1.5', '127.0.2.9:7004', targets)
  let got = ''
  held.on('data', (d) => (got += d.toString()))
  held.write('one ')
  await until('the first connection is carried', () => got === 'ONE ')
  t.match(await exchange(dial(a, '127.0.1.5', '127.0.2.9:7004', targets), 'x'), /^(error:ECONNRESET|closed)$/, 'a second outbound connection is refused at maxConnections 1')
  const second = await new Promise<string>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.2', port: inboundPort, servername: 'db.shop.weft-mesh', ca: ca.certPem, cert: ids1.get({ namespace: 'shop', serviceAccount: 'web' })!.certPem, key: ids1.get({ namespace: 'shop', serviceAccount: 'web' })!.keyPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined })
    s.once('secureConnect', () => resolve('handshake'))
    s.once('error', (err: NodeJS.ErrnoException) => resolve(`error:${err.code ?? err.message}`))
    s.once('close', () => resolve('closed'))
  })
  t.not(second, 'handshake', 'a second inbound session is refused while the pooled one holds the only place')

  t.equal(a.pooledSessions, 1)
  await until('the idle HTTP/2 connection is retired', () => a.pooledSessions === 0, 5000)
  held.write('two')
  await until('the connection it carried goes on', () => got === 'ONE TWO')
  t.pass('its stream outlived the idle close')
  held.end()
})
