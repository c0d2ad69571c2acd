// apiextensions.k8s.io/v1 CustomResourceDefinition: its validation (names, group, scope,
// versions, structural schemas, subresources, printer columns) as upstream's
// ValidateCustomResourceDefinition, and the readers the API server serves a CRD from.
import { isDNS1035Label, isDNS1123Subdomain } from '../names.ts'
import type { FieldCause } from '../validation/field.ts'
import { forbidden, invalid, notSupported, required } from '../validation/field.ts'
import type { Schema } from './schema.ts'

type Obj = Record<string, any>

export const CRD_GROUP = 'apiextensions.k8s.io'
/** The finalizer the server keeps on a CRD until its objects are deleted. */
export const CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io'

export interface PrinterColumn {
  name: string
  type: string
  format?: string
  description?: string
  priority?: number
  jsonPath: string
}

export interface ScaleSpec {
  specReplicasPath: string
  statusReplicasPath: string
  labelSelectorPath?: string
}

export interface CrdVersion {
  name: string
  served: boolean
  storage: boolean
  schema: Schema | undefined
  columns: PrinterColumn[]
  status: boolean
  scale: ScaleSpec | undefined
  deprecated: boolean
  deprecationWarning?: string
  /** Field labels (`spec.color`) field selectors may use beside metadata.name and metadata.namespace. */
  selectableFields: string[]
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The versions of a CRD, as served. */
export function crdVersions(crd: Obj): CrdVersion[] {
  const versions = Array.isArray(crd.spec?.versions) ? crd.spec.versions : []
  return versions.filter(isObject).map((v: Obj) => ({
    name: String(v.name ?? ''),
    served: v.served === true,
    storage: v.storage === true,
    schema: isObject(v.schema?.openAPIV3Schema) ? v.schema.openAPIV3Schema : undefined,
    columns: Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns.filter(isObject) : [],
    status: isObject(v.subresources?.status),
    scale: isObject(v.subresources?.scale) ? (v.subresources.scale as ScaleSpec) : undefined,
    deprecated: v.deprecated === true,
    selectableFields: (Array.isArray(v.selectableFields) ? v.selectableFields : []).flatMap((f: unknown) => (isObject(f) && typeof f.jsonPath === 'string' ? [f.jsonPath.replace(/^\./, '')] : [])),
    ...(typeof v.deprecationWarning === 'string' ? { deprecationWarning: v.deprecationWarning } : {}),
  }))
}

/** Sorts versions as Kubernetes does: GA before beta before alpha, higher first, then other names alphabetically. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string): [number, number, number] | undefined => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v)
    if (!m) return undefined
    return [m[2] === undefined ? 2 : m[2] === 'beta' ? 1 : 0, Number(m[1]), Number(m[3] ?? 0)]
  }
  const pa = parse(a)
  const pb = parse(b)
  if (pa && pb) {
    if (pa[0] !== pb[0]) return pb[0] - pa[0]
    if (pa[1] !== pb[1]) return pb[1] - pa[1]
    return pb[2] - pa[2]
  }
  if (pa) return -1
  if (pb) return 1
  return a < b ? -1 : a > b ? 1 : 0
}

const scopes = ['Cluster', 'Namespaced']
const columnTypes = ['integer', 'number', 'string', 'boolean', 'date']
const forbiddenSchemaFields = ['$ref', '$schema', 'definitions', 'dependencies', 'additionalItems', 'patternProperties', 'id']

function nameErrors(field: string, value: unknown, check: (v: string) => string[]): FieldCause[] {
  if (typeof value !== 'string' || value === '') return [required(field)]
  return check(value).map((m) => invalid(field, value, m))
}

/** Upstream's ValidateCustomResourceDefinition for create (`old` absent) and update. */
export function validateCrd(crd: Obj, old?: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const spec: Obj = isObject(crd.spec) ? crd.spec : {}
  const names: Obj = isObject(spec.names) ? spec.names : {}
  const group = spec.group
  const name = crd.metadata?.name
  if (typeof group !== 'string' || group === '') errs.push(required('spec.group'))
  else {
    errs.push(...isDNS1123Subdomain(group).map((m) => invalid('spec.group', group, m)))
    if (!group.includes('.')) errs.push(invalid('spec.group', group, 'should be a domain with at least one dot'))
  }
  if (typeof names.plural === 'string' && typeof group === 'string' && name !== `${names.plural}.${group}`) {
    errs.push(invalid('metadata.name', name, 'must be spec.names.plural+"."+spec.group'))
  }
  if (!scopes.includes(spec.scope)) errs.push(spec.scope === undefined || spec.scope === '' ? required('spec.scope') : notSupported('spec.scope', spec.scope, scopes))
  errs.push(...validateNames(names, 'spec.names'))
  errs.push(...validateVersions(spec))
  const conversion = spec.conversion
  if (isObject(conversion) && conversion.strategy !== undefined && conversion.strategy !== 'None') {
    errs.push(notSupported('spec.conversion.strategy', conversion.strategy, ['None']))
  }
  if (old) {
    const oldSpec: Obj = isObject(old.spec) ? old.spec : {}
    if (spec.group !== oldSpec.group) errs.push(invalid('spec.group', spec.group, 'field is immutable'))
    if (spec.scope !== oldSpec.scope) errs.push(invalid('spec.scope', spec.scope, 'field is immutable'))
    const stored: string[] = Array.isArray(old.status?.storedVersions) ? old.status.storedVersions : []
    const versions = crdVersions(crd).map((v) => v.name)
    stored.forEach((v, i) => {
      if (!versions.includes(v)) errs.push(invalid(`status.storedVersions[${i}]`, v, 'must appear in spec.versions'))
    })
  }
  return errs
}

function validateNames(names: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  errs.push(...nameErrors(`${path}.plural`, names.plural, isDNS1035Label))
  if (names.singular !== undefined && names.singular !== '') errs.push(...nameErrors(`${path}.singular`, names.singular, isDNS1035Label))
  errs.push(...nameErrors(`${path}.kind`, names.kind, (k) => isDNS1035Label(k.toLowerCase())))
  if (names.listKind !== undefined && names.listKind !== '') {
    errs.push(...nameErrors(`${path}.listKind`, names.listKind, (k) => isDNS1035Label(k.toLowerCase())))
    if (names.listKind === names.kind) errs.push(invalid(`${path}.listKind`, names.listKind, 'kind and listKind may not be the same'))
  }
  const short = Array.isArray(names.shortNames) ? names.shortNames : []
  short.forEach((s: unknown, i: number) => errs.push(...nameErrors(`${path}.shortNames[${i}]`, s, isDNS1035Label)))
  const cats = Array.isArray(names.categories) ? names.categories : []
  cats.forEach((s: unknown, i: number) => errs.push(...nameErrors(`${path}.categories[${i}]`, s, isDNS1035Label)))
  return errs
}

function validateVersions(spec: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const raw = spec.versions
  if (!Array.isArray(raw) || raw.length === 0) return [required('spec.versions', 'must have exactly one version marked as storage version')]
  const seen = new Set<string>()
  let storage = 0
  let served = 0
  raw.forEach((v: unknown, i: number) => {
    const path = `spec.versions[${i}]`
    if (!isObject(v)) {
      errs.push(invalid(path, v, 'must be an object'))
      return
    }
    errs.push(...nameErrors(`${path}.name`, v.name, isDNS1035Label))
    if (typeof v.name === 'string') {
      if (seen.has(v.name)) errs.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(v.name)}`, field: `${path}.name` })
      seen.add(v.name)
    }
    if (v.storage === true) storage++
    if (v.served === true) served++
    const schema = v.schema?.openAPIV3Schema
    if (!isObject(schema)) errs.push(required(`${path}.schema.openAPIV3Schema`, 'schemas are required'))
    else errs.push(...validateStructural(schema, `${path}.schema.openAPIV3Schema`))
    const subs = v.subresources
    if (isObject(subs?.scale)) {
      const scale = subs.scale
      if (typeof scale.specReplicasPath !== 'string' || scale.specReplicasPath === '') errs.push(required(`${path}.subresources.scale.specReplicasPath`))
      else if (!scale.specReplicasPath.startsWith('.spec.')) errs.push(invalid(`${path}.subresources.scale.specReplicasPath`, scale.specReplicasPath, 'should be a json path under .spec'))
      if (typeof scale.statusReplicasPath !== 'string' || scale.statusReplicasPath === '') errs.push(required(`${path}.subresources.scale.statusReplicasPath`))
      else if (!scale.statusReplicasPath.startsWith('.status.')) errs.push(invalid(`${path}.subresources.scale.statusReplicasPath`, scale.statusReplicasPath, 'should be a json path under .status'))
      if (scale.labelSelectorPath !== undefined && !(typeof scale.labelSelectorPath === 'string' && (scale.labelSelectorPath.startsWith('.spec.') || scale.labelSelectorPath.startsWith('.status.')))) {
        errs.push(invalid(`${path}.subresources.scale.labelSelectorPath`, scale.labelSelectorPath, 'should be a json path under either .spec or .status'))
      }
    }
    errs.push(...validateSelectableFields(v, path, isObject(schema) ? schema : undefined))
    const columns = Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns : []
    columns.forEach((c: unknown, j: number) => {
      const cp = `${path}.additionalPrinterColumns[${j}]`
      if (!isObject(c)) return
      if (typeof c.name !== 'string' || c.name === '') errs.push(required(`${cp}.name`))
      if (!columnTypes.includes(c.type)) errs.push(c.type === undefined ? required(`${cp}.type`) : notSupported(`${cp}.type`, c.type, columnTypes))
      if (typeof c.jsonPath !== 'string' || c.jsonPath === '') errs.push(required(`${cp}.jsonPath`))
      if (c.priority !== undefined && !(Number.isInteger(c.priority) && c.priority >= 0)) errs.push(invalid(`${cp}.priority`, c.priority, 'must be greater than or equal to 0'))
    })
  })
  if (storage !== 1) errs.push(invalid('spec.versions', raw.map((v: Obj) => v?.name), 'must have exactly one version marked as storage version'))
  if (served === 0) errs.push(invalid('spec.versions', raw.map((v: Obj) => v?.name), 'must have at least one served version'))
  return errs
}

/** At most 8 selectable fields, each a simple path to a string, integer or boolean field of the schema, none twice. */
function validateSelectableFields(v: Obj, path: string, schema: Schema | undefined): FieldCause[] {
  const errs: FieldCause[] = []
  const fields = Array.isArray(v.selectableFields) ? v.selectableFields : []
  if (fields.length > 8) errs.push({ reason: 'FieldValueTooMany', message: `Too many: ${fields.length}: must have at most 8 items`, field: `${path}.selectableFields` })
  const seen = new Set<string>()
  fields.forEach((f: unknown, i: number) => {
    const fp = `${path}.selectableFields[${i}].jsonPath`
    const jsonPath = isObject(f) ? f.jsonPath : undefined
    if (typeof jsonPath !== 'string' || jsonPath === '') {
      errs.push(required(fp))
      return
    }
    if (seen.has(jsonPath)) errs.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(jsonPath)}`, field: fp })
    seen.add(jsonPath)
    if (!/^(\.[A-Za-z0-9_-]+)+$/.test(jsonPath)) {
      errs.push(invalid(fp, jsonPath, 'must be a simple path of field names, such as .spec.color'))
      return
    }
    let node: Schema | undefined = schema
    for (const part of jsonPath.slice(1).split('.')) node = isObject(node?.properties) ? node.properties[part] : undefined
    if (!node) errs.push(invalid(fp, jsonPath, 'is an invalid path: does not refer to a field in the schema'))
    else if (!['string', 'integer', 'boolean'].includes(node.type)) errs.push(invalid(fp, jsonPath, 'must point to a field of type string, boolean or integer'))
  })
  return errs
}

