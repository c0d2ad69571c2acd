// The headers a reverse proxy rewrites: upstream requests, downstream responses, and the
// request-smuggling guard. Pure.
//
// Decisions (modelled on Go's httputil.ReverseProxy, nginx and Envoy):
// - Hop-by-hop (RFC 9110 §7.6.1): Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
//   Transfer-Encoding, Upgrade, HTTP2-Settings and every header named in Connection are
//   dropped in both directions. Proxy-Authorization and Proxy-Authenticate are dropped too:
//   weft never authenticates as a forward proxy, so credentials meant for a proxy must not
//   reach the app. `TE: trailers` is kept upstream when the client offered it.
// - Expect is dropped: Node's server has already answered `100 Continue` (or 417) downstream.
// - X-Forwarded-For and Forwarded are overwritten with the socket's peer (as ingress-nginx does
//   by default): a client cannot make the app believe it comes from elsewhere. Only from a
//   peer in --trusted-proxies (a load balancer in front of weft) are they appended to, and
//   X-Real-IP is then the client that chain names: the rightmost address that is not a trusted
//   proxy (nginx's real_ip_recursive). X-Forwarded-Proto, -Host and -Port describe weft's own
//   hop and always overwrite what the client sent.
// - IPv4-mapped IPv6 peers (`::ffff:192.0.2.1`, from a dual-stack listener) are written as IPv4.
// - Via uses the client's protocol version as Node reports it ('1.1', '2.0'); downstream
//   responses get `1.1 weft` (undici speaks HTTP/1.1 to the upstream).
// - Every response carries `Server: weft` (no version): weft's own answers, and the endpoints'
//   answers, whose Server header it replaces (as nginx hides the upstream's by default), so
//   what a client sees does not tell which software runs behind the Ingress.

