// Ingress routing end to end: `weft ingress` in a network namespace, a real API server, real
// Ingress objects, curl and openssl as clients. The same cases as test/ingress/route-table.test.ts
// (Kubernetes docs examples, host and path precedence, merging, conflicts, defaultBackend,
// classes, missing Services), plus TLS by SNI, redirects, h2, certificate rotation and the
// forwarded headers. Each service is one backend listener, so the answering listen address
// says which route matched.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import type { V1IngressClass, V1Secret } from '@kubernetes/client-node'
import { specPathCases } from '../ingress/spec-path-cases.ts'
import { createWeftClass, ingressLab, kind, path as p, until, type Reply } from '../helpers/ingress-e2e.ts'

t.setTimeout(240_000)
const lab = await ingressLab(t)
const { client } = lab

const services = ['root', 'foo', 'x', 'aaa', 'bbb', 'prefix', 'exact', 'regex', 'long-one-element', 'two-elements', 'x-prefix', 'x-prefix-slash', 'y-prefix-slash', 'y-exact', 'z-impl', 'z-prefix',
  'any-root', 'only-any', 'wild-root', 'wild-w', 'foo-app', 'bar', 'newer-cart', 'pay', 'older-cart', 'front', 'cart-exact', 'fallback', 'ax', 'web']
const at = new Map(services.map((s, i) => [s, `10.77.0.${2 + (i % 8)}:${8001 + i}`]))
const served = new Map([...at].map(([s, a]) => [a, s]))
await lab.backend([...at.values()])
await createWeftClass(client)
for (const s of services) await lab.backendService(s, [at.get(s)!])
await lab.service('nothing')
await lab.endpoints('nothing', [{ at: '10.77.0.2:8999', ready: false }])
await lab.startIngress('info')

/** Which service answered: its name, or the status code as a string. */
async function target(host: string, path: string, extra: string[] = []): Promise<string> {
  const r = await lab.http(host, path, extra)
  if (r.status === 200 && r.json) return served.get(r.json.listen) ?? `unknown ${r.json.listen}`
  return String(r.status)
}

async function check(t: Test, cases: [string, string, string][]): Promise<void> {
  for (const [host, path, want] of cases) t.equal(await target(host, path), want, `${host} ${path}`)
}

const waitFor = (host: string, path: string, want: string) => until(`${host}${path} → ${want}`, async () => (await target(host, path)) === want, 15_000)

t.test('404 when nothing matches, 503 when the backend has no ready endpoints', async (t) => {
  await lab.ingress('none-ready', { rules: [{ host: 'empty.test', http: { paths: [p('/', 'nothing')] } }, { host: 'ok.test', http: { paths: [p('/', 'web')] } }] })
  await waitFor('ok.test', '/', 'web')
  const missing = await lab.http('nowhere.test', '/x?y=1')
  t.equal(missing.status, 404)
  t.equal(missing.body.trim(), '404 Not Found: no Ingress rule for host "nowhere.test" and path "/x"')
  const none = await lab.http('empty.test', '/')
  t.equal(none.status, 503)
  t.equal(none.body.trim(), '503 Service Unavailable: service default/nothing port 80 has no ready endpoints')
})

t.test('the Kubernetes docs examples table', async (t) => {
  const cases = specPathCases
  // Each case is its own Ingress on its own host; the last one created is routable once all are loaded.
  for (const [i, c] of cases.entries()) await lab.ingress(`docs-${i}`, { rules: [{ host: `c${i}.docs.test`, http: { paths: c.paths } }] })
  await lab.ingress('docs-sentinel', { rules: [{ host: 'sentinel.docs.test', http: { paths: [p('/', 'web')] } }] })
  await waitFor('sentinel.docs.test', '/', 'web')
  for (const [i, c] of cases.entries()) {
    t.equal(await target(`c${i}.docs.test`, c.req, ['-g']), c.want, `${c.paths.map((x) => `${x.pathType} ${x.path}`).join(', ')} ← ${c.req}`)
  }
  // Request targets that are not origin-form paths.
  for (const [req, want] of [['foo', '400'], ['*', '404'], ['http://c0.docs.test/', '404']]) t.equal(await target('c0.docs.test', '/', ['--request-target', req]), want, `request target ${req} (Node's parser refuses 'foo' itself)`)
})

