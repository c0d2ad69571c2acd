import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { execFile } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { V1Secret } from '@kubernetes/client-node'
import { selfSigned } from '../../ingress/self-signed.ts'
import type { KeyAndCert } from '../../ingress/self-signed.ts'
import { TlsSecretError, parseTlsSecret, privateKeyBlocks } from '../../ingress/tls-secret.ts'
import { CertStore } from '../../ingress/cert-store.ts'
import type { TlsBinding } from '../../ingress/cert-store.ts'
import { createTlsListener } from '../../ingress/tls-listener.ts'

const b64 = (s: string): string => Buffer.from(s).toString('base64')

function tlsSecret(namespace: string, name: string, pair: KeyAndCert, type = 'kubernetes.io/tls'): V1Secret {
  return { metadata: { namespace, name }, type, data: { 'tls.crt': b64(pair.cert), 'tls.key': b64(pair.key) } }
}

function secretMap(...secrets: V1Secret[]): Map<string, V1Secret> {
  return new Map(secrets.map((s) => [`${s.metadata!.namespace}/${s.metadata!.name}`, s]))
}

function bind(host: string, ref: string): TlsBinding {
  const [namespace, name] = ref.split('/') as [string, string]
  return { host, secret: { namespace, name } }
}

const [fallback, a, wild, san, other] = await Promise.all([
  selfSigned(['weft-default.invalid']),
  selfSigned(['a.test']),
  selfSigned(['*.w.test']),
  selfSigned(['s.test', '*.sw.test']),
  selfSigned(['other.test']),
])

