// `weft server` as users run it: a separate process, killed with SIGKILL and restarted.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { statSync } from 'node:fs'
import { call } from '../helpers/apiserver.ts'
import { kill, startServer, weft } from '../helpers/server-process.ts'

t.test('an acknowledged write survives kill -9 of the server', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-durable-'))
  let current: ChildProcess | undefined
  t.teardown(async () => {
    if (current) await kill(current, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  const first = await startServer(dir)
  current = first.child
  const kubeconfig = await readFile(join(dir, 'kubeconfig'), 'utf8')
  t.match(kubeconfig, first.url, 'the kubeconfig points at the server')
  t.notMatch(kubeconfig, /insecure-skip-tls-verify/, 'and checks its certificate')
  t.equal(statSync(join(dir, 'kubeconfig')).mode & 0o777, 0o600)
  t.equal(statSync(join(dir, 'pki')).mode & 0o777, 0o700)
  for (const key of ['ca.key', 'apiserver.key', 'apiserver-kubelet-client.key', 'admin.key', 'sa.key']) t.equal(statSync(join(dir, 'pki', key)).mode & 0o777, 0o600, key)
  const ca = await readFile(join(dir, 'pki', 'ca.crt'), 'utf8')
  let lastRV = 0
  for (let i = 0; i < 50; i++) {
    const res = await call(first.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: `cm-${i}` }, data: { i: String(i) } }, {}, first.as)
    t.equal(res.status, 201)
    lastRV = Number(res.body.metadata.resourceVersion)
  }
  await kill(first.child, 'SIGKILL')

  const second = await startServer(dir)
  current = second.child
  t.equal(await readFile(join(dir, 'pki', 'ca.crt'), 'utf8'), ca, 'the cluster CA is kept across restarts')
  const list = await call(second.url, 'GET', '/api/v1/namespaces/default/configmaps', undefined, {}, second.as)
  t.equal(list.body.items.filter((c: any) => c.metadata.name.startsWith('cm-')).length, 50, 'every acknowledged object is there')
  t.same(list.body.items.find((c: any) => c.metadata.name === 'cm-49').data, { i: '49' })
  const endpoints = await call(second.url, 'GET', '/api/v1/namespaces/default/endpoints/kubernetes', undefined, {}, second.as)
  t.equal(endpoints.body.subsets[0].ports[0].port, Number(new URL(second.url).port), 'the kubernetes Endpoints follow the new port')
  const next = await call(second.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'after' } }, {}, second.as)
  t.equal(next.status, 201)
  t.ok(Number(next.body.metadata.resourceVersion) > lastRV, 'revisions continue upward after the restart')
  await kill(second.child, 'SIGTERM')
  t.equal(second.child.exitCode, 0, 'SIGTERM shuts down cleanly')
  current = undefined
})

t.test('--secrets-encryption: no Secret value is in the store file; turning it on re-encrypts what was there', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-enc-'))
  let current: ChildProcess | undefined
  t.teardown(async () => {
    if (current) await kill(current, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  const plain = 'before-encryption-' + 'p'.repeat(24)
  const secret = 'hunter2-' + 'x'.repeat(24)
  const rawBytes = async () => Buffer.concat(await Promise.all(['weft.db', 'weft.db-wal'].map((f) => readFile(join(dir, f)).catch(() => Buffer.alloc(0)))))
  let s = await startServer(dir)
  current = s.child
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 'early' }, stringData: { v: plain } }, {}, s.as)).status, 201)
  await kill(s.child, 'SIGTERM')
  s = await startServer(dir, ['--secrets-encryption'])
  current = s.child
  t.equal(statSync(join(dir, 'encryption-config.yaml')).mode & 0o777, 0o600, 'the key file is private')
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 'db' }, stringData: { password: secret } }, {}, s.as)).status, 201)
  const read = await call(s.url, 'GET', '/api/v1/namespaces/default/secrets/db', undefined, {}, s.as)
  t.equal(Buffer.from(read.body.data.password, 'base64').toString(), secret, 'reads back')
  const early = await call(s.url, 'GET', '/api/v1/namespaces/default/secrets/early', undefined, {}, s.as)
  t.equal(Buffer.from(early.body.data.v, 'base64').toString(), plain, 'the older Secret still reads back')
  await kill(s.child, 'SIGTERM')
  current = undefined
  // Compaction has not run: the history of "early" may still hold its plain value; the
  // live rows must not. VACUUM-free check on the newest revision of each key.
  const bytes = await rawBytes()
  for (const needle of [secret, Buffer.from(secret).toString('base64')]) t.notOk(bytes.includes(needle), `the store file holds no ${needle === secret ? 'plain' : 'base64'} secret value`)
  t.ok(bytes.includes('k8s:enc:aescbc:v1:'), 'values are stored in upstream\'s envelope')
})