t.test('longest path: elements first, then characters, Exact on a tie', async (t) => {
  await lab.ingress('longest', {
    rules: [{ host: 'longest.test', http: { paths: [
      p('/aaaaaaaaaaaaaaa', 'long-one-element'), p('/a/b', 'two-elements'),
      p('/x', 'x-prefix'), p('/x/', 'x-prefix-slash'),
      p('/y/', 'y-prefix-slash'), p('/y', 'y-exact', 'Exact'),
      p('/z', 'z-impl', 'ImplementationSpecific'), p('/z', 'z-prefix'),
    ] } }],
  })
  await waitFor('longest.test', '/a/b/c', 'two-elements')
  await check(t, [
    ['longest.test', '/aaaaaaaaaaaaaaa/b', 'long-one-element'],
    ['longest.test', '/x', 'x-prefix-slash'],
    ['longest.test', '/x/1', 'x-prefix-slash'],
    ['longest.test', '/y', 'y-exact'],
    ['longest.test', '/y/', 'y-prefix-slash'],
    ['longest.test', '/z/1', 'z-prefix'],
  ])
  await until('the shadowed paths reported as InvalidRule Events', async () => (await lab.events('longest')).filter((e) => e.reason === 'InvalidRule').length === 2)
})

t.test('several Ingresses for one host merge; a conflict goes to the oldest, with a RuleConflict Event', async (t) => {
  // Named so that name order would pick the newer one: only creation time makes the older win.
  const older = await lab.ingress('zz-older', { rules: [{ host: 'shop.test', http: { paths: [p('/cart', 'older-cart'), p('/', 'front')] } }] })
  await until('a later creationTimestamp second', () => new Date().toISOString().slice(0, 19) + 'Z' > String(older.metadata!.creationTimestamp))
  await lab.ingress('aa-newer', { rules: [{ host: 'shop.test', http: { paths: [p('/cart', 'newer-cart'), p('/pay', 'pay')] } }] })
  await lab.ingress('aa-exact', { rules: [{ host: 'shop.test', http: { paths: [p('/cart', 'cart-exact', 'Exact')] } }] })
  await waitFor('shop.test', '/cart', 'cart-exact')
  await check(t, [
    ['shop.test', '/cart/1', 'older-cart'],
    ['shop.test', '/pay', 'pay'],
    ['shop.test', '/', 'front'],
  ])
  await until('a RuleConflict Event on the newer Ingress', async () => (await lab.events('aa-newer')).some((e) => e.reason === 'RuleConflict'))
  const [event] = (await lab.events('aa-newer')).filter((e) => e.reason === 'RuleConflict')
  t.equal(event.type, 'Warning')
  t.equal(event.message, 'Prefix shop.test/cart is also claimed by the older Ingress default/zz-older, which serves it')
  t.same((await lab.events('zz-older')).filter((e) => e.reason === 'RuleConflict'), [], 'none on the winner')
})

t.test('a missing Service: an Event, and the rest of the Ingress keeps serving', async (t) => {
  await lab.ingress('half', { rules: [{ host: 'half.test', http: { paths: [p('/ok', 'web'), p('/gone', 'nope')] } }] })
  await waitFor('half.test', '/ok', 'web')
  const gone = await lab.http('half.test', '/gone')
  t.equal(gone.status, 503)
  t.match(gone.body, /service default\/nope port 80 has no ready endpoints/)
  await until('a BackendNotFound Event', async () => (await lab.events('half')).some((e) => e.reason === 'BackendNotFound'))
  const [event] = (await lab.events('half')).filter((e) => e.reason === 'BackendNotFound')
  t.equal(event.message, 'service default/nope not found; create it or fix the Ingress backend')
  await lab.backendService('nope', [at.get('web')!])
  await waitFor('half.test', '/gone', 'web')
})

t.test('ingress classes: other class ignored, legacy annotation, default class', async (t) => {
  await client.create<V1IngressClass>(kind('IngressClass'), { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'other' }, spec: { controller: 'example.com/other' } })
  const rules = (host: string) => ({ rules: [{ host, http: { paths: [p('/', 'web')] } }] })
  await lab.ingress('cls-other', { ...rules('other.cls.test'), ingressClassName: 'other' })
  await lab.ingress('cls-legacy-other', { ...rules('legacy-other.cls.test'), ingressClassName: undefined }, { 'kubernetes.io/ingress.class': 'nginx' })
  await lab.ingress('cls-none', { ...rules('none.cls.test'), ingressClassName: undefined })
  await lab.ingress('cls-legacy', { ...rules('legacy.cls.test'), ingressClassName: undefined }, { 'kubernetes.io/ingress.class': 'weft' })
  await waitFor('legacy.cls.test', '/', 'web')
  await check(t, [
    ['other.cls.test', '/', '404'],
    ['legacy-other.cls.test', '/', '404'],
    ['none.cls.test', '/', '404'],
  ])
  const setDefault = async (on: boolean) => {
    const cls = await client.get<V1IngressClass>(kind('IngressClass'), 'weft')
    cls.metadata!.annotations = on ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : {}
    await client.update(kind('IngressClass'), cls)
  }
  await setDefault(true)
  await waitFor('none.cls.test', '/', 'web')
  await check(t, [['other.cls.test', '/', '404'], ['legacy-other.cls.test', '/', '404']])
  await setDefault(false)
  await waitFor('none.cls.test', '/', '404')
})

