// Protobuf for tests: weft's encoder with Go's habit of writing zero values, raw wire
// writers for hand-made malformed inputs, and a sample object for any message with every
// field set.
import { writeMessage } from '../../src/api/protobuf/encode.ts'
import { encodeProtobufObject } from '../../src/api/protobuf/index.ts'
import { kubernetesSchema, messageForKind } from '../../src/api/protobuf/schema.ts'
import { resources } from '../../src/api/registry.ts'
import type { FieldSpec, Schema } from '../../src/api/protobuf/types.ts'
import { ProtoWriter } from '../../src/api/protobuf/writer.ts'

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
  /** Write absent scalars whose zero Go leaves out of JSON as zero values, as Go's marshaller writes every non-pointer scalar. */
  goZeros?: boolean
}

/** A message's bytes (no envelope), from weft's own encoder. */
export function encodeMessage(name: string, value: unknown, options: EncodeOptions = {}, schema: Schema = kubernetesSchema): Buffer {
  const w = new ProtoWriter()
  writeMessage(w, schema, name, options.goZeros ? withGoZeros(schema, name, value) : value)
  return w.finish()
}

/** The whole body kubectl would send: magic, then runtime.Unknown around the object. */
export function encodeObject(obj: Record<string, unknown>, options: EncodeOptions = {}): Buffer {
  if (!options.goZeros) return encodeProtobufObject(obj)
  const message = messageForKind(String(obj.apiVersion), String(obj.kind))!
  return encodeProtobufObject({ ...(withGoZeros(kubernetesSchema, message, obj) as object), apiVersion: obj.apiVersion, kind: obj.kind })
}

function withGoZeros(schema: Schema, name: string, value: unknown): unknown {
  const spec = schema[name]
  if (spec.as || typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  for (const f of Object.values(spec.fields)) {
    const type = f.type
    if (typeof type === 'object') {
      if (f.inline) Object.assign(out, withGoZeros(schema, type.message, out))
      else if (f.map) {
        const entries = out[f.json] as Record<string, unknown> | undefined
        if (entries) out[f.json] = Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, withGoZeros(schema, type.message, v)]))
      } else if (f.repeated) out[f.json] = (out[f.json] as unknown[] | undefined)?.map((v) => withGoZeros(schema, type.message, v))
      else if (out[f.json] !== undefined) out[f.json] = withGoZeros(schema, type.message, out[f.json])
    } else if (out[f.json] === undefined && !f.repeated && !f.map && !f.keepZero) out[f.json] = zero(type)
  }
  return out
}

function zero(type: string): unknown {
  return type === 'bool' ? false : type === 'int32' || type === 'int64' ? 0 : ''
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
    case 'duration':
      return '1h2m3.5s'
    case 'quantity':
      return '250m'
    case 'rawExtension':
      return { kind: 'Raw', list: [1, 'two', null], nested: { ok: true } }
  }
  const out: Record<string, unknown> = {}
  for (const f of Object.values(spec.fields)) {
    if (typeof f.type === 'object' && depth <= 0) continue
    if (f.inline) {
      Object.assign(out, sampleOf((f.type as { message: string }).message, depth - 1, schema))
      continue
    }
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

/** Every kind weft serves that has a protobuf form, and its list kind, with the message of each. */
export function protobufKinds(): { apiVersion: string; kind: string; message: string }[] {
  const out: { apiVersion: string; kind: string; message: string }[] = []
  for (const r of resources) {
    const apiVersion = r.group === '' ? r.version : `${r.group}/${r.version}`
    for (const kind of r.createOnly ? [r.kind] : [r.kind, r.listKind]) {
      const message = messageForKind(apiVersion, kind)
      if (message) out.push({ apiVersion, kind, message })
    }
  }
  return out
}