/**
 * The rules of a structural schema that matter to serving it: a `type` on every node (but
 * under x-kubernetes-preserve-unknown-fields or x-kubernetes-int-or-string), an object at
 * the root, no forbidden keywords, properties and additionalProperties not together, and
 * at the root's metadata nothing but name and generateName.
 */
export function validateStructural(schema: Schema, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  if (schema.type !== 'object') errs.push(schema.type === undefined ? required(`${path}.type`, 'must not be empty at the root') : invalid(`${path}.type`, schema.type, 'must be object at the root'))
  walk(schema, path, errs, true, false)
  const meta = schema.properties?.metadata
  if (isObject(meta)) {
    for (const key of Object.keys(meta)) {
      if (!['type', 'properties', 'description'].includes(key)) errs.push(forbidden(`${path}.properties[metadata].${key}`, 'must not be specified'))
    }
    for (const [k, p] of Object.entries(isObject(meta.properties) ? meta.properties : {})) {
      if (k !== 'name' && k !== 'generateName') errs.push(forbidden(`${path}.properties[metadata].properties[${k}]`, 'must not be specified'))
      else if (isObject(p) && p.type !== 'string') errs.push(invalid(`${path}.properties[metadata].properties[${k}].type`, p.type, 'must be string'))
    }
  }
  return errs
}

