// Strict decoding against the client-node models: which fields are unknown (reported as
// Kubernetes' strict decoder prints them) and which have the wrong JSON type.
import { readFileSync } from 'node:fs'
import { modelFields } from './models.ts'
import { isQuantity, QuantityError } from './quantity.ts'
import type { TypeRef } from './models.ts'
import type { ResourceInfo } from './registry.ts'
import type { StatusCause } from '../util/errors.ts'

export interface SchemaResult {
  unknown: string[]
  wrongType: StatusCause[]
}

/** Fields that are `resource.Quantity` upstream; the models type them as plain strings. */
const quantityFields: Record<string, string[]> = {
  V1ResourceRequirements: ['limits', 'requests'],
  V1VolumeResourceRequirements: ['limits', 'requests'],
  V1NodeStatus: ['capacity', 'allocatable'],
  V1PodSpec: ['overhead'],
  V1Overhead: ['podFixed'],
  V1EmptyDirVolumeSource: ['sizeLimit'],
  V1ContainerStatus: ['allocatedResources'],
  V1PersistentVolumeSpec: ['capacity'],
  V1PersistentVolumeClaimStatus: ['capacity', 'allocatedResources'],
  V1ResourceFieldSelector: ['divisor'],
  V1ResourceQuotaSpec: ['hard'],
  V1ResourceQuotaStatus: ['hard', 'used'],
  V1LimitRangeItem: ['default', 'defaultRequest', 'max', 'min', 'maxLimitRequestRatio'],
  V1CSIStorageCapacity: ['capacity', 'maximumVolumeSize'],
}

export function isQuantityField(model: string, field: string): boolean {
  return quantityFields[model]?.includes(field) ?? false
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function typeError(path: string, given: unknown, want: string): StatusCause {
  const type = jsonType(given)
  return {
    reason: 'FieldValueTypeInvalid',
    message: `Invalid value: "${type}": ${path} in body must be of type ${want}: "${type}"`,
    field: path,
  }
}

function join(path: string, field: string): string {
  return path ? `${path}.${field}` : field
}

interface Walk {
  unknown: string[]
  wrongType: StatusCause[]
}

function checkValue(w: Walk, type: TypeRef, value: unknown, path: string, quantity: boolean): void {
  // JSON null decodes to the zero value everywhere.
  if (value === null) return
  switch (type.kind) {
    case 'any':
      return
    case 'string':
      if (quantity && (typeof value === 'string' || typeof value === 'number')) {
        // As resource.Quantity's decoder: a value that is not a quantity does not decode.
        if (!isQuantity(value)) w.wrongType.push({ reason: 'FieldValueInvalid', message: new QuantityError(String(value)).message, field: path })
        return
      }
      if (typeof value === 'string') return
      w.wrongType.push(typeError(path, value, 'string'))
      return
    case 'number': {
      const integer = type.format.startsWith('int')
      if (typeof value === 'number' && (!integer || Number.isInteger(value))) return
      w.wrongType.push(typeError(path, value, integer ? 'integer' : 'number'))
      return
    }
    case 'boolean':
      if (typeof value !== 'boolean') w.wrongType.push(typeError(path, value, 'boolean'))
      return
    case 'date':
      if (typeof value !== 'string') w.wrongType.push(typeError(path, value, 'string'))
      else if (!rfc3339.test(value))
        w.wrongType.push({
          reason: 'FieldValueInvalid',
          message: `Invalid value: ${JSON.stringify(value)}: ${path} in body must be of type date-time (RFC 3339): ${JSON.stringify(value)}`,
          field: path,
        })
      return
    case 'intOrString':
      if (typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))) return
      w.wrongType.push(typeError(path, value, 'integer or string'))
      return
    case 'array':
      if (!Array.isArray(value)) {
        w.wrongType.push(typeError(path, value, 'array'))
        return
      }
      value.forEach((item, i) => checkValue(w, type.items, item, `${path}[${i}]`, quantity))
      return
    case 'map':
      if (!isObject(value)) {
        w.wrongType.push(typeError(path, value, 'object'))
        return
      }
      for (const [k, v] of Object.entries(value)) checkValue(w, type.values, v, join(path, k), quantity)
      return
    case 'model':
      if (!isObject(value)) {
        w.wrongType.push(typeError(path, value, 'object'))
        return
      }
      checkModel(w, type.name, value, path)
  }
}

function checkModel(w: Walk, model: string, obj: Record<string, unknown>, path: string): void {
  const fields = modelFields(model)
  if (!fields) return
  for (const [key, value] of Object.entries(obj)) {
    const field = fields.find((f) => f.name === key)
    if (!field) {
      w.unknown.push(join(path, key))
      continue
    }
    checkValue(w, field.type, value, join(path, key), isQuantityField(model, key))
  }
}

/** Unknown fields and wrong JSON types in `obj`, taken as an object of `info`'s kind. */
export function checkSchema(info: ResourceInfo, obj: unknown): SchemaResult {
  const w: Walk = { unknown: [], wrongType: [] }
  if (!isObject(obj)) {
    w.wrongType.push(typeError('body', obj, 'object'))
    return w
  }
  checkModel(w, info.model, obj, '')
  return w
}

/** What the model's declaration file says: descriptions and which fields are required. */
export interface ModelDoc {
  description: string
  fields: Map<string, { description: string; required: boolean }>
}

const docCache = new Map<string, ModelDoc | undefined>()
let modelsDir: URL | undefined

function declarationText(model: string): string | undefined {
  modelsDir ??= new URL('./', import.meta.resolve('@kubernetes/client-node/dist/gen/models/all.js'))
  try {
    return readFileSync(new URL(`${model}.d.ts`, modelsDir), 'utf8')
  } catch {
    return undefined
  }
}

/** The generator escapes quotes inside the doc comments. */
function unescape(text: string): string {
  return text.replace(/\\(["'\\])/g, '$1')
}

function parseDoc(text: string): ModelDoc {
  const doc: ModelDoc = { description: '', fields: new Map() }
  let comment: string[] = []
  let inComment = false
  let inClass = false
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('/**')) {
      inComment = true
      comment = []
      const rest = line.slice(3).replace(/\*\/$/, '').trim()
      if (rest) comment.push(rest)
      if (line.endsWith('*/') && line.length > 4) inComment = false
      continue
    }
    if (inComment) {
      if (line.endsWith('*/')) {
        inComment = false
        const rest = line.replace(/\*\/$/, '').replace(/^\*/, '').trim()
        if (rest) comment.push(rest)
      } else {
        comment.push(line.replace(/^\*\s?/, ''))
      }
      continue
    }
    if (/^export declare class /.test(line)) {
      inClass = true
      if (!/^Kubernetes$/.test(comment.join('').trim())) doc.description = unescape(comment.join('\n').trim())
      comment = []
      continue
    }
    if (inClass) {
      const m = /^'([^']+)'(\?)?:/.exec(line)
      if (m) doc.fields.set(m[1], { description: unescape(comment.join('\n').trim()), required: m[2] !== '?' })
      comment = []
    }
  }
  return doc
}

export function modelDoc(model: string): ModelDoc | undefined {
  if (docCache.has(model)) return docCache.get(model)
  const text = declarationText(model)
  const doc = text === undefined ? undefined : parseDoc(text)
  docCache.set(model, doc)
  return doc
}

/** JSON names of the fields the model marks as required. */
export function requiredFields(model: string): string[] {
  const doc = modelDoc(model)
  if (!doc) return []
  return [...doc.fields].filter(([, f]) => f.required).map(([name]) => name)
}
