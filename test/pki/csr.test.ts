// Certificate requests: weft's own checked by openssl, openssl's read and signed by weft,
// and forged or unsupported ones refused.
import t from 'tap'
import { certificateInfo, certificateMatchesKey, createCA } from '../../src/pki/certificates.ts'
import { createCertificateRequest, parseCertificateRequest, signCertificateRequest } from '../../src/pki/csr.ts'
import { generateKeyPair } from '../../src/pki/keys.ts'
import { decodePem, encodePem } from '../../src/pki/pem.ts'
import { openssl, tmp } from '../helpers/openssl.ts'

const dir = tmp('weft-pki-csr-')
t.teardown(dir.remove)

async function opensslCsr(name: string, newkey: string[], subj: string, extra: string[] = []): Promise<{ csr: string; keyFile: string }> {
  const keyFile = `${dir.path}/${name}.key`
  const run = await openssl(['req', '-new', ...newkey, '-nodes', '-keyout', keyFile, '-subj', subj, ...extra])
  if (run.code !== 0) throw new Error(run.stderr)
  return { csr: run.stdout, keyFile }
}

t.test('createCertificateRequest: openssl verifies it and reads its subject and SANs', async (t) => {
  for (const kind of ['ecdsa-p256', 'rsa-2048'] as const) {
    const key = await generateKeyPair(kind)
    const csr = await createCertificateRequest(key.privateKeyPem, {
      commonName: 'system:node:node-1',
      organizations: ['system:nodes'],
      dnsNames: ['node-1'],
      ipAddresses: ['10.0.0.7', 'fd00::7'],
    })
    const file = dir.file(`${kind}.csr`, csr)
    const verify = await openssl(['req', '-verify', '-noout', '-in', file])
    t.equal(verify.code, 0, `${kind}: ${verify.stderr}`)
    t.match(verify.stderr + verify.stdout, /verify OK/)
    const text = (await openssl(['req', '-in', file, '-noout', '-text'])).stdout
    t.match(text, /Subject: O = system:nodes, CN = system:node:node-1/)
    t.match(text, /DNS:node-1, IP Address:10.0.0.7, IP Address:FD00:0:0:0:0:0:0:7/)
    const parsed = await parseCertificateRequest(csr)
    t.same(parsed.publicKeyPem, key.publicKeyPem, 'the public key comes back unchanged')
  }
  const key = await generateKeyPair('ecdsa-p256')
  await t.rejects(createCertificateRequest(key.privateKeyPem, { commonName: '', organizations: [] }), /commonName must be a non-empty string/)
  await t.rejects(createCertificateRequest('nope', { commonName: 'x', organizations: [] }), /key: no PEM block found/)
})

