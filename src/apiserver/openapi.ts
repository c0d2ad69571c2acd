// OpenAPI v3 for the served kinds, as `GET /openapi/v3` (index) and `GET /openapi/v3/<path>`
// (one document per group-version). Schemas come from the client-node models under their
// upstream names; kubectl reads them for `explain`, strategic merge and to learn that the
// server supports `fieldValidation`.
import { createHash } from 'node:crypto'
import { modelFields } from '../api/models.ts'
import type { TypeRef } from '../api/models.ts'
import { groupVersions, resources } from '../api/registry.ts'
import type { ResourceInfo } from '../api/registry.ts'
import { isQuantityField, modelDoc, requiredFields } from '../api/schema.ts'
import { hasRetainKeys, listMeta } from './merge-keys.ts'

type Json = Record<string, unknown>

const metaPkg = 'io.k8s.apimachinery.pkg.apis.meta.v1'
const intOrStringName = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString'
const quantityName = 'io.k8s.apimachinery.pkg.api.resource.Quantity'
const patchName = `${metaPkg}.Patch`
const tokenRequestModel = 'AuthenticationV1TokenRequest'

/** Models that live in apimachinery's meta/v1 rather than a group's package. */
const metaModels = new Set([
  'V1ObjectMeta', 'V1ListMeta', 'V1LabelSelector', 'V1LabelSelectorRequirement', 'V1OwnerReference',
  'V1ManagedFieldsEntry', 'V1Status', 'V1StatusDetails', 'V1StatusCause', 'V1Condition', 'V1DeleteOptions',
  'V1Preconditions', 'V1APIResource', 'V1APIResourceList', 'V1APIGroup', 'V1APIGroupList', 'V1APIVersions',
  'V1GroupVersionForDiscovery', 'V1ServerAddressByClientCIDR', 'V1WatchEvent', 'V1FieldSelectorRequirement',
])

/** Core models not reachable from the served core kinds but used by other groups. */
const extraCoreRoots = ['V1PodTemplate', 'V1PersistentVolumeClaim', 'V1PersistentVolume', 'V1Binding']

const versioned = /^V(\d+(?:alpha\d+|beta\d+)?)([A-Z].*)$/
const prefixed = /^([A-Z][a-z]+)V(\d+(?:alpha\d+|beta\d+)?)([A-Z].*)$/

function packageOfGroup(group: string): string {
  return group === '' ? 'core' : group.split('.')[0]
}

function childModels(model: string): string[] {
  const out: string[] = []
  const visit = (t: TypeRef): void => {
    if (t.kind === 'model') out.push(t.name)
    else if (t.kind === 'array') visit(t.items)
    else if (t.kind === 'map') visit(t.values)
  }
  for (const f of modelFields(model) ?? []) visit(f.type)
  return out
}

let packages: Map<string, string> | undefined

/** Which package each unprefixed model belongs to: the package of the first served kind that reaches it (core first). */
function modelPackages(): Map<string, string> {
  if (packages) return packages
  const assigned = new Map<string, string>()
  const walk = (model: string, pkg: string): void => {
    if (metaModels.has(model) || assigned.has(model)) return
    const p = prefixed.exec(model)
    const own = p ? p[1].toLowerCase() : pkg
    assigned.set(model, own)
    for (const child of childModels(model)) walk(child, own)
  }
  const core = resources.filter((r) => r.group === '').flatMap((r) => [r.model, `${r.model}List`])
  for (const m of [...core, ...extraCoreRoots]) walk(m, 'core')
  walk('V1Scale', 'autoscaling')
  walk(tokenRequestModel, 'authentication')
  walk('V1Eviction', 'policy')
  for (const r of resources) {
    walk(r.model, packageOfGroup(r.group))
    walk(`${r.model}List`, packageOfGroup(r.group))
  }
  packages = assigned
  return assigned
}

/** The upstream schema name of a client-node model: `V1Pod` → `io.k8s.api.core.v1.Pod`. */
export function schemaName(model: string): string {
  // A custom resource's model is already its schema's name (`io.k8s.networking.gateway.v1.HTTPRoute`).
  if (model.includes('.')) return model
  const v = versioned.exec(model)
  if (metaModels.has(model) && v) return `${metaPkg}.${v[2]}`
  const p = prefixed.exec(model)
  if (p) return `io.k8s.api.${p[1].toLowerCase()}.v${p[2]}.${p[3]}`
  const pkg = modelPackages().get(model) ?? 'core'
  return v ? `io.k8s.api.${pkg}.v${v[1]}.${v[2]}` : `io.k8s.api.${pkg}.${model}`
}

