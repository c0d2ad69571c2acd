// Decodes protobuf bytes into the JSON form of the same object, driven by a schema table.
import { ProtoReader, ProtobufError, WireType } from './reader.ts'
import { formatGoDuration } from '../../util/go-duration.ts'
import { lookupMessage, type FieldSpec, type MessageSpec, type Schema, type SpecialForm, type ValueType } from './types.ts'

/** Deeper nesting than any Kubernetes object has is refused (it can only come from a recursive schema). */
export const maxNestingDepth = 32

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Decodes one message of `schema` named `name` from `data`, which holds nothing else. */
export function decodeMessage(schema: Schema, name: string, data: Uint8Array): unknown {
  return readMessage(schema, name, new ProtoReader(data), 0)
}

const fieldTables = new WeakMap<MessageSpec, (FieldSpec | undefined)[]>()

/** A message's fields indexed by number, made once per message. */
function fieldTable(spec: MessageSpec): (FieldSpec | undefined)[] {
  let table = fieldTables.get(spec)
  if (!table) {
    table = []
    for (const [number, f] of Object.entries(spec.fields)) table[Number(number)] = f
    fieldTables.set(spec, table)
  }
  return table
}

/**
 * `into`: a message field seen before, which a repeat merges into (as protobuf and Go do),
 * or the parent object an inlined struct's fields belong to. Errors name the field they
 * happened in as they travel out (ProtobufError.within): no path is built otherwise.
 */
function readMessage(schema: Schema, name: string, reader: ProtoReader, depth: number, into?: Record<string, unknown>): unknown {
  if (depth > maxNestingDepth) throw new ProtobufError(`messages nest deeper than ${maxNestingDepth} levels`)
  const spec = specOf(schema, name)
  if (spec.as === 'fieldsV1' || spec.as === 'rawExtension') return readRawJson(reader, spec.as)
  const table = fieldTable(spec)
  const empty = reader.done
  const obj: Record<string, unknown> = spec.as || !into ? {} : into
  while (!reader.done) {
    const key = reader.key()
    const field = key >>> 3
    const f = field < table.length ? table[field] : undefined
    if (!f) {
      reader.skip(key & 7)
      continue
    }
    try {
      readField(schema, f, key & 7, reader, obj, depth)
    } catch (err) {
      throw err instanceof ProtobufError ? err.within(f.json) : err
    }
  }
  return spec.as ? special(spec.as, obj, empty) : obj
}

function specOf(schema: Schema, name: string): MessageSpec {
  const spec = lookupMessage(schema, name)
  if (!spec) throw new ProtobufError(`weft's protobuf schema has no message ${name}`)
  return spec
}

/** FieldsV1 and RawExtension: field 1's bytes are JSON, parsed straight from the input. */
function readRawJson(reader: ProtoReader, form: 'fieldsV1' | 'rawExtension'): unknown {
  let raw: Uint8Array | undefined
  while (!reader.done) {
    const key = reader.key()
    if (key >>> 3 === 1) {
      expectWire({ json: 'raw', type: 'bytes' }, key & 7, WireType.bytes)
      raw = reader.bytes()
    } else reader.skip(key & 7)
  }
  return raw === undefined || raw.length === 0 ? undefined : rawJson(raw, form)
}

