// The shape of the protobuf schema table: message name → field number → how the field reads
// and what its JSON name is. Field numbers come from upstream's generated.proto files; the
// JSON names and pointer-ness from the Go types beside them.

export type ScalarType = 'string' | 'bool' | 'int32' | 'int64' | 'bytes'

/** A scalar, or a message by its table name (`meta.v1.ObjectMeta`). */
export type ValueType = ScalarType | { message: string }

export interface FieldSpec {
  json: string
  type: ValueType
  repeated?: boolean
  /** `map<string, type>`: the JSON is an object. */
  map?: boolean
  /**
   * A Go pointer field (`*int64`, `*bool`): a zero value on the wire is kept. Zero values of
   * other scalar fields are dropped, as Go cannot tell them from absent.
   */
  pointer?: boolean
}

/**
 * Messages whose JSON is not an object of their fields: metav1.Time and MicroTime (RFC 3339
 * strings), FieldsV1 (its raw bytes are JSON), ExtraValue-like wrappers (a string array) and
 * IntOrString (a number or a string).
 */
export type SpecialForm = 'time' | 'microTime' | 'fieldsV1' | 'stringList' | 'intOrString'

export interface MessageSpec {
  fields: Readonly<Record<number, FieldSpec>>
  as?: SpecialForm
}

export type Schema = Readonly<Record<string, MessageSpec>>

export const str = (json: string): FieldSpec => ({ json, type: 'string' })
export const strs = (json: string): FieldSpec => ({ json, type: 'string', repeated: true })
export const bool = (json: string): FieldSpec => ({ json, type: 'bool' })
export const int32 = (json: string): FieldSpec => ({ json, type: 'int32' })
export const int64 = (json: string): FieldSpec => ({ json, type: 'int64' })
export const bytes = (json: string): FieldSpec => ({ json, type: 'bytes' })
export const msg = (json: string, message: string): FieldSpec => ({ json, type: { message } })
export const msgs = (json: string, message: string): FieldSpec => ({ json, type: { message }, repeated: true })
export const map = (json: string, value: ScalarType | string): FieldSpec =>
  ({ json, type: isScalar(value) ? value : { message: value }, map: true })
export const pointer = (field: FieldSpec): FieldSpec => ({ ...field, pointer: true })

function isScalar(value: string): value is ScalarType {
  return value === 'string' || value === 'bool' || value === 'int32' || value === 'int64' || value === 'bytes'
}
