// The PKI primitives, checked by the real openssl: chains, SANs, key usages, validity,
// serials, the kubeadm CA pin, and refusals of bad input.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto'
import t from 'tap'
import { caCertHash, certificateInfo, certificateMatchesKey, createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { generateKeyPair } from '../../src/pki/keys.ts'
import { openssl, opensslBytes, tmp } from '../helpers/openssl.ts'

const dir = tmp('weft-pki-certs-')
t.teardown(dir.remove)

const DAY = 86_400_000

t.test('generateKeyPair: PKCS#8 and SPKI PEM of the asked kind', async (t) => {
  const ec = await generateKeyPair('ecdsa-p256')
  t.match(ec.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/)
  t.match(ec.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/)
  t.equal(createPrivateKey(ec.privateKeyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1')
  const rsa = await generateKeyPair('rsa-2048')
  const key = createPrivateKey(rsa.privateKeyPem)
  t.equal(key.asymmetricKeyType, 'rsa')
  t.equal(key.asymmetricKeyDetails?.modulusLength, 2048)
  t.equal((await openssl(['pkey', '-noout', '-check'], rsa.privateKeyPem)).code, 0, 'openssl reads and checks the RSA key')
  await t.rejects(generateKeyPair('dsa' as 'rsa-2048'), /unknown key kind "dsa"/)
})

t.test('createCA: a self-signed CA as kubeadm makes it', async (t) => {
  const now = new Date('2030-01-01T00:00:00Z')
  const ca = await createCA('kubernetes', 3650, now)
  const caFile = dir.file('ca.crt', ca.certPem)
  t.equal((await openssl(['verify', '-CAfile', caFile, '-attime', String(now.getTime() / 1000), caFile])).code, 0, 'verifies against itself')
  const text = (await openssl(['x509', '-in', caFile, '-noout', '-text'])).stdout
  t.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE/)
  t.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/)
  t.match(text, /X509v3 Subject Key Identifier/)
  t.match(text, /Subject: CN = kubernetes/)
  t.match(text, /ecdsa-with-SHA256/)
  const info = await certificateInfo(ca.certPem)
  t.equal(info.isCA, true)
  t.equal(info.notBefore.getTime(), now.getTime() - 5 * 60_000, 'backdated 5 minutes')
  t.equal(info.notAfter.getTime(), now.getTime() + 3650 * DAY)
  t.ok(certificateMatchesKey(ca.certPem, ca.keyPem))
  await t.rejects(createCA('', 10), /commonName must be a non-empty string/)
  await t.rejects(createCA('x', 0), /validityDays must be a whole number/)
  await t.rejects(createCA('x', 1.5), /validityDays must be a whole number/)
})

t.test('issueCertificate: chains to the CA; SANs, usages, validity and serial as specified', async (t) => {
  const now = new Date('2030-01-01T00:00:00Z')
  const ca = await createCA('kubernetes', 3650, now)
  const caFile = dir.file('ca2.crt', ca.certPem)
  const leaf = await issueCertificate(ca, {
    commonName: 'kube-apiserver',
    dnsNames: ['kubernetes', 'Kubernetes.Default', 'kubernetes'],
    ipAddresses: ['10.96.0.1', '::1', 'fd00:10:96:0:0:0:0:1'],
    usages: ['server'],
    now,
  })
  t.ok(leaf.keyPem, 'a key was generated')
  t.ok(certificateMatchesKey(leaf.certPem, leaf.keyPem!))
  t.notOk(certificateMatchesKey(leaf.certPem, ca.keyPem), 'another key does not match')
  const file = dir.file('leaf.crt', leaf.certPem)
  const verify = await openssl(['verify', '-CAfile', caFile, '-attime', String(now.getTime() / 1000), '-purpose', 'sslserver', file])
  t.equal(verify.code, 0, verify.stdout + verify.stderr)
  const sans = (await openssl(['x509', '-in', file, '-noout', '-ext', 'subjectAltName'])).stdout
  t.match(sans, 'DNS:kubernetes, DNS:kubernetes.default, IP Address:10.96.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:10:96:0:0:0:0:1')
  const text = (await openssl(['x509', '-in', file, '-noout', '-text'])).stdout
  t.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/)
  t.match(text, /X509v3 Extended Key Usage: \s*TLS Web Server Authentication\n/)
  t.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/)
  t.match(text, /X509v3 Authority Key Identifier/)
  const caSki = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec((await openssl(['x509', '-in', caFile, '-noout', '-text'])).stdout)?.[1]
  t.ok(caSki && text.includes(caSki), 'the AKI is the CA\'s SKI')

  const info = await certificateInfo(leaf.certPem)
  t.same(info.subject, { commonName: 'kube-apiserver', organizations: [] })
  t.same(info.issuer, { commonName: 'kubernetes' })
  t.same(info.dnsNames, ['kubernetes', 'kubernetes.default'])
  t.same(info.ipAddresses, ['10.96.0.1', '::1', 'fd00:10:96::1'])
  t.same(info.usages, ['server'])
  t.equal(info.isCA, false)
  t.equal(info.notBefore.getTime(), now.getTime() - 5 * 60_000)
  t.equal(info.notAfter.getTime(), now.getTime() + 365 * DAY)
  t.match(info.serialHex, /^[1-9a-f][0-9a-f]{0,31}$/, 'at most 128 bits, no leading zeros')
  t.ok(BigInt(`0x${info.serialHex}`) < 2n ** 127n, 'positive: the top bit is clear')
  const other = await issueCertificate(ca, { commonName: 'x', usages: ['client'], now })
  t.not((await certificateInfo(other.certPem)).serialHex, info.serialHex, 'serials differ')
})

