// Reading request bodies and writing responses, with the limits and errors Kubernetes has.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parse as parseYaml } from 'yaml'
import { apiVersionOf } from '../api/registry.ts'
import { canDecodeProtobuf, decodeProtobufObject, protobufMediaType, type ExpectedKind } from '../api/protobuf/index.ts'
import { ApiError, badRequest, internal, isApiError, tooLarge, unsupportedMediaType } from '../util/errors.ts'
import type { ResourceRequest } from './request-info.ts'

/** Kubernetes' limit for a request body is 3 MiB; objects in etcd are capped lower. */
export const maxBodyBytes = 3 * 1024 * 1024

/**
 * The request body, at most `limit` bytes, arriving within `timeoutMs`: a client that
 * trickles or stalls its body loses the connection instead of holding it for ever.
 */
export async function readBody(req: IncomingMessage, limit = maxBodyBytes, timeoutMs = 60_000): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw tooLarge(limit)
  const chunks: Buffer[] = []
  let size = 0
  const timer = setTimeout(() => req.destroy(new Error(`the request body did not arrive within ${timeoutMs} ms`)), timeoutMs)
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > limit) throw tooLarge(limit)
      chunks.push(chunk)
    }
  } finally {
    clearTimeout(timer)
  }
  return Buffer.concat(chunks)
}

export function mediaType(req: IncomingMessage): string {
  return String(req.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase()
}

/**
 * Parses a JSON or YAML body into a value, or Kubernetes protobuf when the request takes a
 * kind weft has a protobuf schema for (`expected`); anything else is a 415 or a 400 that says
 * where it broke.
 */
export function parseBody(raw: Buffer, type: string, expected?: ExpectedKind | readonly ExpectedKind[]): unknown {
  if (type === protobufMediaType && expected && canDecodeProtobuf(expected)) {
    try {
      return decodeProtobufObject(raw, expected)
    } catch (err) {
      throw badRequest(`the body of the request was not valid Kubernetes protobuf: ${(err as Error).message}`)
    }
  }
  const text = raw.toString('utf8')
  if (text.trim() === '') throw badRequest('the request body is empty: send the object as JSON or YAML')
  if (type.endsWith('yaml')) {
    try {
      const value = parseYaml(text, { maxAliasCount: 100 })
      checkDepth(value)
      return value
    } catch (err) {
      if (isApiError(err)) throw err
      throw badRequest(`error converting YAML to JSON: ${(err as Error).message}`)
    }
  }
  if (type.endsWith('json') || type === '*/*' || type === '') {
    try {
      const value: unknown = JSON.parse(text)
      checkDepth(value)
      return value
    } catch (err) {
      if (isApiError(err)) throw err
      throw badRequest(`the body of the request was not valid JSON: ${(err as Error).message}`)
    }
  }
  throw unsupportedMediaType(type)
}

/**
 * The kinds a body may be: DeleteOptions for a delete (in the resource's group version,
 * `v1` or `meta.k8s.io/v1`, as upstream registers it in each), a TokenRequest for
 * `serviceaccounts/NAME/token`, a Binding for `pods/NAME/binding`, an Eviction (policy/v1, or
 * v1beta1 as upstream still takes) for `pods/NAME/eviction`, a Scale for `…/scale`, else the
 * resource's own kind.
 */
export function bodyKind(r: ResourceRequest): ExpectedKind[] {
  if (r.verb === 'delete' || r.verb === 'deletecollection') {
    return [...new Set([apiVersionOf(r.info), 'v1', 'meta.k8s.io/v1'])].map((apiVersion) => ({ apiVersion, kind: 'DeleteOptions' }))
  }
  if (r.subresource === 'binding') return [{ apiVersion: 'v1', kind: 'Binding' }]
  if (r.subresource === 'eviction') return ['policy/v1', 'policy/v1beta1'].map((apiVersion) => ({ apiVersion, kind: 'Eviction' }))
  if (r.subresource === 'scale') return [{ apiVersion: 'autoscaling/v1', kind: 'Scale' }]
  if (r.info.kind === 'ServiceAccount' && r.subresource === 'token') return [{ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' }]
  return [{ apiVersion: apiVersionOf(r.info), kind: r.info.kind }]
}

/** Resolves when `res` can take more output (drain), or never will (close). */
export function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

export function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body)
  res.writeHead(code, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export function toApiError(err: unknown): ApiError {
  if (isApiError(err)) return err
  return internal(err instanceof Error ? err.message : String(err))
}

/** How deep a request body may nest (objects and arrays); Kubernetes objects stay far below it. */
export const MAX_BODY_DEPTH = 1000

/** Refuses a value that nests deeper than `max`, without recursion (a deep body must not take the stack). */
export function checkDepth(value: unknown, max = MAX_BODY_DEPTH): void {
  let level: unknown[] = [value]
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > max) throw badRequest(`the request body nests deeper than ${max} levels`)
    const next: unknown[] = []
    for (const v of level) {
      if (v === null || typeof v !== 'object') continue
      for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') next.push(child)
    }
    level = next
  }
}

type WritableSocket = { _writableState?: { highWaterMark: number } }
const originalWriteBuffer = new WeakMap<object, number>()

/**
 * Raises a socket's write buffer (Node's TLS sockets take no highWaterMark option): a write
 * that fits returns true and leaves no drain pending.
 */
export function raiseWriteBuffer(socket: object, bytes: number): void {
  const state = (socket as WritableSocket)._writableState
  if (!state || state.highWaterMark >= bytes) return
  originalWriteBuffer.set(socket, state.highWaterMark)
  state.highWaterMark = bytes
}

/** Gives a socket its own write buffer size back (a stream paced by `drain` needs it). */
export function restoreWriteBuffer(socket: object | null | undefined): void {
  const original = socket ? originalWriteBuffer.get(socket) : undefined
  const state = (socket as WritableSocket | null | undefined)?._writableState
  if (original === undefined || !state) return
  state.highWaterMark = original
  originalWriteBuffer.delete(socket!)
}