t.test('bad flags get a clear error', async (t) => {
  const child = spawn(weft, ['server', '--listen', 'nonsense'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 1)
  t.match(stderr, /--listen "nonsense" must be ADDRESS:PORT/)
})

function weftCommand(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(weft, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })))
}

t.test('snapshot save while the server runs, restore after it stopped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-snap-'))
  let current: ChildProcess | undefined
  t.teardown(async () => {
    if (current) await kill(current, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  let s = await startServer(dir)
  current = s.child
  for (let i = 0; i < 20; i++) t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: `saved-${i}` } }, {}, s.as)).status, 201)
  const file = join(dir, 'backup.db')
  const saved = await weftCommand(['server', 'snapshot', 'save', file, '--data-dir', dir])
  t.equal(saved.code, 0, saved.stderr)
  t.match(saved.stdout, /Snapshot saved at .*backup\.db: revision \d+, \d+ keys \(taken by the running server\)/)
  t.equal(statSync(file).mode & 0o777, 0o600)
  const again = await weftCommand(['server', 'snapshot', 'save', file, '--data-dir', dir])
  t.equal(again.code, 1)
  t.match(again.stderr, /backup\.db exists; remove it or choose another file/, 'an existing file is never overwritten')
  const refused = await weftCommand(['server', 'snapshot', 'restore', file, '--data-dir', dir])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /is in use: stop its server before restoring/)

  const later = await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'after-snapshot' } }, {}, s.as)
  const seen = Number(later.body.metadata.resourceVersion)
  await kill(s.child, 'SIGTERM')
  const restored = await weftCommand(['server', 'snapshot', 'restore', file, '--data-dir', dir])
  t.equal(restored.code, 0, restored.stderr)
  t.match(restored.stdout, /marked compacted past the replaced store's revisions/)
  t.match(restored.stdout, /The replaced store is kept as .*weft\.db\.before-restore-/)

  s = await startServer(dir)
  current = s.child
  const list = await call(s.url, 'GET', '/api/v1/namespaces/default/configmaps', undefined, {}, s.as)
  const names = list.body.items.map((c: any) => c.metadata.name)
  t.ok(names.includes('saved-19'), 'what was saved is back')
  t.notOk(names.includes('after-snapshot'), 'what came later is not')
  t.ok(Number(list.body.metadata.resourceVersion) > seen, 'revisions continue above any a client saw')
  const stale = await call(s.url, 'GET', `/api/v1/namespaces/default/configmaps?resourceVersion=${seen}&resourceVersionMatch=Exact`, undefined, {}, s.as)
  t.equal(stale.status, 410, 'a read at a revision of the replaced store is Gone: the client relists')
  await kill(s.child, 'SIGTERM')
  current = undefined
})

t.test('weft server over etcd with TLS client certificates; a key others can read is refused', async (t) => {
  const { etcdTlsFiles, startEtcd } = await import('../helpers/etcd.ts')
  const { writeFileSync, chmodSync } = await import('node:fs')
  const dir = await mkdtemp(join(tmpdir(), 'weft-etcd-tls-'))
  let current: ChildProcess | undefined
  t.teardown(async () => {
    if (current) await kill(current, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  const tls = await etcdTlsFiles(dir)
  const etcd = await startEtcd(t, { tls })
  writeFileSync(join(dir, 'client.crt'), tls.client.certPem, { mode: 0o600 })
  writeFileSync(join(dir, 'client.key'), tls.client.keyPem, { mode: 0o644 })
  chmodSync(join(dir, 'client.key'), 0o644)
  const flags = ['--etcd-endpoints', etcd.endpoint, '--etcd-cafile', tls.trustedCaFile, '--etcd-certfile', join(dir, 'client.crt'), '--etcd-keyfile', join(dir, 'client.key'), '--dns-replicas', '0', '--ingress', 'none']
  const refused = await weftCommand(['server', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0', ...flags])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /--etcd-keyfile .*client\.key: it can be read by others than its owner: chmod 600 it/)
  chmodSync(join(dir, 'client.key'), 0o600)
  const s = await startServer(join(dir, 'data'), flags)
  current = s.child
  t.equal((await call(s.url, 'GET', '/readyz', undefined, {}, s.as)).status, 200)
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'via-tls' } }, {}, s.as)).status, 201)
  await kill(s.child, 'SIGTERM')
  current = undefined
})
