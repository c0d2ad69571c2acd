// Decodes protobuf bytes into the JSON form of the same object, driven by a schema table.
import { ProtoReader, ProtobufError, WireType } from './reader.ts'
import { formatGoDuration } from './duration.ts'
import type { FieldSpec, MessageSpec, Schema, SpecialForm, ValueType } from './types.ts'

/** Deeper nesting than any Kubernetes object has is refused (it can only come from a recursive schema). */
export const maxNestingDepth = 32

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Decodes one message of `schema` named `name` from `data`, which holds nothing else. */
export function decodeMessage(schema: Schema, name: string, data: Uint8Array): unknown {
  return readMessage(schema, name, new ProtoReader(data), 0, '')
}

/** `into`: a message field seen before, which a repeat merges into (as protobuf and Go do). */
function readMessage(schema: Schema, name: string, reader: ProtoReader, depth: number, path: string, into?: Record<string, unknown>): unknown {
  if (depth > maxNestingDepth) throw new ProtobufError(`messages nest deeper than ${maxNestingDepth} levels`).at(path)
  const spec = specOf(schema, name)
  const empty = reader.done
  const obj: Record<string, unknown> = spec.as || !into ? {} : into
  while (!reader.done) {
    const { field, wireType } = tagAt(reader, path)
    const f = Object.hasOwn(spec.fields, field) ? spec.fields[field] : undefined
    const at = f ? join(path, f.json) : path
    try {
      if (f) readField(schema, f, wireType, reader, obj, depth, at)
      else reader.skip(wireType)
    } catch (err) {
      throw err instanceof ProtobufError ? err.at(at) : err
    }
  }
  if (!spec.as) return obj
  try {
    return special(spec.as, obj, empty)
  } catch (err) {
    throw err instanceof ProtobufError ? err.at(path) : err
  }
}

function specOf(schema: Schema, name: string): MessageSpec {
  if (!Object.hasOwn(schema, name)) throw new ProtobufError(`weft's protobuf schema has no message ${name}`)
  return schema[name]
}

