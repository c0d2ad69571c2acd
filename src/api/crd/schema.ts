// A CustomResourceDefinition version's structural schema (OpenAPI v3 subset) applied to
// an object, as apiextensions-apiserver does: pruning of unknown fields, defaulting, and
// value validation with upstream's field paths and messages. Pure functions over JSON.
import { isIP } from 'node:net'
import type { FieldCause } from '../validation/field.ts'
import { duplicate, invalid, notSupported, required, tooLong, tooMany } from '../validation/field.ts'

/** JSONSchemaProps as a CRD carries it (`openAPIV3Schema`); loosely typed, read defensively. */
export type Schema = Record<string, any>

type Obj = Record<string, any>

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key
}

/** Properties of the root that are never pruned (apiVersion, kind, metadata), as of an embedded resource. */
const resourceFields = ['apiVersion', 'kind', 'metadata']

// --- pruning -------------------------------------------------------------------------

/**
 * Drops fields the schema does not specify (unless `x-kubernetes-preserve-unknown-fields`),
 * in place; returns their paths as the strict decoder names them (`spec.foo`). `root`: the
 * object is a whole resource, whose apiVersion, kind and metadata stay.
 */
export function prune(schema: Schema | undefined, value: unknown, root = true): string[] {
  const out: string[] = []
  if (schema) pruneValue(schema, value, '', root, out)
  return out
}

function pruneValue(s: Schema, value: unknown, path: string, resource: boolean, out: string[]): void {
  if (isObject(value)) {
    const props: Obj | undefined = isObject(s.properties) ? s.properties : undefined
    const additional = s.additionalProperties
    const preserve = s['x-kubernetes-preserve-unknown-fields'] === true
    const embedded = resource || s['x-kubernetes-embedded-resource'] === true
    for (const key of Object.keys(value)) {
      const p = path ? `${path}.${key}` : key
      if (embedded && resourceFields.includes(key)) {
        // The root's metadata is ObjectMeta, decoded on its own; an embedded one keeps only ObjectMeta's basics.
        if (key === 'metadata' && !resource && isObject(value.metadata)) pruneEmbeddedMetadata(value.metadata, p, out)
        if (props?.[key] && key !== 'metadata') pruneValue(props[key], value[key], p, false, out)
        continue
      }
      if (props && Object.hasOwn(props, key)) pruneValue(props[key], value[key], p, false, out)
      else if (isObject(additional)) pruneValue(additional, value[key], p, false, out)
      else if (additional === true || preserve) continue
      else {
        delete value[key]
        out.push(p)
      }
    }
    return
  }
  if (Array.isArray(value) && isObject(s.items)) {
    value.forEach((item, i) => pruneValue(s.items, item, `${path}[${i}]`, false, out))
  }
}

const embeddedMetaFields = new Set(['name', 'namespace', 'labels', 'annotations', 'generateName', 'finalizers'])

function pruneEmbeddedMetadata(meta: Obj, path: string, out: string[]): void {
  for (const key of Object.keys(meta)) {
    if (embeddedMetaFields.has(key)) continue
    delete meta[key]
    out.push(`${path}.${key}`)
  }
}

// --- defaulting ----------------------------------------------------------------------

/**
 * Fills `default`s where a field is absent (or null and not nullable), top-down and then
 * into what was filled, in place, as structural defaulting does.
 */
export function applyDefaults(schema: Schema | undefined, value: unknown): void {
  if (schema) defaultValue(schema, value)
}

function defaultValue(s: Schema, value: unknown): void {
  if (isObject(value)) {
    const props: Obj | undefined = isObject(s.properties) ? s.properties : undefined
    if (props) {
      for (const [key, p] of Object.entries(props)) {
        if (!isObject(p) || p.default === undefined) continue
        if (value[key] === undefined || (value[key] === null && p.nullable !== true)) value[key] = structuredClone(p.default)
      }
      for (const [key, v] of Object.entries(value)) if (Object.hasOwn(props, key) && isObject(props[key])) defaultValue(props[key], v)
    } else if (isObject(s.additionalProperties)) {
      for (const v of Object.values(value)) defaultValue(s.additionalProperties, v)
    }
    return
  }
  if (Array.isArray(value) && isObject(s.items)) {
    for (let i = 0; i < value.length; i++) {
      if (value[i] === null && s.items.default !== undefined && s.items.nullable !== true) value[i] = structuredClone(s.items.default)
      defaultValue(s.items, value[i])
    }
  }
}