t.test('TLS: a certificate per SNI name, the default for others, redirects, h2, rotation, invalid Secrets', async (t) => {
  const cert = async (name: string, subject: string) => {
    const key = join(lab.dir, `${name}.key`)
    const crt = join(lab.dir, `${name}.crt`)
    await new Promise<void>((done, fail) =>
      execFile('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', subject, '-addext', `subjectAltName=DNS:${subject.split('/')[1].slice(3)}`, '-keyout', key, '-out', crt], (err) => (err ? fail(err) : done())),
    )
    return { 'tls.crt': (await readFile(crt)).toString('base64'), 'tls.key': (await readFile(key)).toString('base64') }
  }
  const secret = (name: string, data: Record<string, string>): V1Secret => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'kubernetes.io/tls', data })
  await client.create(kind('Secret'), secret('tls-a', await cert('a', '/CN=a.tls.test/O=first')))
  await client.create(kind('Secret'), secret('tls-b', await cert('b', '/CN=b.tls.test/O=first')))
  const rule = (host: string) => ({ host, http: { paths: [p('/', 'web')] } })
  await lab.ingress('tls', { tls: [{ hosts: ['a.tls.test'], secretName: 'tls-a' }, { hosts: ['b.tls.test'], secretName: 'tls-b' }], rules: [rule('a.tls.test'), rule('b.tls.test')] }, { 'weft.dev/ssl-redirect': 'true' })
  await lab.ingress('tls-plain-ok', { tls: [{ hosts: ['c.tls.test'], secretName: 'tls-a' }], rules: [rule('c.tls.test')] })
  await waitFor('c.tls.test', '/', 'web')

  const subject = async (sni: string | undefined) => {
    const r = await lab.exec('openssl', ['s_client', '-connect', '10.77.0.1:443', ...(sni ? ['-servername', sni] : ['-noservername'])], '')
    return /^subject=(.*)$/m.exec(r.out)?.[1] ?? `no certificate: ${r.out}${r.err}`
  }
  t.equal(await subject('a.tls.test'), 'CN = a.tls.test, O = first')
  t.equal(await subject('b.tls.test'), 'CN = b.tls.test, O = first')
  t.equal(await subject('unknown.test'), 'CN = weft-ingress-default', 'unknown SNI: the self-signed default')
  t.equal(await subject(undefined), 'CN = weft-ingress-default', 'no SNI: the self-signed default')

  const redirect = await lab.http('a.tls.test', '/some/path?q=1')
  t.equal(redirect.status, 308, 'weft.dev/ssl-redirect: "true" redirects plain HTTP')
  t.equal(redirect.headers.location, 'https://a.tls.test/some/path?q=1')
  t.equal(redirect.headers.server, 'weft')
  t.equal(await target('c.tls.test', '/'), 'web', 'a TLS host is served over plain HTTP by default')

  const h2: Reply = await lab.http('a.tls.test', '/h2', ['--https', '--http2'])
  t.equal(h2.status, 200)
  t.equal(h2.httpVersion, '2')
  t.equal(h2.json?.headers['x-forwarded-proto'], 'https')
  t.equal(h2.json?.headers.via, '2.0 weft')
  const h1 = await lab.http('b.tls.test', '/', ['--https', '--http1.1'])
  t.equal(h1.httpVersion, '1.1')
  t.equal(h1.status, 200)

  // Rotation: new handshakes get the new certificate, without a restart.
  const rotated = await client.get<V1Secret>(kind('Secret'), 'tls-a', 'default')
  rotated.data = await cert('a2', '/CN=a.tls.test/O=rotated')
  await client.update(kind('Secret'), rotated)
  await until('the rotated certificate served', async () => (await subject('a.tls.test')) === 'CN = a.tls.test, O = rotated')

  // An invalid certificate: an Event, and the previous certificate keeps serving.
  const broken = await client.get<V1Secret>(kind('Secret'), 'tls-b', 'default')
  broken.data = { ...broken.data, 'tls.crt': Buffer.from('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n').toString('base64') }
  await client.update(kind('Secret'), broken)
  await until('an InvalidCertificate Event', async () => (await lab.events('tls')).some((e) => e.reason === 'InvalidCertificate'))
  const [event] = (await lab.events('tls')).filter((e) => e.reason === 'InvalidCertificate')
  t.match(event.message, /^Secret default\/tls-b: tls\.crt certificate #1 does not parse/)
  t.equal(await subject('b.tls.test'), 'CN = b.tls.test, O = first', 'the previous certificate keeps serving')
})