function tagAt(reader: ProtoReader, path: string) {
  try {
    return reader.tag()
  } catch (err) {
    throw err instanceof ProtobufError ? err.at(path) : err
  }
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`
}

function readField(schema: Schema, f: FieldSpec, wireType: number, reader: ProtoReader, obj: Record<string, unknown>, depth: number, path: string): void {
  if (f.map) {
    expectWire(f, wireType, WireType.bytes)
    const entries = (obj[f.json] ??= {}) as Record<string, unknown>
    const [key, value] = readMapEntry(schema, f.type, reader.message(), depth + 1, path)
    Object.defineProperty(entries, key, { value, enumerable: true, writable: true, configurable: true })
    return
  }
  if (f.repeated) {
    const list = (obj[f.json] ??= []) as unknown[]
    if (wireType === WireType.bytes && isVarintType(f.type)) {
      const packed = reader.message()
      while (!packed.done) list.push(fromVarint(f.type, packed.varint()))
    } else list.push(readValue(schema, f, f.type, wireType, reader, depth, path) ?? null)
    return
  }
  if (f.inline) {
    // An embedded struct's fields belong to this object's JSON.
    expectWire(f, wireType, WireType.bytes)
    readMessage(schema, (f.type as { message: string }).message, reader.message(), depth + 1, path, obj)
    return
  }
  const before = obj[f.json]
  const merge = typeof f.type === 'object' && typeof before === 'object' && before !== null && !Array.isArray(before)
  const value = merge ? readValue(schema, f, f.type, wireType, reader, depth, path, before as Record<string, unknown>) : readValue(schema, f, f.type, wireType, reader, depth, path)
  // Only a scalar field's zero is dropped: a message that reads as 0 (IntOrString) was sent.
  if (value === undefined || (typeof f.type !== 'object' && !f.keepZero && isZero(value))) delete obj[f.json]
  else obj[f.json] = value
}

function readMapEntry(schema: Schema, type: ValueType, entry: ProtoReader, depth: number, path: string): [string, unknown] {
  if (depth > maxNestingDepth) throw new ProtobufError(`messages nest deeper than ${maxNestingDepth} levels`)
  let key = ''
  let value: unknown
  const valueSpec: FieldSpec = { json: 'value', type }
  while (!entry.done) {
    const { field, wireType } = entry.tag()
    if (field === 1) {
      expectWire({ json: 'key', type: 'string' }, wireType, WireType.bytes)
      key = text(entry.bytes())
    } else if (field === 2) {
      value = readValue(schema, valueSpec, type, wireType, entry, depth, `${path}[${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}]`)
    } else entry.skip(wireType)
  }
  if (value === undefined) value = zeroOf(schema, type, depth, path)
  return [key, value ?? null]
}

function readValue(schema: Schema, f: FieldSpec, type: ValueType, wireType: number, reader: ProtoReader, depth: number, path: string, into?: Record<string, unknown>): unknown {
  if (typeof type === 'object') {
    expectWire(f, wireType, WireType.bytes)
    return readMessage(schema, type.message, reader.message(), depth + 1, path, into)
  }
  switch (type) {
    case 'string':
      expectWire(f, wireType, WireType.bytes)
      return text(reader.bytes())
    case 'bytes': {
      expectWire(f, wireType, WireType.bytes)
      const b = reader.bytes()
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
    }
    default:
      expectWire(f, wireType, WireType.varint)
      return fromVarint(type, reader.varint())
  }
}

function zeroOf(schema: Schema, type: ValueType, depth: number, path: string): unknown {
  if (typeof type === 'object') return readMessage(schema, type.message, new ProtoReader(new Uint8Array(0)), depth + 1, path)
  return type === 'bool' ? false : type === 'int32' || type === 'int64' ? 0 : ''
}

function isVarintType(type: ValueType): type is 'bool' | 'int32' | 'int64' {
  return type === 'bool' || type === 'int32' || type === 'int64'
}

function fromVarint(type: ValueType, raw: bigint): boolean | number {
  if (type === 'bool') return raw !== 0n
  const v = BigInt.asIntN(64, raw)
  if (type === 'int32') {
    if (v < -2147483648n || v > 2147483647n) throw new ProtobufError(`value ${v} is out of range for an int32`)
    return Number(v)
  }
  if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ProtobufError(`int64 value ${v} cannot be held exactly by a JSON number (beyond ±2^53)`)
  }
  return Number(v)
}

function expectWire(f: FieldSpec, got: number, want: number): void {
  if (got !== want) {
    const type = typeof f.type === 'object' ? `message ${f.type.message}` : f.type
    throw new ProtobufError(`field ${f.json} (${type}) has wire type ${got}, not ${want}`)
  }
}

function text(b: Uint8Array): string {
  try {
    return utf8.decode(b)
  } catch {
    throw new ProtobufError('a string is not valid UTF-8')
  }
}

function isZero(value: unknown): boolean {
  return value === '' || value === 0 || value === false
}

/** Go's JSON for metav1.Time and MicroTime allows years 0001 to 9999. */
const minSeconds = -62135596800
const maxSeconds = 253402300799

function special(form: SpecialForm, obj: Record<string, unknown>, empty: boolean): unknown {
  switch (form) {
    case 'time':
    case 'microTime': {
      if (empty) return undefined
      const seconds = (obj.seconds as number | undefined) ?? 0
      const nanos = (obj.nanos as number | undefined) ?? 0
      if (seconds < minSeconds || seconds > maxSeconds) throw new ProtobufError(`timestamp ${seconds}s is outside the years 0001 to 9999`)
      if (nanos < 0 || nanos > 999_999_999) throw new ProtobufError(`timestamp nanos ${nanos} is outside 0 to 999999999`)
      const whole = new Date(seconds * 1000).toISOString().slice(0, 19)
      if (form === 'time') return `${whole}Z`
      return `${whole}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`
    }
    case 'duration':
      return formatGoDuration((obj.duration as number | undefined) ?? 0)
    case 'quantity':
      return (obj.string as string | undefined) ?? '0'
    case 'fieldsV1':
    case 'rawExtension': {
      if (obj.raw === undefined) return undefined
      return rawJson(Buffer.from(obj.raw as string, 'base64'), form)
    }
    case 'stringList':
      return obj.items ?? []
    case 'intOrString': {
      const type = (obj.type as number | undefined) ?? 0
      if (type === 0) return (obj.intVal as number | undefined) ?? 0
      if (type === 1) return (obj.strVal as string | undefined) ?? ''
      throw new ProtobufError(`IntOrString type ${type} is neither 0 (int) nor 1 (string)`)
    }
  }
}

const maxJsonDepth = 100

/** FieldsV1's or RawExtension's raw bytes: JSON, nested no deeper than weft's own JSON handling copes with. */
function rawJson(raw: Buffer, form: 'fieldsV1' | 'rawExtension'): unknown {
  const source = text(raw)
  let depth = 0
  let inString = false
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxJsonDepth) throw new ProtobufError(`${form} nests deeper than ${maxJsonDepth} levels`)
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  let value: unknown
  try {
    value = JSON.parse(source)
  } catch (err) {
    throw new ProtobufError(`${form} is not JSON: ${(err as Error).message}`)
  }
  if (form === 'fieldsV1' && (typeof value !== 'object' || value === null || Array.isArray(value))) throw new ProtobufError('fieldsV1 is not a JSON object')
  return value
}
