// The HTTP/1.1 request a load run sends, as bytes built once from the target (every field checked).
import type { ResolvedTarget } from '../types.ts'

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const maxBodyBytes = 16 << 20
/** Headers weft load writes itself: the user may not set them. */
const managedHeaders = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'expect'])

export class RequestError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RequestError'
  }
}

export function buildRequest(target: ResolvedTarget, keepAlive: boolean): Buffer {
  const { method, path, authority, headers } = target
  if (typeof method !== 'string' || method.length > 32 || !tokenPattern.test(method)) throw new RequestError(`method ${JSON.stringify(String(method).slice(0, 40))} is not an HTTP token`)
  if (typeof path !== 'string' || path.length === 0 || path.length > 8192 || !/^[\x21-\x7e]+$/.test(path) || !(path.startsWith('/') || (path === '*' && method === 'OPTIONS'))) {
    throw new RequestError(`path ${JSON.stringify(String(path).slice(0, 60))} must start with / and hold only visible ASCII (percent-encode the rest)`)
  }
  if (typeof authority !== 'string' || authority.length === 0 || authority.length > 300 || !/^[A-Za-z0-9._~%!$&'()*+,;=:@[\]-]+$/.test(authority)) {
    throw new RequestError(`Host ${JSON.stringify(String(authority).slice(0, 60))} is not a valid authority`)
  }
  if (!Array.isArray(headers) || headers.length > 100) throw new RequestError('headers must be a list of at most 100 [name, value] pairs')
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${authority}\r\n`
  let userAgent = false
  for (const header of headers) {
    if (!Array.isArray(header) || header.length !== 2) throw new RequestError('each header must be a [name, value] pair')
    const [name, value] = header
    if (typeof name !== 'string' || name.length > 256 || !tokenPattern.test(name)) throw new RequestError(`header name ${JSON.stringify(String(name).slice(0, 40))} is not an HTTP token`)
    if (managedHeaders.has(name.toLowerCase())) throw new RequestError(`header ${name} is set by weft load itself`)
    if (typeof value !== 'string' || value.length > 8192 || !/^[\t\x20-\x7e]*$/.test(value)) throw new RequestError(`header ${name}: the value must be printable ASCII without line breaks`)
    if (name.toLowerCase() === 'user-agent') userAgent = true
    head += `${name}: ${value.trim()}\r\n`
  }
  if (!userAgent) head += 'User-Agent: weft-load\r\n'
  let body: Buffer | undefined
  if (target.body !== undefined) {
    if (typeof target.body !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(target.body)) throw new RequestError('body must be base64')
    body = Buffer.from(target.body, 'base64')
    if (body.length > maxBodyBytes) throw new RequestError(`body is ${body.length} bytes, more than ${maxBodyBytes}`)
    head += `Content-Length: ${body.length}\r\n`
  }
  if (!keepAlive) head += 'Connection: close\r\n'
  head += '\r\n'
  const headBytes = Buffer.from(head, 'latin1')
  return body ? Buffer.concat([headBytes, body]) : headBytes
}
