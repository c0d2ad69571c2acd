// Kubernetes protobuf request bodies → the JSON object kube-apiserver would take for them.
import { decodeMessage } from './decode.ts'
import { protobufMediaType, readEnvelope } from './envelope.ts'
import { ProtobufError } from './reader.ts'
import { kubernetesSchema, messageForKind } from './schema.ts'

export { ProtobufError } from './reader.ts'
export { protobufMediaType } from './envelope.ts'
export { messageForKind, protobufKinds } from './schema.ts'

export interface ExpectedKind {
  apiVersion: string
  kind: string
}

/** Whether weft's schema table covers this kind. */
export function canDecodeProtobuf(expected: ExpectedKind): boolean {
  return messageForKind(expected.apiVersion, expected.kind) !== undefined
}

/**
 * Decodes a whole `application/vnd.kubernetes.protobuf` body. Throws a ProtobufError when
 * the bytes are malformed, name another kind than `expected`, or name a kind weft has no
 * schema for.
 */
export function decodeProtobufObject(raw: Buffer, expected?: ExpectedKind): Record<string, unknown> {
  const envelope = readEnvelope(raw)
  const { apiVersion, kind } = envelope
  if (kind === '' || apiVersion === '') throw new ProtobufError('the protobuf envelope does not name the object\'s apiVersion and kind')
  if (expected && (expected.apiVersion !== apiVersion || expected.kind !== kind)) {
    throw new ProtobufError(`the body is a ${short(kind)} (${short(apiVersion)}), but this request takes a ${expected.kind} (${expected.apiVersion})`)
  }
  if (envelope.contentEncoding !== '') throw new ProtobufError(`weft does not decode protobuf with content encoding ${JSON.stringify(short(envelope.contentEncoding))}`)
  if (envelope.contentType !== '' && envelope.contentType !== protobufMediaType) {
    throw new ProtobufError(`the envelope's content type ${JSON.stringify(short(envelope.contentType))} is not ${protobufMediaType}`)
  }
  const message = messageForKind(apiVersion, kind)
  if (!message) throw new ProtobufError(`weft cannot decode ${short(kind)} (${short(apiVersion)}) as protobuf yet: send it as JSON (application/json)`)
  const obj = decodeMessage(kubernetesSchema, message, envelope.raw) as Record<string, unknown>
  return { kind, apiVersion, ...obj }
}

/** Names from the body go into errors cut short: the body may hold megabytes of them. */
function short(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text
}
