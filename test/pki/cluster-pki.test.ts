// ensureClusterPki: kubeadm's layout made once with the right modes, reused byte for byte,
// serving SANs kept complete, and every inconsistency on disk a clear error.
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { certificateInfo, certificateMatchesKey, createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { ensureClusterPki, type ClusterPkiOptions } from '../../src/pki/cluster-pki.ts'
import { generateKeyPair } from '../../src/pki/keys.ts'
import { openssl, tmp } from '../helpers/openssl.ts'

const root = tmp('weft-cluster-pki-')
t.teardown(root.remove)

let n = 0
const dataDir = () => join(root.path, `data-${++n}`)
const opts: ClusterPkiOptions = { listenHosts: ['192.168.50.10', 'api.weft.example', '[fd00::10]', '0.0.0.0'], serviceIP: '10.96.0.1', clusterDomain: 'cluster.local' }
const mode = (path: string) => statSync(path).mode & 0o777
const read = (dir: string, name: string) => readFileSync(join(dir, 'pki', name), 'utf8')
const FILES = ['admin.crt', 'admin.key', 'apiserver-kubelet-client.crt', 'apiserver-kubelet-client.key', 'apiserver.crt', 'apiserver.key', 'ca.crt', 'ca.key', 'mesh-ca.crt', 'mesh-ca.key', 'sa.key', 'sa.pub']

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(FILES.map((f) => [f, read(dir, f)]))
}

t.test('the first run makes every file with kubeadm\'s names and weft\'s modes', async (t) => {
  const dir = dataDir()
  const start = performance.now()
  const pki = await ensureClusterPki(dir, opts)
  t.comment(`first run took ${(performance.now() - start).toFixed(0)} ms`)
  t.equal(pki.dir, join(dir, 'pki'))
  t.same(readdirSync(pki.dir).sort(), FILES)
  t.equal(mode(pki.dir), 0o700)
  for (const f of FILES) t.equal(mode(join(pki.dir, f)), f.endsWith('.key') ? 0o600 : 0o644, f)
  t.equal(pki.changes.length, 6)
  t.match(pki.changes[0], /^created ca /)
  t.match(pki.changes[5], /^created mesh-ca /)
  t.not(pki.meshCa.certPem, pki.ca.certPem, 'the mesh has a CA of its own')
  t.match(await certificateInfo(pki.meshCa.certPem), { isCA: true, subject: { commonName: 'weft mesh CA' }, publicKeyAlgorithm: 'ECDSA-P256' })

  const caFile = join(pki.dir, 'ca.crt')
  for (const f of ['apiserver.crt', 'apiserver-kubelet-client.crt', 'admin.crt']) {
    const v = await openssl(['verify', '-CAfile', caFile, join(pki.dir, f)])
    t.equal(v.code, 0, `${f} chains to ca.crt: ${v.stdout}${v.stderr}`)
  }
  const sans = (await openssl(['x509', '-in', join(pki.dir, 'apiserver.crt'), '-noout', '-ext', 'subjectAltName'])).stdout
  t.match(
    sans,
    'DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, DNS:localhost, DNS:api.weft.example, ' +
      'IP Address:127.0.0.1, IP Address:10.96.0.1, IP Address:192.168.50.10, IP Address:FD00:0:0:0:0:0:0:10',
  )
  t.notMatch(sans, /IP Address:0\.0\.0\.0/, 'an unspecified listen address is no SAN')

  const serving = await certificateInfo(pki.serving.certPem)
  t.same(serving.subject, { commonName: 'kube-apiserver', organizations: [] })
  t.same(serving.usages, ['server'])
  const kubelet = await certificateInfo(pki.kubeletClient.certPem)
  t.same(kubelet.subject, { commonName: 'apiserver-kubelet-client', organizations: [] }, 'not system:masters')
  t.same(kubelet.usages, ['client'])
  const admin = await certificateInfo(pki.admin.certPem)
  t.same(admin.subject, { commonName: 'kubernetes-admin', organizations: ['system:masters'] })
  t.same(admin.usages, ['client'])
  t.same((await certificateInfo(pki.ca.certPem)).subject.commonName, 'kubernetes')

  t.match(pki.serviceAccount.privateKeyPem, /BEGIN PRIVATE KEY/)
  t.equal((await openssl(['pkey', '-noout', '-text_pub'], pki.serviceAccount.privateKeyPem)).stdout.match(/Public-Key: \((\d+) bit\)/)?.[1], '2048')
  t.equal(pki.serviceAccount.publicKeyPem, read(dir, 'sa.pub'))
  t.equal(pki.clientCaBundlePem, pki.ca.certPem)
  t.match(pki.caHash, /^sha256:[0-9a-f]{64}$/)
  t.same(
    [pki.ca.certPem, pki.ca.keyPem, pki.serving.certPem, pki.serving.keyPem, pki.admin.keyPem],
    [read(dir, 'ca.crt'), read(dir, 'ca.key'), read(dir, 'apiserver.crt'), read(dir, 'apiserver.key'), read(dir, 'admin.key')],
  )
})

