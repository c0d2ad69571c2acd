// A Swagger 2.0 document (JSON) as gnostic's OpenAPIv2 protobuf (github.com/google/
// gnostic-models openapiv2/OpenAPIv2.proto, proto3), which kubectl fetches for
// `/openapi/v2`. Only what weft's document holds is written: paths with their operations,
// parameters and responses, definitions, and vendor extensions (YAML text, as gnostic keeps them).
import { stringify as toYaml } from 'yaml'
import { ProtoWriter } from '../api/protobuf/writer.ts'
import { WireType } from '../api/protobuf/reader.ts'

type Json = Record<string, unknown>

export function encodeSwaggerProtobuf(doc: Json): Buffer {
  const w = new ProtoWriter(1 << 20)
  str(w, 1, doc.swagger)
  const info = doc.info as Json | undefined
  if (info) message(w, 2, () => {
    str(w, 1, info.title)
    str(w, 2, info.version)
  })
  const paths = doc.paths as Record<string, Json> | undefined
  if (paths) message(w, 8, () => {
    for (const [name, item] of Object.entries(paths)) message(w, 2, () => {
      w.string(1, name)
      message(w, 2, () => pathItem(w, item))
    })
  })
  const definitions = doc.definitions as Record<string, unknown> | undefined
  if (definitions) message(w, 9, () => namedSchemas(w, 1, definitions))
  return w.finish()
}

function message(w: ProtoWriter, field: number, body: () => void): void {
  const start = w.begin(field)
  body()
  w.end(start)
}

function str(w: ProtoWriter, field: number, value: unknown): void {
  if (typeof value === 'string' && value !== '') w.string(field, value)
}

function strs(w: ProtoWriter, field: number, value: unknown): void {
  if (Array.isArray(value)) for (const v of value) if (typeof v === 'string') w.string(field, v)
}

function bool(w: ProtoWriter, field: number, value: unknown): void {
  if (value === true) {
    w.tag(field, WireType.varint)
    w.varint(1)
  }
}

function int(w: ProtoWriter, field: number, value: unknown): void {
  if (typeof value === 'number' && Number.isInteger(value) && value !== 0) {
    w.tag(field, WireType.varint)
    w.signedVarint(value)
  }
}

function double(w: ProtoWriter, field: number, value: unknown): void {
  if (typeof value === 'number' && value !== 0) w.double(field, value)
}

/** gnostic's Any: the value as YAML text. */
function any(w: ProtoWriter, field: number, value: unknown): void {
  message(w, field, () => w.string(2, toYaml(value).trimEnd()))
}

function vendorExtensions(w: ProtoWriter, field: number, obj: Json): void {
  for (const [name, value] of Object.entries(obj)) {
    if (!name.startsWith('x-')) continue
    message(w, field, () => {
      w.string(1, name)
      any(w, 2, value)
    })
  }
}

const methodFields: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, options: 6, head: 7, patch: 8 }

function pathItem(w: ProtoWriter, item: Json): void {
  str(w, 1, item.$ref)
  for (const [method, field] of Object.entries(methodFields)) {
    const op = item[method] as Json | undefined
    if (op) message(w, field, () => operation(w, op))
  }
  for (const p of (item.parameters as Json[] | undefined) ?? []) message(w, 9, () => parametersItem(w, p))
  vendorExtensions(w, 10, item)
}

function operation(w: ProtoWriter, op: Json): void {
  strs(w, 1, op.tags)
  str(w, 2, op.summary)
  str(w, 3, op.description)
  str(w, 5, op.operationId)
  strs(w, 6, op.produces)
  strs(w, 7, op.consumes)
  for (const p of (op.parameters as Json[] | undefined) ?? []) message(w, 8, () => parametersItem(w, p))
  const responses = op.responses as Record<string, Json> | undefined
  if (responses) message(w, 9, () => {
    for (const [code, r] of Object.entries(responses)) message(w, 1, () => {
      w.string(1, code)
      // ResponseValue.response → Response { description, schema: SchemaItem.schema }
      message(w, 2, () => message(w, 1, () => {
        str(w, 1, r.description)
        if (r.schema !== undefined) message(w, 2, () => message(w, 1, () => schema(w, r.schema as Json)))
        vendorExtensions(w, 5, r)
      }))
    })
  })
  strs(w, 10, op.schemes)
  bool(w, 11, op.deprecated)
  vendorExtensions(w, 13, op)
}

