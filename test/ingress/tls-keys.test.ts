// Every key type a kubernetes.io/tls Secret may hold is served by SNI on the Ingress TLS
// listener, whatever the default certificate's type: RSA-2048, RSA-4096, P-256, P-384, P-521,
// Ed25519 and Ed448, and a Secret holding an RSA and an ECDSA certificate serves each to the clients
// that want it. Keys TLS cannot serve are refused with a reason. Certificates are made by
// openssl and checked with openssl s_client and curl.
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { V1Secret } from '@kubernetes/client-node'
import t from 'tap'
import { CertStore } from '../../ingress/cert-store.ts'
import { buildRouteTable } from '../../ingress/route-table.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { parseTlsSecret, TlsSecretError } from '../../ingress/tls-secret.ts'
import { listenLoopback, loopbackEndpoints, startIngressServer } from './server-rig.ts'

function run(file: string, args: string[], input = ''): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }))
    // A command that exits without reading its stdin (openssl req) must not crash the test with EPIPE.
    child.stdin?.on('error', () => {})
    child.stdin?.end(input)
  })
}

const dir = await mkdtemp(join(tmpdir(), 'weft-tls-keys-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

const keyArgs: Record<string, string[]> = {
  'rsa2048': ['-newkey', 'rsa:2048'],
  'rsa4096': ['-newkey', 'rsa:4096'],
  'p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'p521': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  'ed25519': ['-newkey', 'ed25519'],
  'ed448': ['-newkey', 'ed448'],
  'rsa1024': ['-newkey', 'rsa:1024'],
  'k256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
}

async function make(kind: string, host: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${kind}-${host}.key`)
  const crt = join(dir, `${kind}-${host}.crt`)
  const r = await run('openssl', ['req', '-x509', ...keyArgs[kind]!, '-nodes', '-days', '2', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', key, '-out', crt])
  if (r.code !== 0) throw new Error(r.out)
  return { cert: await readFile(crt, 'utf8'), key: await readFile(key, 'utf8') }
}

const secret = (name: string, pair: { cert: string; key: string }): V1Secret => ({ metadata: { namespace: 'default', name }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') } })

const kinds = ['rsa2048', 'rsa4096', 'p256', 'p384', 'p521', 'ed25519', 'ed448'] as const
const pairs = new Map<string, { cert: string; key: string }>()
for (const kind of kinds) pairs.set(kind, await make(kind, `${kind}.test`))
const bothRsa = await make('rsa2048', 'both.test')
const bothEc = await make('p256', 'both.test')

const backendPort = await listenLoopback(t, createServer((_req, res) => res.end('served')))

const hosts = [...kinds.map((k) => `${k}.test`), 'both.test']
const { table } = buildRouteTable([
  {
    metadata: { name: 'tls', namespace: 'default' },
    spec: {
      tls: [...kinds.map((k) => ({ hosts: [`${k}.test`], secretName: k })), { hosts: ['both.test'], secretName: 'both' }],
      rules: hosts.map((host) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } })),
    },
  },
])
// The default certificate is ECDSA: it must never shadow a Secret's RSA or Ed25519 certificate.
const certs = new CertStore(await selfSigned(['weft-default.test']))
const secrets = new Map<string, V1Secret>(kinds.map((k) => [`default/${k}`, secret(k, pairs.get(k)!)]))
secrets.set('default/both', secret('both', { cert: bothRsa.cert + bothEc.cert, key: bothRsa.key + bothEc.key }))
const loaded = certs.update(table.tlsHosts(), secrets).errors
if (loaded.length > 0) throw new Error(JSON.stringify(loaded))
const server = await startIngressServer(t, { table, balancer: loopbackEndpoints(table, { web: backendPort }), certs, httpListen: '' })
const port = server.httpsPort

async function handshake(sni: string, extra: string[] = []): Promise<{ fingerprint: string; signature: string; out: string }> {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', sni, ...extra])
  const pem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(r.out)
  return { fingerprint: pem ? new X509Certificate(pem[0]).fingerprint256 : 'none', signature: /Peer signature type: (\S+)/.exec(r.out)?.[1] ?? 'none', out: r.out }
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256

t.test('each key type is served by SNI, over TLS 1.3 and 1.2', async (t) => {
  const signatures: Record<string, RegExp> = { rsa2048: /RSA-PSS/, rsa4096: /RSA-PSS/, p256: /ECDSA/, p384: /ECDSA/, p521: /ECDSA/, ed25519: /ed25519/i, ed448: /ed448/i }
  for (const kind of kinds) {
    for (const version of ['-tls1_3', '-tls1_2']) {
      const h = await handshake(`${kind}.test`, [version])
      t.equal(h.fingerprint, fingerprint(pairs.get(kind)!.cert), `${kind} ${version}: the Secret's certificate`)
      t.match(h.signature, signatures[kind]!, `${kind} ${version}: signed with its key`)
    }
    const curl = await run('curl', ['-sk', '--max-time', '10', '--resolve', `${kind}.test:${port}:127.0.0.1`, `https://${kind}.test:${port}/`])
    t.equal(curl.out, 'served', `${kind}: curl gets the answer`)
  }
})

t.test('a Secret holding an RSA and an ECDSA certificate serves both', async (t) => {
  const any = await handshake('both.test')
  t.equal(any.fingerprint, fingerprint(bothEc.cert), 'a client that takes ECDSA gets the ECDSA certificate')
  const rsaOnly = await handshake('both.test', ['-sigalgs', 'RSA-PSS+SHA256:RSA+SHA256'])
  t.equal(rsaOnly.fingerprint, fingerprint(bothRsa.cert), 'a client that takes only RSA gets the RSA certificate')
  const rsaOnly12 = await handshake('both.test', ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'])
  t.equal(rsaOnly12.fingerprint, fingerprint(bothRsa.cert), 'TLS 1.2 with RSA ciphers only: the RSA certificate')
  const unknown = await handshake('nothing.test')
  t.not(unknown.fingerprint, 'none')
  t.equal(new X509Certificate(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(unknown.out)![0]).subject, 'CN=weft-default.test', 'other names: the default')
})

t.test('keys TLS cannot serve are refused with a reason', async (t) => {
  const cases: [string, { cert: string; key: string }, RegExp][] = [
    ['RSA shorter than 2048 bits', await make('rsa1024', 'short.test'), /RSA key of 1024 bits, which is too short/],
    ['an EC curve TLS 1.3 has no signature scheme for', await make('k256', 'k.test'), /curve secp256k1, .*P-256, P-384 or P-521/],
    ['two keys of one type', { cert: pairs.get('rsa2048')!.cert + bothRsa.cert, key: pairs.get('rsa2048')!.key + bothRsa.key }, /two RSA keys/],
    ['a key without its certificate', { cert: bothRsa.cert, key: bothRsa.key + bothEc.key }, /tls\.key holds 2 keys but tls\.crt has a certificate for 1/],
  ]
  for (const [what, pair, message] of cases) {
    const err = t.throws(() => parseTlsSecret(secret('bad', pair)), what) as TlsSecretError
    t.type(err, TlsSecretError, what)
    t.match(err.message, message, what)
  }
})
