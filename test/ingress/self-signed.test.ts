import t from 'tap'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import { selfSigned } from '../../ingress/self-signed.ts'

t.test('a self-signed certificate for several names', async (t) => {
  const before = Date.now()
  const { cert, key } = await selfSigned(['a.test', '*.b.test', 'c.test'], 30)
  t.match(cert, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/)
  t.match(key, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/)

  const x509 = new X509Certificate(cert)
  t.equal(x509.subject, 'CN=a.test')
  t.equal(x509.issuer, 'CN=a.test', 'self-issued')
  t.equal(x509.subjectAltName, 'DNS:a.test, DNS:*.b.test, DNS:c.test')
  t.equal(x509.ca, false)
  t.ok(x509.verify(x509.publicKey), 'self-signed: verifies with its own key')
  t.equal(x509.publicKey.asymmetricKeyType, 'ec')
  t.same(x509.publicKey.asymmetricKeyDetails, { namedCurve: 'prime256v1' })
  t.ok(x509.checkPrivateKey(createPrivateKey(key)), 'the key belongs to the certificate')
  t.ok(x509.checkHost('x.b.test'), 'the wildcard covers one label')
  t.notOk(x509.checkHost('y.x.b.test'), 'and not two')

  const hour = 3_600_000
  const day = 24 * hour
  // Certificate times have one-second resolution.
  t.ok(Math.abs(x509.validFromDate.getTime() - (before - hour)) < 5000, `valid from an hour ago: ${x509.validFrom}`)
  t.ok(Math.abs(x509.validToDate.getTime() - (before + 30 * day)) < 5000, `valid for 30 days: ${x509.validTo}`)

  t.doesNotThrow(() => createSecureContext({ cert, key, minVersion: 'TLSv1.2' }))
})

t.test('each call makes a new key', async (t) => {
  const a = await selfSigned(['a.test'])
  const b = await selfSigned(['a.test'])
  t.not(a.key, b.key)
  t.not(new X509Certificate(a.cert).serialNumber, new X509Certificate(b.cert).serialNumber)
})

t.test('explicit validity (for expired certificates in tests)', async (t) => {
  const notBefore = new Date('2020-01-01T00:00:00Z')
  const notAfter = new Date('2020-02-01T00:00:00Z')
  const x509 = new X509Certificate((await selfSigned(['old.test'], 365, { notBefore, notAfter })).cert)
  t.equal(x509.validFromDate.toISOString(), notBefore.toISOString())
  t.equal(x509.validToDate.toISOString(), notAfter.toISOString())
})

t.test('no names is an error', async (t) => {
  await t.rejects(selfSigned([]), /at least one DNS name/)
})