// --- validation ----------------------------------------------------------------------

function typeCause(path: string, value: unknown, want: string): FieldCause {
  const type = jsonType(value)
  return { reason: 'FieldValueTypeInvalid' as FieldCause['reason'], message: `Invalid value: "${type}": ${path || 'body'} in body must be of type ${want}: "${type}"`, field: path }
}

function matchesType(want: string, value: unknown): boolean {
  switch (want) {
    case 'object':
      return isObject(value)
    case 'array':
      return Array.isArray(value)
    case 'string':
      return typeof value === 'string'
    case 'boolean':
      return typeof value === 'boolean'
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value)
    case 'number':
      return typeof value === 'number'
    default:
      return true
  }
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const hostname = /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$/
const uuid = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/
const dateTime = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/
const date = /^\d{4}-\d{2}-\d{2}$/
const email = /^[^@\s]+@[^@\s]+\.[^@\s]+$/
const duration = /^([-+]?\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$/
const byteFormat = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const mac = /^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/

/** The formats Kubernetes validates (the rest are annotations only, as upstream's strfmt registry). */
function checkFormat(format: string, v: string): boolean {
  switch (format) {
    case 'hostname':
      return v.length <= 255 && hostname.test(v)
    case 'ipv4':
      return isIP(v) === 4
    case 'ipv6':
      return isIP(v) === 6
    case 'cidr': {
      const [ip, bits, ...rest] = v.split('/')
      const family = isIP(ip)
      return rest.length === 0 && family !== 0 && /^\d+$/.test(bits ?? '') && Number(bits) <= (family === 4 ? 32 : 128)
    }
    case 'mac':
      return mac.test(v)
    case 'uuid':
    case 'uuid3':
    case 'uuid4':
    case 'uuid5':
      return uuid.test(v)
    case 'date-time':
    case 'datetime':
      return dateTime.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T')))
    case 'date':
      return date.test(v)
    case 'email':
      return email.test(v)
    case 'byte':
      return byteFormat.test(v)
    case 'duration':
      return duration.test(v)
    case 'uri':
      return URL.canParse(v)
    case 'k8s-short-name':
      return v.length <= 63 && dns1123Label.test(v)
    case 'k8s-long-name':
      return v.length <= 253 && dns1123Subdomain.test(v)
    default:
      return true
  }
}

function compiledPattern(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u')
  } catch {
    try {
      return new RegExp(pattern)
    } catch {
      return undefined
    }
  }
}

const patterns = new Map<string, RegExp | undefined>()

function patternOf(pattern: string): RegExp | undefined {
  if (!patterns.has(pattern)) patterns.set(pattern, compiledPattern(pattern))
  return patterns.get(pattern)
}

