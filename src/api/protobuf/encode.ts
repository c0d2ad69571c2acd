// Encodes the JSON form of an object as protobuf, driven by the same schema table the
// decoder reads. Fields the table does not know are left out, as Go's JSON decoding into
// the typed struct would drop them; only fields present in the JSON are written (for a Go
// reader an absent non-pointer field is its zero value, so nothing is lost).
import { ProtobufError, WireType } from './reader.ts'
import { lookupMessage, type FieldSpec, type MessageSpec, type Schema, type ScalarType, type ValueType } from './types.ts'
import { parseGoDurationNs } from '../../util/go-duration.ts'
import { ProtoWriter } from './writer.ts'

/** Writes `value` (JSON) as message `name` into `w`, without a tag: the caller frames it. */
export function writeMessage(w: ProtoWriter, schema: Schema, name: string, value: unknown): void {
  const spec = specOf(schema, name)
  if (spec.as) return writeSpecial(w, spec.as, value)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtobufError(`a ${name} must be a JSON object`)
  writeFields(w, schema, spec, value as Record<string, unknown>)
}

const orderedFields = new WeakMap<MessageSpec, [number, FieldSpec][]>()

/** A message's fields in field-number order (Go writes them so), made once per message. */
function ordered(spec: MessageSpec): [number, FieldSpec][] {
  let list = orderedFields.get(spec)
  if (!list) {
    list = Object.entries(spec.fields).map(([n, f]) => [Number(n), f] as [number, FieldSpec]).sort((a, b) => a[0] - b[0])
    orderedFields.set(spec, list)
  }
  return list
}

/** Errors name the field they happened in as they travel out (ProtobufError.within): no path is built otherwise. */
function writeFields(w: ProtoWriter, schema: Schema, spec: MessageSpec, obj: Record<string, unknown>): void {
  for (const [field, f] of ordered(spec)) {
    if (f.inline) {
      const start = w.begin(field)
      writeFields(w, schema, specOf(schema, (f.type as { message: string }).message), obj)
      w.end(start)
      continue
    }
    const v = obj[f.json]
    if (v === undefined || v === null) continue
    try {
      writeField(w, schema, field, f, v)
    } catch (err) {
      throw err instanceof ProtobufError ? err.within(f.json) : err
    }
  }
}

function writeField(w: ProtoWriter, schema: Schema, field: number, f: FieldSpec, v: unknown): void {
  if (f.map) {
    if (typeof v !== 'object' || Array.isArray(v)) throw new ProtobufError('a map must be a JSON object')
    const entries = v as Record<string, unknown>
    for (const k of Object.keys(entries).sort()) {
      const start = w.begin(field)
      w.string(1, k)
      try {
        if (entries[k] !== null) writeValue(w, schema, 2, f.type, entries[k])
      } catch (err) {
        throw err instanceof ProtobufError ? err.within(`[${JSON.stringify(k.length > 64 ? `${k.slice(0, 64)}…` : k)}]`) : err
      }
      w.end(start)
    }
  } else if (f.repeated) {
    if (!Array.isArray(v)) throw new ProtobufError('a list must be a JSON array')
    for (const item of v) writeValue(w, schema, field, f.type, item ?? zeroOf(f))
  } else writeValue(w, schema, field, f.type, v)
}

function writeValue(w: ProtoWriter, schema: Schema, field: number, type: ValueType, v: unknown): void {
  if (typeof type === 'object') {
    const start = w.begin(field)
    writeMessage(w, schema, type.message, v)
    w.end(start)
    return
  }
  writeScalar(w, field, type, v)
}

function writeScalar(w: ProtoWriter, field: number, type: ScalarType, v: unknown): void {
  switch (type) {
    case 'string':
      if (typeof v !== 'string') throw new ProtobufError(`expected a string, not ${describe(v)}`)
      return w.string(field, v)
    case 'bytes':
      if (typeof v !== 'string') throw new ProtobufError(`expected base64 bytes, not ${describe(v)}`)
      return w.bytes(field, Buffer.from(v, 'base64'))
    case 'bool':
      if (typeof v !== 'boolean') throw new ProtobufError(`expected a boolean, not ${describe(v)}`)
      w.tag(field, WireType.varint)
      return w.varint(v ? 1 : 0)
    case 'int32':
    case 'int64': {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new ProtobufError(`expected an integer, not ${describe(v)}`)
      if (type === 'int32' && (v < -2147483648 || v > 2147483647)) throw new ProtobufError(`${v} is out of range for an int32`)
      w.tag(field, WireType.varint)
      return w.signedVarint(v)
    }
  }
}

function zeroOf(f: FieldSpec): unknown {
  if (typeof f.type === 'object') return {}
  return f.type === 'bool' ? false : f.type === 'int32' || f.type === 'int64' ? 0 : ''
}

function writeSpecial(w: ProtoWriter, form: NonNullable<MessageSpec['as']>, v: unknown): void {
  switch (form) {
    case 'time':
    case 'microTime': {
      if (typeof v !== 'string') throw new ProtobufError(`expected an RFC 3339 time, not ${describe(v)}`)
      const { seconds, nanos } = parseTime(v)
      w.tag(1, WireType.varint)
      w.signedVarint(seconds)
      w.tag(2, WireType.varint)
      // metav1.Time's JSON has whole seconds only; MicroTime keeps microseconds.
      return w.varint(form === 'time' ? 0 : nanos)
    }
    case 'duration': {
      if (typeof v !== 'string') throw new ProtobufError(`expected a duration such as "1m30s", not ${describe(v)}`)
      const ns = parseGoDurationNs(v)
      if (ns === undefined) throw new ProtobufError(`"${v.slice(0, 40)}" is not a duration such as "1m30s"`)
      w.tag(1, WireType.varint)
      return w.signedVarint(ns)
    }
    case 'quantity':
      if (typeof v !== 'string' && typeof v !== 'number') throw new ProtobufError(`expected a quantity, not ${describe(v)}`)
      return w.string(1, String(v))
    case 'intOrString':
      w.tag(1, WireType.varint)
      if (typeof v === 'number') {
        if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw new ProtobufError(`${v} is not an int32`)
        w.varint(0)
        w.tag(2, WireType.varint)
        return w.signedVarint(v)
      }
      if (typeof v !== 'string') throw new ProtobufError(`expected a number or a string, not ${describe(v)}`)
      w.varint(1)
      return w.string(3, v)
    case 'fieldsV1':
    case 'rawExtension':
      return w.bytes(1, Buffer.from(JSON.stringify(v), 'utf8'))
    case 'stringList':
      if (!Array.isArray(v)) throw new ProtobufError(`expected a list of strings, not ${describe(v)}`)
      for (const item of v) {
        if (typeof item !== 'string') throw new ProtobufError(`expected a string, not ${describe(item)}`)
        w.string(1, item)
      }
  }
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/

function parseTime(text: string): { seconds: number; nanos: number } {
  const m = rfc3339.exec(text)
  const ms = m ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[8].toUpperCase()}`) : NaN
  if (!m || Number.isNaN(ms)) throw new ProtobufError(`"${text.slice(0, 40)}" is not an RFC 3339 time`)
  return { seconds: Math.floor(ms / 1000), nanos: Number((m[7] ?? '').padEnd(9, '0')) }
}

function specOf(schema: Schema, name: string): MessageSpec {
  const spec = lookupMessage(schema, name)
  if (!spec) throw new ProtobufError(`weft's protobuf schema has no message ${name}`)
  return spec
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v).slice(0, 40)}`
}
