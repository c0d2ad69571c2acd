// Tunnels an HTTP/1.1 Upgrade (WebSocket) request to one endpoint over node:net / node:tls.
//
// - The request goes out as written by the client (method, target) with upstreamRequestHeaders
//   (upgrade kept), followed by the bytes that arrived after the client's request head.
// - connectTimeoutMs bounds connecting (and the TLS handshake) and then, again, the wait for
//   the response head: either expiry answers 504.
// - Connect errors, an upstream that closes before answering, or a malformed / oversized
//   head answer 502. A client that goes away first resolves with 499 (nginx's convention).
//   The 502/504 bodies name the Service (`target.name`), not the endpoint or the error: those
//   come back in the result's `error`, for the log.
// - Interim 1xx responses other than 101 are skipped.
// - 101: the head is rewritten (downstreamResponseHeaders, Connection/Upgrade kept), the bytes
//   after it are relayed, then both directions are piped; either side closing or failing
//   destroys the other.
// - Any other status: its head goes back with `Connection: close` and the body is relayed
//   with the upstream's own framing (Content-Length, chunked, or until close); then both close.
// - TLS upstreams are not verified and get no SNI (an endpoint is an IP address), like
//   ingress-nginx's defaults (proxy_ssl_verify off, proxy_ssl_server_name off).

import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import { connect as netConnect } from 'node:net'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect as tlsConnect } from 'node:tls'
import { downstreamResponseHeaders, headerTokens, plainResponse, upstreamRequestHeaders, type ClientInfo } from './headers.ts'

export interface TunnelTarget {
  /** What the request is for, for error bodies: 'service default/web port 80'. */
  name?: string
  address: string
  port: number
  tls?: boolean
  connectTimeoutMs: number
}

const maxHeadBytes = 64 * 1024

type Headers = Record<string, string | string[]>

interface ResponseHead {
  status: number
  reason: string
  headers: Headers
}

function serializeHeaders(headers: Record<string, string | string[] | number | undefined>): string {
  let out = ''
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) out += `${name}: ${v}\r\n`
  }
  return out
}

/** A response head (without the blank line), or a reason it is malformed. */
export function parseResponseHead(text: string): ResponseHead | string {
  const lines = text.split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0])
  if (!m) return `malformed status line ${JSON.stringify(lines[0].slice(0, 80))}`
  const headers: Headers = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0 || /[\s]/.test(line[0])) return `malformed header line ${JSON.stringify(line.slice(0, 80))}`
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const prior = headers[name]
    headers[name] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value]
  }
  return { status: Number(m[1]), reason: m[2] ?? STATUS_CODES[Number(m[1])] ?? '', headers }
}

/**
 * Finds where a chunked body ends. Feed it the body's bytes in order; it returns the
 * offset just past the last chunk's trailer section within the chunk given, or -1 while
 * the body goes on. Throws on a malformed chunk size.
 */
export function chunkedBodyEnd(): (chunk: Buffer) => number {
  let state: 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'size'
  let line = ''
  let remaining = 0
  return (chunk) => {
    let i = 0
    while (i < chunk.length) {
      if (state === 'data') {
        const n = Math.min(remaining, chunk.length - i)
        i += n
        remaining -= n
        if (remaining === 0) {
          state = 'data-crlf'
          remaining = 2
        }
        continue
      }
      if (state === 'data-crlf') {
        const n = Math.min(remaining, chunk.length - i)
        i += n
        remaining -= n
        if (remaining === 0) state = 'size'
        continue
      }
      if (state === 'done') return i
      const nl = chunk.indexOf(10, i)
      const end = nl === -1 ? chunk.length : nl + 1
      line += chunk.toString('latin1', i, end)
      i = end
      if (line.length > 8192) throw new Error('chunk line too long')
      if (nl === -1) continue
      const text = line.replace(/\r?\n$/, '')
      line = ''
      if (state === 'size') {
        const m = /^([0-9a-fA-F]{1,15})[ \t]*(;.*)?$/.exec(text)
        if (!m) throw new Error(`malformed chunk size ${JSON.stringify(text.slice(0, 40))}`)
        remaining = parseInt(m[1], 16)
        state = remaining === 0 ? 'trailer' : 'data'
      } else if (text === '') {
        state = 'done'
        return i
      }
    }
    return state === 'done' ? i : -1
  }
}

/** Writes one of weft's own short answers (`text`: the reason phrase, ': ', the detail) and closes the client connection. */
function answer(socket: Duplex, status: number, text: string): void {
  if (socket.destroyed || !socket.writable) return
  socket.end(plainResponse(status, text, { close: true }), () => socket.destroy())
}

function requestHead(req: IncomingMessage, client: ClientInfo): string {
  const headers = upstreamRequestHeaders(req.headers, client, { upgrade: true })
  return `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n${serializeHeaders(headers)}\r\n`
}

/**
 * Links two established connections: bytes both ways. Either side ending (FIN) ends the other
 * once what it sent is flushed, then closes both: no half-open tunnels (both ends may be
 * allowHalfOpen sockets that would otherwise linger). An error or close closes both at once.
 */
function splice(a: Duplex, b: Duplex): void {
  const closeBoth = (): void => {
    a.destroy()
    b.destroy()
  }
  const ended = (from: Duplex, to: Duplex) => (): void => {
    from.end()
    to.end(closeBoth)
  }
  a.on('error', closeBoth)
  b.on('error', closeBoth)
  a.once('close', closeBoth)
  b.once('close', closeBoth)
  a.once('end', ended(a, b))
  b.once('end', ended(b, a))
  a.pipe(b, { end: false })
  b.pipe(a, { end: false })
}

