// Targets as the user writes them: URLs of every protocol and svc/, ingress/, pod/ names.
import t from 'tap'
import { parseTarget, resolveTarget, TargetError } from '../../load/target.ts'

t.test('URLs of every scheme', async (t) => {
  t.same(parseTarget('http://127.0.0.1:8080/a/b?x=1'), { kind: 'url', protocol: 'http1', tls: false, host: '127.0.0.1', port: 8080, path: '/a/b?x=1' })
  t.same(parseTarget('https://Example.COM'), { kind: 'url', protocol: 'http1', tls: true, host: 'example.com', port: 443, path: '/' })
  t.same(parseTarget('http://[::1]:9000/'), { kind: 'url', protocol: 'http1', tls: false, host: '::1', port: 9000, path: '/' })
  t.same(parseTarget('http://[fe80:0::1]'), { kind: 'url', protocol: 'http1', tls: false, host: 'fe80::1', port: 80, path: '/' })
  t.same(parseTarget('grpc://10.0.0.1:50051'), { kind: 'url', protocol: 'grpc', tls: false, host: '10.0.0.1', port: 50051, path: '/grpc.health.v1.Health/Check' })
  t.same(parseTarget('grpcs://api.test:443/pkg.v1.Echo/Say'), { kind: 'url', protocol: 'grpc', tls: true, host: 'api.test', port: 443, path: '/pkg.v1.Echo/Say' })
  t.same(parseTarget('tcp://[2001:db8::5]:22'), { kind: 'url', protocol: 'tcp', tls: false, host: '2001:db8::5', port: 22, path: '' })
  t.same(parseTarget('udp://127.0.0.1:7'), { kind: 'url', protocol: 'udp', tls: false, host: '127.0.0.1', port: 7, path: '' })
  t.same(parseTarget('dns://10.96.0.10/kubernetes.default.svc.cluster.local'), { kind: 'url', protocol: 'dns', tls: false, host: '10.96.0.10', port: 53, path: '', dns: { name: 'kubernetes.default.svc.cluster.local', type: 'A' } })
  t.same(parseTarget('dns://[::1]:5353/_http._tcp.web.default.svc.cluster.local.?type=srv'), { kind: 'url', protocol: 'dns', tls: false, host: '::1', port: 5353, path: '', dns: { name: '_http._tcp.web.default.svc.cluster.local', type: 'SRV' } })
})

t.test('bad URLs say what is wrong', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['ftp://x/y', /unsupported scheme "ftp"/],
    ['http://user:pw@host/', /user information/],
    ['grpc://host', /needs a port/],
    ['tcp://host', /needs a port/],
    ['tcp://host:22/path', /HOST:PORT only/],
    ['udp://host:7?x', /HOST:PORT only/],
    ['http://host:70000/', /not a valid URL|out of range/],
    ['tcp://host:0', /out of range/],
    ['grpc://h:1/not-a-method', /not a gRPC method path/],
    ['dns://10.0.0.1', /no name to ask for/],
    ['dns://10.0.0.1/name?type=BOGUS', /DNS type "BOGUS" is not supported/],
    ['dns://10.0.0.1/name?class=IN', /unknown query parameter "class"/],
    ['dns://10.0.0.1/bad..name', /not a valid DNS name/],
    ['tcp://ho_st:1', /not a valid host name/],
    ['http://exa mple/', /white space/],
    ['http://a/\u0000', /control characters/],
    ['web', /expected a URL/],
    ['deploy/web', /expected a URL/],
    [`http://${'a'.repeat(3000)}/`, /longer than 2048/],
  ]
  for (const [spec, message] of bad) {
    t.throws(() => parseTarget(spec), { name: 'TargetError', code: 'InvalidTarget', message }, JSON.stringify(spec.slice(0, 40)))
  }
})

t.test('svc/, ingress/ and pod/ names with namespace and port', async (t) => {
  t.same(parseTarget('svc/web'), { kind: 'service', name: 'web' })
  t.same(parseTarget('svc/web.shop'), { kind: 'service', name: 'web', namespace: 'shop' })
  t.same(parseTarget('svc/web.shop:8080'), { kind: 'service', name: 'web', namespace: 'shop', port: 8080 })
  t.same(parseTarget('service/web:http-alt'), { kind: 'service', name: 'web', port: 'http-alt' })
  t.same(parseTarget('ingress/shop-front.prod'), { kind: 'ingress', name: 'shop-front', namespace: 'prod' })
  t.same(parseTarget('ing/a'), { kind: 'ingress', name: 'a' })
  t.same(parseTarget('pod/web-7c9f-abcde:8080'), { kind: 'pod', name: 'web-7c9f-abcde', port: 8080 })
  t.same(parseTarget('pod/db.v1.data'), { kind: 'pod', name: 'db.v1', namespace: 'data' }, 'the last dot separates the namespace')
  const bad: Array<[string, RegExp]> = [
    ['svc/Web', /not a valid Service name/],
    ['svc/web.x:0', /out of range/],
    ['svc/web:99999', /out of range/],
    ['svc/web:Http', /neither a port number nor a port name/],
    ['svc/a.b.c', /not a valid Service name/],
    ['svc/web.NS', /not a valid namespace/],
    ['ingress/web:80', /takes no port/],
    ['pod/', /not a valid Pod name/],
  ]
  for (const [spec, message] of bad) t.throws(() => parseTarget(spec), { code: 'InvalidTarget', message }, spec)
})

