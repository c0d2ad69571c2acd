// The request headers of an HTTP/2 (or gRPC) load request, built once from the target and
// checked: HTTP/2 forbids connection-specific headers, names must be lower-case tokens, and
// values must not smuggle line breaks.
import type { OutgoingHttpHeaders } from 'node:http2'
import type { ResolvedTarget } from '../types.ts'

const token = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
const forbidden = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings'])
const badValue = /[\0\r\n]/
const badPathOrAuthority = /[\0-\x20\x7f]/

/** Pseudo-headers and headers for `target`; `fixed` (lower-case names) override the target's own. Throws on anything invalid. */
export function h2RequestHeaders(target: ResolvedTarget, method: string, fixed: Record<string, string>): OutgoingHttpHeaders {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) throw new Error(`HTTP method ${JSON.stringify(method)} is not a token`)
  if (typeof target.path !== 'string' || !target.path.startsWith('/') || badPathOrAuthority.test(target.path)) {
    throw new Error(`request path ${JSON.stringify(target.path)} must start with '/' and hold no spaces or control characters`)
  }
  if (typeof target.authority !== 'string' || target.authority === '' || badPathOrAuthority.test(target.authority)) {
    throw new Error(`authority ${JSON.stringify(target.authority)} must be a non-empty host[:port] without spaces or control characters`)
  }
  const headers: OutgoingHttpHeaders = { ':method': method, ':path': target.path, ':authority': target.authority }
  if (!Array.isArray(target.headers)) throw new Error('target headers must be a list of [name, value] pairs')
  for (const pair of target.headers) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new Error(`header ${JSON.stringify(pair)} is not a [name, value] pair of strings`)
    }
    const name = pair[0].toLowerCase()
    const value = pair[1]
    if (!token.test(name)) throw new Error(`header name ${JSON.stringify(pair[0])} is not a token`)
    if (forbidden.has(name)) throw new Error(`header ${JSON.stringify(pair[0])} is not allowed in HTTP/2 (the authority is set by the target; connection headers do not exist)`)
    if (name === 'te' && value.toLowerCase() !== 'trailers') throw new Error(`header te may only be "trailers" in HTTP/2, not ${JSON.stringify(value)}`)
    if (badValue.test(value)) throw new Error(`header ${name}'s value holds a line break or NUL`)
    if (name in fixed) continue
    const previous = headers[name]
    if (previous === undefined) headers[name] = value
    else if (Array.isArray(previous)) previous.push(value)
    else headers[name] = [String(previous), value]
  }
  for (const [name, value] of Object.entries(fixed)) headers[name] = value
  return headers
}
