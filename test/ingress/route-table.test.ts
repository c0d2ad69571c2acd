import t from 'tap'
import type { Test } from 'tap'
import type { V1HTTPIngressPath, V1Ingress, V1IngressRule } from '@kubernetes/client-node'
import { defaultRouteOptions } from '../../ingress/annotations.ts'
import { specPathCases } from './spec-path-cases.ts'
import { buildRouteTable, normalizeHost, route, type RouteResult, type RouteTable } from '../../ingress/route-table.ts'

function p(path: string, service: string, pathType: string = 'Prefix'): V1HTTPIngressPath {
  return { path, pathType, backend: { service: { name: service, port: { number: 80 } } } }
}

function rule(host: string | undefined, ...paths: V1HTTPIngressPath[]): V1IngressRule {
  return { ...(host !== undefined ? { host } : {}), http: { paths } }
}

function ingress(name: string, created: string, spec: V1Ingress['spec'], annotations?: Record<string, string>, namespace = 'default'): V1Ingress {
  return { metadata: { namespace, name, creationTimestamp: new Date(created), ...(annotations ? { annotations } : {}) }, spec }
}

/** 'svc' for a route, 'default:svc' for the default backend, 404 for notFound. */
function target(r: RouteResult): string {
  if ('route' in r) return r.route.backend.service
  if ('defaultBackend' in r) return `default:${r.defaultBackend.backend.service}`
  return '404'
}

function check(t: Test, table: RouteTable, cases: [string, string, string][]): void {
  for (const [host, path, want] of cases) t.equal(target(route(table, host, path)), want, `${host} ${path}`)
}

t.test('normalizeHost', async (t) => {
  const cases: [string, string][] = [
    ['Foo.Example.COM', 'foo.example.com'],
    ['foo.example.com:8443', 'foo.example.com'],
    ['foo.example.com.', 'foo.example.com'],
    ['foo.example.com.:80', 'foo.example.com'],
    ['[::1]:8443', '::1'],
    ['[::1]', '::1'],
    ['127.0.0.1:80', '127.0.0.1'],
    ['', ''],
  ]
  for (const [input, want] of cases) t.equal(normalizeHost(input), want, input)
})

t.test('the Kubernetes docs examples table, through route()', async (t) => {
  const cases = [
    ...specPathCases,
    // Request targets that are not origin-form paths.
    { paths: [p('/', 'root')], req: 'foo', want: '404' },
    { paths: [p('/', 'root')], req: '*', want: '404' },
    { paths: [p('/', 'root')], req: 'http://example.com/', want: '404' },
  ]
  for (const c of cases) {
    const { table, errors } = buildRouteTable([ingress('i', '2024-01-01T00:00:00Z', { rules: [rule(undefined, ...c.paths)] })])
    t.same(errors, [])
    t.equal(target(route(table, 'example.com', c.req)), c.want, `${c.paths.map((x) => `${x.pathType} ${x.path}`).join(', ')} ← ${c.req}`)
  }
})

t.test('longest path: elements first, then characters, Exact on a tie', async (t) => {
  const { table, errors } = buildRouteTable([
    ingress('i', '2024-01-01T00:00:00Z', {
      rules: [rule(undefined,
        p('/aaaaaaaaaaaaaaa', 'long-one-element'), p('/a/b', 'two-elements'),
        p('/x', 'x-prefix'), p('/x/', 'x-prefix-slash'),
        p('/y/', 'y-prefix-slash'), p('/y', 'y-exact', 'Exact'),
        p('/z', 'z-impl', 'ImplementationSpecific'), p('/z', 'z-prefix'),
      )],
    }),
  ])
  check(t, table, [
    ['h', '/a/b/c', 'two-elements'],
    ['h', '/aaaaaaaaaaaaaaa/b', 'long-one-element'],
    ['h', '/x', 'x-prefix-slash'],
    ['h', '/x/1', 'x-prefix-slash'],
    ['h', '/y', 'y-exact'],
    ['h', '/y/', 'y-prefix-slash'],
    ['h', '/z/1', 'z-prefix'],
  ])
  t.equal(errors.length, 2, 'the two shadowed paths are reported')
  t.match(errors[0].message, /path "\/x" \(Prefix\).*"\/x\/" \(Prefix\), which takes precedence; it is never used/)
  t.match(errors[1].message, /path "\/z" \(ImplementationSpecific\).*"\/z" \(Prefix\)/)
})

