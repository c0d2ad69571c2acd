// The real kubectl port-forward (WebSocket tunnelling first, then the plain SPDY fallback)
// against the kubelet's /portForward, into a test network namespace. Until the API server
// proxies pods/portforward to kubelets, a stub API front in this test answers discovery
// and the pod GET, and pipes kubectl's upgrade request unchanged to the kubelet (as the
// API server's upgrade-aware proxy does), path rewritten to /portForward/NS/POD.
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { netnsPath } from '../../src/netlink/index.ts'
import { KubeletServer } from '../../src/kubelet/server.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { testNetns } from '../helpers/netns.ts'

function exchange(port: number, payload: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(payload))
    const chunks: Buffer[] = []
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('close', () => resolve(Buffer.concat(chunks)))
    s.on('error', reject)
  })
}

t.test('kubectl port-forward through the kubelet, WebSocket and SPDY', async (t) => {
  const ns = await testNetns(t, 'pfk')
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  const echo = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('node:net').createServer({ allowHalfOpen: true }, (s) => s.pipe(s)).listen(7000, '127.0.0.1', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void echo.kill())
  await new Promise((resolve) => echo.stdout!.once('data', resolve))

  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-pf-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const ca = await createCA('test-ca')
  const serving = await issueCertificate(ca, { commonName: 'system:node:n1', dnsNames: ['n1'], usages: ['server'] })
  const apiClient = await issueCertificate(ca, { commonName: 'apiserver-kubelet-client', usages: ['client'] })
  const kubelet = new KubeletServer(
    { pods: () => [], logs: async function* () {}, portForwardTarget: (n, p) => (n === 'default' && p === 'web' ? { netnsPath: netnsPath(ns), uid: 'u1' } : undefined) },
    {
      nodeName: 'n1',
      clientCaPem: ca.certPem,
      auth: {
        authenticate: async (req) => {
          const cn = (req.socket as import('node:tls').TLSSocket).getPeerCertificate()?.subject?.CN
          return cn ? { user: { username: String(cn), groups: [] } } : { failed: 'no client certificate' }
        },
        authorize: async (a) => (a.user.username === 'apiserver-kubelet-client' && a.subresource === 'proxy' ? { decision: 'allow', reason: '' } : { decision: 'noOpinion', reason: '' }),
      },
    },
  )
  const socketPath = join(dir, 'kubelet.sock')
  await kubelet.start({ socketPath, serving: { certPem: serving.certPem, keyPem: serving.keyPem! } })
  t.teardown(() => kubelet.close())

  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'c', image: 'weft/echo' }] }, status: { phase: 'Running' } }
  const upgrades: string[] = []
  const api = createServer((req, res) => {
    const json = (o: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(o))
    switch (req.url?.split('?')[0]) {
      case '/version':
        return json({ major: '1', minor: '32', gitVersion: 'v1.32.0' })
      case '/api':
        return json({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] })
      case '/apis':
        return json({ kind: 'APIGroupList', apiVersion: 'v1', groups: [] })
      case '/api/v1':
        return json({ kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get'] }] })
      case '/api/v1/namespaces/default/pods/web':
        return json(pod)
      default:
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }))
    }
  })
  api.on('upgrade', (req, socket, head) => {
    upgrades.push(`${req.method} ${String(req.headers.upgrade)}`)
    const kubeletConn = tlsConnect({ path: socketPath, ca: ca.certPem, cert: apiClient.certPem, key: apiClient.keyPem, servername: 'n1' }, () => {
      const lines = [`${req.method} /portForward/default/web HTTP/1.1`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() !== 'authorization') lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      kubeletConn.write(`${lines.join('\r\n')}\r\n\r\n`)
      if (head.length) kubeletConn.write(head)
      kubeletConn.pipe(socket)
      socket.pipe(kubeletConn)
    })
    kubeletConn.on('error', () => socket.destroy())
    socket.on('error', () => kubeletConn.destroy())
  })
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve))
  t.teardown(() => api.close())
  const kubeconfig = join(dir, 'kubeconfig')
  const apiPort = (api.address() as { port: number }).port
  await writeFile(kubeconfig, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:${apiPort}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: test\n`, { mode: 0o600 })

  for (const [mode, env] of [
    ['websocket', {}],
    ['spdy', { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }],
  ] as const) {
    t.test(mode, async (t) => {
      upgrades.length = 0
      const pf = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'port-forward', 'pod/web', ':7000', ':7001'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
      t.teardown(() => {
        if (pf.exitCode === null) pf.kill()
      })
      let stderr = ''
      pf.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s))
      let out = ''
      const ports = await new Promise<number[]>((resolve, reject) => {
        pf.stdout!.setEncoding('utf8').on('data', (s: string) => {
          out += s
          const found = [...out.matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (7000|7001)/g)]
          if (found.length === 2) resolve(found.sort((a, b) => Number(a[2]) - Number(b[2])).map((m) => Number(m[1])))
        })
        pf.once('exit', (code) => reject(new Error(`kubectl exited (${code}): ${stderr}`)))
      })
      for (let i = 0; i < 5; i++) t.equal((await exchange(ports[0]!, `hello ${i}`)).toString(), `hello ${i}`, `connection ${i} echoed`)
      const big = Buffer.alloc(8 * 1024 * 1024, 5)
      t.ok((await exchange(ports[0]!, big)).equals(big), '8 MiB echoed whole')
      t.equal(upgrades[0], mode === 'websocket' ? 'GET websocket' : 'POST SPDY/3.1', 'the upgrade kubectl made')
      // kubectl 1.32 prints the error stream's text and then gives up the session.
      await exchange(ports[1]!, 'x')
      await new Promise((resolve) => (pf.exitCode === null ? pf.once('exit', resolve) : resolve(undefined)))
      t.match(stderr, /an error occurred forwarding \d+ -> 7001: error forwarding port 7001 to pod default\/web, uid u1: IPv4: dial tcp4 127\.0\.0\.1:7001: connect: connection refused/)
    })
  }
})