t.test('issueCertificate: client certificates with organizations; a given public key; RSA gets keyEncipherment', async (t) => {
  const ca = await createCA('kubernetes')
  const caFile = dir.file('ca3.crt', ca.certPem)
  const rsa = await generateKeyPair('rsa-2048')
  const admin = await issueCertificate(ca, { commonName: 'kubernetes-admin', organizations: ['system:masters', 'other'], usages: ['client'], publicKeyPem: rsa.publicKeyPem })
  t.equal(admin.keyPem, undefined, 'no key is generated for a given public key')
  t.ok(certificateMatchesKey(admin.certPem, rsa.privateKeyPem))
  const file = dir.file('admin.crt', admin.certPem)
  t.equal((await openssl(['verify', '-CAfile', caFile, '-purpose', 'sslclient', file])).code, 0)
  t.equal((await openssl(['verify', '-CAfile', caFile, '-purpose', 'sslserver', file])).code, 2, 'not a server certificate')
  const text = (await openssl(['x509', '-in', file, '-noout', '-text', '-nameopt', 'RFC2253'])).stdout
  t.match(text, /Digital Signature, Key Encipherment/)
  t.match(text, /TLS Web Client Authentication/)
  t.notMatch(text, /Subject Alternative Name/, 'no empty SAN extension')
  const info = await certificateInfo(admin.certPem)
  t.same(info.subject, { commonName: 'kubernetes-admin', organizations: ['system:masters', 'other'] })
  t.equal(info.publicKeyAlgorithm, 'RSA')
})

t.test('issueCertificate: never past the CA\'s notAfter; not from an expired CA', async (t) => {
  const now = new Date('2030-01-01T00:00:00Z')
  const ca = await createCA('short', 30, now)
  const leaf = await issueCertificate(ca, { commonName: 'x', usages: ['client'], validityDays: 365, now })
  t.equal((await certificateInfo(leaf.certPem)).notAfter.getTime(), (await certificateInfo(ca.certPem)).notAfter.getTime())
  await t.rejects(issueCertificate(ca, { commonName: 'x', usages: ['client'], now: new Date(now.getTime() + 31 * DAY) }), /CA certificate expired on/)
})

t.test('issueCertificate: refuses bad input with a clear error', async (t) => {
  const ca = await createCA('kubernetes')
  const leafCa = await issueCertificate(ca, { commonName: 'leaf', usages: ['client'] })
  const cases: [Parameters<typeof issueCertificate>[1], RegExp][] = [
    [{ commonName: '', usages: ['client'] }, /commonName must be a non-empty string/],
    [{ commonName: 'x'.repeat(65), usages: ['client'] }, /longer than 64/],
    [{ commonName: 'a\nb', usages: ['client'] }, /control characters/],
    [{ commonName: 'x', usages: [] }, /at least one of server, client/],
    [{ commonName: 'x', usages: ['peer' as 'server'] }, /usage "peer"/],
    [{ commonName: 'x', usages: ['server'], dnsNames: ['bad_name'] }, /not a valid DNS name/],
    [{ commonName: 'x', usages: ['server'], dnsNames: ['a..b'] }, /not a valid DNS name/],
    [{ commonName: 'x', usages: ['server'], ipAddresses: ['10.0.0.256'] }, /not a valid IPv4 or IPv6/],
    [{ commonName: 'x', usages: ['server'], ipAddresses: ['fe80::1%eth0'] }, /not a valid IPv4 or IPv6/],
    [{ commonName: 'x', usages: ['server'], validityDays: -1 }, /validityDays/],
    [{ commonName: 'x', usages: ['server'], publicKeyPem: 'nope' }, /no PEM block found/],
    [{ commonName: 'x', usages: ['server'], publicKeyPem: ca.keyPem }, /PEM label is "PRIVATE KEY", expected "PUBLIC KEY"/],
  ]
  for (const [spec, error] of cases) await t.rejects(issueCertificate(ca, spec), error, JSON.stringify(spec).slice(0, 80))
  await t.rejects(issueCertificate({ certPem: leafCa.certPem, keyPem: leafCa.keyPem! }, { commonName: 'x', usages: ['client'] }), /is not a CA/)
  const otherCa = await createCA('other')
  await t.rejects(issueCertificate({ certPem: ca.certPem, keyPem: otherCa.keyPem }, { commonName: 'x', usages: ['client'] }), /CA key: it does not match the CA certificate/)
  await t.rejects(issueCertificate({ certPem: ca.certPem, keyPem: 'garbage' }, { commonName: 'x', usages: ['client'] }), /CA key: no PEM block found/)
})

