// The Kubernetes protobuf envelope: the magic `k8s\0`, then a runtime.Unknown (apimachinery
// pkg/runtime generated.proto) whose typeMeta names the object and whose raw holds it.
import { ProtoReader, ProtobufError, WireType } from './reader.ts'
import type { ProtoWriter } from './writer.ts'

export const protobufMagic: Readonly<Uint8Array> = Uint8Array.of(0x6b, 0x38, 0x73, 0x00)

export const protobufMediaType = 'application/vnd.kubernetes.protobuf'

export interface Envelope {
  apiVersion: string
  kind: string
  raw: Uint8Array
  contentEncoding: string
  contentType: string
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function readEnvelope(data: Uint8Array): Envelope {
  if (data.length < protobufMagic.length || protobufMagic.some((b, i) => data[i] !== b)) {
    throw new ProtobufError('the body does not start with the Kubernetes protobuf magic "k8s\\0"')
  }
  const reader = new ProtoReader(data, protobufMagic.length)
  const out: Envelope = { apiVersion: '', kind: '', raw: new Uint8Array(0), contentEncoding: '', contentType: '' }
  while (!reader.done) {
    const { field, wireType } = reader.tag()
    if (field < 1 || field > 4) {
      reader.skip(wireType)
      continue
    }
    if (wireType !== WireType.bytes) throw new ProtobufError(`runtime.Unknown field ${field} has wire type ${wireType}, not 2`)
    if (field === 1) readTypeMeta(reader.message(), out)
    else if (field === 2) out.raw = reader.bytes()
    else if (field === 3) out.contentEncoding = text(reader.bytes(), 'contentEncoding')
    else out.contentType = text(reader.bytes(), 'contentType')
  }
  return out
}

function readTypeMeta(reader: ProtoReader, out: Envelope): void {
  while (!reader.done) {
    const { field, wireType } = reader.tag()
    if (field !== 1 && field !== 2) {
      reader.skip(wireType)
      continue
    }
    if (wireType !== WireType.bytes) throw new ProtobufError(`runtime.TypeMeta field ${field} has wire type ${wireType}, not 2`)
    if (field === 1) out.apiVersion = text(reader.bytes(), 'typeMeta.apiVersion')
    else out.kind = text(reader.bytes(), 'typeMeta.kind')
  }
}

function text(b: Uint8Array, field: string): string {
  try {
    return utf8.decode(b)
  } catch {
    throw new ProtobufError(`the envelope's ${field} is not valid UTF-8`)
  }
}

/**
 * Opens the envelope of a message that the caller then writes into the same writer: magic,
 * then runtime.Unknown's type and the start of its raw message. `endEnvelope` closes it.
 */
export function beginEnvelope(w: ProtoWriter, apiVersion: string, kind: string): number {
  w.raw(protobufMagic)
  const typeMeta = w.begin(1)
  w.string(1, apiVersion)
  w.string(2, kind)
  w.end(typeMeta)
  return w.begin(2)
}

/** Closes the raw message and writes the empty content encoding and type, as Go writes them. */
export function endEnvelope(w: ProtoWriter, raw: number): void {
  w.end(raw)
  w.string(3, '')
  w.string(4, '')
}