t.test('parseTlsSecret', async (t) => {
  t.test('a good Secret', async (t) => {
    const parsed = parseTlsSecret(tlsSecret('web', 'a', await selfSigned(['A.Test', '*.B.test'])))
    t.same(parsed.names, ['a.test', '*.b.test'], 'SAN DNS names, lower-case')
    t.equal(parsed.fingerprint, new X509Certificate(parsed.chains[0]!.cert).fingerprint256)
    t.ok(parsed.notBefore < new Date() && parsed.notAfter > new Date())
  })

  t.test('stringData is read too', async (t) => {
    const parsed = parseTlsSecret({ metadata: { namespace: 'web', name: 'a' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': a.cert, 'tls.key': a.key } })
    t.same(parsed.names, ['a.test'])
  })

  const cases: [string, () => V1Secret | Promise<V1Secret>, string, RegExp][] = [
    ['wrong type', () => tlsSecret('web', 'opaque', a, 'Opaque'), 'WrongType', /^Secret web\/opaque: type is "Opaque", want "kubernetes.io\/tls"/],
    ['no type', () => ({ ...tlsSecret('web', 'untyped', a), type: undefined }), 'WrongType', /type is "Opaque"/],
    ['missing tls.key', () => ({ metadata: { namespace: 'web', name: 'nokey' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(a.cert) } }), 'MissingKey', /^Secret web\/nokey: data has no "tls.key"/],
    ['missing tls.crt', () => ({ metadata: { namespace: 'web', name: 'nocrt' }, type: 'kubernetes.io/tls', data: { 'tls.key': b64(a.key), 'tls.crt': '' } }), 'MissingKey', /data has no "tls.crt"/],
    ['garbage certificate', () => tlsSecret('web', 'junk', { cert: 'hello', key: a.key }), 'BadCertificate', /^Secret web\/junk: tls.crt holds no PEM certificate/],
    ['corrupt PEM body', () => tlsSecret('web', 'corrupt', { cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', key: a.key }), 'BadCertificate', /certificate #1 does not parse/],
    ['garbage key', () => tlsSecret('web', 'badkey', { cert: a.cert, key: 'not a key' }), 'BadKey', /tls.key holds no PEM private key/],
    ['corrupt key', () => tlsSecret('web', 'badkey2', { cert: a.cert, key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), 'BadKey', /tls.key does not parse/],
    ['encrypted key (traditional PEM)', () => tlsSecret('web', 'enc', { cert: a.cert, key: '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n' }), 'BadKey', /tls.key is encrypted, which is not supported/],
    ['mismatched key', () => tlsSecret('web', 'mismatch', { cert: a.cert, key: other.key }), 'KeyMismatch', /^Secret web\/mismatch: tls.key does not belong to the certificate in tls.crt \(subject CN=a.test\)/],
    [
      'expired',
      async () => tlsSecret('web', 'old', await selfSigned(['old.test'], 1, { notBefore: new Date('2020-01-01'), notAfter: new Date('2020-02-01') })),
      'Expired',
      /^Secret web\/old: the certificate expired on 2020-02-01T00:00:00.000Z \(subject CN=old.test\); renew it/,
    ],
  ]
  for (const [title, make, code, message] of cases) {
    t.test(title, async (t) => {
      const secret = await make()
      const err = t.throws(() => parseTlsSecret(secret)) as TlsSecretError
      t.type(err, TlsSecretError)
      t.equal(err.code, code)
      t.equal(err.secret, `${secret.metadata!.namespace}/${secret.metadata!.name}`)
      t.match(err.message, message)
    })
  }

  t.test('a chain keeps its intermediates, leaf first', async (t) => {
    const chained = { cert: a.cert + other.cert, key: a.key }
    const parsed = parseTlsSecret(tlsSecret('web', 'chain', chained))
    t.equal(parsed.chains[0]!.cert.match(/BEGIN CERTIFICATE/g)?.length, 2)
    t.same(parsed.names, ['a.test'])
  })

  t.test('a certificate without SANs is named by its CN', async (t) => {
    // openssl-made, no extensions at all: CN=legacy.test
    const { stdout } = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '-', '-subj', '/O=Weft/CN=Legacy.test', '-days', '1', '-noenc'])
    const key = stdout.match(/-----BEGIN PRIVATE KEY-----[^-]+-----END PRIVATE KEY-----/)![0]
    const cert = stdout.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/)![0]
    t.same(parseTlsSecret(tlsSecret('web', 'legacy', { cert, key })).names, ['legacy.test'])
  })
})

t.test('tls.key is scanned in linear time', async (t) => {
  // A lazy regex searched the rest of tls.key again from every BEGIN line without an END: 1 to
  // 8 s for a MiB of them (a Secret's most). The bound is far above the linear scan (about 15 ms).
  const mib = (line: string) => line.repeat(Math.ceil(2 ** 20 / line.length))
  const hostile: [string, string][] = [
    ['repeated BEGIN lines', mib('-----BEGIN PRIVATE KEY-----\n')],
    ['BEGIN lines of ever new labels', Array.from({ length: 40_000 }, (_, i) => `-----BEGIN ${i.toString(26).replace(/./g, (c) => String.fromCharCode(65 + parseInt(c, 26)))} PRIVATE KEY-----\n`).join('')],
    ['BEGIN lines and END lines of another label', mib('-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n')],
    ['one BEGIN, then a MiB of label', `-----BEGIN ${mib('A ')}`],
  ]
  for (const [what, key] of hostile) {
    const started = performance.now()
    const err = t.throws(() => parseTlsSecret(tlsSecret('web', 'hostile', { cert: a.cert, key }))) as TlsSecretError
    const ms = performance.now() - started
    t.equal(err.code, 'BadKey', what)
    t.ok(ms < 500, `${what}: refused in ${ms.toFixed(0)} ms`)
  }
  t.same(privateKeyBlocks(`x${a.key}y-----BEGIN EC PRIVATE KEY-----\n${other.key}-----END EC PRIVATE KEY-----`), [a.key.trim(), `-----BEGIN EC PRIVATE KEY-----\n${other.key}-----END EC PRIVATE KEY-----`], 'each block to the next END of its own label')
})

t.test('an unchanged invalid Secret is not parsed again', async (t) => {
  const store = new CertStore(fallback)
  let reads = 0
  const data = { 'tls.crt': b64(a.cert), 'tls.key': b64('-----BEGIN PRIVATE KEY-----\n'.repeat(1000)) }
  const counted = (): V1Secret => ({
    metadata: { namespace: 'web', name: 'bad' },
    type: 'kubernetes.io/tls',
    get data() {
      reads++
      return data
    },
  })
  const bad = counted()
  const first = store.update([bind('a.test', 'web/bad')], secretMap(bad)).errors
  t.match(first, [{ secret: 'web/bad', message: /tls.key holds no PEM private key/ }])
  const parsedReads = reads
  t.ok(parsedReads > 0, 'parsed once')
  for (let i = 0; i < 3; i++) t.same(store.update([bind('a.test', 'web/bad')], secretMap(bad)).errors, first, 'the same error each time')
  t.equal(reads, parsedReads, 'from the first parse: the object is not read again')
  store.update([bind('a.test', 'web/bad')], secretMap(counted()))
  t.ok(reads > parsedReads, 'a new object of the Secret is parsed')
  const again = reads
  store.update([], secretMap(bad))
  store.update([bind('a.test', 'web/bad')], secretMap(bad))
  t.ok(reads > again, 'once unbound, what was learnt of it is dropped')
})

t.test('CertStore selection', async (t) => {
  const store = new CertStore(fallback)
  const secrets = secretMap(tlsSecret('web', 'a', a), tlsSecret('web', 'wild', wild), tlsSecret('web', 'san', san), tlsSecret('web', 'other', other))
  const { errors } = store.update(
    [bind('a.test', 'web/a'), bind('*.w.test', 'web/wild'), bind('x.w.test', 'web/other'), bind('s.test', 'web/san'), bind('A.test', 'web/other')],
    secrets,
  )
  t.same(errors, [])
  const picks: [string | undefined, string][] = [
    ['a.test', 'web/a'],
    ['A.TEST.', 'web/a'],
    ['x.w.test', 'web/other'],
    ['y.w.test', 'web/wild'],
    ['Y.W.Test.', 'web/wild'],
    ['w.test', 'default'],
    ['z.y.w.test', 'default'],
    ['s.test', 'web/san'],
    ['q.sw.test', 'web/san'],
    ['other.test', 'web/other'],
    ['nothing.test', 'default'],
    ['', 'default'],
    [undefined, 'default'],
  ]
  for (const [name, want] of picks) t.equal(store.describe(name), want, `${String(name)} → ${want}`)
  t.equal(store.select('a.test'), store.select('A.test.'))
  t.not(store.select('a.test'), store.select('nothing.test'))
  t.equal(store.select(undefined), store.select('nothing.test'), 'one default context')
})

t.test('CertStore rotation and bad updates', async (t) => {
  const store = new CertStore(fallback)
  const bindings = [bind('a.test', 'web/a'), bind('o.test', 'web/o')]
  t.same(store.update(bindings, secretMap(tlsSecret('web', 'a', a), tlsSecret('web', 'o', other))).errors, [])
  const first = store.select('a.test')

  t.same(store.update(bindings, secretMap(tlsSecret('web', 'a', a), tlsSecret('web', 'o', other))).errors, [])
  t.equal(store.select('a.test'), first, 'an unchanged Secret keeps its context object')

  const rotated = await selfSigned(['a.test'])
  t.same(store.update(bindings, secretMap(tlsSecret('web', 'a', rotated), tlsSecret('web', 'o', other))).errors, [])
  const second = store.select('a.test')
  t.not(second, first, 'a new certificate gets a new context')

  const broken = store.update(bindings, secretMap(tlsSecret('web', 'a', { cert: rotated.cert, key: other.key }), tlsSecret('web', 'o', other)))
  t.equal(broken.errors.length, 1)
  t.equal(broken.errors[0]!.secret, 'web/a')
  t.match(broken.errors[0]!.message, /^Secret web\/a: tls.key does not belong/)
  t.equal(store.select('a.test'), second, 'an invalid Secret keeps serving its previous certificate')
  t.equal(store.describe('a.test'), 'web/a')

  const missing = store.update(bindings, secretMap(tlsSecret('web', 'o', other)))
  t.same(missing.errors, [{ secret: 'web/a', message: 'Secret web/a not found; create a kubernetes.io/tls Secret with tls.crt and tls.key' }])
  t.equal(store.describe('a.test'), 'default', 'a deleted Secret serves nothing')

  const fresh = new CertStore(fallback)
  const never = fresh.update([bind('a.test', 'web/a'), bind('a.test', 'web/o')], secretMap(tlsSecret('web', 'a', { cert: 'x', key: 'y' }), tlsSecret('web', 'o', other)))
  t.equal(never.errors.length, 1)
  t.equal(fresh.describe('a.test'), 'web/o', 'a binding without a usable certificate yields to the next binding of the host')

  const untls = fresh.update([bind('a.test', 'web/a')], secretMap(tlsSecret('web', 'a', a, 'Opaque')))
  t.match(untls.errors, [{ secret: 'web/a', message: /type is "Opaque"/ }])
})

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })))
    child.stdin?.end()
  })
}