/** ParametersItem.parameter → Parameter: a body parameter, or a query/path/header one. */
function parametersItem(w: ProtoWriter, p: Json): void {
  if (typeof p.$ref === 'string') {
    message(w, 2, () => str(w, 1, p.$ref))
    return
  }
  message(w, 1, () => {
    if (p.in === 'body') {
      message(w, 1, () => {
        str(w, 1, p.description)
        str(w, 2, p.name)
        str(w, 3, p.in)
        bool(w, 4, p.required)
        if (p.schema !== undefined) message(w, 5, () => schema(w, p.schema as Json))
        vendorExtensions(w, 6, p)
      })
      return
    }
    // NonBodyParameter: header 1, formData 2, query 3, path 4. The query and formData
    // sub-schemas have allow_empty_value as field 5, so their later fields sit one higher.
    const subSchema = p.in === 'header' ? 1 : p.in === 'formData' ? 2 : p.in === 'query' ? 3 : 4
    const shift = subSchema === 2 || subSchema === 3 ? 1 : 0
    message(w, 2, () => message(w, subSchema, () => {
      bool(w, 1, p.required)
      str(w, 2, p.in)
      str(w, 3, p.description)
      str(w, 4, p.name)
      if (shift) bool(w, 5, p.allowEmptyValue)
      str(w, 5 + shift, p.type)
      str(w, 6 + shift, p.format)
      bool(w, 19 + shift, p.uniqueItems)
      vendorExtensions(w, 22 + shift, p)
    }))
  })
}

function namedSchemas(w: ProtoWriter, field: number, schemas: Record<string, unknown>): void {
  for (const [name, s] of Object.entries(schemas)) message(w, field, () => {
    w.string(1, name)
    message(w, 2, () => schema(w, s as Json))
  })
}

function schema(w: ProtoWriter, s: Json): void {
  str(w, 1, s.$ref)
  str(w, 2, s.format)
  str(w, 3, s.title)
  str(w, 4, s.description)
  if (s.default !== undefined) any(w, 5, s.default)
  double(w, 6, s.multipleOf)
  double(w, 7, s.maximum)
  bool(w, 8, s.exclusiveMaximum)
  double(w, 9, s.minimum)
  bool(w, 10, s.exclusiveMinimum)
  int(w, 11, s.maxLength)
  int(w, 12, s.minLength)
  str(w, 13, s.pattern)
  int(w, 14, s.maxItems)
  int(w, 15, s.minItems)
  bool(w, 16, s.uniqueItems)
  int(w, 17, s.maxProperties)
  int(w, 18, s.minProperties)
  strs(w, 19, s.required)
  for (const value of (s.enum as unknown[] | undefined) ?? []) any(w, 20, value)
  const additional = s.additionalProperties
  if (typeof additional === 'boolean') message(w, 21, () => bool(w, 2, additional))
  else if (typeof additional === 'object' && additional !== null) message(w, 21, () => message(w, 1, () => schema(w, additional as Json)))
  if (s.type !== undefined) message(w, 22, () => strs(w, 1, Array.isArray(s.type) ? s.type : [s.type]))
  if (s.items !== undefined) message(w, 23, () => {
    for (const item of Array.isArray(s.items) ? s.items : [s.items]) message(w, 1, () => schema(w, item as Json))
  })
  for (const part of (s.allOf as Json[] | undefined) ?? []) message(w, 24, () => schema(w, part))
  const properties = s.properties as Record<string, unknown> | undefined
  if (properties) message(w, 25, () => namedSchemas(w, 1, properties))
  str(w, 26, s.discriminator)
  bool(w, 27, s.readOnly)
  if (s.example !== undefined) any(w, 30, s.example)
  vendorExtensions(w, 31, s)
}
