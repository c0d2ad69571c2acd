// The mesh's workload identities end to end against a real API server and controllers: a
// node agent's mesh obtains, keeps, renews and forgets certificates through the weft.dev/mesh
// signer, and a node cannot obtain the identity of another node's pods.
import t from 'tap'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { exchangeCertificate } from '../../src/kubelet/join.ts'
import { logger } from '../../src/util/log.ts'
import { verifySvid } from '../../mesh/identity.ts'
import { runMesh } from '../../mesh/cli.ts'
import { defaultMeshConfig, startMesh } from '../../mesh/run.ts'
import { call, testPki, userCredentials } from '../helpers/apiserver.ts'
import { startCluster, until } from '../helpers/control-plane.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!
const LIFETIME = 12

t.test('a node proxy holds the identities of its meshed pods, renews them at half-life, and no others', async (t) => {
  const pki = await testPki()
  const cluster = await startCluster(t, { meshCa: pki.meshCa, meshTrustDomain: 'cluster.local', meshCertificateSeconds: LIFETIME })
  const admin = cluster.client
  for (const name of ['shop', 'plain']) await admin.create(kind('Namespace'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: name === 'shop' ? { 'weft.dev/mesh': 'enabled' } : {} } })
  for (const [ns, sa] of [['shop', 'web'], ['shop', 'db'], ['plain', 'x']]) await admin.create(kind('ServiceAccount'), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns } })
  const pod = (ns: string, name: string, sa: string, node: string) =>
    admin.create(kind('Pod'), { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { nodeName: node, serviceAccountName: sa, containers: [{ name: 'c', image: 'weft/demo' }] } })
  await pod('shop', 'web-1', 'web', 'n1')
  await pod('shop', 'db-1', 'db', 'n2')
  await pod('plain', 'x-1', 'x', 'n1')

  const n1Creds = await userCredentials('system:node:n1', ['system:nodes'])
  const n1 = new RestClient({ server: cluster.url, credentials: n1Creds })
  t.teardown(() => n1.close())
  const root = await until('the mesh root is published', async () => (await call(cluster.url, 'GET', '/api/v1/namespaces/kube-system/configmaps/weft-mesh-root-cert', undefined, {}, n1Creds)).status === 200).then(
    async () => (await call(cluster.url, 'GET', '/api/v1/namespaces/kube-system/configmaps/weft-mesh-root-cert', undefined, {}, n1Creds)).body.data['root-cert.pem'],
  )
  t.equal(root, pki.meshCa.certPem, 'a node reads the mesh root')
  t.not(root, pki.ca.certPem, 'which is not the cluster CA')
  const other = await userCredentials('mallory', [])
  t.equal((await call(cluster.url, 'GET', '/api/v1/namespaces/kube-system/configmaps/weft-mesh-root-cert', undefined, {}, other)).status, 403, 'nobody else is granted it')

  const dataDir = await mkdtemp(join(tmpdir(), 'weft-mesh-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const log = logger('mesh-test')
  let mesh = await startMesh({ client: n1, nodeName: 'n1', dataDir, trustDomain: 'cluster.local', log, config: { ...defaultMeshConfig, dataPath: false }, retry: { initialMs: 100, maxMs: 500 } })
  t.teardown(() => mesh.stop())
  await until('the identity of shop/web', () => mesh.identities.get({ namespace: 'shop', serviceAccount: 'web' }) !== undefined)
  const held = mesh.identities.get({ namespace: 'shop', serviceAccount: 'web' })!
  t.same(await verifySvid(held.certPem, { trustDomain: 'cluster.local', rootPem: pki.meshCa.certPem }), { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'web' })
  t.same(mesh.identities.list().map((h) => h.spiffeId), ['spiffe://cluster.local/ns/shop/sa/web'], 'only meshed pods: plain/x is not in the mesh, shop/db runs on n2')
  const lifetime = (held.notAfter.getTime() - Date.now()) / 1000
  t.ok(lifetime > LIFETIME - 3 && lifetime <= LIFETIME, `the signer's lifetime (${lifetime.toFixed(1)} s left)`)
  t.ok(Math.abs(held.renewAt.getTime() - (Date.now() + (held.notAfter.getTime() - Date.now()) / 2)) < 2000, 'renewal at half-life, counted from arrival')
  const files = join(dataDir, 'mesh', 'identities', 'shop')
  t.same((await readdir(files)).sort(), ['web.crt', 'web.key'])
  for (const f of ['web.crt', 'web.key']) t.equal((await stat(join(files, f))).mode & 0o777, 0o600, `${f} is 0600`)
  t.equal((await stat(files)).mode & 0o777, 0o700)

  // A node cannot get another node's pods' identity: refused when asked, whatever the route.
  const ask = (sa: string, ns = 'shop') =>
    exchangeCertificate(n1, { signerName: 'weft.dev/mesh', usages: ['digital signature', 'client auth', 'server auth'], subject: { commonName: sa, organizations: [ns] }, uris: [`spiffe://cluster.local/ns/${ns}/sa/${sa}`], namePrefix: 'mesh-', timeoutMs: 10_000 })
  await t.rejects(ask('db'), /node "n1" may only request the mesh identity of a service account one of its pods runs as/, "shop/db's pod runs on n2")
  await t.rejects(ask('ghost'), /may only request/, 'an account no pod runs as')
  // An admin may create such a request, but the approver denies it: only nodes get identities.
  const adminAsk = exchangeCertificate(admin, { signerName: 'weft.dev/mesh', usages: ['client auth', 'server auth'], subject: { commonName: 'db', organizations: ['shop'] }, uris: ['spiffe://cluster.local/ns/shop/sa/db'], namePrefix: 'mesh-', timeoutMs: 10_000 })
  await t.rejects(adminAsk, /was denied: only a node obtains mesh identities/)

  // Renewal at half-life: a new certificate, the old one still valid meanwhile.
  const serial = new X509Certificate(held.certPem).serialNumber
  await until('a renewed certificate', () => {
    const now = mesh.identities.get({ namespace: 'shop', serviceAccount: 'web' })
    return now !== undefined && new X509Certificate(now.certPem).serialNumber !== serial
  }, LIFETIME * 1000)
  const renewed = mesh.identities.get({ namespace: 'shop', serviceAccount: 'web' })!
  t.ok(renewed.notAfter > held.notAfter, 'it lasts longer than the one it replaces')
  t.ok(Date.now() < held.notAfter.getTime(), 'renewed before the old one expired')

  // `weft mesh certs` reads what the agent keeps, verified against the kept root.
  let text = ''
  await runMesh(['certs', '--data-dir', dataDir], { write: (s: string) => (text += s) })
  t.match(text, /^IDENTITY +EXPIRES +RESIDUAL TIME +RENEWS +STATUS\n/)
  t.match(text, /spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web +\w{3} \d\d, \d{4} \d\d:\d\d UTC +\d+s +\w{3} .* valid\n/)
  t.notMatch(text, /not verified/)
  let json = ''
  await runMesh(['certs', '--data-dir', dataDir, '-o', 'json'], { write: (s: string) => (json += s) })
  t.match(JSON.parse(json), { verified: true, identities: [{ identity: 'spiffe://cluster.local/ns/shop/sa/web', notAfter: renewed.notAfter.toISOString() }] })

  // A restarted proxy serves with what it kept.
  await mesh.stop()
  mesh = await startMesh({ client: n1, nodeName: 'n1', dataDir, trustDomain: 'cluster.local', log, config: { ...defaultMeshConfig, dataPath: false } })
  await until('the kept identity', () => mesh.identities.get({ namespace: 'shop', serviceAccount: 'web' }) !== undefined)
  t.equal(new X509Certificate(mesh.identities.get({ namespace: 'shop', serviceAccount: 'web' })!.certPem).serialNumber, new X509Certificate(renewed.certPem).serialNumber, 'the same certificate after a restart')

  // The namespace leaves the mesh: the identity is forgotten, its files removed.
  await admin.patch(kind('Namespace'), 'shop', undefined, { metadata: { labels: { 'weft.dev/mesh': null } } }, 'merge')
  await until('the identity is dropped', () => mesh.identities.list().length === 0)
  await until('its files are removed', async () => (await readdir(files)).length === 0)
  text = ''
  await runMesh(['certs', '--data-dir', dataDir], { write: (s: string) => (text += s) })
  t.match(text, /No mesh identities/)
})