/**
 * Relays a non-101 response body with its own framing to the client, then closes both.
 * `rest` holds the body bytes that arrived with the head.
 */
function relayBody(upstream: Socket, socket: Duplex, head: ResponseHead, method: string, rest: Buffer): void {
  const done = (): void => {
    upstream.destroy()
    if (!socket.destroyed) socket.end(() => socket.destroy())
  }
  const codings = headerTokens(head.headers['transfer-encoding'])
  const length = codings.length === 0 ? headerTokens(head.headers['content-length'])[0] : undefined
  if (method === 'HEAD' || head.status === 204 || head.status === 304 || length === '0') return done()

  // take(chunk): how many bytes of chunk end the body, or -1 when all of it belongs and more follows.
  let take: (chunk: Buffer) => number = () => -1
  if (codings.length > 0 && codings[codings.length - 1] === 'chunked') take = chunkedBodyEnd()
  else if (length !== undefined) {
    let remaining = Number(length)
    take = (chunk) => {
      if (remaining > chunk.length) {
        remaining -= chunk.length
        return -1
      }
      return remaining
    }
  }

  const feed = (chunk: Buffer): boolean => {
    let end: number
    try {
      end = take(chunk)
    } catch {
      done()
      return true
    }
    socket.write(end === -1 ? chunk : chunk.subarray(0, end))
    if (end !== -1) done()
    return end !== -1
  }

  upstream.on('error', done)
  socket.on('error', done)
  socket.once('close', () => upstream.destroy())
  if (rest.length > 0 && feed(rest)) return
  upstream.on('data', (chunk: Buffer) => {
    if (feed(chunk)) upstream.removeAllListeners('data')
  })
  upstream.once('end', done)
  upstream.resume()
}

export function tunnelUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: TunnelTarget,
  client: ClientInfo,
): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    socket.pause()
    let settled = false
    let connected = false
    let buffered: Buffer = Buffer.alloc(0)

    const upstream: Socket = target.tls
      ? tlsConnect({ host: target.address, port: target.port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host: target.address, port: target.port })

    const settle = (status: number, error?: string): void => {
      settled = true
      clearTimeout(timer)
      upstream.off('data', onData)
      upstream.off('close', onUpstreamClose)
      socket.off('close', onClientGone)
      resolve(error === undefined ? { status } : { status, error })
    }
    const name = target.name ?? 'the endpoint'
    /** `error` (with the endpoint's address) is for the log; the client gets the status and the Service. */
    const fail = (status: number, error: string): void => {
      if (settled) return
      upstream.destroy()
      answer(socket, status, status === 504 ? `Gateway Timeout: ${name} did not answer within ${target.connectTimeoutMs} ms` : `Bad Gateway: ${connected ? `${name} did not send a valid answer` : `${name} could not be reached`}`)
      settle(status, error)
    }
    const where = `${target.tls ? 'tls' : 'tcp'}://${target.address}:${target.port}`
    const timer = setTimeout(() => {
      fail(504, connected ? `upstream ${where} did not answer within ${target.connectTimeoutMs} ms` : `upstream ${where} connect timed out after ${target.connectTimeoutMs} ms`)
    }, target.connectTimeoutMs)

    const onClientGone = (): void => {
      if (settled) return
      upstream.destroy()
      settle(499)
    }
    socket.on('error', () => socket.destroy())
    socket.once('close', onClientGone)
    if (socket.destroyed) return onClientGone()

    const onUpstreamClose = (): void => fail(502, `upstream ${where} closed the connection before answering`)
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      fail(502, `upstream ${where} ${connected ? 'failed' : 'refused or unreachable'}: ${err.code ?? err.message}`)
    })
    upstream.once('close', onUpstreamClose)
    upstream.once(target.tls ? 'secureConnect' : 'connect', () => {
      connected = true
      upstream.setNoDelay(true)
      upstream.write(requestHead(req, client))
      if (head.length > 0) upstream.write(head)
    })

    function onData(chunk: Buffer): void {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) {
          if (buffered.length > maxHeadBytes) fail(502, `upstream ${where} sent a response head over ${maxHeadBytes} bytes`)
          return
        }
        const parsed = parseResponseHead(buffered.toString('latin1', 0, end))
        if (typeof parsed === 'string') return fail(502, `upstream ${where} sent a ${parsed}`)
        const rest = buffered.subarray(end + 4)
        if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
          buffered = rest
          continue
        }
        upstream.pause()
        return respond(parsed, rest)
      }
    }
    upstream.on('data', onData)

    function respond(parsed: ResponseHead, rest: Buffer): void {
      if (parsed.status === 101) {
        const headers = downstreamResponseHeaders(parsed.headers, false, { upgrade: true })
        socket.write(`HTTP/1.1 101 ${parsed.reason}\r\n${serializeHeaders(headers)}\r\n`)
        if (rest.length > 0) socket.write(rest)
        settle(101)
        splice(socket, upstream)
        return
      }
      const headers = downstreamResponseHeaders(parsed.headers, false)
      const te = parsed.headers['transfer-encoding']
      if (te !== undefined) {
        headers['transfer-encoding'] = Array.isArray(te) ? te.join(', ') : te
        delete headers['content-length']
      }
      headers.connection = 'close'
      socket.write(`HTTP/1.1 ${parsed.status} ${parsed.reason}\r\n${serializeHeaders(headers)}\r\n`)
      settle(parsed.status)
      relayBody(upstream, socket, parsed, req.method ?? 'GET', rest)
    }
  })
}