function walk(s: Schema, path: string, errs: FieldCause[], root: boolean, inValueValidation: boolean): void {
  for (const key of forbiddenSchemaFields) if (s[key] !== undefined) errs.push(forbidden(`${path}.${key}`, `${key} is not supported`))
  if (s.uniqueItems === true) errs.push(forbidden(`${path}.uniqueItems`, 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic'))
  if (s.additionalProperties === false) errs.push(forbidden(`${path}.additionalProperties`, 'additionalProperties cannot be set to false'))
  if (isObject(s.properties) && s.additionalProperties !== undefined) errs.push(forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'))
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true
  const intOrString = s['x-kubernetes-int-or-string'] === true
  if (!inValueValidation && !root && (s.type === undefined || s.type === '') && !preserve && !intOrString) {
    errs.push(required(`${path}.type`, 'must not be empty for specified object fields'))
  }
  if (intOrString && s.type !== undefined && s.type !== '') errs.push(forbidden(`${path}.type`, 'must be empty if x-kubernetes-int-or-string is true'))
  if (s['x-kubernetes-embedded-resource'] === true && s.type !== 'object') errs.push(invalid(`${path}.type`, s.type, 'must be object if x-kubernetes-embedded-resource is true'))
  if (s['x-kubernetes-embedded-resource'] === true && !preserve && !isObject(s.properties)) {
    errs.push(required(`${path}.properties`, 'must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields'))
  }
  if (s.type === 'array' && !inValueValidation && !isObject(s.items)) errs.push(required(`${path}.items`, 'must be specified'))
  const listType = s['x-kubernetes-list-type']
  if (listType !== undefined && !['atomic', 'set', 'map'].includes(listType)) errs.push(notSupported(`${path}.x-kubernetes-list-type`, listType, ['atomic', 'set', 'map']))
  if (listType === 'map' && !(Array.isArray(s['x-kubernetes-list-map-keys']) && s['x-kubernetes-list-map-keys'].length > 0)) {
    errs.push(required(`${path}.x-kubernetes-list-map-keys`, 'must not be empty if x-kubernetes-list-type is map'))
  }
  if (isObject(s.properties)) for (const [k, p] of Object.entries(s.properties)) if (isObject(p)) walk(p, `${path}.properties[${k}]`, errs, false, inValueValidation)
  if (isObject(s.items)) walk(s.items, `${path}.items`, errs, false, inValueValidation)
  if (isObject(s.additionalProperties)) walk(s.additionalProperties, `${path}.additionalProperties`, errs, false, inValueValidation)
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    if (Array.isArray(s[key])) s[key].forEach((p: unknown, i: number) => isObject(p) && walk(p, `${path}.${key}[${i}]`, errs, false, true))
  }
  if (isObject(s.not)) walk(s.not, `${path}.not`, errs, false, true)
}

/** The value at a simple JSON path (`.spec.replicas`), as the scale subresource reads it. */
export function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj
  for (const part of path.replace(/^\./, '').split('.')) {
    if (!isObject(cur)) return undefined
    cur = cur[part]
  }
  return cur
}

/** Sets the value at a simple JSON path, making the objects on the way. */
export function writePath(obj: Obj, path: string, value: unknown): void {
  const parts = path.replace(/^\./, '').split('.')
  let cur: Obj = obj
  for (const part of parts.slice(0, -1)) {
    if (!isObject(cur[part])) cur[part] = {}
    cur = cur[part]
  }
  cur[parts[parts.length - 1]] = value
}