function ref(name: string): Json {
  return { $ref: `#/components/schemas/${name}` }
}

export interface Builder {
  schemas: Record<string, Json>
}

function typeSchema(b: Builder, t: TypeRef, quantity: boolean): Json {
  switch (t.kind) {
    case 'string':
      if (quantity) return ref(quantityName)
      return t.format ? { type: 'string', format: t.format } : { type: 'string' }
    case 'number':
      return t.format.startsWith('int') ? { type: 'integer', format: t.format } : { type: 'number', format: t.format || 'double' }
    case 'boolean':
      return { type: 'boolean' }
    case 'date':
      return { type: 'string', format: 'date-time' }
    case 'intOrString':
      return ref(intOrStringName)
    case 'any':
      return { type: 'object' }
    case 'array':
      return { type: 'array', items: typeSchema(b, t.items, quantity) }
    case 'map':
      return { type: 'object', additionalProperties: typeSchema(b, t.values, quantity) }
    case 'model':
      addModel(b, t.name)
      return ref(schemaName(t.name))
  }
}

function gvkOf(model: string): Json[] | undefined {
  const out: Json[] = []
  for (const r of resources) {
    if (r.model === model) out.push({ group: r.group, kind: r.kind, version: r.version })
    if (`${r.model}List` === model) out.push({ group: r.group, kind: r.listKind, version: r.version })
  }
  return out.length > 0 ? out : undefined
}

export function addModel(b: Builder, model: string): void {
  const name = schemaName(model)
  if (b.schemas[name]) return
  const fields = modelFields(model)
  if (!fields) {
    b.schemas[name] = { type: 'object' }
    return
  }
  const schema: Json = { type: 'object' }
  b.schemas[name] = schema
  const doc = modelDoc(model)
  if (doc?.description) schema.description = doc.description
  const properties: Record<string, Json> = {}
  for (const f of fields) {
    const inner = typeSchema(b, f.type, isQuantityField(model, f.name))
    const description = doc?.fields.get(f.name)?.description
    let prop: Json = inner
    if ('$ref' in inner) prop = { allOf: [inner] }
    if (description) prop = { ...prop, description }
    if (f.type.kind === 'array') {
      const meta = listMeta(model, f.name)
      if (meta.merge) {
        const strategy = hasRetainKeys(model, f.name) ? 'merge,retainKeys' : 'merge'
        prop = { ...prop, 'x-kubernetes-patch-strategy': strategy }
        if (meta.mergeKey) prop['x-kubernetes-patch-merge-key'] = meta.mergeKey
      }
      prop['x-kubernetes-list-type'] = meta.listType
      if (meta.keys) prop['x-kubernetes-list-map-keys'] = meta.keys
    } else if (f.type.kind === 'model' && hasRetainKeys(model, f.name)) {
      prop = { ...prop, 'x-kubernetes-patch-strategy': 'retainKeys' }
    }
    properties[f.name] = prop
  }
  schema.properties = properties
  const required = requiredFields(model)
  if (required.length > 0) schema.required = required
  const gvk = gvkOf(model)
  if (gvk) schema['x-kubernetes-group-version-kind'] = gvk
}

