import t from 'tap'
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TokenSource } from '../../src/client/credentials.ts'
import { inClusterConfig, kubeconfigText, loadKubeconfig, serviceAccountCredentials } from '../../src/client/kubeconfig.ts'

async function dir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'weft-kubeconfig-'))
  t.teardown(() => rm(d, { recursive: true, force: true }))
  return d
}

const b64 = (s: string) => Buffer.from(s).toString('base64')

t.test('the current context, or a named one; embedded data and files relative to the kubeconfig', async (t) => {
  const d = await dir(t)
  await writeFile(join(d, 'ca.pem'), 'CA-FROM-FILE')
  await writeFile(join(d, 'token'), 'tok-from-file\n')
  const file = join(d, 'config')
  await writeFile(file, `apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: c1
  cluster: { server: "https://10.0.0.1:6443", certificate-authority-data: ${b64('CA-DATA')}, tls-server-name: kubernetes }
- name: c2
  cluster: { server: "https://h:6443", certificate-authority: ca.pem }
users:
- name: admin
  user: { client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')} }
- name: robot
  user: { tokenFile: token }
contexts:
- name: admin
  context: { cluster: c1, user: admin, namespace: team }
- name: robot
  context: { cluster: c2, user: robot }
`)
  const admin = loadKubeconfig(file)
  t.same(admin, { server: 'https://10.0.0.1:6443', namespace: 'team', credentials: { caPem: 'CA-DATA', certPem: 'CERT', keyPem: 'KEY', token: undefined, tokenFile: undefined, serverName: 'kubernetes', insecureSkipTlsVerify: false } })
  const robot = loadKubeconfig(file, 'robot')
  t.equal(robot.credentials.caPem, 'CA-FROM-FILE')
  t.equal(robot.credentials.tokenFile, join(d, 'token'))
  t.equal(new TokenSource(robot.credentials).token(), 'tok-from-file', 'the token file, trimmed')
})

t.test('what weft cannot do is refused by name, not half-done', async (t) => {
  const d = await dir(t)
  const file = join(d, 'config')
  const write = (user: string, ctx = 'current-context: x') => writeFile(file, `${ctx}\nclusters: [{ name: c, cluster: { server: "https://h" } }]\nusers: [{ name: u, user: ${user} }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\n`)
  await write('{ exec: { command: aws } }')
  t.throws(() => loadKubeconfig(file), /uses "exec", which weft's client does not support/)
  await write(`{ client-certificate-data: ${b64('C')} }`)
  t.throws(() => loadKubeconfig(file), /certificate without its key/)
  await write('{}', '')
  t.throws(() => loadKubeconfig(file), /no current-context/)
  t.throws(() => loadKubeconfig(file, 'nope'), /no context named "nope"/)
  await writeFile(file, '- just a list')
  t.throws(() => loadKubeconfig(file), /not a kubeconfig/)
})

t.test('kubeconfigText writes what loadKubeconfig reads, names with colons included', async (t) => {
  const d = await dir(t)
  const file = join(d, 'config')
  await writeFile(file, kubeconfigText({ server: 'https://[::1]:6443', caPem: 'CA', user: 'system:node:n1', certPem: 'C', keyPem: 'K' }))
  t.match(loadKubeconfig(file), { server: 'https://[::1]:6443', namespace: 'default', credentials: { caPem: 'CA', certPem: 'C', keyPem: 'K' } })
})

t.test('in-cluster: the kubernetes Service from the environment, the projected token and CA', async (t) => {
  const d = await dir(t)
  t.equal(inClusterConfig({}, d), undefined, 'not in a pod')
  t.equal(serviceAccountCredentials(d), undefined, 'no projected files')
  await writeFile(join(d, 'ca.crt'), 'CA')
  await writeFile(join(d, 'token'), 'tok')
  await writeFile(join(d, 'namespace'), 'team\n')
  t.same(inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, d), { server: 'https://[fd00::1]:443', credentials: { caPem: 'CA', tokenFile: join(d, 'token') }, namespace: 'team' })
})

t.test('a token file is re-read when it changes (projected tokens rotate), at most once a minute', async (t) => {
  const d = await dir(t)
  const file = join(d, 'token')
  await writeFile(file, 'first')
  const source = new TokenSource({ tokenFile: file })
  const t0 = Date.now()
  t.equal(source.token(t0), 'first')
  await writeFile(file, 'second')
  await utimes(file, new Date(), new Date(Date.now() + 5000))
  t.equal(source.token(t0 + 1000), 'first', 'not checked again within the minute')
  t.equal(source.token(t0 + 61_000), 'second', 'picked up after it')
  await rm(file)
  t.equal(source.token(t0 + 200_000), 'second', 'a file gone mid-swap keeps the last token')
  t.throws(() => new TokenSource({ tokenFile: join(d, 'missing') }), /cannot read the token file/)
})
