// OpenAPI v2 (`GET /openapi/v2`), derived from the same per-group v3 documents: one
// Swagger 2.0 document with every path and definition, as JSON or as the gnostic protobuf
// kubectl asks for. kubectl reads it for client-side validation where the v3 document has
// nothing to say (a `kind: List`, a kind the server does not serve) and for
// `kubectl explain --output plaintext-openapiv2`.
import { createHash } from 'node:crypto'
import { groupVersions } from '../api/registry.ts'
import { openApiDocument } from './openapi.ts'
import { encodeSwaggerProtobuf } from './openapi-v2-proto.ts'

type Json = Record<string, unknown>

const v3Ref = '#/components/schemas/'
const v2Ref = '#/definitions/'

/** A v3 schema as Swagger 2.0 has it: refs under definitions, IntOrString as a formatted string. */
export function v2Schema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(v2Schema)
  if (typeof schema !== 'object' || schema === null) return schema
  const s = schema as Json
  if (s['x-kubernetes-int-or-string'] === true && Array.isArray(s.anyOf)) {
    const { anyOf: _anyOf, ...rest } = s
    return { ...rest, type: 'string', format: 'int-or-string' }
  }
  // v3 wraps a described reference as `allOf: [{$ref}]`; v2 (and kubectl's reader of it)
  // puts the $ref beside the description, as upstream's v2 document does.
  if (Array.isArray(s.allOf) && s.allOf.length === 1 && typeof (s.allOf[0] as Json).$ref === 'string') {
    const { allOf, ...rest } = s
    return v2Schema({ ...rest, $ref: (allOf[0] as Json).$ref })
  }
  const out: Json = {}
  for (const [key, value] of Object.entries(s)) {
    if (key === '$ref' && typeof value === 'string') out.$ref = value.startsWith(v3Ref) ? v2Ref + value.slice(v3Ref.length) : value
    else if (key === 'properties' && typeof value === 'object' && value !== null) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, p]) => [name, v2Schema(p)]))
    } else if (key === 'items' || key === 'additionalProperties' || key === 'allOf' || key === 'anyOf') out[key] = v2Schema(value)
    else out[key] = value
  }
  return out
}

function v2Parameter(p: Json): Json {
  const { schema, ...rest } = p
  return { ...rest, ...(schema as Json | undefined) }
}

function v2Operation(op: Json): Json {
  const { requestBody, responses, parameters, ...rest } = op
  const out: Json = { ...rest }
  const params = ((parameters as Json[] | undefined) ?? []).map(v2Parameter)
  const body = requestBody as { content?: Record<string, { schema?: unknown }>; required?: boolean } | undefined
  if (body?.content) {
    out.consumes = Object.keys(body.content)
    const schema = Object.values(body.content)[0]?.schema
    params.unshift({ name: 'body', in: 'body', required: true, schema: v2Schema(schema) })
  }
  if (params.length) out.parameters = params
  const produces = new Set<string>()
  const v2Responses: Json = {}
  for (const [code, r] of Object.entries((responses as Record<string, Json> | undefined) ?? {})) {
    const content = r.content as Record<string, { schema?: unknown }> | undefined
    const response: Json = { description: r.description }
    if (content) {
      for (const type of Object.keys(content)) produces.add(type)
      const schema = Object.values(content)[0]?.schema
      if (schema !== undefined) response.schema = v2Schema(schema)
    }
    v2Responses[code] = response
  }
  if (produces.size) out.produces = [...produces]
  out.responses = v2Responses
  return out
}

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch']

function v2PathItem(item: Json): Json {
  const out: Json = {}
  for (const [key, value] of Object.entries(item)) {
    if (methods.includes(key)) out[key] = v2Operation(value as Json)
    else if (key === 'parameters') out.parameters = (value as Json[]).map(v2Parameter)
    else out[key] = value
  }
  return out
}

/** Every group version's paths and schemas in one Swagger 2.0 document; `extra`: more v3 documents (custom resources'). */
function buildDocument(extra: readonly object[]): Json {
  const paths: Json = {}
  const definitions: Json = {}
  const sources = ['api', 'apis', ...groupVersions().map(({ group, version }) => (group === '' ? `api/${version}` : `apis/${group}/${version}`))]
  const docs = [...sources.map((source) => openApiDocument(source)), ...extra]
  for (const found of docs) {
    const doc = found as { paths?: Record<string, Json>; components?: { schemas?: Record<string, unknown> } } | undefined
    if (!doc) continue
    for (const [path, item] of Object.entries(doc.paths ?? {})) paths[path] = v2PathItem(item)
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) definitions[name] ??= v2Schema(schema)
  }
  const sorted = (o: Json): Json => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return { swagger: '2.0', info: { title: 'Kubernetes', version: 'unversioned' }, paths: sorted(paths), definitions: sorted(definitions) }
}

export const openApiV2ProtobufType = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf'

let built: { json: string; protobuf: Buffer; etag: string; key: string } | undefined

/**
 * The document as JSON text, as gnostic protobuf, and its ETag (upstream's: the SHA-512 of
 * the JSON), built again only when `extra` (custom resources' v3 documents, named by `key`) changes.
 */
export function openApiV2(extra: { key: string; docs: readonly object[] } = { key: '', docs: [] }): { json: string; protobuf: Buffer; etag: string } {
  if (built && built.key === extra.key) return built
  const doc = buildDocument(extra.docs)
  const json = JSON.stringify(doc)
  built = { json, protobuf: encodeSwaggerProtobuf(doc), etag: `"${createHash('sha512').update(json).digest('hex').toUpperCase()}"`, key: extra.key }
  return built
}

/** Whether `Accept` asks for the protobuf form (kubectl writes `spec.v2@v1.0+protobuf`; the dotted form is the valid one). */
export function wantsV2Protobuf(accept: string): boolean {
  return /application\/com\.github\.proto-openapi\.spec\.v2[@.]v1\.0\+protobuf/.test(accept)
}