function readField(schema: Schema, f: FieldSpec, wireType: number, reader: ProtoReader, obj: Record<string, unknown>, depth: number): void {
  if (f.map) {
    expectWire(f, wireType, WireType.bytes)
    const entries = (obj[f.json] ??= {}) as Record<string, unknown>
    const outer = reader.enter()
    const [key, value] = readMapEntry(schema, f.type, reader, depth + 1)
    reader.leave(outer)
    if (key === '__proto__') Object.defineProperty(entries, key, { value, enumerable: true, writable: true, configurable: true })
    else entries[key] = value
    return
  }
  if (f.repeated) {
    const list = (obj[f.json] ??= []) as unknown[]
    if (wireType === WireType.bytes && isVarintType(f.type)) {
      const packed = reader.message()
      while (!packed.done) list.push(fromVarint(f.type, packed.varintValue()))
    } else list.push(readValue(schema, f, f.type, wireType, reader, depth) ?? null)
    return
  }
  if (f.inline) {
    // An embedded struct's fields belong to this object's JSON.
    expectWire(f, wireType, WireType.bytes)
    const outer = reader.enter()
    readMessage(schema, (f.type as { message: string }).message, reader, depth + 1, obj)
    reader.leave(outer)
    return
  }
  const before = obj[f.json]
  const merge = typeof f.type === 'object' && typeof before === 'object' && before !== null && !Array.isArray(before)
  const value = merge ? readValue(schema, f, f.type, wireType, reader, depth, before as Record<string, unknown>) : readValue(schema, f, f.type, wireType, reader, depth)
  // Only a scalar field's zero is dropped: a message that reads as 0 (IntOrString) was sent.
  if (value === undefined || (typeof f.type !== 'object' && !f.keepZero && isZero(value))) delete obj[f.json]
  else obj[f.json] = value
}

function readMapEntry(schema: Schema, type: ValueType, entry: ProtoReader, depth: number): [string, unknown] {
  if (depth > maxNestingDepth) throw new ProtobufError(`messages nest deeper than ${maxNestingDepth} levels`)
  let key = ''
  let value: unknown
  const valueSpec: FieldSpec = { json: 'value', type }
  while (!entry.done) {
    const { field, wireType } = entry.tag()
    if (field === 1) {
      expectWire({ json: 'key', type: 'string' }, wireType, WireType.bytes)
      key = entry.string()
    } else if (field === 2) {
      try {
        value = readValue(schema, valueSpec, type, wireType, entry, depth)
      } catch (err) {
        throw err instanceof ProtobufError ? err.within(`[${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}]`) : err
      }
    } else entry.skip(wireType)
  }
  if (value === undefined) value = zeroOf(schema, type, depth)
  return [key, value ?? null]
}

function readValue(schema: Schema, f: FieldSpec, type: ValueType, wireType: number, reader: ProtoReader, depth: number, into?: Record<string, unknown>): unknown {
  if (typeof type === 'object') {
    expectWire(f, wireType, WireType.bytes)
    const outer = reader.enter()
    const value = readMessage(schema, type.message, reader, depth + 1, into)
    reader.leave(outer)
    return value
  }
  switch (type) {
    case 'string':
      expectWire(f, wireType, WireType.bytes)
      return reader.string()
    case 'bytes': {
      expectWire(f, wireType, WireType.bytes)
      const b = reader.bytes()
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
    }
    default:
      expectWire(f, wireType, WireType.varint)
      return fromVarint(type, reader.varintValue())
  }
}

function zeroOf(schema: Schema, type: ValueType, depth: number): unknown {
  if (typeof type === 'object') return readMessage(schema, type.message, new ProtoReader(new Uint8Array(0)), depth + 1)
  return type === 'bool' ? false : type === 'int32' || type === 'int64' ? 0 : ''
}

function isVarintType(type: ValueType): type is 'bool' | 'int32' | 'int64' {
  return type === 'bool' || type === 'int32' || type === 'int64'
}

function fromVarint(type: ValueType, raw: number | bigint): boolean | number {
  if (type === 'bool') return raw !== 0 && raw !== 0n
  // A number came back only below 2^49: no sign to restore.
  if (typeof raw === 'number') {
    if (type === 'int32' && raw > 2147483647) throw new ProtobufError(`value ${raw} is out of range for an int32`)
    return raw
  }
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
  // Short ASCII strings, almost all of an object's, without the decoder.
  if (b.length <= 64) {
    let ascii = true
    for (let i = 0; i < b.length; i++) {
      if (b[i] >= 0x80) {
        ascii = false
        break
      }
    }
    if (ascii) return String.fromCharCode.apply(null, b as unknown as number[])
  }
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

function special(form: Exclude<SpecialForm, 'fieldsV1' | 'rawExtension'>, obj: Record<string, unknown>, empty: boolean): unknown {
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
function rawJson(raw: Uint8Array, form: 'fieldsV1' | 'rawExtension'): unknown {
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
