// kubectl port-forward's protocol against the kubelet server, into a test network
// namespace with TCP servers inside it: plain SPDY and SPDY in a WebSocket, 1,000
// sequential and 50 concurrent connections, a refused port, half-close both ways, auth,
// and the per-namespace dialer's lifecycle.
import t from 'tap'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ResourceAttributes } from '../../src/auth/types.ts'
import { netnsPath } from '../../src/netlink/index.ts'
import { KubeletServer } from '../../src/kubelet/server.ts'
import { NetnsDialer } from '../../src/kubelet/streaming/netns-dialer.ts'
import { parsePortForwardPath } from '../../src/kubelet/streaming/port-forward-upgrade.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { testNetns } from '../helpers/netns.ts'
import { PortForwardClient, UpgradeRefused, type ForwardedConnection } from './port-forward-client.ts'

// Inside the namespace: 7000 echoes (and FINs after the client's FIN), 7002 says hello and
// FINs at once but still reads, then reports what it read on 7003.
const SERVERS = `
const net = require('node:net')
net.createServer({ allowHalfOpen: true }, (s) => { s.pipe(s) }).listen(7000, '127.0.0.1')
let last = ''
net.createServer({ allowHalfOpen: true }, (s) => { s.end('hello'); let got = ''; s.on('data', (d) => got += d); s.on('end', () => { last = got }) }).listen(7002, '127.0.0.1')
net.createServer((s) => s.end(last)).listen(7003, '127.0.0.1', () => console.log('ready'))
`

async function roundTrip(c: ForwardedConnection, payload: Buffer): Promise<{ echoed: Buffer; error: string }> {
  const chunks: Buffer[] = []
  c.data.on('data', (b: Buffer) => chunks.push(b))
  const ended = new Promise<void>((resolve, reject) => {
    c.data.once('end', resolve)
    c.data.once('reset', (s: number) => reject(new Error(`data stream reset ${s}`)))
  })
  c.data.end(payload)
  await ended
  return { echoed: Buffer.concat(chunks), error: await c.error }
}