import { STATUS_CODES, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http'
import { BlockList, isIP } from 'node:net'
import { parseCIDR, parseIP } from '../src/util/ip-parse.ts'

/** The Server header of every response weft sends. */
export const SERVER = 'weft'

/**
 * One of weft's own short answers, written on a raw HTTP/1.1 connection (the fast path, a
 * refused upgrade, a request node:http could not parse): the body is `${status} ${text}`
 * (`text`: the reason phrase, then ': ' and what went wrong), text/plain, never cached.
 * `close` adds Connection: close; `location` a Location (a redirect).
 */
export function plainResponse(status: number, text: string, opts: { close?: boolean; location?: string } = {}): string {
  const body = `${status} ${text}\n`
  const location = opts.location === undefined ? '' : `location: ${opts.location}\r\n`
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nserver: ${SERVER}\r\ncontent-type: text/plain; charset=utf-8\r\ncache-control: no-store\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${location}${opts.close ? 'connection: close\r\n' : ''}\r\n${body}`
}

export interface TrustedCidr {
  address: string
  prefix: number
  family: 'ipv4' | 'ipv6'
}

/** Peers whose X-Forwarded-For and Forwarded weft appends to (`--trusted-proxies`); everyone else's are overwritten. */
export class TrustedProxies {
  readonly #list = new BlockList()
  readonly size: number
  /** As given (plain data: what a worker thread is sent to make its own). */
  readonly cidrs: readonly TrustedCidr[]

  /** `cidrs`: addresses and CIDRs (IPv4 or IPv6), already checked by parseTrustedProxies. */
  constructor(cidrs: readonly TrustedCidr[]) {
    for (const c of cidrs) this.#list.addSubnet(c.address, c.prefix, c.family)
    this.size = cidrs.length
    this.cidrs = cidrs
  }

  has(address: string): boolean {
    if (this.size === 0) return false
    const a = clientAddress(address)
    const family = isIP(a)
    return family !== 0 && this.#list.check(a, family === 4 ? 'ipv4' : 'ipv6')
  }
}

/**
 * `--trusted-proxies`: comma-separated IP addresses and CIDRs (src/util/ip-parse.ts: no zone
 * ids, no leading zeros, no IPv4-mapped prefixes; an IPv4-mapped address stands for its IPv4 address);
 * throws naming the first that is neither.
 */
export function parseTrustedProxies(text: string): TrustedProxies {
  const cidrs = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      const parsed = entry.includes('/') ? parseCIDR(entry) : parseIP(entry)
      if (parsed === undefined) throw new Error(`--trusted-proxies: ${JSON.stringify(entry)} is not an IP address or CIDR (like 10.0.0.0/8 or fd00::/8); give a comma-separated list`)
      const family = parsed.family === 4 ? ('ipv4' as const) : ('ipv6' as const)
      // BlockList gets the parser's canonical text (a CIDR's network address), never the entry.
      if ('prefix' in parsed) return { address: parsed.text.slice(0, parsed.text.indexOf('/')), prefix: parsed.prefix, family }
      return { address: parsed.text, prefix: parsed.family === 4 ? 32 : 128, family }
    })
  return new TrustedProxies(cidrs)
}

export interface ClientInfo {
  /** The proxies whose forwarding headers are appended to (default: none). */
  trustedProxies?: TrustedProxies
  remoteAddress: string
  scheme: 'http' | 'https'
  /** The request's Host / :authority. */
  host: string
  /** '1.1', '2.0' */
  httpVersion: string
  /** The port weft accepted the request on (ingress-nginx's $server_port); else X-Forwarded-Port comes from `host` or the scheme. */
  serverPort?: number
}

export const hopByHop: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'proxy-authenticate',
  'proxy-authorization',
])

/** Lower-cased, trimmed, non-empty tokens of a comma-separated header. */
export function headerTokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return []
  const joined = Array.isArray(value) ? value.join(',') : value
  return joined
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
}

function joined(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : value
}

/** `::ffff:192.0.2.1` → `192.0.2.1`; anything else unchanged. */
export function clientAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  return m ? m[1] : address
}

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** An RFC 7239 forwarded-pair value: a token as is, else a quoted-string. */
function forwardedValue(value: string): string {
  return token.test(value) ? value : `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`
}

/** RFC 7239 §6 node: IPv4 bare, IPv6 bracketed (and so quoted), no address → `unknown`. */
export function forwardedNode(address: string): string {
  if (address === '') return 'unknown'
  const a = clientAddress(address)
  return forwardedValue(a.includes(':') ? `[${a}]` : a)
}

/** The port of a Host value (`h:8080`, `[::1]:8080`), else undefined. */
function hostPort(host: string): string | undefined {
  const close = host.lastIndexOf(']')
  const colon = host.lastIndexOf(':')
  if (colon <= close) return undefined
  const port = host.slice(colon + 1)
  return /^\d{1,5}$/.test(port) ? port : undefined
}

function append(existing: string | string[] | undefined, value: string): string {
  const prior = joined(existing)
  return prior === undefined || prior.trim() === '' ? value : `${prior}, ${value}`
}

/** Headers other than hop-by-hop, pseudo and Connection-named ones, with lower-cased names. */
function endToEnd(headers: Record<string, string | string[] | undefined>): Map<string, string | string[]> {
  const named = new Set(headerTokens(headers.connection))
  const out = new Map<string, string | string[]>()
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const name = rawName.toLowerCase()
    if (name.startsWith(':') || hopByHop.has(name) || named.has(name)) continue
    out.set(name, value)
  }
  return out
}

/**
 * The headers to send upstream. With `opts.upgrade`, a client's `Upgrade` (named in its
 * Connection header) is kept and Connection becomes exactly `upgrade`.
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  client: ClientInfo,
  opts: { upgrade?: boolean } = {},
): Record<string, string | string[]> {
  const connection = headerTokens(headers.connection)
  const out = endToEnd(headers)
  out.delete('expect')
  for (const name of forwardingHeaderNames) out.delete(name)

  // RFC 9113 §8.2.3: h2 may split Cookie into several fields; one field joins them with '; '.
  const cookie = out.get('cookie')
  if (Array.isArray(cookie)) out.set('cookie', cookie.join('; '))

  const host = joined(headers.host) ?? client.host
  out.delete('host')
  const result: Record<string, string | string[]> = { host }
  for (const [name, value] of out) result[name] = value

  if (headerTokens(headers.te).includes('trailers')) result.te = 'trailers'
  const upgrade = joined(headers.upgrade)
  if (opts.upgrade && upgrade !== undefined && connection.includes('upgrade')) {
    result.connection = 'upgrade'
    result.upgrade = upgrade
  }

  for (const [name, value] of forwardingHeaders(client, headers)) result[name] = value
  return result
}

/** Headers weft sets on every forwarded request (they replace any the client sent under these names). */
export const forwardingHeaderNames: ReadonlySet<string> = new Set(['x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'via'])

/**
 * X-Forwarded-For, X-Real-IP, X-Forwarded-Proto/-Host/-Port, Forwarded and Via (appended to)
 * for one request, from the client's own values of the headers that may be appended to.
 * X-Forwarded-For and Forwarded are appended to only when the peer is a trusted proxy.
 */
export function forwardingHeaders(client: ClientInfo, prior: { 'x-forwarded-for'?: string | string[]; forwarded?: string | string[]; via?: string | string[] }): [string, string][] {
  const out: [string, string][] = []
  const address = clientAddress(client.remoteAddress)
  const trusted = address !== '' && client.trustedProxies !== undefined && client.trustedProxies.has(address)
  if (address !== '') {
    const xff = trusted ? prior['x-forwarded-for'] : undefined
    out.push(['x-forwarded-for', append(xff, address)], ['x-real-ip', trusted ? realClient(xff, address, client.trustedProxies!) : address])
  }
  out.push(
    ['x-forwarded-proto', client.scheme],
    ['x-forwarded-host', client.host],
    ['x-forwarded-port', String(client.serverPort ?? hostPort(client.host) ?? (client.scheme === 'https' ? 443 : 80))],
    ['forwarded', append(trusted ? prior.forwarded : undefined, `for=${forwardedNode(client.remoteAddress)};host=${forwardedValue(client.host)};proto=${client.scheme}`)],
    ['via', append(prior.via, `${client.httpVersion} weft`)],
  )
  return out
}

/** The client a trusted peer's X-Forwarded-For names: from the right, past trusted proxies, up to the first address that is not one (or one that does not parse). */
function realClient(xff: string | string[] | undefined, peer: string, trusted: TrustedProxies): string {
  const hops = headerTokens(xff)
  let real = peer
  for (let i = hops.length - 1; i >= 0 && trusted.has(real); i--) {
    const hop = clientAddress(hops[i]!)
    if (isIP(hop) === 0) break
    real = hop
  }
  return real
}

/** The Via a response carries downstream: the endpoint's, with weft's hop appended. */
export function responseVia(prior: string | string[] | undefined): string {
  return append(prior, '1.1 weft')
}

/**
 * The headers to send back to the client: hop-by-hop and Connection-named ones dropped,
 * Via appended. The hop-by-hop list already holds every connection-specific header
 * HTTP/2 forbids (RFC 9113 §8.2.2, Node's http2 throws on them); with `opts.upgrade` (a 101)
 * Connection and Upgrade are kept, but never for an HTTP/2 downstream.
 */
export function downstreamResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  downstreamHttp2: boolean,
  opts: { upgrade?: boolean } = {},
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of endToEnd(headers)) if (name !== 'server') out[name] = value
  out.server = SERVER
  if (opts.upgrade && !downstreamHttp2) {
    const upgrade = joined(headers.upgrade)
    if (upgrade !== undefined) {
      out.connection = 'upgrade'
      out.upgrade = upgrade
    }
  }
  out.via = responseVia(headers.via)
  return out
}

/**
 * Request-smuggling guard for an HTTP/1 request (RFC 9112 §6.1, §6.3): the reason to reject
 * it, or undefined. Rejects Content-Length together with Transfer-Encoding, Content-Length
 * values that differ or are not digits, and any Transfer-Encoding other than exactly one
 * `chunked` (like nginx, which answers 501: weft does not decode other codings and must not
 * pass their bytes on as an identity body).
 *
 * Node 24's strict parser already refuses with 400 CL+TE, every duplicate Content-Length
 * (even equal ones), `TE: gzip`, `TE: chunked, gzip` and `chunked, chunked`; it accepts
 * `gzip, chunked`. With `insecureHTTPParser` it accepts CL+TE and repeated chunked too.
 * All of them are re-checked here from the raw headers so the guard does not depend on
 * parser flags.
 */
export function smugglingReason(headers: IncomingHttpHeaders, rawHeaders: readonly string[]): string | undefined {
  const lengths: string[] = []
  const encodings: string[] = []
  let sawTe = false
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase()
    if (name === 'content-length') lengths.push(...rawHeaders[i + 1].split(',').map((s) => s.trim()))
    else if (name === 'transfer-encoding') {
      sawTe = true
      encodings.push(...rawHeaders[i + 1].split(',').map((s) => s.trim().toLowerCase()))
    }
  }
  // Parsed headers too, in case rawHeaders was trimmed by the caller.
  if (lengths.length === 0 && headers['content-length'] !== undefined) lengths.push(headers['content-length'].trim())
  if (!sawTe && headers['transfer-encoding'] !== undefined) {
    sawTe = true
    encodings.push(...headerTokens(headers['transfer-encoding']))
  }

  if (sawTe && lengths.length > 0) return 'both Content-Length and Transfer-Encoding are present'
  if (lengths.some((l) => !/^\d+$/.test(l))) return `invalid Content-Length: ${lengths.join(', ')}`
  if (new Set(lengths.map((l) => l.replace(/^0+(?=\d)/, ''))).size > 1) {
    return `differing Content-Length values: ${lengths.join(', ')}`
  }
  if (sawTe) {
    const codings = encodings.filter((e) => e !== '')
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      return `unsupported Transfer-Encoding "${codings.join(', ')}": only a single chunked is accepted`
    }
  }
  return undefined
}