/** Go's %v of a map key for Duplicate causes of list-type=map items. */
function mapKeyText(item: Obj, keys: string[]): unknown {
  return Object.fromEntries(keys.map((k) => [k, item[k]]))
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (isObject(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`
  return JSON.stringify(value)
}

/**
 * Validates `value` against `schema`; causes have upstream's paths (`spec.rules[0].matches`)
 * and messages. `path` is where `value` is ('' for the whole object).
 */
export function validateValue(schema: Schema | undefined, value: unknown, path = ''): FieldCause[] {
  const out: FieldCause[] = []
  if (schema) check(schema, value, path, out, true)
  return out
}

function check(s: Schema, value: unknown, path: string, out: FieldCause[], root: boolean): void {
  if (value === undefined) return
  if (value === null) {
    if (s.nullable === true) return
    if (typeof s.type === 'string' && s.type !== '') out.push(typeCause(path, value, s.type))
    return
  }
  const intOrString = s['x-kubernetes-int-or-string'] === true
  if (intOrString) {
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
      out.push(typeCause(path, value, 'integer,string'))
      return
    }
  } else if (typeof s.type === 'string' && s.type !== '' && !matchesType(s.type, value)) {
    out.push(typeCause(path, value, s.type))
    return
  }
  if (Array.isArray(s.enum) && s.enum.length > 0 && !s.enum.some((e: unknown) => canonical(e) === canonical(value))) {
    out.push(notSupported(path, value, s.enum.map((e: unknown) => (typeof e === 'string' ? e : JSON.stringify(e)))))
  }
  if (typeof value === 'string') checkString(s, value, path, out)
  else if (typeof value === 'number') checkNumber(s, value, path, out)
  else if (Array.isArray(value)) checkArray(s, value, path, out)
  else if (isObject(value)) checkObject(s, value, path, out, root)
  checkCombinators(s, value, path, out)
}

function checkString(s: Schema, v: string, path: string, out: FieldCause[]): void {
  const length = [...v].length
  if (typeof s.maxLength === 'number' && length > s.maxLength) out.push(tooLong(path, s.maxLength))
  if (typeof s.minLength === 'number' && length < s.minLength) out.push(invalid(path, v, `${path} in body should be at least ${s.minLength} chars long`))
  if (typeof s.pattern === 'string') {
    const re = patternOf(s.pattern)
    if (re && !re.test(v)) out.push(invalid(path, v, `${path} in body should match '${s.pattern}'`))
  }
  if (typeof s.format === 'string' && !checkFormat(s.format, v)) out.push(invalid(path, v, `${path} in body must be of type ${s.format}: ${JSON.stringify(v)}`))
}

function checkNumber(s: Schema, v: number, path: string, out: FieldCause[]): void {
  if (typeof s.maximum === 'number') {
    if (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum) {
      out.push(invalid(path, v, `${path} in body should be less than ${s.exclusiveMaximum === true ? '' : 'or equal to '}${s.maximum}`))
    }
  }
  if (typeof s.minimum === 'number') {
    if (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum) {
      out.push(invalid(path, v, `${path} in body should be greater than ${s.exclusiveMinimum === true ? '' : 'or equal to '}${s.minimum}`))
    }
  }
  if (typeof s.multipleOf === 'number' && s.multipleOf > 0) {
    const q = v / s.multipleOf
    if (Math.abs(q - Math.round(q)) > 1e-9) out.push(invalid(path, v, `${path} in body should be a multiple of ${s.multipleOf}`))
  }
}

function checkArray(s: Schema, v: unknown[], path: string, out: FieldCause[]): void {
  if (typeof s.maxItems === 'number' && v.length > s.maxItems) out.push(tooMany(path, v.length, s.maxItems))
  if (typeof s.minItems === 'number' && v.length < s.minItems) out.push(invalid(path, v.length, `${path} in body should have at least ${s.minItems} items`))
  const listType = s['x-kubernetes-list-type']
  if (s.uniqueItems === true || listType === 'set') {
    const seen = new Set<string>()
    v.forEach((item, i) => {
      const key = canonical(item)
      if (seen.has(key)) out.push(duplicate(`${path}[${i}]`, item))
      seen.add(key)
    })
  }
  if (listType === 'map' && Array.isArray(s['x-kubernetes-list-map-keys'])) {
    const keys: string[] = s['x-kubernetes-list-map-keys']
    const seen = new Set<string>()
    v.forEach((item, i) => {
      if (!isObject(item)) return
      const key = canonical(keys.map((k) => item[k] ?? (isObject(s.items?.properties?.[k]) ? s.items.properties[k].default : undefined)))
      if (seen.has(key)) out.push(duplicate(`${path}[${i}]`, mapKeyText(item, keys)))
      seen.add(key)
    })
  }
  if (isObject(s.items)) v.forEach((item, i) => check(s.items, item, `${path}[${i}]`, out, false))
}

function checkObject(s: Schema, v: Obj, path: string, out: FieldCause[], root: boolean): void {
  const count = Object.keys(v).length
  if (typeof s.maxProperties === 'number' && count > s.maxProperties) out.push(tooMany(path, count, s.maxProperties))
  if (typeof s.minProperties === 'number' && count < s.minProperties) out.push(invalid(path, count, `${path} in body should have at least ${s.minProperties} properties`))
  if (Array.isArray(s.required)) {
    for (const name of s.required) if (v[name] === undefined) out.push(required(child(path, name)))
  }
  const props: Obj | undefined = isObject(s.properties) ? s.properties : undefined
  for (const [key, item] of Object.entries(v)) {
    // The root's metadata is ObjectMeta, validated as every kind's.
    if (root && (key === 'metadata' || key === 'apiVersion' || key === 'kind')) continue
    const p = child(path, key)
    if (props && Object.hasOwn(props, key)) check(props[key], item, p, out, false)
    else if (isObject(s.additionalProperties)) check(s.additionalProperties, item, p, out, false)
    else if (s.additionalProperties === false && !props?.[key]) out.push({ reason: 'FieldValueForbidden', message: `Forbidden: ${key} is not allowed`, field: p })
  }
}

function checkCombinators(s: Schema, value: unknown, path: string, out: FieldCause[]): void {
  const sub = (schema: Schema): FieldCause[] => {
    const errs: FieldCause[] = []
    check(schema, value, path, errs, false)
    return errs
  }
  if (Array.isArray(s.allOf)) for (const part of s.allOf) if (isObject(part)) out.push(...sub(part))
  if (Array.isArray(s.anyOf) && s.anyOf.length > 0) {
    const results = s.anyOf.filter(isObject).map(sub)
    if (!results.some((r) => r.length === 0)) {
      out.push(invalid(path, value, `${path || 'body'} in body must validate at least one schema (anyOf)`))
      out.push(...results[0])
    }
  }
  if (Array.isArray(s.oneOf) && s.oneOf.length > 0) {
    const passing = s.oneOf.filter(isObject).map(sub).filter((r) => r.length === 0).length
    if (passing !== 1) out.push(invalid(path, value, `${path || 'body'} in body must validate one and only one schema (oneOf)${passing === 0 ? '' : `. Found ${passing} valid alternatives`}`))
  }
  if (isObject(s.not) && sub(s.not).length === 0) out.push(invalid(path, value, `${path || 'body'} in body must not validate the schema (not)`))
}


// --- ratcheting ----------------------------------------------------------------------

/** `spec.rules[0].matches` → ['spec', 'rules', 0, 'matches']. */
function pathTokens(path: string): (string | number)[] | undefined {
  const out: (string | number)[] = []
  const re = /([^.[\]]+)|\[(\d+)\]/g
  let m: RegExpExecArray | null
  let consumed = 0
  while ((m = re.exec(path)) !== null) {
    out.push(m[2] !== undefined ? Number(m[2]) : m[1])
    consumed += m[0].length
  }
  const separators = (path.match(/\./g) ?? []).length
  return consumed + separators === path.length ? out : undefined
}

function valueAt(obj: unknown, tokens: (string | number)[]): unknown {
  let cur: unknown = obj
  for (const t of tokens) {
    if (typeof t === 'number') cur = Array.isArray(cur) ? cur[t] : undefined
    else cur = isObject(cur) ? cur[t] : undefined
    if (cur === undefined) return undefined
  }
  return cur
}

/**
 * Validation ratcheting, as upstream's CRDValidationRatcheting: on an update, a cause about a
 * value the update left as it was is dropped, so a CRD made stricter does not block writes to
 * objects stored before (a status update of an old object, say). A missing required field
 * counts as unchanged when its parent object is.
 */
export function ratchet(causes: FieldCause[], obj: unknown, old: unknown): FieldCause[] {
  return causes.filter((c) => {
    let tokens = pathTokens(c.field)
    if (!tokens) return true
    if (c.reason === 'FieldValueRequired') tokens = tokens.slice(0, -1)
    const now = tokens.length ? valueAt(obj, tokens) : obj
    const before = tokens.length ? valueAt(old, tokens) : old
    return now === undefined || before === undefined || canonical(now) !== canonical(before)
  })
}
