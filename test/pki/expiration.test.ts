// kubeadm's `certs check-expiration` and `certs renew`, and `weft certs` printing them.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { expirationTables, formatExpiry, runCerts, shortHumanDuration } from '../../src/cli/certs.ts'
import { certificateInfo, certificateMatchesKey, createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { ensureClusterPki } from '../../src/pki/cluster-pki.ts'
import { checkExpiration, renewCertificates } from '../../src/pki/expiration.ts'
import { openssl, tmp } from '../helpers/openssl.ts'

const root = tmp('weft-pki-expiry-')
t.teardown(root.remove)
const DAY = 86_400_000
const opts = { listenHosts: ['192.168.50.10'], serviceIP: '10.96.0.1', clusterDomain: 'cluster.local' }
let n = 0
const dataDir = () => join(root.path, `data-${++n}`)
const read = (dir: string, name: string) => readFileSync(join(dir, 'pki', name), 'utf8')

function capture(): { out: { write(s: string): boolean }; text(): string } {
  let text = ''
  return { out: { write: (s: string) => ((text += s), true) }, text: () => text }
}

t.test('checkExpiration: one row per certificate, then the CAs', async (t) => {
  const dir = dataDir()
  const now = new Date('2031-03-01T12:00:00Z')
  await ensureClusterPki(dir, { ...opts, now })
  const rows = await checkExpiration(dir, new Date(now.getTime() + 100 * DAY))
  t.same(
    rows.map((r) => [r.name, r.residualDays, r.authority, r.externallyManaged, r.isAuthority, r.missing]),
    [
      ['admin', 265, 'ca', false, false, false],
      ['apiserver', 265, 'ca', false, false, false],
      ['apiserver-kubelet-client', 265, 'ca', false, false, false],
      ['ca', 3550, '', false, true, false],
      ['mesh-ca', 3550, '', false, true, false],
    ],
  )
  t.equal(rows[0]!.expires!.getTime(), now.getTime() + 365 * DAY)
  rmSync(join(dir, 'pki', 'admin.crt'))
  t.same((await checkExpiration(dir, now))[0], { name: 'admin', authority: 'ca', externallyManaged: false, isAuthority: false, missing: true })
})

t.test('renewCertificates: a new serial and validity from now, the same key, subject, SANs and usages', async (t) => {
  const dir = dataDir()
  const now = new Date()
  const pki = await ensureClusterPki(dir, { ...opts, now })
  const keysBefore = ['apiserver.key', 'admin.key', 'apiserver-kubelet-client.key'].map((f) => read(dir, f))
  const later = new Date(now.getTime() + 200 * DAY)
  const lines = await renewCertificates(dir, 'all', later)
  t.same(lines.map((l) => l.split(':')[0]), ['admin', 'apiserver', 'apiserver-kubelet-client'])
  t.same(['apiserver.key', 'admin.key', 'apiserver-kubelet-client.key'].map((f) => read(dir, f)), keysBefore, 'keys are reused')
  for (const [name, old] of [['apiserver', pki.serving.certPem], ['admin', pki.admin.certPem], ['apiserver-kubelet-client', pki.kubeletClient.certPem]] as const) {
    const renewed = read(dir, `${name}.crt`)
    const [a, b] = [await certificateInfo(old), await certificateInfo(renewed)]
    t.ok(b.notAfter.getTime() > a.notAfter.getTime(), `${name}: notAfter extended`)
    t.equal(b.notAfter.getTime(), Math.floor(later.getTime() / 1000) * 1000 + 365 * DAY)
    t.not(b.serialHex, a.serialHex, `${name}: new serial`)
    t.same([b.subject, b.dnsNames, b.ipAddresses, b.usages], [a.subject, a.dnsNames, a.ipAddresses, a.usages], `${name}: same subject, SANs, usages`)
    t.ok(certificateMatchesKey(renewed, read(dir, `${name}.key`)))
    const at = String(Math.floor(later.getTime() / 1000))
    t.equal((await openssl(['verify', '-CAfile', join(dir, 'pki', 'ca.crt'), '-attime', at, join(dir, 'pki', `${name}.crt`)])).code, 0)
  }
  const only = await renewCertificates(dir, ['admin'], later)
  t.same(only, ['admin: certificate of the cluster admin (kubeconfig) renewed'])
})

t.test('renewCertificates refuses the CA, unknown names, missing files and externally managed certificates', async (t) => {
  const dir = dataDir()
  await ensureClusterPki(dir, opts)
  const before = read(dir, 'admin.crt')
  await t.rejects(renewCertificates(dir, ['ca']), /the cluster CA cannot be renewed/)
  await t.rejects(renewCertificates(dir, ['admin', 'etcd-server']), /unknown certificate "etcd-server": choose from admin, apiserver, apiserver-kubelet-client, or all/)
  await t.rejects(renewCertificates(dir, []), /name the certificates to renew/)
  t.equal(read(dir, 'admin.crt'), before, 'nothing was renewed when a name was wrong')
  await t.rejects(renewCertificates(dir, ['apiserver'], new Date(), { tlsCertFile: '/etc/tls.crt' }), /apiserver is externally managed \(\/etc\/tls\.crt\)/)
  const lines = await renewCertificates(dir, 'all', new Date(), { tlsCertFile: '/etc/tls.crt' })
  t.match(lines.join('\n'), /apiserver: externally managed \(\/etc\/tls\.crt\); skipped/)
  rmSync(join(dir, 'pki', 'apiserver-kubelet-client.crt'))
  await t.rejects(renewCertificates(dir, 'all'), /apiserver-kubelet-client\.crt: the certificate the API server uses to reach kubelets does not exist/)
  await t.rejects(renewCertificates(dataDir(), ['admin']), /ca\.crt: the cluster CA certificate does not exist/)
})

t.test('a renewal is checked like a start: a stranger\'s certificate is not renewed from the cluster CA', async (t) => {
  const dir = dataDir()
  await ensureClusterPki(dir, opts)
  const stranger = await issueCertificate(await createCA('stranger'), { commonName: 'kubernetes-admin', organizations: ['system:masters'], usages: ['client'] })
  writeFileSync(join(dir, 'pki', 'admin.crt'), stranger.certPem)
  writeFileSync(join(dir, 'pki', 'admin.key'), stranger.keyPem!)
  await t.rejects(renewCertificates(dir, ['admin']), /admin\.crt is not signed by/)
})

t.test('the tables look like kubeadm\'s', async (t) => {
  t.equal(formatExpiry(new Date('2026-08-19T09:03:59Z')), 'Aug 19, 2026 09:03 UTC')
  t.same(
    [-5000, -500, 0, 59_999, 60_000, 3_599_999, 3_600_000, DAY, 364 * DAY, 365 * DAY, 3649 * DAY].map(shortHumanDuration),
    ['<invalid>', '0s', '0s', '59s', '1m', '59m', '1h', '1d', '364d', '1y', '9y'],
  )
  const now = new Date('2025-08-20T09:03:00Z')
  const text = expirationTables(
    [
      { name: 'admin', expires: new Date('2026-08-19T09:03:00Z'), residualDays: 364, authority: 'ca', externallyManaged: false, isAuthority: false, missing: false },
      { name: 'apiserver-kubelet-client', expires: new Date('2026-08-19T09:03:00Z'), residualDays: 364, authority: 'ca', externallyManaged: true, isAuthority: false, missing: false },
      { name: 'apiserver', authority: 'ca', externallyManaged: false, isAuthority: false, missing: true },
      { name: 'ca', expires: new Date('2035-08-17T09:03:00Z'), residualDays: 3650, authority: '', externallyManaged: false, isAuthority: true, missing: false },
    ],
    now,
  )
  t.equal(
    text,
    [
      'CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED',
      'admin                      Aug 19, 2026 09:03 UTC   364d            ca                      no      ',
      'apiserver-kubelet-client   Aug 19, 2026 09:03 UTC   364d            ca                      yes     ',
      '!MISSING! apiserver                                                                         ',
      '',
      'CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED',
      'ca                      Aug 17, 2035 09:03 UTC   9y              no      ',
      '',
    ].join('\n'),
  )
})

t.test('weft certs check | renew', async (t) => {
  const dir = dataDir()
  await ensureClusterPki(dir, opts)
  const help = capture()
  await runCerts(['--help'], help.out)
  t.match(help.text(), /Usage: weft certs check \[flags\]\n\s+weft certs renew all\|NAME\.\.\. \[flags\]/)
  const check = capture()
  await runCerts(['check', '--data-dir', dir], check.out)
  t.match(check.text(), /^CERTIFICATE {16}EXPIRES {18}RESIDUAL TIME {3}CERTIFICATE AUTHORITY {3}EXTERNALLY MANAGED\nadmin {22}\w{3} \d\d, \d{4} \d\d:\d\d UTC {3}364d {12}ca {22}no/)
  t.match(check.text(), /\n\nCERTIFICATE AUTHORITY {3}EXPIRES {18}RESIDUAL TIME {3}EXTERNALLY MANAGED\nca {22}.* {3}9y {14}no/)
  const before = read(dir, 'apiserver.crt')
  const renew = capture()
  await runCerts(['renew', 'apiserver', '--data-dir', dir], renew.out)
  t.match(renew.text(), /apiserver: certificate for serving the Kubernetes API renewed\n\nDone renewing certificates\. Restart weft server/)
  t.not(read(dir, 'apiserver.crt'), before)
  await t.rejects(runCerts(['renew', '--data-dir', dir], capture().out), /certs renew needs all, or the names of certificates/)
  await t.rejects(runCerts(['renew', 'all', 'admin', '--data-dir', dir], capture().out), /give all, or names, not both/)
  await t.rejects(runCerts(['check', 'extra', '--data-dir', dir], capture().out), /takes no arguments/)
  await t.rejects(runCerts(['rotate', '--data-dir', dir], capture().out), /unknown certs command "rotate"/)
  await t.rejects(runCerts(['check', '--bogus'], capture().out), /Unknown option '--bogus'/)
})
