// The Kubernetes object models published in @kubernetes/client-node, read as data:
// every field of every kind with its JSON name and type. Validation, OpenAPI and
// strategic merge all walk the same tree.
import * as generated from '@kubernetes/client-node/dist/gen/models/all.js'

export interface ModelField {
  /** JSON field name. */
  name: string
  type: TypeRef
  /** The generator's raw type string, e.g. `Array<V1Container>`. */
  raw: string
  format: string
}

export type TypeRef =
  | { kind: 'string'; format: string }
  | { kind: 'number'; format: string }
  | { kind: 'boolean' }
  | { kind: 'date'; format: string }
  | { kind: 'intOrString' }
  | { kind: 'any' }
  | { kind: 'model'; name: string }
  | { kind: 'array'; items: TypeRef }
  | { kind: 'map'; values: TypeRef }

interface AttributeType {
  name: string
  baseName: string
  type: string
  format: string
}

interface ModelClass {
  getAttributeTypeMap(): AttributeType[]
}

function isModelClass(value: unknown): value is ModelClass {
  return typeof value === 'function' && typeof (value as Partial<ModelClass>).getAttributeTypeMap === 'function'
}

const cache = new Map<string, ModelField[] | undefined>()

/** The fields of a model (`V1PodSpec`), or undefined when there is no such model. */
export function modelFields(name: string): ModelField[] | undefined {
  if (cache.has(name)) return cache.get(name)
  const cls = (generated as Record<string, unknown>)[name]
  const fields = isModelClass(cls)
    ? cls.getAttributeTypeMap().map((a) => ({ name: a.baseName, type: parseType(a.type, a.format), raw: a.type, format: a.format }))
    : undefined
  cache.set(name, fields)
  return fields
}

const indexes = new Map<string, Map<string, ModelField>>()

export function modelField(model: string, field: string): ModelField | undefined {
  let index = indexes.get(model)
  if (!index) {
    index = new Map((modelFields(model) ?? []).map((f) => [f.name, f]))
    indexes.set(model, index)
  }
  return index.get(field)
}

export function parseType(type: string, format = ''): TypeRef {
  const t = type.trim()
  const array = /^Array<(.+)>$/.exec(t)
  if (array) return { kind: 'array', items: parseType(array[1], format) }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(t)
  if (map) return { kind: 'map', values: parseType(map[1], format) }
  switch (t) {
    case 'string':
      return { kind: 'string', format }
    case 'number':
      return { kind: 'number', format }
    case 'boolean':
      return { kind: 'boolean' }
    case 'Date':
    // MicroTime has no model class: it is an RFC 3339 string with microseconds.
    case 'V1MicroTime':
      return { kind: 'date', format }
    case 'IntOrString':
      return { kind: 'intOrString' }
    case 'any':
    case 'object':
      return { kind: 'any' }
  }
  return { kind: 'model', name: t }
}
