// The response's wire format, as kube-apiserver negotiates it from `Accept`: JSON, or
// Kubernetes protobuf for the kinds that have a protobuf form; a Table only as JSON.
// Objects, lists, errors and watch events are written here in either format.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { canEncodeProtobuf, protobufMediaType, writeProtobufObject } from '../api/protobuf/index.ts'
import { writeMessage } from '../api/protobuf/encode.ts'
import { beginEnvelope, endEnvelope } from '../api/protobuf/envelope.ts'
import { kubernetesSchema, messageForKind } from '../api/protobuf/schema.ts'
import { ProtoWriter } from '../api/protobuf/writer.ts'
import { ApiError } from '../util/errors.ts'
import { drainedOrClosed, sendJson, toApiError } from './http-io.ts'
import type { ListEntry, ObjectList } from './resource-handler.ts'
import type { IncludeObject } from './tables.ts'

export type Format = 'json' | 'protobuf'

/** What the client asked for in `Accept`: the kind of answer, and in which format. */
export type Rendering = ({ as: 'object' } | { as: 'table'; includeObject: IncludeObject } | { as: 'partial' }) & {
  format: Format
  /** With protobuf first: whether a later clause takes JSON, for kinds without a protobuf form. */
  jsonFallback: boolean
}

/**
 * The first `Accept` clause weft can answer, in the order the client gave them. A Table has no
 * protobuf form, so a protobuf Table clause is passed over, as upstream passes it over.
 */
