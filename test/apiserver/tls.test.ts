// The API server's TLS as outside tools see it: openssl s_client verifies the chain against
// the cluster CA, and the serving certificate names every way the server is reached.
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startTestServer, testPki } from '../helpers/apiserver.ts'

const run = promisify(execFile)

function sClient(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.on('close', () => {
      clearTimeout(timer)
      resolve(out)
    })
    child.on('error', reject)
    child.stdin.end(input)
  })
}

t.test('openssl s_client: the chain verifies against the cluster CA; the SANs name the Service and the listen address', async (t) => {
  const { url, dir } = await startTestServer(t)
  const pki = await testPki()
  const caFile = join(dir, 'ca.crt')
  await writeFile(caFile, pki.ca.certPem)
  const port = new URL(url).port
  const out = await sClient(['-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-verify_return_error', '-servername', 'kubernetes.default.svc', '-showcerts'])
  t.match(out, /Verify return code: 0 \(ok\)/, 'verified')
  t.match(out, /i:CN\s*=\s*kubernetes/, 'issued by the cluster CA')
  t.match(out, /Acceptable client certificate CA names[\s\S]*CN\s*=\s*kubernetes/, 'asks for client certificates from the cluster CA')
  const served = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)![0]
  const leafFile = join(dir, 'leaf.crt')
  await writeFile(leafFile, served + '\n')
  const { stdout: sans } = await run('openssl', ['x509', '-in', leafFile, '-noout', '-ext', 'subjectAltName'])
  for (const name of ['DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', 'DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:10.96.0.1']) t.ok(sans.includes(name), name)
  const wrong = await sClient(['-connect', `127.0.0.1:${port}`, '-CAfile', '/etc/ssl/certs/ca-certificates.crt', '-verify_return_error'])
  t.notMatch(wrong, /Verify return code: 0 \(ok\)/, 'the public CAs do not vouch for it')
  await writeFile(join(dir, 'admin.crt'), pki.admin.certPem)
  await writeFile(join(dir, 'admin.key'), pki.admin.keyPem, { mode: 0o600 })
  const asAdmin = await sClient(['-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-quiet', '-cert', join(dir, 'admin.crt'), '-key', join(dir, 'admin.key')], 'GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(asAdmin, /HTTP\/1\.1 200 OK[\s\S]*"kind":"APIVersions"/, 'openssl with the admin certificate is served')
  const anonymous = await sClient(['-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-quiet'], 'GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(anonymous, /HTTP\/1\.1 401 Unauthorized/, 'and without it is not')
})

t.test('a request target no URL parser accepts gets 400, and the server lives on (found by the fuzz suite)', async (t) => {
  const { url } = await startTestServer(t)
  const pki = await testPki()
  const { connect } = await import('node:tls')
  const raw = (target: string) =>
    new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: Number(new URL(url).port), ca: pki.ca.certPem, cert: pki.admin.certPem, key: pki.admin.keyPem, servername: 'localhost' })
      let text = ''
      s.on('data', (b) => (text += b))
      s.once('secureConnect', () => s.write(`GET ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`))
      s.on('close', () => resolve(text))
      s.on('error', () => resolve(text))
    })
  t.match(await raw('http://['), /^HTTP\/1\.1 400 /)
  t.match(await raw('/version'), /^HTTP\/1\.1 200 /, 'still serving')
})