t.test('host precedence: exact, then wildcard, then any host', async (t) => {
  const { table, errors } = buildRouteTable([
    ingress('any', '2024-01-01T00:00:00Z', { rules: [rule(undefined, p('/', 'any-root'), p('/only-any', 'only-any'))] }),
    ingress('wild', '2024-01-02T00:00:00Z', { rules: [rule('*.example.com', p('/', 'wild-root'), p('/w', 'wild-w'))] }),
    ingress('exact', '2024-01-03T00:00:00Z', { rules: [rule('foo.example.com', p('/app', 'foo-app'))] }),
    ingress('upper', '2024-01-04T00:00:00Z', { rules: [rule('Bar.Example.org.', p('/', 'bar'))] }),
  ])
  t.same(errors, [])
  check(t, table, [
    ['foo.example.com', '/app/x', 'foo-app'],
    ['foo.example.com', '/w', '404'], // exact host group wins; its paths do not match; no default backend
    ['foo.example.com', '/only-any', '404'],
    ['FOO.example.com:443', '/app', 'foo-app'],
    ['foo.example.com.', '/app', 'foo-app'],
    ['a.example.com', '/w/1', 'wild-w'],
    ['a.example.com', '/only-any', 'wild-root'],
    ['A.Example.Com:8080', '/', 'wild-root'],
    ['a.b.example.com', '/w', 'any-root'], // wildcard covers exactly one label
    ['example.com', '/w', 'any-root'],
    ['.example.com', '/w', 'any-root'],
    ['other.org', '/only-any/1', 'only-any'],
    ['', '/', 'any-root'],
    ['[::1]:8443', '/', 'any-root'],
    ['bar.example.org', '/x', 'bar'],
  ])
  const r = route(table, 'a.example.com', '/w')
  t.ok('route' in r && r.route.host === '*.example.com' && r.route.ingress === 'default/wild')
})

t.test('several Ingresses for one host merge; conflicts: oldest wins', async (t) => {
  const { table, conflicts, errors } = buildRouteTable([
    // given newest first on purpose
    ingress('newer', '2024-03-01T00:00:00Z', { rules: [rule('shop.io', p('/cart', 'newer-cart'), p('/pay', 'pay'))] }),
    ingress('older', '2024-01-01T00:00:00Z', { rules: [rule('shop.io', p('/cart', 'older-cart'), p('/', 'front'))] }),
    ingress('b', '2024-02-01T00:00:00Z', { rules: [rule('tie.io', p('/', 'b'))] }),
    ingress('a', '2024-02-01T00:00:00Z', { rules: [rule('tie.io', p('/', 'a'))] }),
    ingress('a', '2024-02-01T00:00:00Z', { rules: [rule('tie.io', p('/', 'a-in-ns2'))] }, undefined, 'aaa'),
    ingress('exact-too', '2024-03-01T00:00:00Z', { rules: [rule('shop.io', p('/cart', 'cart-exact', 'Exact'))] }),
  ])
  t.same(errors, [])
  check(t, table, [
    ['shop.io', '/cart', 'cart-exact'],
    ['shop.io', '/cart/1', 'older-cart'],
    ['shop.io', '/pay', 'pay'],
    ['shop.io', '/', 'front'],
    ['tie.io', '/', 'a-in-ns2'],
  ])
  t.same(conflicts, [
    { host: 'tie.io', path: '/', pathType: 'Prefix', winner: 'aaa/a', loser: 'default/a' },
    { host: 'tie.io', path: '/', pathType: 'Prefix', winner: 'aaa/a', loser: 'default/b' },
    { host: 'shop.io', path: '/cart', pathType: 'Prefix', winner: 'default/older', loser: 'default/newer' },
  ])
})

