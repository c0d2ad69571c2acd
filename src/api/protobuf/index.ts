// Kubernetes protobuf (`application/vnd.kubernetes.protobuf`): request bodies → the JSON
// object kube-apiserver would take for them, and JSON objects → the bytes it would send.
import { decodeMessage } from './decode.ts'
import { writeMessage } from './encode.ts'
import { beginEnvelope, endEnvelope, protobufMediaType, readEnvelope } from './envelope.ts'
import { ProtobufError } from './reader.ts'
import { kubernetesSchema, messageForKind } from './schema.ts'
import { ProtoWriter } from './writer.ts'

export { ProtobufError } from './reader.ts'
export { protobufMediaType } from './envelope.ts'
export { messageForKind } from './schema.ts'

export interface ExpectedKind {
  apiVersion: string
  kind: string
}

/** Whether weft's schema table covers one of these kinds. */
export function canDecodeProtobuf(expected: ExpectedKind | readonly ExpectedKind[]): boolean {
  return kinds(expected).some((k) => messageForKind(k.apiVersion, k.kind) !== undefined)
}

function kinds(expected: ExpectedKind | readonly ExpectedKind[]): readonly ExpectedKind[] {
  return Array.isArray(expected) ? expected : [expected as ExpectedKind]
}

/**
 * Decodes a whole `application/vnd.kubernetes.protobuf` body. Throws a ProtobufError when
 * the bytes are malformed, name another kind than `expected` (or than all of them), or
 * name a kind weft has no schema for.
 */
export function decodeProtobufObject(raw: Buffer, expected?: ExpectedKind | readonly ExpectedKind[]): Record<string, unknown> {
  const envelope = readEnvelope(raw)
  const { apiVersion, kind } = envelope
  if (kind === '' || apiVersion === '') throw new ProtobufError('the protobuf envelope does not name the object\'s apiVersion and kind')
  const allowed = expected === undefined ? [] : kinds(expected)
  if (allowed.length > 0 && !allowed.some((k) => k.apiVersion === apiVersion && k.kind === kind)) {
    throw new ProtobufError(`the body is a ${short(kind)} (${short(apiVersion)}), but this request takes a ${allowed[0].kind} (${allowed.map((k) => k.apiVersion).join(' or ')})`)
  }
  if (envelope.contentEncoding !== '') throw new ProtobufError(`weft does not decode protobuf with content encoding ${JSON.stringify(short(envelope.contentEncoding))}`)
  if (envelope.contentType !== '' && envelope.contentType !== protobufMediaType) {
    throw new ProtobufError(`the envelope's content type ${JSON.stringify(short(envelope.contentType))} is not ${protobufMediaType}`)
  }
  const message = messageForKind(apiVersion, kind)
  if (!message) throw new ProtobufError(`weft cannot decode ${short(kind)} (${short(apiVersion)}) as protobuf: send it as JSON (application/json)`)
  const obj = decodeMessage(kubernetesSchema, message, envelope.raw) as Record<string, unknown>
  return { kind, apiVersion, ...obj }
}

/** Whether an object of this kind can be sent as protobuf (custom resources and Tables cannot). */
export function canEncodeProtobuf(apiVersion: string, kind: string): boolean {
  return messageForKind(apiVersion, kind) !== undefined
}

/** Writes `obj` (with its apiVersion and kind) as a whole protobuf body: magic, envelope, message. */
export function writeProtobufObject(w: ProtoWriter, obj: Record<string, unknown>): void {
  const apiVersion = String(obj.apiVersion ?? '')
  const kind = String(obj.kind ?? '')
  const message = messageForKind(apiVersion, kind)
  if (!message) throw new ProtobufError(`${kind} (${apiVersion}) has no protobuf form`)
  const raw = beginEnvelope(w, apiVersion, kind)
  writeMessage(w, kubernetesSchema, message, obj)
  endEnvelope(w, raw)
}

/** `obj` as a whole protobuf body. */
export function encodeProtobufObject(obj: Record<string, unknown>): Buffer {
  const w = new ProtoWriter()
  writeProtobufObject(w, obj)
  return w.finish()
}

/** Names from the body go into errors cut short: the body may hold megabytes of them. */
function short(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text
}
