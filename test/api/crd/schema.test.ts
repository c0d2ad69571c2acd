// The structural schema's pure steps: pruning, defaulting and value validation with
// upstream's paths and messages; the CRD's own validation; printer-column JSONPath.
import t from 'tap'
import { prune, applyDefaults, ratchet, validateValue, type Schema } from '../../../src/api/crd/schema.ts'
import { compareVersions, validateCrd, validateStructural } from '../../../src/api/crd/definition.ts'
import { customResourceInfos } from '../../../src/api/crd/resources.ts'
import { customPrinter, evalJsonPath, parseJsonPath } from '../../../src/apiserver/tables/custom.ts'

const messages = (schema: Schema, value: unknown) => validateValue(schema, value).map((c) => `${c.field}: ${c.message}`)

t.test('pruning drops what the schema does not specify', async (t) => {
  const schema: Schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          a: { type: 'string' },
          list: { type: 'array', items: { type: 'object', properties: { x: { type: 'integer' } } } },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object' } } },
        },
      },
    },
  }
  const obj: Record<string, any> = {
    apiVersion: 'x/v1',
    kind: 'X',
    metadata: { name: 'n', anything: 1 },
    spec: {
      a: 'keep',
      b: 'drop',
      list: [{ x: 1, y: 2 }],
      labels: { any: 'thing' },
      free: { deep: { er: true } },
      template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', bogus: 1 }, spec: {}, other: 1 },
    },
    extra: true,
  }
  t.same(prune(schema, obj).sort(), ['extra', 'spec.b', 'spec.list[0].y', 'spec.template.metadata.bogus', 'spec.template.other'])
  t.same(obj, {
    apiVersion: 'x/v1',
    kind: 'X',
    metadata: { name: 'n', anything: 1 },
    spec: {
      a: 'keep',
      list: [{ x: 1 }],
      labels: { any: 'thing' },
      free: { deep: { er: true } },
      template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} },
    },
  })
})

t.test('defaulting fills absent fields top-down, into lists and maps', async (t) => {
  const schema: Schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        default: {},
        properties: {
          mode: { type: 'string', default: 'Fast' },
          rules: {
            type: 'array',
            default: [{ matches: [{}] }],
            items: {
              type: 'object',
              properties: {
                matches: { type: 'array', items: { type: 'object', properties: { path: { type: 'object', default: { type: 'PathPrefix', value: '/' }, properties: { type: { type: 'string' } } } } } },
                weight: { type: 'integer', default: 1 },
              },
            },
          },
          byName: { type: 'object', additionalProperties: { type: 'object', properties: { on: { type: 'boolean', default: true } } } },
          nullable: { type: 'string', nullable: true, default: 'x' },
          notNullable: { type: 'string', default: 'y' },
        },
      },
    },
  }
  const obj: Record<string, any> = { spec: { byName: { a: {}, b: { on: false } }, nullable: null, notNullable: null } }
  applyDefaults(schema, obj)
  t.same(obj.spec, {
    byName: { a: { on: true }, b: { on: false } },
    nullable: null,
    notNullable: 'y',
    mode: 'Fast',
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], weight: 1 }],
  })
  const empty: Record<string, any> = {}
  applyDefaults(schema, empty)
  t.equal(empty.spec.mode, 'Fast', 'a defaulted object is defaulted inside')
})