t.test('a later run reuses every file unchanged and reports nothing', async (t) => {
  const dir = dataDir()
  const first = await ensureClusterPki(dir, opts)
  const before = snapshot(dir)
  const start = performance.now()
  const again = await ensureClusterPki(dir, { ...opts, listenHosts: ['api.weft.example', '192.168.50.10'] })
  t.comment(`second run took ${(performance.now() - start).toFixed(1)} ms`)
  t.same(again.changes, [])
  t.same(snapshot(dir), before, 'bytes identical')
  t.same(again, { ...first, changes: [] })
})

t.test('a serving certificate that lacks a needed SAN is re-issued with the same key', async (t) => {
  const dir = dataDir()
  const first = await ensureClusterPki(dir, opts)
  const before = snapshot(dir)
  const again = await ensureClusterPki(dir, { ...opts, listenHosts: [...opts.listenHosts, '203.0.113.4', 'other.example'], clusterDomain: 'corp.local' })
  t.same(again.changes.length, 1)
  t.match(again.changes[0], /renewed apiserver .*: added subject alternative names kubernetes\.default\.svc\.corp\.local, other\.example, 203\.0\.113\.4/)
  t.not(again.serving.certPem, first.serving.certPem)
  t.equal(again.serving.keyPem, first.serving.keyPem, 'the key is kept')
  t.ok(certificateMatchesKey(read(dir, 'apiserver.crt'), read(dir, 'apiserver.key')))
  const info = await certificateInfo(again.serving.certPem)
  t.ok(info.dnsNames.includes('other.example') && info.dnsNames.includes('kubernetes.default.svc.cluster.local'), 'old names stay, new ones are added')
  t.ok(info.ipAddresses.includes('203.0.113.4'))
  const after = snapshot(dir)
  for (const f of FILES) if (f !== 'apiserver.crt') t.equal(after[f], before[f], `${f} untouched`)
  t.equal(mode(join(dir, 'pki', 'apiserver.crt')), 0o644)
  t.equal((await openssl(['verify', '-CAfile', join(dir, 'pki', 'ca.crt'), join(dir, 'pki', 'apiserver.crt')])).code, 0)
})

t.test('a weft-issued leaf near expiry is renewed on start; one far from it is not', async (t) => {
  const dir = dataDir()
  const now = new Date()
  await ensureClusterPki(dir, { ...opts, now })
  const later = new Date(now.getTime() + 300 * 86_400_000)
  const again = await ensureClusterPki(dir, { ...opts, now: later })
  t.same(again.changes.map((c) => c.split(' ')[1]), ['apiserver', 'apiserver-kubelet-client', 'admin'])
  t.ok((await certificateInfo(again.admin.certPem)).notAfter.getTime() > later.getTime() + 364 * 86_400_000)
  t.same((await ensureClusterPki(dir, { ...opts, now: later })).changes, [])
})