t.test('forwarded headers reach the backend; hop-by-hop headers do not, either way', async (t) => {
  await lab.ingress('headers', { rules: [{ host: 'hdr.test', http: { paths: [p('/', 'web')] } }] })
  await waitFor('hdr.test', '/', 'web')
  const r = await lab.http('hdr.test:80', '/h?hop=1', [
    '-H', 'X-Forwarded-For: 192.0.2.7', '-H', 'X-Forwarded-Proto: gopher', '-H', 'Connection: keep-alive, X-Private',
    '-H', 'X-Private: secret', '-H', 'Keep-Alive: timeout=5', '-H', 'Proxy-Authorization: Basic eDp5', '-H', 'X-App: yes',
  ])
  t.equal(r.status, 200)
  const h = r.json!.headers
  t.equal(h['x-forwarded-for'], '10.77.0.1', 'overwritten: the peer is no trusted proxy')
  t.equal(h['x-real-ip'], '10.77.0.1')
  t.equal(h['x-forwarded-proto'], 'http', 'overwritten: weft\'s own hop')
  t.equal(h['x-forwarded-host'], 'hdr.test:80')
  t.equal(h['x-forwarded-port'], '80')
  t.equal(h.forwarded, 'for=10.77.0.1;host="hdr.test:80";proto=http')
  t.equal(h.via, '1.1 weft')
  t.equal(h.host, 'hdr.test:80')
  t.equal(h['x-app'], 'yes')
  for (const name of ['x-private', 'keep-alive', 'proxy-authorization']) t.notOk(name in h, `${name} stripped upstream`)
  t.equal(r.headers['x-end-to-end'], 'kept')
  t.notOk('x-hop-resp' in r.headers, 'a response header named in Connection is stripped downstream')
  t.equal(r.headers.via, '1.1 weft')
})

// Catch-alls last: a host-less rule or an Ingress without rules answers every other host.
t.test('host precedence: exact, then wildcard, then any host', async (t) => {
  await lab.ingress('hp-any', { rules: [{ http: { paths: [p('/', 'any-root'), p('/only-any', 'only-any')] } }] })
  await lab.ingress('hp-wild', { rules: [{ host: '*.example.test', http: { paths: [p('/', 'wild-root'), p('/w', 'wild-w')] } }] })
  await lab.ingress('hp-exact', { rules: [{ host: 'foo.example.test', http: { paths: [p('/app', 'foo-app')] } }] })
  await lab.ingress('hp-upper', { rules: [{ host: 'bar.example.org', http: { paths: [p('/', 'bar')] } }] })
  await waitFor('bar.example.org', '/', 'bar')
  await check(t, [
    ['foo.example.test', '/app/x', 'foo-app'],
    ['foo.example.test', '/w', '404'],
    ['foo.example.test', '/only-any', '404'],
    ['FOO.example.test:443', '/app', 'foo-app'],
    ['foo.example.test.', '/app', 'foo-app'],
    ['a.example.test', '/w/1', 'wild-w'],
    ['a.example.test', '/only-any', 'wild-root'],
    ['A.Example.Test:8080', '/', 'wild-root'],
    ['a.b.example.test', '/w', 'any-root'],
    ['example.test', '/w', 'any-root'],
    ['other.org', '/only-any/1', 'only-any'],
    ['[::1]:8443', '/', 'any-root'],
    ['BAR.Example.ORG.', '/x', 'bar'],
  ])
  for (const name of ['hp-any', 'hp-wild', 'hp-exact', 'hp-upper']) await lab.deleteIngress(name)
  await waitFor('other.org', '/', '404')
})

t.test("defaultBackend: only its own Ingress's hosts; an Ingress without rules is the catch-all", async (t) => {
  await lab.ingress('db-claim', { rules: [{ host: 'bare.test' }] })
  await lab.ingress('db-main', { defaultBackend: { service: { name: 'fallback', port: { name: 'http' } } }, rules: [{ host: 'a.db.test', http: { paths: [p('/x', 'ax')] } }] })
  await lab.ingress('db-catch', { defaultBackend: { service: { name: 'web', port: { number: 80 } } } })
  await waitFor('nohost.test', '/', 'web')
  await check(t, [
    ['a.db.test', '/x', 'ax'],
    ['a.db.test', '/y', 'fallback'],
    ['nohost.test', '/anything', 'web'],
    ['bare.test', '/', '404'],
  ])
  await lab.deleteIngress('db-catch')
  await waitFor('nohost.test', '/', '404')
  t.equal(await target('a.db.test', '/y'), 'fallback', "an Ingress's defaultBackend never serves other hosts, but keeps serving its own")
})