t.test('a missing creationTimestamp sorts as newest', async (t) => {
  const noTime: V1Ingress = { metadata: { namespace: 'default', name: 'a' }, spec: { rules: [rule(undefined, p('/', 'no-time'))] } }
  const stringTime = { metadata: { namespace: 'default', name: 'z', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { rules: [rule(undefined, p('/', 'string-time'))] } } as unknown as V1Ingress
  const { table, conflicts } = buildRouteTable([noTime, stringTime])
  check(t, table, [['h', '/', 'string-time']])
  t.same(conflicts.map((c) => c.loser), ['default/a'])
})

t.test('defaultBackend: per-Ingress options; an invalid one is reported and ignored', async (t) => {
  const { table, errors } = buildRouteTable([
    ingress('middle', '2024-02-01T00:00:00Z', { defaultBackend: { service: { name: 'fallback', port: { name: 'http' } } }, rules: [rule('a.io', p('/x', 'ax'))] }, { 'weft.dev/proxy-read-timeout': '5m' }),
    ingress('oldest', '2024-01-01T00:00:00Z', { defaultBackend: { resource: { kind: 'StorageBucket', name: 'b' } } }),
  ])
  t.same(errors, [{ ingress: 'default/oldest', message: 'spec.defaultBackend uses a resource backend, which weft does not support; use a service backend; it is ignored' }])
  check(t, table, [
    ['a.io', '/x', 'ax'],
    ['a.io', '/y', 'default:fallback'],
    ['nohost.io', '/', '404'],
  ])
  const r = route(table, 'a.io', '/')
  t.ok('defaultBackend' in r)
  if ('defaultBackend' in r) {
    t.same(r.defaultBackend.backend, { namespace: 'default', service: 'fallback', port: { name: 'http' } })
    t.equal(r.defaultBackend.ingress, 'default/middle')
    t.equal(r.defaultBackend.options.readTimeoutMs, 300000)
  }
  t.same(table.defaultBackends().map((d) => d.ingress), ['default/middle'])
  check(t, table, [['a.io', 'nope', '404']])
})

t.test("defaultBackend serves only its own Ingress's hosts; an Ingress without rules is the catch-all", async (t) => {
  const { table, errors } = buildRouteTable([
    ingress('a', '2024-01-01T00:00:00Z', { defaultBackend: { service: { name: 'a-default', port: { number: 80 } } }, rules: [rule('a.io', p('/x', 'ax')), rule('*.w.io', p('/w', 'ww'))] }, undefined, 'team-a'),
    ingress('b', '2024-01-02T00:00:00Z', { rules: [rule('b.io', p('/y', 'by')), { host: 'bare.io' }] }, undefined, 'team-b'),
    ingress('shared', '2024-01-03T00:00:00Z', { defaultBackend: { service: { name: 'shared-default', port: { number: 80 } } }, rules: [rule('a.io', p('/s', 'as')), rule('c.io', p('/c', 'cc'))] }, undefined, 'team-c'),
    ingress('catch-old', '2024-01-04T00:00:00Z', { defaultBackend: { service: { name: 'catch-all', port: { number: 80 } } } }, undefined, 'edge'),
    ingress('catch-new', '2024-01-05T00:00:00Z', { defaultBackend: { service: { name: 'catch-all-new', port: { number: 80 } } } }, undefined, 'edge'),
  ])
  check(t, table, [
    ['a.io', '/x', 'ax'],
    ['a.io', '/s', 'as'],
    ['a.io', '/other', 'default:a-default'],
    ['q.w.io', '/other', 'default:a-default'],
    ['c.io', '/other', 'default:shared-default'],
    ['b.io', '/y', 'by'],
    ['b.io', '/other', '404'],
    ['bare.io', '/', '404'],
    ['unclaimed.io', '/', 'default:catch-all'],
    ['', '/', 'default:catch-all'],
  ])
  t.same(table.defaultBackends().map((d) => `${d.ingress} ${d.backend.namespace}/${d.backend.service}`).sort(), ['edge/catch-old edge/catch-all', 'team-a/a team-a/a-default', 'team-c/shared team-c/shared-default'])
  t.same(errors, [
    { ingress: 'team-c/shared', message: 'spec.defaultBackend is not used for host "a.io": the older Ingress team-a/a also claims it and its defaultBackend serves it' },
    { ingress: 'edge/catch-new', message: 'spec.defaultBackend is not used for requests no rule claims: the older Ingress edge/catch-old also has no rules and its defaultBackend serves them' },
  ])

  const hostless = buildRouteTable([
    ingress('any', '2024-01-01T00:00:00Z', { defaultBackend: { service: { name: 'any-default', port: { number: 80 } } }, rules: [rule(undefined, p('/h', 'hh'))] }),
    ingress('x', '2024-01-02T00:00:00Z', { rules: [rule('x.io', p('/x', 'xx'))] }),
  ]).table
  check(t, hostless, [['y.io', '/h', 'hh'], ['y.io', '/other', 'default:any-default'], ['x.io', '/other', '404']])
})

t.test('a host-only rule claims its host', async (t) => {
  const { table } = buildRouteTable([
    ingress('any', '2024-01-01T00:00:00Z', { rules: [rule(undefined, p('/', 'any'))] }),
    ingress('claim', '2024-01-02T00:00:00Z', { rules: [{ host: 'bare.io' }] }),
  ])
  check(t, table, [['bare.io', '/', '404'], ['x.io', '/', 'any']])
})

t.test('invalid rules are skipped and reported; the rest serves', async (t) => {
  const { table, errors } = buildRouteTable([
    ingress('bad', '2024-01-01T00:00:00Z', {
      rules: [
        rule('ok.io',
          p('relative', 'r'),
          { path: '/nobackend', pathType: 'Prefix', backend: {} },
          { path: '/res', pathType: 'Prefix', backend: { resource: { kind: 'Bucket', name: 'b' } } },
          { path: '/noport', pathType: 'Prefix', backend: { service: { name: 's' } } },
          { path: '/badport', pathType: 'Prefix', backend: { service: { name: 's', port: { number: 70000 } } } },
          { path: '/both', pathType: 'Prefix', backend: { service: { name: 's', port: { number: 80, name: 'http' } } } },
          p('/weird', 'w', 'Regex'),
          p('/good', 'good'),
          p('/good', 'dup'),
          { pathType: 'ImplementationSpecific', backend: { service: { name: 'impl-root', port: { number: 80 } } } },
        ),
        rule('bad host!', p('/', 'x')),
        rule('*', p('/', 'x')),
      ],
    }, { 'weft.dev/backend-protocol': 'smtp' }),
  ])
  check(t, table, [
    ['ok.io', '/good/1', 'good'],
    ['ok.io', '/relative', 'impl-root'],
    ['ok.io', '/nobackend', 'impl-root'],
    ['other.io', '/', '404'],
  ])
  const messages = errors.map((e) => e.message)
  t.ok(errors.every((e) => e.ingress === 'default/bad'))
  t.same(messages, [
    'annotation weft.dev/backend-protocol: invalid value "smtp": expected one of HTTP, HTTPS, GRPC, GRPCS; using the default HTTP',
    'spec.rules[0].http.paths[0].path "relative" must start with "/"; the path is skipped',
    'spec.rules[0].http.paths[1] has no service backend; the path is skipped',
    'spec.rules[0].http.paths[2] uses a resource backend, which weft does not support; use a service backend; the path is skipped',
    'spec.rules[0].http.paths[3] backend service has no port (set port.number or port.name); the path is skipped',
    'spec.rules[0].http.paths[4] backend service port 70000 is not in 1-65535; the path is skipped',
    'spec.rules[0].http.paths[5] backend service port sets both number and name; set one; the path is skipped',
    'spec.rules[0].http.paths[6].pathType "Regex" is not Exact, Prefix or ImplementationSpecific; the path is skipped',
    'spec.rules[0].http.paths[8] repeats host "ok.io" path "/good" (Prefix); only the first is used',
    'spec.rules[1].host "bad host!" is not a DNS name or a wildcard like *.example.com; the rule is skipped',
    'spec.rules[2].host "*" is not a DNS name or a wildcard like *.example.com; the rule is skipped',
  ])
  const r = route(table, 'ok.io', '/good')
  t.ok('route' in r && r.route.options.backendProtocol === 'HTTP', 'invalid annotation falls back to the default')
})

t.test('rule paths are normalised as request paths are; a malformed escape is reported and skipped', async (t) => {
  const { table, errors } = buildRouteTable([
    ingress('norm', '2024-01-01T00:00:00Z', {
      rules: [rule('n.io', p('/%7Euser', 'tilde'), p('/%zz', 'broken'), p('/a/./b/../c', 'dots', 'Exact'), p('/', 'root'))],
    }),
  ])
  check(t, table, [
    ['n.io', '/~user', 'tilde'],
    ['n.io', '/~user/x', 'tilde'],
    ['n.io', '/a/c', 'dots'],
    ['n.io', '/a/./b/../c', 'root'],
    ['n.io', '/%zz', 'root'],
  ])
  t.same(errors, [{ ingress: 'default/norm', message: `spec.rules[0].http.paths[1].path "/%zz" has a malformed percent-escape ('%' must be followed by two hex digits); the path is skipped` }])
  t.same(table.routes().map((r) => `${r.path} ${r.backend.service}`).sort(), ['/ root', '/a/c dots', '/~user tilde'], 'the skipped path has no route')
})

t.test('routes carry backend and options', async (t) => {
  const { table } = buildRouteTable([
    ingress('web', '2024-01-01T00:00:00Z', { rules: [rule('a.io', { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } })] }, { 'weft.dev/ssl-redirect': 'false', 'weft.dev/load-balance': 'least_request' }, 'shop'),
  ])
  t.same(route(table, 'a.io', '/'), {
    route: {
      ingress: 'shop/web',
      host: 'a.io',
      path: '/',
      pathType: 'Prefix',
      backend: { namespace: 'shop', service: 'web', port: { name: 'http' } },
      options: { ...defaultRouteOptions, sslRedirect: false, loadBalance: 'least_request' },
    },
    tlsHost: false,
  })
  t.same(table.routes().map((r) => r.path), ['/'])
})