t.test('parseCertificateRequest reads CSRs openssl made, of every supported key type', async (t) => {
  const ec = await opensslCsr('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/O=system:nodes/O=extra/CN=system:node:a', [
    '-addext',
    'subjectAltName=DNS:a.example,IP:192.0.2.9,IP:2001:db8::9,email:ops@a.example,URI:spiffe://cluster/a',
  ])
  const info = await parseCertificateRequest(ec.csr)
  t.same(
    { ...info, publicKeyPem: undefined },
    {
      commonName: 'system:node:a',
      organizations: ['system:nodes', 'extra'],
      dnsNames: ['a.example'],
      ipAddresses: ['192.0.2.9', '2001:db8::9'],
      emailAddresses: ['ops@a.example'],
      uris: ['spiffe://cluster/a'],
      publicKeyPem: undefined,
      publicKeyAlgorithm: 'ECDSA-P256',
    },
  )
  const p384 = await opensslCsr('p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], '/CN=p384')
  t.equal((await parseCertificateRequest(p384.csr)).publicKeyAlgorithm, 'ECDSA-P384')
  const rsa = await opensslCsr('rsa', ['-newkey', 'rsa:3072'], '/CN=rsa')
  t.equal((await parseCertificateRequest(rsa.csr)).publicKeyAlgorithm, 'RSA')
  const ed = await opensslCsr('ed', ['-newkey', 'ed25519'], '/CN=ed')
  t.equal((await parseCertificateRequest(ed.csr)).publicKeyAlgorithm, 'Ed25519')
})

t.test('signCertificateRequest: an openssl CSR becomes a certificate openssl verifies, with its subject and SANs', async (t) => {
  const ca = await createCA('kubernetes')
  const caFile = dir.file('ca.crt', ca.certPem)
  for (const [name, newkey] of [
    ['sign-ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['sign-rsa', ['-newkey', 'rsa:2048']],
    ['sign-ed', ['-newkey', 'ed25519']],
  ] as const) {
    const { csr, keyFile } = await opensslCsr(name, [...newkey], '/O=system:nodes/CN=system:node:b', ['-addext', 'subjectAltName=DNS:b,IP:10.1.2.3'])
    const certPem = await signCertificateRequest(ca, csr, { usages: ['client', 'server'], validityDays: 30 })
    const certFile = dir.file(`${name}.crt`, certPem)
    const verify = await openssl(['verify', '-CAfile', caFile, certFile])
    t.equal(verify.code, 0, `${name}: ${verify.stdout}${verify.stderr}`)
    t.match((await openssl(['x509', '-in', certFile, '-noout', '-ext', 'subjectAltName'])).stdout, 'DNS:b, IP Address:10.1.2.3')
    const info = await certificateInfo(certPem)
    t.same(info.subject, { commonName: 'system:node:b', organizations: ['system:nodes'] })
    t.same(info.usages, ['server', 'client'])
    t.ok(info.notAfter.getTime() - info.notBefore.getTime() <= 30 * 86_400_000 + 5 * 60_000)
    const keyPem = (await openssl(['pkey', '-in', keyFile])).stdout
    t.ok(certificateMatchesKey(certPem, keyPem), `${name}: the certificate is for the CSR's key`)
  }
  await t.rejects(signCertificateRequest(ca, (await opensslCsr('u', ['-newkey', 'ed25519'], '/CN=u')).csr, { usages: [], validityDays: 1 }), /usages/)
})

t.test('a forged CSR (signature bytes flipped, or subject changed after signing) is refused', async (t) => {
  const ca = await createCA('kubernetes')
  const key = await generateKeyPair('ecdsa-p256')
  const csr = await createCertificateRequest(key.privateKeyPem, { commonName: 'system:node:c', organizations: ['system:nodes'] })
  const der = decodePem(csr, ['CERTIFICATE REQUEST'], 'csr').der

  const flipped = Buffer.from(der)
  // The signature is the BIT STRING at the end: its last bytes are the ECDSA s value.
  flipped[flipped.length - 1]! ^= 0xff
  flipped[flipped.length - 2]! ^= 0xff
  const forged = encodePem('CERTIFICATE REQUEST', flipped)
  await t.rejects(parseCertificateRequest(forged), /signature does not verify with its own public key/)
  await t.rejects(signCertificateRequest(ca, forged, { usages: ['client'], validityDays: 1 }), /signature does not verify/)
  // openssl 3.0 exits 0 even when the self-signature fails; its message says what it found.
  const checked = await openssl(['req', '-verify', '-noout'], forged)
  t.match(checked.stdout + checked.stderr, /verify failure/, 'openssl agrees it is forged')

  const renamed = Buffer.from(der)
  const at = renamed.indexOf(Buffer.from('system:node:c'))
  renamed.write('system:node:X', at)
  await t.rejects(parseCertificateRequest(encodePem('CERTIFICATE REQUEST', renamed)), /signature does not verify/)
})

t.test('bad PEM, wrong labels, weak or unsupported keys and signatures are refused clearly', async (t) => {
  const key = await generateKeyPair('ecdsa-p256')
  const csr = await createCertificateRequest(key.privateKeyPem, { commonName: 'x', organizations: [] })
  await t.rejects(parseCertificateRequest('not pem'), /certificate request: no PEM block found/)
  await t.rejects(parseCertificateRequest(csr.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE')), /PEM label is "CERTIFICATE", expected "CERTIFICATE REQUEST"/)
  await t.rejects(parseCertificateRequest(key.privateKeyPem), /PEM label is "PRIVATE KEY"/)
  await t.rejects(parseCertificateRequest(encodePem('CERTIFICATE REQUEST', Buffer.from('3003020101', 'hex'))), /not a readable PKCS#10 request/)
  await t.rejects(parseCertificateRequest(encodePem('CERTIFICATE REQUEST', Buffer.from('garbage'))), /not a readable PKCS#10 request/)

  const rsa1k = await opensslCsr('rsa1k', ['-newkey', 'rsa:1024'], '/CN=weak')
  await t.rejects(parseCertificateRequest(rsa1k.csr), /RSA key of 1024 bits is too weak/)
  const p521 = await opensslCsr('p521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'], '/CN=p521')
  await t.rejects(parseCertificateRequest(p521.csr), /unsupported EC key on curve secp521r1/)
  const rsaKey = dir.file('sha1.key', (await generateKeyPair('rsa-2048')).privateKeyPem)
  const sha1 = await openssl(['req', '-new', '-key', rsaKey, '-sha1', '-subj', '/CN=sha1'])
  await t.rejects(parseCertificateRequest(sha1.stdout), /signed with SHA-1, which is too weak/)
  const noCn = await opensslCsr('nocn', ['-newkey', 'ed25519'], '/O=only-org')
  await t.rejects(parseCertificateRequest(noCn.csr), /exactly one commonName, found 0/)
  const twoCn = await opensslCsr('twocn', ['-newkey', 'ed25519'], '/CN=a/CN=b')
  await t.rejects(parseCertificateRequest(twoCn.csr), /exactly one commonName, found 2/)
  const badDns = await opensslCsr('baddns', ['-newkey', 'ed25519'], '/CN=x', ['-addext', 'subjectAltName=DNS:bad_name!'])
  await t.rejects(parseCertificateRequest(badDns.csr), /certificate request: DNS name "bad_name!" is not a valid DNS name/)
  const many = await opensslCsr('many', ['-newkey', 'ed25519'], '/CN=x', ['-addext', `subjectAltName=${Array.from({ length: 101 }, (_, i) => `DNS:n${i}`).join(',')}`])
  await t.rejects(parseCertificateRequest(many.csr), /101 subject alternative names; at most 100/)
  await t.rejects(parseCertificateRequest(csr + ' '.repeat(64 * 1024)), /larger than 65536 characters/)
  const otherName = await opensslCsr('othername', ['-newkey', 'ed25519'], '/CN=x', ['-addext', 'subjectAltName=RID:1.2.3.4'])
  await t.rejects(parseCertificateRequest(otherName.csr), /subject alternative name of type id is not supported/)
})