t.test('port-forward into a pod network namespace', async (t) => {
  const ns = await testNetns(t, 'pf')
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  const servers: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVERS], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    servers.kill()
  })
  await new Promise<void>((resolve, reject) => {
    servers.stdout!.once('data', () => resolve())
    servers.once('exit', (code) => reject(new Error(`the servers in ${ns} exited (${code})`)))
  })

  const dir = await mkdtemp(join(tmpdir(), 'weft-pf-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const ca = await createCA('test-ca')
  const serving = await issueCertificate(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: ['n1'], usages: ['server'] })
  const admin = await issueCertificate(ca, { commonName: 'apiserver-kubelet-client', usages: ['client'] })
  const reader = await issueCertificate(ca, { commonName: 'reader', usages: ['client'] })
  const asked: ResourceAttributes[] = []
  const server = new KubeletServer(
    {
      pods: () => [],
      logs: async function* () {},
      portForwardTarget: (namespace, pod) => (namespace === 'default' && pod === 'web' ? { netnsPath: netnsPath(ns), uid: 'u1' } : undefined),
    },
    {
      nodeName: 'n1',
      clientCaPem: ca.certPem,
      auth: {
        authenticate: async (req) => {
          const cert = (req.socket as import('node:tls').TLSSocket).getPeerCertificate()
          return cert?.subject?.CN ? { user: { username: String(cert.subject.CN), groups: [] } } : { failed: 'no certificate' }
        },
        authorize: async (a) => {
          asked.push(a)
          return a.user.username === 'apiserver-kubelet-client' ? { decision: 'allow', reason: '' } : { decision: 'noOpinion', reason: '' }
        },
      },
    },
  )
  const socketPath = join(dir, 'kubelet.sock')
  await server.start({ socketPath, serving: { certPem: serving.certPem, keyPem: serving.keyPem! } })
  t.teardown(() => server.close())
  const tls = (who = admin) => ({ path: socketPath, ca: ca.certPem, cert: who.certPem, key: who.keyPem, servername: 'n1' })

  for (const mode of ['spdy', 'websocket'] as const) {
    t.test(`${mode}: 1,000 sequential connections on one session, then 50 concurrent`, async (t) => {
      const client = await PortForwardClient.open({ tls: tls(), path: '/portForward/default/web', mode })
      t.teardown(() => client.close())
      t.equal(client.protocol, mode === 'spdy' ? 'portforward.k8s.io' : 'SPDY/3.1+portforward.k8s.io', 'the negotiated protocol')
      let bad = 0
      for (let i = 0; i < 1000; i++) {
        const payload = randomBytes(1 + (i % 200))
        const r = await roundTrip(await client.connect(7000), payload)
        if (!r.echoed.equals(payload) || r.error !== '') bad++
      }
      t.equal(bad, 0, '1,000 sequential round trips, each echoed whole, no error')
      const results = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const payload = randomBytes(64 * 1024 + i * 997)
          const r = await roundTrip(await client.connect(7000), payload)
          return r.echoed.equals(payload) && r.error === ''
        }),
      )
      t.equal(results.filter(Boolean).length, 50, '50 concurrent connections of 64 KiB and more, all echoed')
      t.equal(client.session.streamCount, 0, 'every stream is closed on the client')
      await new Promise((r) => setTimeout(r, 50))
      t.equal(server.portForward.sessions, 1)
    })
  }

  t.test('a refused port: the error stream says so as the kubelet words it, the data stream ends', async (t) => {
    const client = await PortForwardClient.open({ tls: tls(), path: '/portForward/default/web', mode: 'spdy' })
    t.teardown(() => client.close())
    const c = await client.connect(7001)
    const r = await roundTrip(c, Buffer.from('x'))
    t.match(r.error, /^error forwarding port 7001 to pod default\/web, uid u1: IPv4: dial tcp4 127\.0\.0\.1:7001: connect: connection refused IPv6 dial tcp6 \[::1\]:7001: connect: /)
    t.equal(r.echoed.length, 0)
    const ok = await roundTrip(await client.connect(7000), Buffer.from('still fine'))
    t.equal(ok.echoed.toString(), 'still fine', 'the session goes on')
  })

  t.test('half-close: the pod FINs first and still reads what the client sends after', async (t) => {
    const client = await PortForwardClient.open({ tls: tls(), path: '/portForward/default/web', mode: 'websocket' })
    t.teardown(() => client.close())
    const c = await client.connect(7002)
    let got = ''
    c.data.setEncoding('utf8').on('data', (s: string) => (got += s))
    c.data.write('late words')
    await new Promise<void>((resolve) => c.data.once('end', resolve))
    t.equal(got, 'hello')
    t.equal(await c.error, '', 'the error stream ends empty after the data stream')
    c.data.end()
    await new Promise((r) => setTimeout(r, 100))
    const report = await roundTrip(await client.connect(7003), Buffer.alloc(0))
    t.equal(report.echoed.toString(), 'late words', 'what the client wrote after the pod FINed reached the pod')
  })

  t.test('upgrades: unknown pods, bad paths, refused users, bad protocol headers', async (t) => {
    const refused = async (path: string, opts: { who?: typeof admin; mode?: 'spdy' | 'websocket'; headers?: Record<string, string> } = {}) => {
      try {
        await PortForwardClient.open({ tls: tls(opts.who), path, mode: opts.mode ?? 'spdy', headers: opts.headers })
      } catch (err) {
        if (err instanceof UpgradeRefused) return `${err.status} ${err.body.trim()}`
        throw err
      }
      return 'upgraded'
    }
    t.equal(await refused('/portForward/default/nope'), '404 pod default/nope not found on this node')
    t.equal(await refused('/portForward/default/web/other-uid'), '404 pod default/web not found on this node', 'a uid that is not the pod\'s')
    t.match(await refused('/portForward/default/We%2Fb'), /^400 .* is not a valid name/)
    t.equal(await refused('/healthz'), '404 404 page not found', 'only the streaming paths upgrade')
    asked.length = 0
    t.equal(await refused('/portForward/default/web', { who: reader }), '403 Forbidden (user=reader, verb=create, resource=nodes, subresource=proxy)')
    t.equal(await refused('/portForward/default/web', { who: reader, mode: 'websocket' }), '403 Forbidden (user=reader, verb=create, resource=nodes, subresource=proxy)', 'a GET upgrade needs create too')
    t.same(
      asked.map((a) => [a.verb, a.resource, a.subresource, a.name]),
      [
        ['create', 'nodes', 'proxy', 'n1'],
        ['create', 'nodes', 'proxy', 'n1'],
      ],
      'authorized as nodes/proxy create, whatever the method (as the streaming paths are since upstream hardened GET upgrades)',
    )
    t.match(await refused('/portForward/default/web', { headers: { 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' } }), /^403 unable to upgrade: unable to negotiate protocol: client supports \[v4.channel.k8s.io\], server accepts \[portforward.k8s.io\]/)
    t.match(await refused('/portForward/default/web', { mode: 'websocket', headers: { 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io' } }), /^400 unable to upgrade: none of the offered subprotocols \(v5.channel.k8s.io\)/)
    t.match(await refused('/portForward/default/web', { headers: { Upgrade: 'h2c' } }), /^400 unable to upgrade: missing upgrade headers/)
  })

  t.test('the dialer: one helper per namespace, stopped when the pod goes', async (t) => {
    const path = netnsPath(ns)
    t.same(server.portForward.dialer.running, [path])
    const pid = server.portForward.dialer.pid(path)!
    t.ok(pid > 0)
    await server.portForward.podGone(path)
    t.same(server.portForward.dialer.running, [])
    t.throws(() => process.kill(pid, 0), /ESRCH/, 'the helper is gone')

    const idle = new NetnsDialer({ idleMs: 200 })
    t.teardown(() => idle.stopAll())
    const s = await idle.dial(path, 7000)
    s.end('ping')
    const [echo] = await Promise.all([new Promise<string>((resolve) => s.setEncoding('utf8').once('data', resolve))])
    t.equal(echo, 'ping', 'a socket handed over from the namespace works')
    s.destroy()
    t.same(idle.running, [path])
    await new Promise((r) => setTimeout(r, 500))
    t.same(idle.running, [], 'an idle helper stops by itself')
    await t.rejects(idle.dial('/run/netns/weft-no-such-ns', 80), /the dialer in \/run\/netns\/weft-no-such-ns exited/)
  })
})

t.test('port-forward paths', async (t) => {
  t.same(parsePortForwardPath('/portForward/default/web'), { namespace: 'default', pod: 'web' })
  t.same(parsePortForwardPath('/portForward/kube-system/dns-1/5f3c-aa'), { namespace: 'kube-system', pod: 'dns-1', uid: '5f3c-aa' })
  t.equal(parsePortForwardPath('/portForwardx/a/b'), undefined)
  t.equal(parsePortForwardPath('/portForward/a'), undefined)
  t.match(parsePortForwardPath('/portForward/a/%zz'), { message: /percent-encoding/ })
  t.match(parsePortForwardPath('/portForward/a/..'), { message: /not a valid name/ })
})