t.test('a certificate that does not match its key is an error naming the file, and nothing is overwritten', async (t) => {
  const dir = dataDir()
  await ensureClusterPki(dir, opts)
  writeFileSync(join(dir, 'pki', 'admin.key'), (await generateKeyPair('ecdsa-p256')).privateKeyPem)
  const before = snapshot(dir)
  await t.rejects(ensureClusterPki(dir, opts), new RegExp(`${join(dir, 'pki', 'admin.crt')} does not match its key ${join(dir, 'pki', 'admin.key')}`))
  t.same(snapshot(dir), before)
})

t.test('a certificate not signed by ca.crt is an error naming both files', async (t) => {
  const dir = dataDir()
  await ensureClusterPki(dir, opts)
  const stranger = await issueCertificate(await createCA('stranger'), { commonName: 'kube-apiserver', usages: ['server'] })
  writeFileSync(join(dir, 'pki', 'apiserver.crt'), stranger.certPem)
  writeFileSync(join(dir, 'pki', 'apiserver.key'), stranger.keyPem!)
  await t.rejects(ensureClusterPki(dir, opts), /apiserver\.crt is not signed by .*ca\.crt/)
  t.equal(read(dir, 'apiserver.crt'), stranger.certPem)
})

t.test('half a pair: a lone certificate is refused, a lone key is certified', async (t) => {
  const dir = dataDir()
  const first = await ensureClusterPki(dir, opts)
  rmSync(join(dir, 'pki', 'apiserver-kubelet-client.key'))
  await t.rejects(ensureClusterPki(dir, opts), /apiserver-kubelet-client\.crt exists but its key .* does not/)
  rmSync(join(dir, 'pki', 'apiserver-kubelet-client.crt'))
  rmSync(join(dir, 'pki', 'admin.crt'))
  const again = await ensureClusterPki(dir, opts)
  t.equal(again.admin.keyPem, first.admin.keyPem, 'the remaining admin.key is certified again')
  t.ok(certificateMatchesKey(again.admin.certPem, first.admin.keyPem))
  t.match(again.changes.join('\n'), /created apiserver-kubelet-client/)
  t.match(again.changes.join('\n'), /created .*admin\.crt for the existing key/)

  rmSync(join(dir, 'pki', 'ca.key'))
  await t.rejects(ensureClusterPki(dir, opts), /ca\.crt exists without .*ca\.key: weft needs the CA key/)
  rmSync(join(dir, 'pki', 'ca.crt'))
  writeFileSync(join(dir, 'pki', 'ca.key'), first.ca.keyPem)
  rmSync(join(dir, 'pki', 'sa.key'))
  // Two problems at once: the CA's is reported, always.
  await t.rejects(ensureClusterPki(dir, opts), /ca\.key exists without .*ca\.crt/)
})

t.test('the service-account pair: sa.pub is derived when missing, refused when it is another key\'s', async (t) => {
  const dir = dataDir()
  const first = await ensureClusterPki(dir, opts)
  rmSync(join(dir, 'pki', 'sa.pub'))
  const again = await ensureClusterPki(dir, opts)
  t.equal(read(dir, 'sa.pub'), first.serviceAccount.publicKeyPem)
  t.match(again.changes[0], /created .*sa\.pub from .*sa\.key/)
  writeFileSync(join(dir, 'pki', 'sa.pub'), (await generateKeyPair('rsa-2048')).publicKeyPem)
  await t.rejects(ensureClusterPki(dir, opts), /sa\.pub is not the public key of .*sa\.key/)
  writeFileSync(join(dir, 'pki', 'sa.key'), (await generateKeyPair('ecdsa-p256')).privateKeyPem)
  await t.rejects(ensureClusterPki(dir, opts), /sa\.key must be an RSA key of at least 2048 bits/)
  rmSync(join(dir, 'pki', 'sa.key'))
  await t.rejects(ensureClusterPki(dir, opts), /sa\.pub exists without .*sa\.key/)
})

