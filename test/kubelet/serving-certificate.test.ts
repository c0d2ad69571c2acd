import t from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CertificateRotation, validityOf } from '../../src/kubelet/cert-rotation.ts'
import { nodePkiPaths } from '../../src/kubelet/join.ts'
import { servingNames, storedServingCertificate } from '../../src/kubelet/serving-certificate.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { logger } from '../../src/util/log.ts'

t.test('the names of the serving certificate: InternalIPs (canonical, once) and the node name', async (t) => {
  t.same(servingNames('n1', ['10.0.0.1', 'fd00:0::1', '10.0.0.1']), { ipAddresses: ['10.0.0.1', 'fd00::1'], dnsNames: ['n1'] })
  t.throws(() => servingNames('n1', ['not-an-ip']), /not a valid IPv4 or IPv6 address/)
})

t.test('a stored serving certificate is used only while it fits: key, CA, time and names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-serving-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const paths = nodePkiPaths(dir)
  await mkdir(paths.dir, { recursive: true })
  const ca = await createCA('cluster')
  const otherCa = await createCA('other')
  const names = servingNames('n1', ['10.0.0.1'])
  const issue = (from = ca, extra: { ipAddresses?: string[]; dnsNames?: string[] } = {}) => issueCertificate(from, { commonName: 'system:node:n1', organizations: ['system:nodes'], ipAddresses: ['10.0.0.1'], dnsNames: ['n1'], usages: ['server'], validityDays: 2, ...extra })
  const store = async (c: { certPem: string; keyPem?: string }, keyPem = c.keyPem!) => {
    await writeFile(paths.servingCert, c.certPem)
    await writeFile(paths.servingKey, keyPem)
  }
  t.equal(await storedServingCertificate(dir, names, ca.certPem), undefined, 'nothing stored')
  const good = await issue()
  await store(good)
  const got = await storedServingCertificate(dir, names, ca.certPem)
  t.equal(got?.certPem, good.certPem)
  t.ok(got && got.notAfter > Date.now())
  t.equal(await storedServingCertificate(dir, servingNames('n1', ['10.0.0.2']), ca.certPem), undefined, 'the node address changed')
  t.equal(await storedServingCertificate(dir, servingNames('n1', ['10.0.0.1', '10.0.0.3']), ca.certPem), undefined, 'the node has another address')
  t.equal(await storedServingCertificate(dir, names, otherCa.certPem), undefined, 'another CA')
  t.equal(await storedServingCertificate(dir, names, ca.certPem, Date.now() + 3 * 86_400_000), undefined, 'expired')
  await store(good, (await issue()).keyPem!)
  t.equal(await storedServingCertificate(dir, names, ca.certPem), undefined, 'the key does not match')
  await store({ certPem: 'garbage', keyPem: 'garbage' })
  t.equal(await storedServingCertificate(dir, names, ca.certPem), undefined, 'unreadable')
})

t.test('rotation renews at 70-90 % of the life, retries after a failure, and stops', async (t) => {
  const ca = await createCA('cluster')
  const fresh = (await issueCertificate(ca, { commonName: 'x', usages: ['server'], validityDays: 1 })).certPem
  const log = logger('test')
  let calls = 0
  const renewed = new Promise<void>((resolve) => {
    const rotation = new CertificateRotation({
      what: 'test certificate',
      log,
      retryMs: 20,
      renew: async () => {
        calls++
        if (calls === 1) throw new Error('not yet')
        rotation.stop()
        resolve()
        return fresh
      },
    })
    const now = Date.now()
    // 90 % of this life is already over: due at once.
    rotation.start({ notBefore: now - 900, notAfter: now + 100 })
  })
  // The rotation's timers do not hold the process open; the test does while it waits.
  const keepAlive = setInterval(() => undefined, 1000)
  await renewed
  clearInterval(keepAlive)
  t.equal(calls, 2, 'one failure, then a retry')
  const v = validityOf(fresh)
  t.ok(v.notAfter - v.notBefore >= 86_400_000, 'validity read from the certificate')
})