t.test('validation messages and paths as upstream writes them', async (t) => {
  const schema: Schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 5, pattern: '^[a-z]+$' },
          port: { type: 'integer', minimum: 1, maximum: 65535, format: 'int32' },
          ratio: { type: 'number', exclusiveMinimum: true, minimum: 0, multipleOf: 0.5 },
          mode: { type: 'string', enum: ['A', 'B'] },
          host: { type: 'string', format: 'hostname' },
          ip: { type: 'string', format: 'ipv4' },
          when: { type: 'string', format: 'date-time' },
          items: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string' } },
          set: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
          keyed: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', properties: { name: { type: 'string' } } } },
          props: { type: 'object', maxProperties: 1, additionalProperties: { type: 'integer' } },
          few: { type: 'object', minProperties: 2, additionalProperties: { type: 'string' } },
          either: { 'x-kubernetes-int-or-string': true },
          maybe: { type: 'string', nullable: true },
          never: { type: 'string' },
          choice: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, oneOf: [{ required: ['a'] }, { required: ['b'] }] },
          any: { type: 'string', anyOf: [{ pattern: '^x' }, { pattern: '^y' }] },
          not: { type: 'string', not: { enum: ['bad'] } },
        },
      },
    },
  }
  t.same(messages(schema, { spec: { name: 'ok', port: 80 } }), [])
  t.same(messages(schema, {
    spec: {
      name: 'TooLong',
      port: 70000,
      ratio: 0,
      mode: 'C',
      host: 'not_a_host',
      ip: '300.1.1.1',
      when: 'yesterday',
      items: ['a', 'b', 'c'],
      set: ['x', 'x'],
      keyed: [{ name: 'a' }, { name: 'a' }],
      props: { a: 1, b: 'two' },
      few: { a: 'x' },
      either: 1.5,
      maybe: null,
      never: null,
      choice: { a: 'x', b: 'y' },
      any: 'z',
      not: 'bad',
    },
  }), [
    'spec.name: Too long: may not be more than 5 bytes',
    "spec.name: Invalid value: \"TooLong\": spec.name in body should match '^[a-z]+$'",
    'spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535',
    'spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0',
    'spec.mode: Unsupported value: "C": supported values: "A", "B"',
    'spec.host: Invalid value: "not_a_host": spec.host in body must be of type hostname: "not_a_host"',
    'spec.ip: Invalid value: "300.1.1.1": spec.ip in body must be of type ipv4: "300.1.1.1"',
    'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
    'spec.items: Too many: 3: must have at most 2 items',
    'spec.set[1]: Duplicate value: "x"',
    'spec.keyed[1]: Duplicate value: map[string]string{"name":"a"}',
    'spec.props: Too many: 2: must have at most 1 items',
    'spec.props.b: Invalid value: "string": spec.props.b in body must be of type integer: "string"',
    'spec.few: Invalid value: 1: spec.few in body should have at least 2 properties',
    'spec.either: Invalid value: "number": spec.either in body must be of type integer,string: "number"',
    'spec.never: Invalid value: "null": spec.never in body must be of type string: "null"',
    'spec.choice: Invalid value: map[string]string{"a":"x", "b":"y"}: spec.choice in body must validate one and only one schema (oneOf). Found 2 valid alternatives',
    'spec.any: Invalid value: "z": spec.any in body must validate at least one schema (anyOf)',
    "spec.any: Invalid value: \"z\": spec.any in body should match '^x'",
    'spec.not: Invalid value: "bad": spec.not in body must not validate the schema (not)',
  ])
  t.same(messages(schema, { spec: { items: [] } }), ['spec.name: Required value', 'spec.items: Invalid value: 0: spec.items in body should have at least 1 items'])
  t.same(messages(schema, { spec: 'text' }), ['spec: Invalid value: "string": spec in body must be of type object: "string"'])
})

const crd = (versions: unknown[], extra: Record<string, unknown> = {}) => ({
  metadata: { name: 'things.example.com' },
  spec: { group: 'example.com', scope: 'Namespaced', names: { plural: 'things', kind: 'Thing' }, versions, ...extra },
})
const v = (name: string, storage: boolean, schema: unknown = { type: 'object' }) => ({ name, served: true, storage, schema: { openAPIV3Schema: schema } })

t.test('a CRD is validated as upstream does', async (t) => {
  t.same(validateCrd(crd([v('v1', true)])), [])
  const fields = (o: Record<string, unknown>) => validateCrd(o).map((c) => `${c.field}: ${c.message}`)
  t.same(fields(crd([v('v1', true), v('v2', true)])), ['spec.versions: Invalid value: []string{"v1", "v2"}: must have exactly one version marked as storage version'])
  t.same(fields(crd([v('v1', true), v('v1', false)])), ['spec.versions[1].name: Duplicate value: "v1"'])
  t.same(fields(crd([{ name: 'v1', served: true, storage: true }])), ['spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required'])
  t.same(fields(crd([v('v1', true)], { scope: 'Global' })), ['spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'])
  t.same(fields(crd([v('v1', true)], { conversion: { strategy: 'Webhook' } })), ['spec.conversion.strategy: Unsupported value: "Webhook": supported values: "None"'])
  t.same(fields({ ...crd([v('v1', true)]), metadata: { name: 'other.example.com' } }), ['metadata.name: Invalid value: "other.example.com": must be spec.names.plural+"."+spec.group'])
  const selectable = (fields: unknown[]) => fieldsOf(crd([{ ...v('v1', true, { type: 'object', properties: { spec: { type: 'object', properties: { color: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } } } } }), selectableFields: fields }]))
  const fieldsOf = fields
  t.same(selectable([{ jsonPath: '.spec.color' }]), [])
  t.same(selectable([{ jsonPath: '.spec.color' }, { jsonPath: '.spec.color' }, { jsonPath: '.spec.tags' }, { jsonPath: '.spec.nope' }, { jsonPath: 'spec[0]' }]), [
    'spec.versions[0].selectableFields[1].jsonPath: Duplicate value: ".spec.color"',
    'spec.versions[0].selectableFields[2].jsonPath: Invalid value: ".spec.tags": must point to a field of type string, boolean or integer',
    'spec.versions[0].selectableFields[3].jsonPath: Invalid value: ".spec.nope": is an invalid path: does not refer to a field in the schema',
    'spec.versions[0].selectableFields[4].jsonPath: Invalid value: "spec[0]": must be a simple path of field names, such as .spec.color',
  ])
  const old = { ...crd([v('v1', true)]), status: { storedVersions: ['v1'] } }
  t.same(validateCrd(crd([v('v2', true)]), old).map((c) => c.message), ['Invalid value: "v1": must appear in spec.versions'])
})