t.test('key files are tightened to 0600; an unreadable file is an error naming it', async (t) => {
  const dir = dataDir()
  await ensureClusterPki(dir, opts)
  chmodSync(join(dir, 'pki', 'ca.key'), 0o644)
  chmodSync(join(dir, 'pki'), 0o755)
  await ensureClusterPki(dir, opts)
  t.equal(mode(join(dir, 'pki', 'ca.key')), 0o600)
  t.equal(mode(join(dir, 'pki')), 0o700)
  writeFileSync(join(dir, 'pki', 'admin.crt'), 'junk')
  await t.rejects(ensureClusterPki(dir, opts), /admin\.crt: no PEM block found/)
})

t.test('user files: a serving pair replaces apiserver.crt; a client CA file is added to the bundle', async (t) => {
  const dir = dataDir()
  const files = tmp('weft-user-files-')
  t.teardown(files.remove)
  const userCa = await createCA('corporate')
  const userServing = await issueCertificate(userCa, { commonName: 'api.corp', dnsNames: ['api.corp'], usages: ['server'] })
  const certFile = files.file('tls.crt', userServing.certPem + userCa.certPem)
  const keyFile = files.file('tls.key', userServing.keyPem!)
  const clientCa = await createCA('client-ca')
  const clientCaFile = files.file('client-ca.crt', clientCa.certPem)

  const pki = await ensureClusterPki(dir, { ...opts, userFiles: { tlsCertFile: certFile, tlsPrivateKeyFile: keyFile, clientCaFile } })
  t.equal(pki.serving.certPem, userServing.certPem + userCa.certPem, 'the user\'s chain is served as given')
  t.equal(pki.serving.keyPem, userServing.keyPem)
  t.notOk(readdirSync(pki.dir).includes('apiserver.crt'), 'no apiserver pair of weft\'s own is made')
  t.equal(pki.clientCaBundlePem, pki.ca.certPem + clientCa.certPem)
  t.equal((await certificateInfo(pki.admin.certPem)).issuer.commonName, 'kubernetes', 'weft still issues its admin certificate from its own CA')
  const bundleFile = files.file('bundle.crt', pki.clientCaBundlePem)
  t.equal((await openssl(['verify', '-CAfile', bundleFile, join(pki.dir, 'admin.crt')])).code, 0)

  const other = await generateKeyPair('ecdsa-p256')
  const wrongKey = files.file('wrong.key', other.privateKeyPem)
  await t.rejects(ensureClusterPki(dir, { ...opts, userFiles: { tlsCertFile: certFile, tlsPrivateKeyFile: wrongKey } }), /tls\.crt does not match its key .*wrong\.key/)
  await t.rejects(ensureClusterPki(dir, { ...opts, userFiles: { tlsCertFile: certFile } }), /go together: give both/)
  await t.rejects(ensureClusterPki(dir, { ...opts, userFiles: { clientCaFile: files.file('leaf.crt', userServing.certPem) } }), /certificate 1 .* is not a CA certificate/)
  await t.rejects(ensureClusterPki(dir, { ...opts, userFiles: { clientCaFile: join(files.path, 'missing.crt') } }), /missing\.crt: the client CA file does not exist/)
  await t.rejects(ensureClusterPki(dir, { ...opts, userFiles: { clientCaFile: keyFile } }), /block 1 is "PRIVATE KEY", expected "CERTIFICATE"/)
})

t.test('bad options are refused before anything is written', async (t) => {
  const dir = dataDir()
  await t.rejects(ensureClusterPki(dir, { ...opts, serviceIP: '10.96.0' }), /IP address "10.96.0" is not a valid/)
  await t.rejects(ensureClusterPki(dir, { ...opts, clusterDomain: 'bad domain' }), /not a valid DNS name/)
  await t.rejects(ensureClusterPki(dir, { ...opts, listenHosts: ['bad host'] }), /not a valid DNS name/)
  t.throws(() => statSync(join(dir, 'pki')), /ENOENT/)
})
