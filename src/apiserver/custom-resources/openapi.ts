// OpenAPI for custom resources: one v3 document per group version of the established CRDs
// (`/openapi/v3/apis/<group>/<version>`), the schema of each kind under upstream's name
// (`io.k8s.networking.gateway.v1.HTTPRoute`) with apiVersion, kind and ObjectMeta, and the
// same paths as a built-in kind; kubectl reads them for `explain` and apply's validation.
// The v2 form drops what Swagger 2.0 cannot say, as upstream's v2 conversion does.
import { createHash } from 'node:crypto'
import type { ResourceInfo } from '../../api/registry.ts'
import { addFixedSchemas, addModel, resourcePaths, schemaName, sortKeys, type Builder } from '../openapi.ts'

type Json = Record<string, any>

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const apiVersionDoc =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources'
const kindDoc =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds'
const metadataDoc = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"

function kindSchema(info: ResourceInfo): Json {
  const schema: Json = structuredClone(info.custom?.schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true })
  const properties: Json = isObject(schema.properties) ? schema.properties : {}
  schema.properties = {
    ...properties,
    apiVersion: { description: apiVersionDoc, type: 'string' },
    kind: { description: kindDoc, type: 'string' },
    metadata: { allOf: [{ $ref: `#/components/schemas/${schemaName('V1ObjectMeta')}` }], description: metadataDoc },
  }
  schema['x-kubernetes-group-version-kind'] = [{ group: info.group, kind: info.kind, version: info.version }]
  return schema
}

function listSchema(info: ResourceInfo, itemName: string): Json {
  return {
    description: `${info.listKind} is a list of ${info.kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { description: apiVersionDoc, type: 'string' },
      items: { description: `List of ${info.plural}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`, type: 'array', items: { $ref: `#/components/schemas/${itemName}` } },
      kind: { description: kindDoc, type: 'string' },
      metadata: { allOf: [{ $ref: `#/components/schemas/${schemaName('V1ListMeta')}` }], description: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds" },
    },
    'x-kubernetes-group-version-kind': [{ group: info.group, kind: info.listKind, version: info.version }],
  }
}

/** The v3 document of one group version's custom resources. */
export function customDocument(infos: readonly ResourceInfo[]): Json {
  const b: Builder = { schemas: {} }
  addFixedSchemas(b)
  for (const m of ['V1ObjectMeta', 'V1ListMeta', 'V1Status', 'V1DeleteOptions']) addModel(b, m)
  const paths: Json = {}
  for (const info of infos) {
    const name = info.model
    b.schemas[name] = kindSchema(info)
    b.schemas[`${name}List`] = listSchema(info, name)
    if (info.subresources.includes('scale')) addModel(b, 'V1Scale')
    Object.assign(paths, resourcePaths(info))
  }
  jsonOnly(paths)
  return { openapi: '3.0.0', info: { title: 'Kubernetes CRD Swagger', version: 'v0.1.0' }, paths, components: { schemas: sortKeys(b.schemas) } }
}

/**
 * Custom resources take no strategic merge patch and speak no protobuf: their operations say
 * so (kubectl apply picks a strategic merge patch only where the patch operation lists it).
 */
function jsonOnly(paths: Json): void {
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item as Json)) {
      if (!isObject(op)) continue
      const body = op.requestBody?.content
      if (isObject(body)) delete body['application/strategic-merge-patch+json']
      for (const response of Object.values(isObject(op.responses) ? op.responses : {})) {
        if (isObject(response) && isObject(response.content)) delete response.content['application/vnd.kubernetes.protobuf']
      }
    }
  }
}

export function documentHash(doc: object): string {
  return createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase()
}

const v2Dropped = new Set(['nullable', 'anyOf', 'oneOf', 'not', 'x-kubernetes-validations'])

/** A custom resource's schema as upstream's v2 publishing has it: no nullable, anyOf, oneOf, not or CEL rules. */
export function forV2(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forV2)
  if (!isObject(schema)) return schema
  const out: Json = {}
  for (const [key, value] of Object.entries(schema)) {
    if (v2Dropped.has(key)) continue
    if (key === 'allOf' && !(Array.isArray(value) && value.length === 1 && isObject(value[0]) && typeof value[0].$ref === 'string')) continue
    if (key === 'properties' && isObject(value)) out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, forV2(v)]))
    else if (key === 'items' || key === 'additionalProperties' || key === 'allOf') out[key] = forV2(value)
    else if (key === 'default' || key === 'enum' || key === 'example') out[key] = value
    else out[key] = value
  }
  if (out['x-kubernetes-int-or-string'] === true) {
    out.type = 'string'
    out.format = 'int-or-string'
  }
  return out
}

/** The v3 document made ready for the v2 merge: its custom schemas through forV2. */
export function customDocumentForV2(doc: Json, names: readonly string[]): Json {
  const schemas: Json = { ...(doc.components?.schemas ?? {}) }
  for (const name of names) if (schemas[name]) schemas[name] = forV2(schemas[name])
  return { ...doc, components: { schemas } }
}