t.test('structural schemas', async (t) => {
  const errs = (s: Schema) => validateStructural(s, 'schema').map((c) => `${c.field}: ${c.message}`)
  t.same(errs({ type: 'object', properties: { a: { type: 'string' }, b: { 'x-kubernetes-int-or-string': true }, c: { 'x-kubernetes-preserve-unknown-fields': true } } }), [])
  t.same(errs({ type: 'object', properties: { a: { description: 'no type' } } }), ['schema.properties[a].type: Required value: must not be empty for specified object fields'])
  t.same(errs({ type: 'array', items: { type: 'string' } }), ['schema.type: Invalid value: "array": must be object at the root'])
  t.same(errs({ type: 'object', properties: { a: { type: 'object', $ref: '#/x' }, l: { type: 'array', items: { type: 'string' }, uniqueItems: true } } }), [
    'schema.properties[a].$ref: Forbidden: $ref is not supported',
    'schema.properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic',
  ])
  t.same(errs({ type: 'object', properties: { metadata: { type: 'object', properties: { labels: { type: 'object' } } } } }), ['schema.properties[metadata].properties[labels]: Forbidden: must not be specified'])
  t.same(errs({ type: 'object', properties: { m: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } } } }), ['schema.properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive'])
  t.same(errs({ type: 'object', properties: { a: { type: 'string', anyOf: [{ pattern: 'x' }] } } }), [], 'no type needed under value validation')
})

t.test('versions sort by Kubernetes priority; infos follow it', async (t) => {
  t.same(['v1alpha1', 'v2', 'foo', 'v1beta2', 'v1', 'v1beta1', 'bar'].sort(compareVersions), ['v2', 'v1', 'v1beta2', 'v1beta1', 'v1alpha1', 'bar', 'foo'])
  const infos = customResourceInfos(crd([v('v1beta1', false), v('v1', true), { ...v('v2alpha1', false), served: false }]))
  t.same(infos.map((i) => [i.version, i.custom?.storageVersion]), [['v1', 'v1'], ['v1beta1', 'v1']])
  t.equal(infos[0].model, 'com.example.v1.Thing')
  t.equal(infos[0].listKind, 'ThingList')
  t.equal(infos[0].singular, 'thing')
  const stored = infos[1].custom!.toStored({ apiVersion: 'example.com/v1beta1', kind: 'Thing' })
  t.equal(stored.apiVersion, 'example.com/v1')
  t.equal(infos[1].custom!.fromStored(stored).apiVersion, 'example.com/v1beta1')
})

t.test('printer columns read simple JSONPath', async (t) => {
  const obj = { metadata: { name: 'a', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { hosts: ['x', 'y'], n: 3 }, status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Other', status: 'False' }], addresses: [{ value: '10.0.0.1' }] } }
  t.same(evalJsonPath(parseJsonPath('.status.conditions[?(@.type=="Ready")].status')!, obj), ['True'])
  t.same(evalJsonPath(parseJsonPath('{.status.addresses[*].value}')!, obj), ['10.0.0.1'])
  t.same(evalJsonPath(parseJsonPath('.spec.hosts[1]')!, obj), ['y'])
  const printer = customPrinter([
    { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts' },
    { name: 'N', type: 'integer', jsonPath: '.spec.n' },
    { name: 'Missing', type: 'string', jsonPath: '.spec.none', priority: 1 },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ])
  t.same(printer.columns.map((c) => [c.name, c.priority]), [['Name', 0], ['Hosts', 0], ['N', 0], ['Missing', 1], ['Ready', 0], ['Age', 0]])
  t.same(printer.row(obj, Date.parse('2026-01-01T00:05:00Z')).cells, ['a', '["x","y"]', 3, null, 'True', '5m'])
  t.same(customPrinter([]).columns.map((c) => c.name), ['Name', 'Age'])
})

t.test('ratcheting drops causes about values an update left alone', async (t) => {
  const schema: Schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        required: ['mode'],
        properties: { size: { type: 'integer', maximum: 3 }, mode: { type: 'string' }, names: { type: 'array', maxItems: 1, items: { type: 'string', maxLength: 2 } } },
      },
    },
  }
  const old = { spec: { size: 4, names: ['abc', 'de'] } }
  const same = { spec: { size: 4, names: ['abc', 'de'] }, metadata: { labels: { a: 'b' } } }
  t.ok(validateValue(schema, same).length > 0, 'the object breaks the schema')
  t.same(ratchet(validateValue(schema, same), same, old), [], 'but nothing changed where it does')
  const changed = { spec: { size: 5, names: ['abc', 'xyz'] } }
  t.same(ratchet(validateValue(schema, changed), changed, old).map((c) => c.field), ['spec.mode', 'spec.size', 'spec.names', 'spec.names[1]'], 'names[0] is as it was')
})