t.test('a real handshake picks the certificate by SNI', async (t) => {
  const store = new CertStore(fallback)
  t.same(store.update([bind('a.test', 'web/a'), bind('*.w.test', 'web/wild')], secretMap(tlsSecret('web', 'a', a), tlsSecret('web', 'wild', wild))).errors, [])
  // s_client hangs up as soon as its input ends; the server only has to complete handshakes.
  const clientErrors: string[] = []
  const server = createTlsListener({ select: (name) => store.select(name), alpn: store.alpn, handshakeTimeoutMs: 10_000, secure: (socket) => socket.end(), clientError: (err) => clientErrors.push(err.message) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as AddressInfo).port

  const handshake = async (sni: string[]): Promise<{ cert: X509Certificate; out: string }> => {
    const { stdout } = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...sni, '-alpn', 'h2,http/1.1'])
    const pem = stdout.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/)
    if (!pem) throw new Error(`no certificate in s_client output:\n${stdout}`)
    return { cert: new X509Certificate(pem[0]), out: stdout }
  }

  const cases: [string[], KeyAndCert, string, string][] = [
    [['-servername', 'a.test'], a, 'CN=a.test', 'DNS:a.test'],
    [['-servername', 'x.w.test'], wild, 'CN=*.w.test', 'DNS:*.w.test'],
    [['-servername', 'unknown.test'], fallback, 'CN=weft-default.invalid', 'DNS:weft-default.invalid'],
    [['-noservername'], fallback, 'CN=weft-default.invalid', 'DNS:weft-default.invalid'],
  ]
  for (const [sni, pair, subject, altName] of cases) {
    const { cert, out } = await handshake(sni)
    t.equal(cert.subject, subject, `${sni.join(' ')}: subject`)
    t.equal(cert.subjectAltName, altName, `${sni.join(' ')}: SAN`)
    t.equal(cert.fingerprint256, new X509Certificate(pair.cert).fingerprint256, `${sni.join(' ')}: the very certificate`)
    t.match(out, /ALPN protocol: h2/, `${sni.join(' ')}: ALPN from the server options`)
    t.match(out, /^New, TLSv1\.3, Cipher is /m, `${sni.join(' ')}: TLS 1.3`)
  }

  t.same(clientErrors, [])
  // SECLEVEL=0 lets the client offer TLS 1.1 at all; the refusal must come from the server.
  await t.rejects(run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'a.test', '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']), 'TLS 1.1 is refused')
  t.match(clientErrors, [/unsupported protocol/], 'by the server')
})

t.test('TLS settings', async (t) => {
  const defaults = new CertStore(fallback)
  t.equal(defaults.minVersion, 'TLSv1.2')
  t.same(defaults.alpn, ['h2', 'http/1.1'])
  const strict = new CertStore(fallback, { minVersion: 'TLSv1.3', alpn: ['http/1.1'] })
  t.equal(strict.minVersion, 'TLSv1.3')
  t.same(strict.alpn, ['http/1.1'])
  t.throws(() => new CertStore({ cert: 'x', key: 'y' }), 'a bad default certificate fails at construction')
})
