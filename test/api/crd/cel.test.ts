// CEL validation rules (x-kubernetes-validations): self and oldSelf typed by the schema, the
// causes upstream writes, and rules weft cannot evaluate left unenforced; then the Gateway API
// v1.3.0 HTTPRoute and Gateway rules on good and bad objects.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { compileRule, validateRules } from '../../../src/api/crd/cel.ts'
import type { Schema } from '../../../src/api/crd/schema.ts'

const messages = (schema: Schema, value: unknown, old?: unknown) => validateRules(schema, value, old).map((c) => `${c.field}: ${c.message}`)

t.test('rules see self typed by the schema', async (t) => {
  const schema: Schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        'x-kubernetes-validations': [
          { rule: 'self.min <= self.max', message: 'min must not be above max' },
          { rule: 'self.ratio < 1.0' },
          { rule: "!has(self.name) || self.name.startsWith('a')", messageExpression: "'name ' + self.name + ' must start with a'" },
          { rule: 'self.tags.all(x, x.size() < 4)', fieldPath: '.tags', reason: 'FieldValueForbidden', message: 'tags are short' },
          { rule: 'self.name.split("-").size() < 3', message: 'at most one dash' },
          { rule: 'self.nope()', message: 'does not compile' },
          { rule: 'self.missing == 1', message: 'an evaluation error is not enforced' },
        ],
        properties: {
          min: { type: 'integer' },
          max: { type: 'integer' },
          ratio: { type: 'number' },
          name: { type: 'string' },
          tags: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  }
  t.same(messages(schema, { spec: { min: 1, max: 2, ratio: 0.5, name: 'ab', tags: ['x'] } }), [])
  t.same(messages(schema, { spec: { min: 3, max: 2, ratio: 1, name: 'b-c-d', tags: ['long'] } }), [
    'spec: Invalid value: "object": min must not be above max',
    'spec: Invalid value: "object": failed rule: self.ratio < 1.0',
    'spec: Invalid value: "object": name b-c-d must start with a',
    'spec.tags: Forbidden: tags are short',
    'spec: Invalid value: "object": at most one dash',
  ])
  t.equal(compileRule('self.nope('), undefined, 'a rule that does not parse is skipped')
})

t.test('transition rules run only where an old value correlates', async (t) => {
  const schema: Schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          id: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'id is immutable' }] },
          ports: {
            type: 'array',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['name'],
            items: {
              type: 'object',
              properties: { name: { type: 'string' }, port: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self >= oldSelf', message: 'ports only grow' }] } },
            },
          },
        },
      },
    },
  }
  const obj = { spec: { id: 'a', ports: [{ name: 'http', port: 80 }] } }
  t.same(messages(schema, obj), [], 'no old object: no transition rule')
  t.same(messages(schema, obj, obj), [])
  t.same(messages(schema, { spec: { id: 'b', ports: [{ name: 'new', port: 1 }, { name: 'http', port: 79 }] } }, obj), [
    'spec.id: Invalid value: "string": id is immutable',
    'spec.ports[1].port: Invalid value: "integer": ports only grow',
  ])
})

t.test("some of Kubernetes' CEL libraries", async (t) => {
  const check = (rule: string, value: unknown, schema: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }) =>
    validateRules({ ...schema, 'x-kubernetes-validations': [{ rule, message: 'no' }] }, value).length === 0
  const v = { ints: [1, 2, 3], strs: ['b', 'a'], url: 'https://example.com/x', path: '/x', ip: '10.0.0.1', ip6: 'fd00::1', cidr: '10.0.0.0/8', name: 'abc-123' }
  for (const rule of [
    'self.ints.isSorted()',
    '!self.strs.isSorted()',
    'self.ints.sum() == 6',
    'self.ints.min() == 1 && self.ints.max() == 3',
    'self.strs.indexOf("a") == 1 && self.strs.lastIndexOf("z") == -1',
    'self.name.find("[0-9]+") == "123"',
    'self.name.findAll("[a-z]") == ["a", "b", "c"]',
    'isURL(self.url) && isURL(self.path) && !isURL("not a url")',
    'isIP(self.ip) && isIP(self.ip6, 6) && !isIP(self.ip, 6) && !isIP("300.0.0.1")',
    'isCIDR(self.cidr) && !isCIDR(self.ip)',
  ]) {
    t.ok(compileRule(rule), `${rule} compiles`)
    t.ok(check(rule, v), rule)
  }
  t.notOk(check('self.ints.sum() == 7', v), 'a false rule fails')
  t.equal(compileRule('url(self.url).getHost() == "x"') === undefined || check('url(self.url).getHost() == "x"', v), true, 'url() objects are not there: not enforced')
})

const fixture = fileURLToPath(new URL('../../fixtures/gateway-api/standard-install-v1.3.0.yaml', import.meta.url))
const crds = parseAllDocuments(readFileSync(fixture, 'utf8')).map((d) => d.toJS()).filter(Boolean)
const schemaOf = (kind: string) => crds.find((d: any) => d.spec.names.kind === kind).spec.versions.find((v: any) => v.name === 'v1').schema.openAPIV3Schema

t.test('the Gateway API rules', async (t) => {
  let rules = 0
  let compiled = 0
  const walk = (s: any): void => {
    if (!s || typeof s !== 'object') return
    for (const r of s['x-kubernetes-validations'] ?? []) {
      rules++
      if (compileRule(r.rule)) compiled++
    }
    for (const v of Object.values(s.properties ?? {})) walk(v)
    walk(s.items)
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties)
  }
  for (const crd of crds) for (const v of crd.spec.versions) walk(v.schema.openAPIV3Schema)
  t.equal(rules, 219)
  t.equal(compiled, rules, 'every rule compiles')

  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r' },
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web' }],
      hostnames: ['shop.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/cart' } }],
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: 'y' }] } }],
          backendRefs: [{ group: '', kind: 'Service', name: 'cart', port: 8080, weight: 1 }],
        },
      ],
    },
  }
  t.same(validateRules(schemaOf('HTTPRoute'), route), [])
  const bad = structuredClone(route) as any
  bad.spec.rules[0].matches[0].path.value = 'cart'
  delete bad.spec.rules[0].backendRefs[0].port
  bad.spec.rules[0].filters.push({ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'a', value: 'b' }] } })
  t.same(messages(schemaOf('HTTPRoute'), bad), [
    "spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
    'spec.rules[0].filters: Invalid value: "array": RequestHeaderModifier filter cannot be repeated',
    'spec.rules[0].backendRefs[0]: Invalid value: "object": Must have port for Service reference',
  ])
  const gateway = { spec: { gatewayClassName: 'weft', listeners: [{ name: 'a', protocol: 'HTTP', port: 80 }, { name: 'a', protocol: 'HTTP', port: 81 }] } }
  t.match(messages(schemaOf('Gateway'), gateway).join('\n'), /Listener name must be unique within the Gateway/)
})