t.test('a URL resolves without the API', async (t) => {
  const r = await resolveTarget('http://127.0.0.1:8080/hello?x=1', { headers: [['x-test', '1']] })
  t.same(r, {
    protocol: 'http1',
    tls: false,
    endpoints: [{ host: '127.0.0.1', port: 8080 }],
    authority: '127.0.0.1:8080',
    insecure: false,
    path: '/hello?x=1',
    method: 'GET',
    headers: [['x-test', '1']],
    description: '127.0.0.1:8080',
    spec: 'http://127.0.0.1:8080/hello?x=1',
  })
  const h2 = await resolveTarget('https://web.test/', { protocol: 'http2', insecure: true })
  t.match(h2, { protocol: 'http2', tls: true, servername: 'web.test', authority: 'web.test', insecure: true, endpoints: [{ host: 'web.test', port: 443 }] })
  const v6 = await resolveTarget('https://[::1]:8443/')
  t.equal(v6.authority, '[::1]:8443')
  t.notOk('servername' in v6, 'no SNI for an IP address')
  const sni = await resolveTarget('https://[::1]:8443/', { host: 'shop.test', servername: 'other.test' })
  t.match(sni, { authority: 'shop.test', servername: 'other.test' })
  const grpc = await resolveTarget('grpc://127.0.0.1:50051')
  t.match(grpc, { protocol: 'grpc', method: 'POST', path: '/grpc.health.v1.Health/Check', authority: '127.0.0.1:50051' })
  const udp = await resolveTarget('udp://127.0.0.1:7', { udpPayloadBytes: 512 })
  t.equal(udp.udpPayloadBytes, 512)
  t.equal((await resolveTarget('udp://127.0.0.1:7')).udpPayloadBytes, 64)
  const dns = await resolveTarget('dns://127.0.0.1:5353/example.test?type=AAAA')
  t.same(dns.dns, { name: 'example.test', type: 'AAAA' })
  t.equal(dns.description, '127.0.0.1:5353 (AAAA example.test)')
  const post = await resolveTarget('http://127.0.0.1/', { method: 'POST', body: Buffer.from('{"a":1}').toString('base64') })
  t.match(post, { method: 'POST', body: 'eyJhIjoxfQ==' })
})

t.test('bad options are refused', async (t) => {
  const cases: Array<[string, Parameters<typeof resolveTarget>[1], RegExp]> = [
    ['tcp://127.0.0.1:1', { protocol: 'http2' }, /does not fit a tcp URL/],
    ['http://127.0.0.1/', { protocol: 'grpc' }, /only http\(s\):\/\/ switches to http2/],
    ['http://127.0.0.1/', { tls: true }, /TLS comes from the URL scheme/],
    ['http://127.0.0.1/', { path: '/x' }, /put the path in the URL/],
    ['http://127.0.0.1/', { via: 'endpoints' }, /--via applies to svc\/ targets only/],
    ['svc/web', { via: 'direct' as never }, /--via "direct": expected one of clusterip, nodeport, endpoints, loadbalancer/],
    ['http://127.0.0.1/', { method: 'GET X' }, /not an HTTP method/],
    ['grpc://127.0.0.1:1', { method: 'GET' }, /gRPC calls are POST/],
    ['http://127.0.0.1/', { headers: [['bad name', 'x']] }, /header name "bad name" is not valid/],
    ['http://127.0.0.1/', { headers: [['x-a', 'one\r\ntwo']] }, /line break/],
    ['http://127.0.0.1/', { headers: [['Host', 'x']] }, /use --host/],
    ['http://127.0.0.1/', { body: 'not base64!' }, /must be base64/],
    ['http://127.0.0.1/', { host: 'bad host' }, /--host "bad host" is not a host name/],
    ['udp://127.0.0.1:7', { udpPayloadBytes: 70_000 }, /UDP payload must be 1 to 65507 bytes/],
    ['http://127.0.0.1/', { dns: { name: 'a', type: 'A' } }, /applies to dns:\/\/ targets/],
  ]
  for (const [spec, options, message] of cases) await t.rejects(resolveTarget(spec, options), { name: 'TargetError', message }, `${spec} ${JSON.stringify(options)}`)
  await t.rejects(resolveTarget('svc/web'), { code: 'Unsupported', message: /needs the API/ })
  t.ok(new TargetError('NotFound', 'x') instanceof Error)
})