t.test('TLS hosts', async (t) => {
  const { table, errors } = buildRouteTable([
    ingress('a', '2024-01-01T00:00:00Z', {
      tls: [{ hosts: ['secure.io', '*.wild.io'], secretName: 'a-cert' }],
      rules: [rule('secure.io', p('/', 'secure')), rule('x.wild.io', p('/', 'x'))],
    }),
    ingress('b', '2024-01-02T00:00:00Z', {
      tls: [{ hosts: ['secure.io'], secretName: 'b-cert' }, { secretName: 'implied' }, { hosts: ['nosecret.io'] }, { hosts: ['bad_host'], secretName: 'c' }],
      rules: [rule('implied.io', p('/', 'implied')), rule(undefined, p('/', 'any'))],
    }),
    ingress('c', '2024-01-03T00:00:00Z', { tls: [{ hosts: ['secure.io'], secretName: 'a-cert' }] }),
  ])
  t.same(table.tlsHosts(), [
    { host: '*.wild.io', secret: { namespace: 'default', name: 'a-cert' } },
    { host: 'implied.io', secret: { namespace: 'default', name: 'implied' } },
    { host: 'secure.io', secret: { namespace: 'default', name: 'a-cert' } },
  ])
  t.same(errors.map((e) => `${e.ingress}: ${e.message}`), [
    'default/b: spec.tls[0]: host secure.io already uses secret default/a-cert from the older Ingress default/a; this entry is ignored for it',
    'default/b: spec.tls[2] has no secretName; weft has no default certificate, so the entry is ignored',
    'default/b: spec.tls[3].hosts: "bad_host" is not a DNS name or a wildcard like *.example.com; it is ignored',
  ])
  const cases: [string, boolean][] = [
    ['secure.io', true], ['SECURE.io:443', true], ['x.wild.io', true], ['y.wild.io', true], ['a.b.wild.io', false],
    ['wild.io', false], ['implied.io', true], ['plain.io', false], ['nosecret.io', false],
  ]
  for (const [host, want] of cases) {
    t.equal(table.isTlsHost(host), want, host)
    t.equal(route(table, host, '/').tlsHost, want, `route ${host}`)
  }
  t.equal(route(table, 'secure.io', 'bad').tlsHost, true, 'notFound still reports tlsHost')
})

t.test('an empty table', async (t) => {
  const { table, conflicts, errors } = buildRouteTable([])
  t.same(route(table, 'a', '/'), { notFound: true, tlsHost: false })
  t.same(table.tlsHosts(), [])
  t.same(table.routes(), [])
  t.same(conflicts, [])
  t.same(errors, [])
})
