// A test-only protobuf encoder built from the same schema table the decoder reads: JSON →
// Kubernetes protobuf, so tests can make fixtures and round-trip them. Also raw wire writers
// for hand-made malformed inputs, and a sample object for any message with every field set.
import { protobufMagic } from '../../src/api/protobuf/envelope.ts'
import { kubernetesSchema } from '../../src/api/protobuf/schema.ts'
import type { FieldSpec, MessageSpec, Schema, ValueType } from '../../src/api/protobuf/types.ts'

export function varint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value))
  const out: number[] = []
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  out.push(Number(v))
  return Buffer.from(out)
}

export function tag(field: number, wireType: number): Buffer {
  return varint(field * 8 + wireType)
}

export function lengthDelimited(field: number, data: Uint8Array | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)
  return Buffer.concat([tag(field, 2), varint(b.length), b])
}

export function varintField(field: number, value: number | bigint): Buffer {
  return Buffer.concat([tag(field, 0), varint(value)])
}

export interface EncodeOptions {
  /** Write absent non-pointer scalars as zero values, as Go's gogo-protobuf marshaller does. */
  goZeros?: boolean
}

export function encodeMessage(name: string, value: unknown, options: EncodeOptions = {}, schema: Schema = kubernetesSchema): Buffer {
  const spec = schema[name]
  if (!spec) throw new Error(`no message ${name}`)
  const obj = fromSpecial(spec, value)
  const parts: Buffer[] = []
  for (const [number, f] of Object.entries(spec.fields)) {
    const field = Number(number)
    const v = obj[f.json]
    if (v === undefined) {
      if (options.goZeros && !f.repeated && !f.map && !f.pointer && typeof f.type === 'string') parts.push(encodeValue(field, f.type, zero(f.type), options, schema))
      continue
    }
    if (f.map) {
      for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
        parts.push(lengthDelimited(field, Buffer.concat([lengthDelimited(1, key), encodeValue(2, f.type, item, options, schema)])))
      }
    } else if (f.repeated) {
      for (const item of v as unknown[]) parts.push(encodeValue(field, f.type, item, options, schema))
    } else parts.push(encodeValue(field, f.type, v, options, schema))
  }
  return Buffer.concat(parts)
}

/** The whole body kubectl would send: magic, then runtime.Unknown around the object. */
export function encodeObject(obj: Record<string, unknown>, message: string, options: EncodeOptions = {}): Buffer {
  const { apiVersion, kind, ...rest } = obj
  const typeMeta = Buffer.concat([lengthDelimited(1, String(apiVersion)), lengthDelimited(2, String(kind))])
  const unknown = Buffer.concat([
    lengthDelimited(1, typeMeta),
    lengthDelimited(2, encodeMessage(message, rest, options)),
    lengthDelimited(3, ''),
    lengthDelimited(4, ''),
  ])
  return Buffer.concat([protobufMagic, unknown])
}

function zero(type: string): unknown {
  return type === 'bool' ? false : type === 'int32' || type === 'int64' ? 0 : ''
}

function encodeValue(field: number, type: ValueType, value: unknown, options: EncodeOptions, schema: Schema): Buffer {
  if (typeof type === 'object') return lengthDelimited(field, encodeMessage(type.message, value, options, schema))
  switch (type) {
    case 'string':
      return lengthDelimited(field, String(value))
    case 'bytes':
      return lengthDelimited(field, Buffer.from(String(value), 'base64'))
    case 'bool':
      return varintField(field, value ? 1 : 0)
    default:
      return varintField(field, BigInt(value as number))
  }
}

/** The fields object a special form's JSON value stands for. */
function fromSpecial(spec: MessageSpec, value: unknown): Record<string, unknown> {
  switch (spec.as) {
    case undefined:
      return value as Record<string, unknown>
    case 'time':
    case 'microTime': {
      const text = String(value)
      const ms = Date.parse(text)
      const fraction = /\.(\d+)Z$/.exec(text)?.[1] ?? ''
      return { seconds: Math.floor(ms / 1000), nanos: fraction ? Number(fraction.padEnd(9, '0')) : undefined }
    }
    case 'fieldsV1':
      return { raw: Buffer.from(JSON.stringify(value)).toString('base64') }
    case 'stringList':
      return { items: value }
    case 'intOrString':
      return typeof value === 'number' ? { type: 0, intVal: value } : { type: 1, strVal: value }
  }
}

/**
 * A JSON value for message `name` with every field set (nested messages down to `depth`):
 * negative and large numbers, bytes, maps with awkward keys, both IntOrString forms.
 */
export function sampleOf(name: string, depth = 6, schema: Schema = kubernetesSchema): unknown {
  const spec = schema[name]
  switch (spec.as) {
    case 'time':
      return '2024-05-06T07:08:09Z'
    case 'microTime':
      return '2024-05-06T07:08:09.123456Z'
    case 'fieldsV1':
      return { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } }
    case 'stringList':
      return ['one', '', 'three']
    case 'intOrString':
      return depth % 2 ? 8080 : 'http'
  }
  const out: Record<string, unknown> = {}
  for (const f of Object.values(spec.fields)) {
    if (typeof f.type === 'object' && depth <= 0) continue
    const one = (i: number) => sampleValue(f, i, depth, schema)
    if (f.map) out[f.json] = { 'app.kubernetes.io/name': one(0), __proto__x: one(1), 'é ü': one(2) }
    else if (f.repeated) out[f.json] = [one(0), one(1)]
    else out[f.json] = one(0)
  }
  return out
}

function sampleValue(f: FieldSpec, i: number, depth: number, schema: Schema): unknown {
  const type = f.type
  if (typeof type === 'object') return sampleOf(type.message, depth - 1, schema)
  switch (type) {
    case 'string':
      return `${f.json}-${i} ✓`
    case 'bytes':
      return Buffer.from([0, 255, i, 0x2b]).toString('base64')
    case 'bool':
      return i % 2 === 0
    case 'int32':
      return i % 2 ? 2147483647 : -600
    case 'int64':
      return i % 2 ? Number.MIN_SAFE_INTEGER : 2 ** 40 + 3
  }
}
