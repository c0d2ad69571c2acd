import t from 'tap'
import type { IncomingHttpHeaders } from 'node:http'
import {
  clientAddress,
  downstreamResponseHeaders,
  parseTrustedProxies,
  forwardedNode,
  plainResponse,
  smugglingReason,
  upstreamRequestHeaders,
  type ClientInfo,
} from '../../ingress/headers.ts'

const client: ClientInfo = { remoteAddress: '10.0.0.7', scheme: 'https', host: 'app.example.com', httpVersion: '1.1' }

t.test('upstream: hop-by-hop and Connection-named headers are dropped', async (t) => {
  const cases: [string, IncomingHttpHeaders, string[], string[]][] = [
    // [name, headers, dropped, kept]
    [
      'standard hop-by-hop',
      {
        host: 'h',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        trailer: 'x-sum',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'proxy-authenticate': 'Basic',
        expect: '100-continue',
        accept: '*/*',
      },
      ['connection', 'keep-alive', 'proxy-connection', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'proxy-authorization', 'proxy-authenticate', 'expect'],
      ['accept'],
    ],
    ['named in Connection', { host: 'h', connection: 'close, X-Secret, x-other', 'x-secret': '1', 'x-other': '2', 'x-keep': '3' }, ['x-secret', 'x-other', 'connection'], ['x-keep']],
    ['Connection as a list of fields', { host: 'h', connection: ['x-a', 'x-b'] as unknown as string, 'x-a': '1', 'x-b': '2' }, ['x-a', 'x-b'], []],
    ['TE other than trailers', { host: 'h', te: 'gzip, deflate' }, ['te'], []],
    ['h2 pseudo-headers', { ':method': 'GET', ':path': '/', ':authority': 'h', ':scheme': 'https', accept: 'x' }, [':method', ':path', ':authority', ':scheme'], ['accept']],
  ]
  for (const [name, headers, dropped, kept] of cases) {
    const out = upstreamRequestHeaders(headers, client)
    for (const d of dropped) t.notOk(d in out, `${name}: ${d} dropped`)
    for (const k of kept) t.equal(out[k], headers[k], `${name}: ${k} kept`)
  }
})

t.test('upstream: TE: trailers survives, other codings do not', async (t) => {
  t.equal(upstreamRequestHeaders({ host: 'h', te: 'gzip, trailers' }, client).te, 'trailers')
  t.equal(upstreamRequestHeaders({ host: 'h', te: 'Trailers' }, client).te, 'trailers')
  t.notOk('te' in upstreamRequestHeaders({ host: 'h', te: 'gzip' }, client))
})

t.test('upstream: Host kept as sent; from :authority when absent', async (t) => {
  t.equal(upstreamRequestHeaders({ host: 'App.Example.com:8443' }, client).host, 'App.Example.com:8443')
  const h2 = upstreamRequestHeaders({ ':authority': 'app.example.com' }, { ...client, httpVersion: '2.0' })
  t.equal(h2.host, 'app.example.com')
})

t.test('upstream: h2 cookie fields joined with "; "', async (t) => {
  const out = upstreamRequestHeaders({ host: 'h', cookie: ['a=1', 'b=2'] as unknown as string }, client)
  t.equal(out.cookie, 'a=1; b=2')
  const setCookie = upstreamRequestHeaders({ host: 'h', 'set-cookie': ['a=1', 'b=2'] }, client)
  t.same(setCookie['set-cookie'], ['a=1', 'b=2'], 'other arrays stay arrays')
})