t.test('caCertHash is kubeadm\'s pin: sha256 of the DER SubjectPublicKeyInfo, as openssl computes it', async (t) => {
  for (const ca of [await createCA('kubernetes'), await issueCertificate(await createCA('x'), { commonName: 'y', usages: ['client'], publicKeyPem: (await generateKeyPair('rsa-2048')).publicKeyPem }).then((c) => ({ certPem: c.certPem }))]) {
    const pubkey = (await openssl(['x509', '-pubkey', '-noout'], ca.certPem)).stdout
    const der = await opensslBytes(['pkey', '-pubin', '-outform', 'der'], pubkey)
    t.equal(caCertHash(ca.certPem), 'sha256:' + createHash('sha256').update(der).digest('hex'))
  }
  t.throws(() => caCertHash('junk'), /no PEM block found/)
})

t.test('certificateMatchesKey reads keys in the formats kubeadm and openssl write', async (t) => {
  const ca = await createCA('kubernetes')
  const leaf = await issueCertificate(ca, { commonName: 'x', usages: ['client'] })
  const sec1 = (await openssl(['ec', '-outform', 'PEM'], leaf.keyPem!)).stdout
  t.match(sec1, /BEGIN EC PRIVATE KEY/)
  t.ok(certificateMatchesKey(leaf.certPem, sec1), 'SEC 1 (EC PRIVATE KEY)')
  const rsa = await generateKeyPair('rsa-2048')
  const pkcs1 = (await openssl(['rsa', '-traditional'], rsa.privateKeyPem)).stdout
  t.match(pkcs1, /BEGIN RSA PRIVATE KEY/)
  const rsaLeaf = await issueCertificate(ca, { commonName: 'x', usages: ['client'], publicKeyPem: rsa.publicKeyPem })
  t.ok(certificateMatchesKey(rsaLeaf.certPem, pkcs1), 'PKCS#1 (RSA PRIVATE KEY)')
  const encrypted = (await openssl(['pkey', '-aes256', '-passout', 'pass:secret'], leaf.keyPem!)).stdout
  t.throws(() => certificateMatchesKey(leaf.certPem, encrypted), /PEM label is "ENCRYPTED PRIVATE KEY"/)
  t.throws(() => certificateMatchesKey('x', leaf.keyPem!), /no PEM block found/)
  t.throws(() => certificateMatchesKey(leaf.certPem.replace(/[A-Za-z]{4}\n/, 'AAAA\n'), leaf.keyPem!), /not a readable X.509 certificate/)
})

t.test('certificateInfo reads a certificate openssl made (and keeps the first of a bundle)', async (t) => {
  const key = dir.file('o.key', (await generateKeyPair('ecdsa-p256')).privateKeyPem)
  const made = await openssl(['req', '-x509', '-new', '-key', key, '-subj', '/O=a/O=b/CN=made by openssl', '-days', '2', '-addext', 'subjectAltName=DNS:x.example,IP:192.0.2.1,email:a@b.example,URI:spiffe://c/d', '-addext', 'extendedKeyUsage=clientAuth'])
  t.equal(made.code, 0, made.stderr)
  const info = await certificateInfo(made.stdout + (await createCA('second')).certPem)
  t.same(info.subject, { commonName: 'made by openssl', organizations: ['a', 'b'] })
  t.same(info.issuer, { commonName: 'made by openssl' })
  t.same([info.dnsNames, info.ipAddresses, info.emailAddresses, info.uris], [['x.example'], ['192.0.2.1'], ['a@b.example'], ['spiffe://c/d']])
  t.same(info.usages, ['client'])
  t.equal(info.serialHex, new X509Certificate(made.stdout).serialNumber.toLowerCase().replace(/^0+/, ''))
})