export function negotiate(req: IncomingMessage, query: URLSearchParams): Rendering {
  const clauses = String(req.headers.accept ?? '').split(',').map((part) => part.split(';').map((s) => s.trim()))
  for (let i = 0; i < clauses.length; i++) {
    const [type, ...params] = clauses[i]
    const json = type === 'application/json' || type === '*/*' || type === 'application/*'
    const protobuf = type === protobufMediaType
    if (!json && !protobuf) continue
    const param = (name: string) => params.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1)
    const as = param('as')
    const format: Format = protobuf ? 'protobuf' : 'json'
    const jsonFallback = protobuf && clauses.slice(i + 1).some(([t, ...p]) => (t === 'application/json' || t === '*/*' || t === 'application/*') && !p.some((x) => x.startsWith('as=')))
    const metaGroup = param('g') === 'meta.k8s.io'
    const v = param('v')
    if (as === 'Table' && json && metaGroup && (v === 'v1' || v === 'v1beta1')) {
      const include = query.get('includeObject') ?? 'Metadata'
      return { as: 'table', includeObject: (['None', 'Metadata', 'Object'].includes(include) ? include : 'Metadata') as IncludeObject, format, jsonFallback }
    }
    if ((as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') && (json || (metaGroup && v === 'v1'))) return { as: 'partial', format, jsonFallback }
    if (!as) return { as: 'object', format, jsonFallback }
  }
  return { as: 'object', format: 'json', jsonFallback: false }
}

/** For errors raised before a request was understood: protobuf when the client put it first. */
export function errorFormat(req: IncomingMessage): Format {
  const first = String(req.headers.accept ?? '').split(',')[0].split(';')[0].trim()
  return first === protobufMediaType ? 'protobuf' : 'json'
}

/** The format `body` goes out in: protobuf if asked and it has a protobuf form, else JSON if the client takes it, else 406. */
export function formatFor(rendering: Pick<Rendering, 'format' | 'jsonFallback'>, apiVersion: string, kind: string): Format {
  if (rendering.format === 'json') return 'json'
  if (canEncodeProtobuf(apiVersion, kind)) return 'protobuf'
  if (rendering.jsonFallback) return 'json'
  throw new ApiError(406, 'NotAcceptable', `${kind} (${apiVersion}) has no protobuf form: ask for application/json`)
}

export function sendObject(res: ServerResponse, code: number, body: Record<string, unknown>, rendering: Pick<Rendering, 'format' | 'jsonFallback'>): void {
  if (formatFor(rendering, String(body.apiVersion ?? ''), String(body.kind ?? '')) === 'json') return sendJson(res, code, body)
  const w = new ProtoWriter()
  writeProtobufObject(w, body)
  const bytes = w.view()
  res.writeHead(code, { 'content-type': protobufMediaType, 'content-length': bytes.length })
  res.end(bytes)
}

export function sendError(res: ServerResponse, err: unknown, format: Format = 'json'): void {
  const apiErr = toApiError(err)
  if (res.headersSent) {
    res.destroy()
    return
  }
  // As upstream: a 429 (and a 504 from a deadline) says when to come back.
  if (apiErr.details?.retryAfterSeconds) res.setHeader('retry-after', String(apiErr.details.retryAfterSeconds))
  sendObject(res, apiErr.code, apiErr.toStatus() as unknown as Record<string, unknown>, { format, jsonFallback: true })
}

/** A list from the stored texts: JSON in chunks without building one huge string, or one protobuf message. */
export async function sendList(res: ServerResponse, list: ObjectList, rendering: Rendering): Promise<void> {
  if (formatFor(rendering, list.apiVersion, list.kind) === 'protobuf') return sendProtobufList(res, list)
  res.writeHead(200, { 'content-type': 'application/json' })
  res.write(`{"kind":"${list.kind}","apiVersion":"${list.apiVersion}","metadata":${JSON.stringify(list.metadata)},"items":[`)
  const chunk = 256
  for (let i = 0; i < list.entries.length; i += chunk) {
    const part = list.entries.slice(i, i + chunk).map((e) => e.text).join(',')
    const ok = res.write(i === 0 ? part : ',' + part)
    if (!ok) {
      await drainedOrClosed(res)
      if (res.destroyed) return
    }
  }
  res.end(']}')
}

async function sendProtobufList(res: ServerResponse, list: ObjectList): Promise<void> {
  const listMessage = messageForKind(list.apiVersion, list.kind)!
  const itemMessage = (kubernetesSchema[listMessage].fields[2].type as { message: string }).message
  const w = new ProtoWriter(64 * 1024)
  const raw = beginEnvelope(w, list.apiVersion, list.kind)
  const meta = w.begin(1)
  writeMessage(w, kubernetesSchema, 'meta.v1.ListMeta', list.metadata)
  w.end(meta)
  const entries: ListEntry[] = list.entries
  for (let i = 0; i < entries.length; i++) {
    // A long list is encoded in pieces, with other requests served in between.
    if (i > 0 && i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve))
    const item = w.begin(2)
    writeMessage(w, kubernetesSchema, itemMessage, JSON.parse(entries[i].text))
    w.end(item)
  }
  endEnvelope(w, raw)
  if (res.destroyed) return
  const bytes = w.view()
  res.writeHead(200, { 'content-type': protobufMediaType, 'content-length': bytes.length })
  res.end(bytes)
}

/** How a watch writes its events: JSON lines, or length-prefixed protobuf WatchEvents. */
export interface WatchEncoding {
  format: Format
  contentType: string
  event(type: string, object: unknown): Buffer
}

export function watchEncoding(format: Format): WatchEncoding {
  if (format === 'json') return { format, contentType: 'application/json', event: (type, object) => Buffer.from(`${JSON.stringify({ type, object })}\n`) }
  return {
    format,
    contentType: `${protobufMediaType};stream=watch`,
    event: (type, object) => {
      // A 4-byte big-endian length, then metav1.WatchEvent (no envelope of its own) whose
      // object is a RawExtension holding the whole enveloped object.
      const w = new ProtoWriter(1024)
      w.raw(new Uint8Array(4))
      w.string(1, type)
      const extension = w.begin(2)
      const raw = w.begin(1)
      writeProtobufObject(w, object as Record<string, unknown>)
      w.end(raw)
      w.end(extension)
      const frame = w.finish()
      frame.writeUInt32BE(frame.length - 4, 0)
      return frame
    },
  }
}