t.test('upstream: X-Forwarded-* and X-Real-IP', async (t) => {
  const cases: [string, IncomingHttpHeaders, ClientInfo, Record<string, string>][] = [
    [
      'fresh',
      { host: 'app.example.com' },
      client,
      { 'x-forwarded-for': '10.0.0.7', 'x-real-ip': '10.0.0.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-port': '443' },
    ],
    [
      'an untrusted peer: everything overwritten, XFF too',
      { host: 'h', 'x-forwarded-for': '1.2.3.4, 5.6.7.8', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil', 'x-forwarded-port': '1', 'x-real-ip': '9.9.9.9' },
      { ...client, scheme: 'http', host: 'h' },
      { 'x-forwarded-for': '10.0.0.7', 'x-real-ip': '10.0.0.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'h', 'x-forwarded-port': '80' },
    ],
    ['port from Host', { host: 'h:8080' }, { ...client, host: 'h:8080' }, { 'x-forwarded-port': '8080' }],
    ['port from bracketed IPv6 Host', { host: '[::1]:8443' }, { ...client, host: '[::1]:8443' }, { 'x-forwarded-port': '8443' }],
    ['IPv6 Host without port', { host: '[::1]' }, { ...client, host: '[::1]' }, { 'x-forwarded-port': '443' }],
    ['serverPort wins', { host: 'h:8080' }, { ...client, host: 'h:8080', serverPort: 30443 }, { 'x-forwarded-port': '30443' }],
    ['IPv4-mapped peer', { host: 'h' }, { ...client, remoteAddress: '::ffff:192.0.2.1' }, { 'x-forwarded-for': '192.0.2.1', 'x-real-ip': '192.0.2.1' }],
    ['IPv6 peer', { host: 'h' }, { ...client, remoteAddress: '2001:db8::1' }, { 'x-forwarded-for': '2001:db8::1' }],
  ]
  for (const [name, headers, c, want] of cases) {
    const out = upstreamRequestHeaders(headers, c)
    for (const [k, v] of Object.entries(want)) t.equal(out[k], v, `${name}: ${k}`)
  }
  const noPeer = upstreamRequestHeaders({ host: 'h', 'x-forwarded-for': '1.1.1.1', 'x-real-ip': '1.1.1.1' }, { ...client, remoteAddress: '' })
  t.notOk('x-forwarded-for' in noPeer, "no peer address: the client's XFF is dropped, not passed on")
  t.notOk('x-real-ip' in noPeer)
})

t.test('upstream: X-Forwarded-For, Forwarded and X-Real-IP from trusted proxies (--trusted-proxies)', async (t) => {
  const trusted = parseTrustedProxies('10.0.0.0/8, 192.168.1.1, fd00::/8')
  const via = (remoteAddress: string, headers: IncomingHttpHeaders) => upstreamRequestHeaders({ host: 'h', ...headers }, { ...client, remoteAddress, trustedProxies: trusted })
  const cases: [string, string, IncomingHttpHeaders, Record<string, string>][] = [
    ['a trusted peer: appended, the real client is the last untrusted address', '10.0.0.7', { 'x-forwarded-for': '203.0.113.5, 198.51.100.2' }, { 'x-forwarded-for': '203.0.113.5, 198.51.100.2, 10.0.0.7', 'x-real-ip': '198.51.100.2' }],
    ['trusted hops are skipped from the right', '10.0.0.7', { 'x-forwarded-for': '203.0.113.5, 192.168.1.1, 10.1.1.1' }, { 'x-forwarded-for': '203.0.113.5, 192.168.1.1, 10.1.1.1, 10.0.0.7', 'x-real-ip': '203.0.113.5' }],
    ['all trusted: the leftmost', '10.0.0.7', { 'x-forwarded-for': '10.9.9.9' }, { 'x-real-ip': '10.9.9.9' }],
    ['a garbage entry stops the walk', '10.0.0.7', { 'x-forwarded-for': '203.0.113.5, not-an-ip, 10.2.2.2' }, { 'x-real-ip': '10.2.2.2' }],
    ['IPv6 and IPv4-mapped', '::ffff:10.0.0.7', { 'x-forwarded-for': '2001:db8::5, fd00::1' }, { 'x-forwarded-for': '2001:db8::5, fd00::1, 10.0.0.7', 'x-real-ip': '2001:db8::5' }],
    ['Forwarded appended too', '10.0.0.7', { forwarded: 'for=203.0.113.5' }, { forwarded: 'for=203.0.113.5, for=10.0.0.7;host=app.example.com;proto=https' }],
    ['an untrusted peer: overwritten', '203.0.113.9', { 'x-forwarded-for': '1.2.3.4', forwarded: 'for=1.2.3.4', 'x-real-ip': '1.2.3.4' }, { 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9;host=app.example.com;proto=https', 'x-real-ip': '203.0.113.9' }],
  ]
  for (const [name, peer, headers, want] of cases) {
    const out = via(peer, headers)
    for (const [k, v] of Object.entries(want)) t.equal(out[k], v, `${name}: ${k}`)
  }
  t.throws(() => parseTrustedProxies('10.0.0.0/33'), /--trusted-proxies: "10\.0\.0\.0\/33" is not an IP address or CIDR/)
  t.throws(() => parseTrustedProxies('10.0.0.1; flush ruleset'), /is not an IP address or CIDR/)
  t.throws(() => parseTrustedProxies('::ffff:1.2.3.4/200'), /is not an IP address or CIDR/)
  t.equal(parseTrustedProxies('').size, 0)
  const none = upstreamRequestHeaders({ host: 'h', 'x-forwarded-for': '1.2.3.4' }, { ...client, trustedProxies: parseTrustedProxies('') })
  t.equal(none['x-forwarded-for'], '10.0.0.7')
})

t.test('upstream: Forwarded (RFC 7239)', async (t) => {
  const cases: [string, string | undefined, ClientInfo, string][] = [
    ['IPv4', undefined, client, 'for=10.0.0.7;host=app.example.com;proto=https'],
    ['IPv6 quoted and bracketed', undefined, { ...client, remoteAddress: '2001:db8:cafe::17' }, 'for="[2001:db8:cafe::17]";host=app.example.com;proto=https'],
    ['IPv4-mapped written as IPv4', undefined, { ...client, remoteAddress: '::ffff:192.0.2.60' }, 'for=192.0.2.60;host=app.example.com;proto=https'],
    ['host with port quoted', undefined, { ...client, host: 'h:8080', scheme: 'http' }, 'for=10.0.0.7;host="h:8080";proto=http'],
    ['overwritten (the peer is no trusted proxy)', 'for=192.0.2.43', client, 'for=10.0.0.7;host=app.example.com;proto=https'],
    ['unknown peer', undefined, { ...client, remoteAddress: '' }, 'for=unknown;host=app.example.com;proto=https'],
  ]
  for (const [name, prior, c, want] of cases) {
    const headers: IncomingHttpHeaders = { host: c.host }
    if (prior !== undefined) headers.forwarded = prior
    t.equal(upstreamRequestHeaders(headers, c).forwarded, want, name)
  }
  t.equal(forwardedNode('fe80::1%eth0'), '"[fe80::1%eth0]"')
  t.equal(clientAddress('::ffff:10.1.2.3'), '10.1.2.3')
  t.equal(clientAddress('::1'), '::1')
})

t.test('upstream: Via', async (t) => {
  t.equal(upstreamRequestHeaders({ host: 'h' }, client).via, '1.1 weft')
  t.equal(upstreamRequestHeaders({ host: 'h' }, { ...client, httpVersion: '2.0' }).via, '2.0 weft')
  t.equal(upstreamRequestHeaders({ host: 'h', via: '1.0 fred' }, client).via, '1.0 fred, 1.1 weft')
})

t.test('upstream: Upgrade kept only with opts.upgrade and when named in Connection', async (t) => {
  const ws: IncomingHttpHeaders = { host: 'h', connection: 'keep-alive, Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' }
  const plain = upstreamRequestHeaders(ws, client)
  t.notOk('upgrade' in plain)
  t.notOk('connection' in plain)
  t.equal(plain['sec-websocket-key'], 'k')
  const up = upstreamRequestHeaders(ws, client, { upgrade: true })
  t.equal(up.connection, 'upgrade')
  t.equal(up.upgrade, 'websocket')
  t.notOk('keep-alive' in up)
  const notNamed = upstreamRequestHeaders({ host: 'h', connection: 'keep-alive', upgrade: 'websocket' }, client, { upgrade: true })
  t.notOk('upgrade' in notNamed, 'Upgrade not named in Connection is dropped')
  t.notOk('connection' in notNamed)
})

t.test('downstream: hop-by-hop dropped, Via appended', async (t) => {
  const upstream = {
    connection: 'keep-alive, x-hop',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    trailer: 'x-sum',
    upgrade: 'h2c',
    'proxy-authenticate': 'Basic',
    'x-hop': '1',
    'Content-Type': 'text/plain',
    'set-cookie': ['a=1', 'b=2'],
    'x-undefined': undefined,
    via: '1.1 backend',
  }
  for (const h2 of [false, true]) {
    const out = downstreamResponseHeaders(upstream, h2)
    t.same(out, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], server: 'weft', via: '1.1 backend, 1.1 weft' }, `h2=${h2}`)
  }
  t.same(downstreamResponseHeaders({}, false), { server: 'weft', via: '1.1 weft' })
  t.same(downstreamResponseHeaders({ server: 'Apache/2.4.1', Server: 'x' }, false), { server: 'weft', via: '1.1 weft' }, "the endpoint's Server is replaced")
})

t.test('downstream: a 101 keeps Connection: upgrade on HTTP/1.1 only', async (t) => {
  const upstream = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-accept': 'abc' }
  t.same(downstreamResponseHeaders(upstream, false, { upgrade: true }), {
    'sec-websocket-accept': 'abc',
    connection: 'upgrade',
    upgrade: 'websocket',
    server: 'weft',
    via: '1.1 weft',
  })
  t.same(downstreamResponseHeaders(upstream, true, { upgrade: true }), { 'sec-websocket-accept': 'abc', server: 'weft', via: '1.1 weft' })
  t.same(downstreamResponseHeaders(upstream, false), { 'sec-websocket-accept': 'abc', server: 'weft', via: '1.1 weft' })
})

// rawHeaders as Node gives them: name, value, name, value…
function raw(...pairs: [string, string][]): { headers: IncomingHttpHeaders; rawHeaders: string[] } {
  const headers: IncomingHttpHeaders = {}
  for (const [n, v] of pairs) {
    const k = n.toLowerCase()
    const prior = headers[k]
    headers[k] = prior === undefined ? v : `${prior as string}, ${v}`
  }
  return { headers, rawHeaders: pairs.flat() }
}

t.test('smugglingReason', async (t) => {
  const cases: [string, [string, string][], RegExp | undefined][] = [
    ['no body headers', [['Host', 'h']], undefined],
    ['Content-Length alone', [['Content-Length', '12']], undefined],
    ['chunked alone', [['Transfer-Encoding', 'chunked']], undefined],
    ['Chunked, any case', [['transfer-encoding', 'Chunked']], undefined],
    ['identical Content-Lengths', [['Content-Length', '5'], ['content-length', '5']], undefined],
    ['identical Content-Length list', [['Content-Length', '5, 05']], undefined],
    ['CL+TE', [['Content-Length', '3'], ['Transfer-Encoding', 'chunked']], /both Content-Length and Transfer-Encoding/],
    ['TE+CL', [['Transfer-Encoding', 'chunked'], ['Content-Length', '3']], /both/],
    ['two differing Content-Lengths', [['Content-Length', '3'], ['Content-Length', '4']], /differing Content-Length/],
    ['differing Content-Length list', [['Content-Length', '3, 4']], /differing Content-Length/],
    ['non-numeric Content-Length', [['Content-Length', '-1']], /invalid Content-Length/],
    ['hex Content-Length', [['Content-Length', '0x10']], /invalid Content-Length/],
    ['TE: gzip', [['Transfer-Encoding', 'gzip']], /unsupported Transfer-Encoding "gzip"/],
    ['TE: chunked, gzip (chunked not final)', [['Transfer-Encoding', 'chunked, gzip']], /unsupported/],
    ['TE: gzip, chunked (weft does not decode gzip)', [['Transfer-Encoding', 'gzip, chunked']], /unsupported/],
    ['TE split over two fields', [['Transfer-Encoding', 'gzip'], ['Transfer-Encoding', 'chunked']], /unsupported/],
    ['chunked twice', [['Transfer-Encoding', 'chunked'], ['Transfer-Encoding', 'chunked']], /unsupported/],
    ['TE: identity', [['Transfer-Encoding', 'identity']], /unsupported/],
    ['empty TE', [['Transfer-Encoding', '']], /unsupported/],
  ]
  for (const [name, pairs, want] of cases) {
    const { headers, rawHeaders } = raw(...pairs)
    const got = smugglingReason(headers, rawHeaders)
    if (want === undefined) t.equal(got, undefined, name)
    else t.match(got, want, name)
  }
  t.match(smugglingReason({ 'content-length': '3', 'transfer-encoding': 'chunked' }, []), /both/, 'parsed headers are checked too')
})

t.test("plainResponse: weft's own short answers", async (t) => {
  t.equal(
    plainResponse(308, 'Permanent Redirect', { close: true, location: 'https://a.test:8443/x?y=1' }),
    'HTTP/1.1 308 Permanent Redirect\r\nserver: weft\r\ncontent-type: text/plain; charset=utf-8\r\ncache-control: no-store\r\ncontent-length: 23\r\nlocation: https://a.test:8443/x?y=1\r\nconnection: close\r\n\r\n308 Permanent Redirect\n',
  )
  const kept = plainResponse(404, 'Not Found: no Ingress rule for host "é.test"')
  t.match(kept, /^HTTP\/1\.1 404 Not Found\r\n/)
  t.notMatch(kept, /connection:|location:/, 'the connection is kept unless asked')
  t.equal(Number(/content-length: (\d+)/.exec(kept)![1]), Buffer.byteLength('404 Not Found: no Ingress rule for host "é.test"\n'), 'the length in bytes')
})