export function addFixedSchemas(b: Builder): void {
  b.schemas[intOrStringName] = {
    description:
      'IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.',
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    format: 'int-or-string',
  }
  b.schemas[quantityName] = {
    description: 'Quantity is a fixed-point representation of a number, as an integer or a string such as `100m`, `1Gi` or `1.5`.',
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  }
  b.schemas[patchName] = { description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.', type: 'object' }
}

// --- paths ---------------------------------------------------------------------------

function query(name: string, type: string, description: string): Json {
  return { name, in: 'query', description, schema: { type, uniqueItems: true } }
}

const p = {
  pretty: query('pretty', 'string', "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."),
  dryRun: query('dryRun', 'string', 'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed'),
  fieldManager: query('fieldManager', 'string', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  fieldValidation: query(
    'fieldValidation',
    'string',
    'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict',
  ),
  force: query('force', 'boolean', 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people.'),
  gracePeriodSeconds: query('gracePeriodSeconds', 'integer', 'The duration in seconds before the object should be deleted.'),
  propagationPolicy: query('propagationPolicy', 'string', "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'."),
  orphanDependents: query('orphanDependents', 'boolean', 'Deprecated: please use the PropagationPolicy.'),
  list: [
    query('allowWatchBookmarks', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
    query('continue', 'string', 'The continue option should be set when retrieving more results from the server.'),
    query('fieldSelector', 'string', 'A selector to restrict the list of returned objects by their fields. Defaults to everything.'),
    query('labelSelector', 'string', 'A selector to restrict the list of returned objects by their labels. Defaults to everything.'),
    query('limit', 'integer', 'limit is a maximum number of responses to return for a list call.'),
    query('resourceVersion', 'string', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
    query('resourceVersionMatch', 'string', 'resourceVersionMatch determines how resourceVersion is applied to list calls.'),
    query('sendInitialEvents', 'boolean', '`sendInitialEvents=true` may be set together with `watch=true`.'),
    query('timeoutSeconds', 'integer', 'Timeout for the list/watch call.'),
    query('watch', 'boolean', 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.'),
  ],
}

function pathParam(name: string, description: string): Json {
  return { name, in: 'path', description, required: true, schema: { type: 'string', uniqueItems: true } }
}

const jsonTypes = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']
const patchTypes = ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']

function content(types: string[], schemaRef: string): Json {
  return Object.fromEntries(types.map((t) => [t, { schema: ref(schemaRef) }]))
}

function response(description: string, schemaRef: string): Json {
  return { description, content: content(jsonTypes, schemaRef) }
}

function camel(s: string): string {
  return s.split(/[.-]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')
}

function gvName(info: ResourceInfo): string {
  return `${info.group === '' ? 'Core' : camel(info.group.replace(/\.k8s\.io$/, ''))}${camel(info.version)}`
}

interface OpSpec {
  verb: string
  action: string
  idVerb: string
  suffix?: string
  params: Json[]
  body?: { types: string[]; schema: string }
  responses: Record<string, Json>
  kind?: { group: string; version: string; kind: string }
}

function op(info: ResourceInfo, s: OpSpec, scope: string): Json {
  const gvk = s.kind ?? { group: info.group, version: info.version, kind: info.kind }
  const o: Json = {
    tags: [gvName(info).replace(/^(.)/, (c) => c.toLowerCase())],
    description: `${s.action} ${info.kind}`,
    operationId: `${s.idVerb}${gvName(info)}${scope}${info.kind}${s.suffix ?? ''}`,
    parameters: s.params,
    responses: { ...s.responses, '401': { description: 'Unauthorized' } },
    'x-kubernetes-action': s.action,
    'x-kubernetes-group-version-kind': gvk,
  }
  if (s.body) o.requestBody = { content: content(s.body.types, s.body.schema), required: true }
  return o
}

/** A create-only kind has one operation: POST to its collection, answered with the reviewed object. */
function createOnlyPaths(info: ResourceInfo, base: string, scope: string, nsParam: Json[]): Record<string, Json> {
  const kindRef = schemaName(info.model)
  return {
    [base]: {
      parameters: [...nsParam, p.dryRun, p.fieldManager, p.fieldValidation, p.pretty],
      post: op(info, {
        verb: 'post', action: 'post', idVerb: 'create', params: [],
        body: { types: ['*/*'], schema: kindRef },
        responses: { '200': response('OK', kindRef), '201': response('Created', kindRef), '202': response('Accepted', kindRef) },
      }, scope),
    },
  }
}

export function resourcePaths(info: ResourceInfo): Record<string, Json> {
  const prefix = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`
  const base = info.namespaced ? `${prefix}/namespaces/{namespace}/${info.plural}` : `${prefix}/${info.plural}`
  const scope = info.namespaced ? 'Namespaced' : ''
  const nsParam = info.namespaced ? [pathParam('namespace', 'object name and auth scope, such as for teams and projects')] : []
  if (info.createOnly) return createOnlyPaths(info, base, scope, nsParam)
  const kindRef = schemaName(info.model)
  const listRef = schemaName(`${info.model}List`)
  const statusRef = `${metaPkg}.Status`
  const nameParam = pathParam('name', `name of the ${info.kind}`)
  const writeParams = [p.dryRun, p.fieldManager, p.fieldValidation]
  const paths: Record<string, Json> = {}
  paths[base] = {
    parameters: [...nsParam, p.pretty],
    get: op(info, { verb: 'get', action: 'list', idVerb: 'list', params: p.list, responses: { '200': response('OK', listRef) } }, scope),
    post: op(info, {
      verb: 'post', action: 'post', idVerb: 'create', params: writeParams,
      body: { types: ['*/*'], schema: kindRef },
      responses: { '200': response('OK', kindRef), '201': response('Created', kindRef), '202': response('Accepted', kindRef) },
    }, scope),
    delete: op(info, {
      verb: 'delete', action: 'deletecollection', idVerb: 'deletecollection',
      params: [...p.list, p.dryRun, p.gracePeriodSeconds, p.orphanDependents, p.propagationPolicy],
      body: { types: ['*/*'], schema: `${metaPkg}.DeleteOptions` },
      responses: { '200': response('OK', statusRef) },
    }, scope),
  }
  const one = (suffix: string, kind?: OpSpec['kind']): Json => ({
    parameters: [nameParam, ...nsParam, p.pretty],
    get: op(info, { verb: 'get', action: 'get', idVerb: 'read', suffix, params: [], responses: { '200': response('OK', kindRef) }, kind }, scope),
    put: op(info, {
      verb: 'put', action: 'put', idVerb: 'replace', suffix, params: writeParams, kind,
      body: { types: ['*/*'], schema: kindRef },
      responses: { '200': response('OK', kindRef), '201': response('Created', kindRef) },
    }, scope),
    patch: op(info, {
      verb: 'patch', action: 'patch', idVerb: 'patch', suffix, params: [...writeParams, p.force], kind,
      body: { types: patchTypes, schema: patchName },
      responses: { '200': response('OK', kindRef), '201': response('Created', kindRef) },
    }, scope),
  })
  paths[`${base}/{name}`] = {
    ...one(''),
    delete: op(info, {
      verb: 'delete', action: 'delete', idVerb: 'delete',
      params: [p.dryRun, p.gracePeriodSeconds, p.orphanDependents, p.propagationPolicy],
      body: { types: ['*/*'], schema: `${metaPkg}.DeleteOptions` },
      responses: { '200': response('OK', statusRef), '202': response('Accepted', statusRef) },
    }, scope),
  }
  if (info.subresources.includes('status')) paths[`${base}/{name}/status`] = one('Status')
  if (info.subresources.includes('approval')) paths[`${base}/{name}/approval`] = one('Approval')
  if (info.subresources.includes('ephemeralcontainers')) paths[`${base}/{name}/ephemeralcontainers`] = one('EphemeralContainers')
  if (info.subresources.includes('token')) {
    const tokenRef = schemaName(tokenRequestModel)
    paths[`${base}/{name}/token`] = {
      parameters: [nameParam, ...nsParam, p.pretty],
      post: op(info, {
        verb: 'post', action: 'post', idVerb: 'create', suffix: 'Token', params: writeParams,
        kind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' },
        body: { types: ['*/*'], schema: tokenRef },
        responses: { '200': response('OK', tokenRef), '201': response('Created', tokenRef), '202': response('Accepted', tokenRef) },
      }, scope),
    }
  }
  if (info.subresources.includes('scale')) {
    const scaleRef = schemaName('V1Scale')
    const scale = one('Scale', { group: 'autoscaling', version: 'v1', kind: 'Scale' })
    for (const verb of ['get', 'put', 'patch']) {
      const o = scale[verb] as Json
      o.responses = { ...(o.responses as Json), '200': response('OK', scaleRef) }
      if (verb === 'put') o.requestBody = { content: content(['*/*'], scaleRef), required: true }
    }
    paths[`${base}/{name}/scale`] = scale
  }
  if (info.subresources.includes('binding')) {
    const bindingRef = schemaName('V1Binding')
    paths[`${base}/{name}/binding`] = {
      parameters: [nameParam, ...nsParam, p.pretty],
      post: op(info, {
        verb: 'post', action: 'post', idVerb: 'create', suffix: 'Binding', params: writeParams,
        kind: { group: '', version: 'v1', kind: 'Binding' },
        body: { types: ['*/*'], schema: bindingRef },
        responses: { '200': response('OK', bindingRef), '201': response('Created', bindingRef) },
      }, scope),
    }
  }
  if (info.subresources.includes('eviction')) {
    const evictionRef = schemaName('V1Eviction')
    paths[`${base}/{name}/eviction`] = {
      parameters: [nameParam, ...nsParam, p.pretty],
      post: op(info, {
        verb: 'post', action: 'post', idVerb: 'create', suffix: 'Eviction', params: writeParams,
        kind: { group: 'policy', version: 'v1', kind: 'Eviction' },
        body: { types: ['*/*'], schema: evictionRef },
        responses: { '200': response('OK', evictionRef), '201': response('Created', evictionRef), '202': response('Accepted', evictionRef) },
      }, scope),
    }
  }
  if (!info.namespaced) paths[`${prefix}/${info.plural}`] = paths[base]
  else
    paths[`${prefix}/${info.plural}`] = {
      parameters: [p.pretty],
      get: op(info, { verb: 'get', action: 'list', idVerb: 'list', suffix: 'ForAllNamespaces', params: p.list, responses: { '200': response('OK', listRef) } }, ''),
    }
  return paths
}

// --- documents -----------------------------------------------------------------------

export function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`
}

function groupDocument(group: string, version: string): Json {
  const b: Builder = { schemas: {} }
  addFixedSchemas(b)
  const paths: Record<string, Json> = {}
  for (const info of resources.filter((r) => r.group === group && r.version === version)) {
    addModel(b, info.model)
    if (!info.createOnly) addModel(b, `${info.model}List`)
    Object.assign(paths, resourcePaths(info))
  }
  for (const m of ['V1Status', 'V1DeleteOptions']) addModel(b, m)
  for (const info of resources.filter((r) => r.group === group && r.version === version)) {
    if (info.subresources.includes('scale')) addModel(b, 'V1Scale')
    if (info.subresources.includes('binding')) addModel(b, 'V1Binding')
    if (info.subresources.includes('eviction')) addModel(b, 'V1Eviction')
    if (info.subresources.includes('token')) addModel(b, tokenRequestModel)
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'unversioned' },
    paths,
    components: { schemas: sortKeys(b.schemas) },
  }
}

function discoveryDocument(path: string): Json {
  const b: Builder = { schemas: {} }
  const model = path === 'api' ? 'V1APIVersions' : path === 'apis' ? 'V1APIGroupList' : 'V1APIGroup'
  addModel(b, model)
  const operationId = path === 'api' ? 'getCoreAPIVersions' : path === 'apis' ? 'getAPIVersions' : `get${camel(path.slice(5).replace(/\.k8s\.io$/, ''))}APIGroup`
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'unversioned' },
    paths: {
      [`/${path}/`]: {
        get: {
          tags: [path],
          description: path === 'api' ? 'get available API versions' : 'get information of a group',
          operationId,
          responses: { '200': response('OK', schemaName(model)), '401': { description: 'Unauthorized' } },
        },
      },
    },
    components: { schemas: sortKeys(b.schemas) },
  }
}

export function sortKeys(o: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

function documentPaths(): string[] {
  const out = ['api', 'apis']
  for (const { group, version } of groupVersions()) {
    if (group !== '' && !out.includes(`apis/${group}`)) out.push(`apis/${group}`)
    out.push(gvPath(group, version))
  }
  return out
}

const docs = new Map<string, { doc: Json; json: string; hash: string }>()

function build(path: string): { doc: Json; json: string; hash: string } | undefined {
  const cached = docs.get(path)
  if (cached) return cached
  let doc: Json | undefined
  if (path === 'api' || path === 'apis' || (path.startsWith('apis/') && path.split('/').length === 2)) {
    if (documentPaths().includes(path)) doc = discoveryDocument(path)
  } else {
    const gv = groupVersions().find((x) => gvPath(x.group, x.version) === path)
    if (gv) doc = groupDocument(gv.group, gv.version)
  }
  if (!doc) return undefined
  const json = JSON.stringify(doc)
  const entry = { doc, json, hash: createHash('sha512').update(json).digest('hex').toUpperCase() }
  docs.set(path, entry)
  return entry
}

/** Documents served beside the built-in ones (custom resources' group versions), by path. */
export type ExtraDocuments = ReadonlyMap<string, { doc: object; hash: string }>

/** `GET /openapi/v3`: every document's path with a URL whose hash changes with its content. */
export function openApiIndex(extra?: ExtraDocuments): { paths: Record<string, { serverRelativeURL: string }> } {
  const paths: Record<string, { serverRelativeURL: string }> = {}
  for (const path of documentPaths()) {
    const entry = build(path)
    if (entry) paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${entry.hash}` }
  }
  for (const [path, entry] of extra ?? []) paths[path] ??= { serverRelativeURL: `/openapi/v3/${path}?hash=${entry.hash}` }
  return { paths }
}

/** `GET /openapi/v3/<path>` (`api/v1`, `apis/apps/v1`), or undefined for an unknown path. */
export function openApiDocument(path: string): object | undefined {
  return build(path.replace(/^\/+|\/+$/g, ''))?.doc
}

/** The document as JSON text and its hash (the ETag upstream serves), built once. */
export function openApiDocumentJson(path: string): { json: string; hash: string } | undefined {
  const entry = build(path.replace(/^\/+|\/+$/g, ''))
  return entry ? { json: entry.json, hash: entry.hash } : undefined
}
