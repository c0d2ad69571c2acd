// OpenAPI v2: the v3 documents merged and converted to Swagger 2.0, and its gnostic
// protobuf form read back field by field where kubectl reads it.
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { ProtoReader } from '../../src/api/protobuf/reader.ts'
import { openApiV2, v2Schema, wantsV2Protobuf } from '../../src/apiserver/openapi-v2.ts'

type Obj = Record<string, any>
const doc = JSON.parse(openApiV2().json) as Obj

t.test('one Swagger 2.0 document with every path and definition, refs under definitions', async (t) => {
  t.equal(doc.swagger, '2.0')
  t.ok(doc.paths['/api/v1/namespaces/{namespace}/pods'])
  t.ok(doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'])
  t.ok(doc.definitions['io.k8s.api.core.v1.Pod'])
  t.ok(doc.definitions['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'])
  const refs = new Set<string>()
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk)
    // A reference is a string under $ref (JSONSchemaProps also has a property named $ref).
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (k === '$ref' && typeof x === 'string' ? refs.add(x) : walk(x))
  }
  walk(doc)
  for (const ref of refs) {
    t.match(ref, /^#\/definitions\//)
    if (!doc.definitions[ref.slice('#/definitions/'.length)]) t.fail(`${ref} is not defined`)
  }
  t.same(doc.definitions['io.k8s.api.apps.v1.Deployment']['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }])
  t.same(doc.definitions['io.k8s.api.networking.v1.NetworkPolicy']['x-kubernetes-group-version-kind'], [{ group: 'networking.k8s.io', kind: 'NetworkPolicy', version: 'v1' }])
  t.ok(doc.paths['/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies'])
})

t.test('operations: query parameters flat, the body a body parameter, responses with schemas', async (t) => {
  const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch
  t.same(patch['x-kubernetes-group-version-kind'], { group: 'apps', kind: 'Deployment', version: 'v1' })
  t.match(patch.parameters[0], { name: 'body', in: 'body', required: true, schema: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch' } })
  t.match(patch.parameters.find((p: Obj) => p.name === 'fieldValidation'), { in: 'query', type: 'string', uniqueItems: true })
  t.ok(patch.consumes.includes('application/apply-patch+yaml'))
  t.match(patch.responses['200'], { description: 'OK', schema: { $ref: '#/definitions/io.k8s.api.apps.v1.Deployment' } })
})

t.test('IntOrString becomes a string of format int-or-string, as upstream v2 has it', async (t) => {
  t.same(v2Schema({ 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }], description: 'd' }), { 'x-kubernetes-int-or-string': true, description: 'd', type: 'string', format: 'int-or-string' })
  t.same(v2Schema({ allOf: [{ $ref: '#/components/schemas/x.Y' }], default: {}, description: 'd' }), { default: {}, description: 'd', $ref: '#/definitions/x.Y' }, 'a described reference: $ref beside the description')
  const two = [{ $ref: '#/components/schemas/a.A' }, { $ref: '#/components/schemas/b.B' }]
  t.same(v2Schema({ allOf: two }), { allOf: [{ $ref: '#/definitions/a.A' }, { $ref: '#/definitions/b.B' }] })
})

t.test('the Accept that asks for protobuf, in either spelling', async (t) => {
  t.ok(wantsV2Protobuf('application/com.github.proto-openapi.spec.v2@v1.0+protobuf'))
  t.ok(wantsV2Protobuf('application/com.github.proto-openapi.spec.v2.v1.0+protobuf, application/json'))
  t.notOk(wantsV2Protobuf('application/json'))
  t.notOk(wantsV2Protobuf(''))
})

/** Fields of one message, as (number → raw values); nested messages stay bytes. */
function fields(bytes: Uint8Array): Map<number, (bigint | Uint8Array)[]> {
  const out = new Map<number, (bigint | Uint8Array)[]>()
  const r = new ProtoReader(bytes)
  while (!r.done) {
    const { field, wireType } = r.tag()
    const value = wireType === 0 ? r.varint() : wireType === 2 ? r.bytes() : (r.skip(wireType), 0n)
    out.set(field, [...(out.get(field) ?? []), value])
  }
  return out
}
const text = (b: bigint | Uint8Array | undefined) => Buffer.from(b as Uint8Array).toString()

t.test('gnostic protobuf: the paths kubectl searches, with the patch operation and its fieldValidation parameter', async (t) => {
  const top = fields(openApiV2().protobuf)
  t.equal(text(top.get(1)![0]), '2.0', 'swagger')
  const namedPaths = fields(top.get(8)![0] as Uint8Array).get(2)!
  t.equal(namedPaths.length, Object.keys(doc.paths).length, 'every path')
  const named = namedPaths.map((p) => fields(p as Uint8Array)).find((f) => text(f.get(1)![0]) === '/apis/apps/v1/namespaces/{namespace}/deployments/{name}')!
  const pathItem = fields(named.get(2)![0] as Uint8Array)
  const patch = fields(pathItem.get(8)![0] as Uint8Array)
  const extensions = patch.get(13)!.map((e) => fields(e as Uint8Array))
  const gvk = extensions.find((e) => text(e.get(1)![0]) === 'x-kubernetes-group-version-kind')!
  t.same(parseYaml(text(fields(gvk.get(2)![0] as Uint8Array).get(2)![0])), { group: 'apps', kind: 'Deployment', version: 'v1' }, 'the extension as YAML in Any.yaml')
  const queryNames = patch.get(8)!.map((item) => {
    const parameter = fields(fields(item as Uint8Array).get(1)![0] as Uint8Array)
    const nonBody = parameter.get(2)
    if (!nonBody) return 'body'
    const query = fields(nonBody[0] as Uint8Array).get(3)
    return query ? text(fields(query[0] as Uint8Array).get(4)![0]) : undefined
  })
  t.ok(queryNames.includes('fieldValidation'), 'QueryParameterSubSchema.name (field 4)')
  t.equal(queryNames[0], 'body', 'the body is a BodyParameter')
})

t.test('gnostic protobuf: definitions with types, properties and refs', async (t) => {
  const top = fields(openApiV2().protobuf)
  const definitions = fields(top.get(9)![0] as Uint8Array).get(1)!.map((d) => fields(d as Uint8Array))
  t.equal(definitions.length, Object.keys(doc.definitions).length)
  const spec = fields(definitions.find((d) => text(d.get(1)![0]) === 'io.k8s.api.apps.v1.DeploymentSpec')!.get(2)![0] as Uint8Array)
  t.same(fields(spec.get(22)![0] as Uint8Array).get(1)!.map(text), ['object'], 'TypeItem')
  const properties = fields(spec.get(25)![0] as Uint8Array).get(1)!.map((p) => fields(p as Uint8Array))
  const replicas = fields(properties.find((p) => text(p.get(1)![0]) === 'replicas')!.get(2)![0] as Uint8Array)
  t.equal(text(replicas.get(2)![0]), 'int32', 'format')
  const template = fields(properties.find((p) => text(p.get(1)![0]) === 'template')!.get(2)![0] as Uint8Array)
  t.equal(text(template.get(1)![0]), '#/definitions/io.k8s.api.core.v1.PodTemplateSpec', 'Schema._ref')
})
