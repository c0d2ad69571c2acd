import t from 'tap'
import { decodeMessage, maxNestingDepth } from '../../../src/api/protobuf/decode.ts'
import { kubernetesSchema } from '../../../src/api/protobuf/schema.ts'
import type { Schema } from '../../../src/api/protobuf/types.ts'
import { encodeMessage, lengthDelimited, sampleOf, tag, varint, varintField } from '../../helpers/protobuf.ts'

const decode = (name: string, data: Uint8Array) => decodeMessage(kubernetesSchema, name, data)

t.test('every message the table names exists, and no two fields share a JSON name', async (t) => {
  for (const [name, spec] of Object.entries(kubernetesSchema)) {
    const names = new Set<string>()
    for (const f of Object.values(spec.fields)) {
      if (typeof f.type === 'object') t.ok(kubernetesSchema[f.type.message], `${name}.${f.json} → ${f.type.message}`)
      t.notOk(names.has(f.json), `${name}.${f.json} is unique`)
      names.add(f.json)
    }
  }
})

t.test('every message round-trips JSON → protobuf → JSON with every field set', async (t) => {
  for (const name of Object.keys(kubernetesSchema)) {
    const json = sampleOf(name)
    t.same(decode(name, encodeMessage(name, json)), json, name)
    t.same(decode(name, encodeMessage(name, json, { goZeros: true })), json, `${name} with Go's zero values written`)
  }
})

t.test('zero values are dropped where Go\'s JSON omits them, kept for pointers and fields without omitempty', async (t) => {
  const meta = Buffer.concat([lengthDelimited(1, ''), varintField(7, 0), varintField(10, 0), lengthDelimited(8, '')])
  t.same(decode('meta.v1.ObjectMeta', meta), { deletionGracePeriodSeconds: 0 }, 'empty name, generation 0 and a zero creationTimestamp are absent')
  const owner = Buffer.concat([varintField(6, 0), varintField(7, 1)])
  t.same(decode('meta.v1.OwnerReference', owner), { controller: false, blockOwnerDeletion: true })
  t.same(decode('authentication.v1.TokenRequestSpec', varintField(4, 0)), { expirationSeconds: 0 })
  t.same(decode('authorization.v1.SelfSubjectAccessReview', Buffer.concat([lengthDelimited(2, ''), lengthDelimited(3, varintField(1, 0))])), { spec: {}, status: { allowed: false } }, 'a zero whose JSON has no omitempty is kept, as Go shows it')
})

t.test('the special forms decode to their JSON', async (t) => {
  const time = (seconds: number | bigint, nanos?: number) => Buffer.concat([varintField(1, seconds), nanos === undefined ? Buffer.alloc(0) : varintField(2, nanos)])
  t.equal(decode('meta.v1.Time', time(1715000000, 999_999_999)), '2024-05-06T12:53:20Z', 'metav1.Time drops the fraction')
  t.equal(decode('meta.v1.Time', time(0)), '1970-01-01T00:00:00Z', 'a present zero is the epoch')
  t.equal(decode('meta.v1.Time', Buffer.alloc(0)), undefined, 'an empty Time is unset')
  t.equal(decode('meta.v1.Time', time(-62135596800)), '0001-01-01T00:00:00Z')
  t.equal(decode('meta.v1.Time', time(253402300799)), '9999-12-31T23:59:59Z')
  t.throws(() => decode('meta.v1.Time', time(253402300800)), /outside the years 0001 to 9999/)
  t.throws(() => decode('meta.v1.Time', time(-62135596801)), /outside the years 0001 to 9999/)
  t.throws(() => decode('meta.v1.Time', time(1, -1)), /nanos -1/)
  t.equal(decode('meta.v1.MicroTime', time(1715000000, 1_234_567)), '2024-05-06T12:53:20.001234Z', 'MicroTime keeps microseconds')
  t.equal(decode('meta.v1.MicroTime', time(1715000000)), '2024-05-06T12:53:20.000000Z')

  t.same(decode('meta.v1.FieldsV1', lengthDelimited(1, '{"f:spec":{".":{}}}')), { 'f:spec': { '.': {} } })
  t.throws(() => decode('meta.v1.FieldsV1', lengthDelimited(1, '{"f:spec"')), /fieldsV1 is not JSON/)
  t.throws(() => decode('meta.v1.FieldsV1', lengthDelimited(1, '[1]')), /not a JSON object/)
  t.throws(() => decode('meta.v1.FieldsV1', lengthDelimited(1, '{"a":'.repeat(200) + '1' + '}'.repeat(200))), /deeper than 100/)
  t.same(decode('meta.v1.FieldsV1', lengthDelimited(1, '{"a":"[[[[{{\\"x"}')), { a: '[[[[{{"x' }, 'brackets in strings do not count as nesting')

  t.same(decode('authorization.v1.ExtraValue', Buffer.concat([lengthDelimited(1, 'a'), lengthDelimited(1, '')])), ['a', ''])
  t.same(decode('authorization.v1.ExtraValue', Buffer.alloc(0)), [])
  t.equal(decode('intstr.IntOrString', varintField(2, 8080)), 8080)
  t.equal(decode('intstr.IntOrString', varintField(2, -1)), -1)
  t.equal(decode('intstr.IntOrString', Buffer.concat([varintField(1, 1), lengthDelimited(3, 'http')])), 'http')
  t.equal(decode('intstr.IntOrString', varintField(1, 1)), '')
  t.throws(() => decode('intstr.IntOrString', varintField(1, 2)), /IntOrString type 2/)
})

t.test('scalars: int64 as exact numbers, int32 in range, bytes as base64, strings as strict UTF-8', async (t) => {
  t.same(decode('meta.v1.ObjectMeta', varintField(7, -5)), { generation: -5 }, 'negative int64 (10-byte varint)')
  t.same(decode('meta.v1.ObjectMeta', varintField(7, Number.MAX_SAFE_INTEGER)), { generation: Number.MAX_SAFE_INTEGER })
  t.throws(() => decode('meta.v1.ObjectMeta', varintField(7, 2n ** 53n)), { name: 'ProtobufError', message: /int64 value 9007199254740992 cannot be held exactly.*\(at generation\)/ })
  t.throws(() => decode('meta.v1.ObjectMeta', varintField(7, -(2n ** 60n))), /cannot be held exactly/)
  t.same(decode('certificates.v1.CertificateSigningRequestSpec', varintField(8, -600)), { expirationSeconds: -600 })
  t.throws(() => decode('certificates.v1.CertificateSigningRequestSpec', varintField(8, 2n ** 31n)), /out of range for an int32 \(at expirationSeconds\)/)
  t.same(decode('certificates.v1.CertificateSigningRequestSpec', lengthDelimited(1, Buffer.from([0, 1, 254, 255]))), { request: 'AAH+/w==' })
  t.same(decode('meta.v1.ObjectMeta', lengthDelimited(1, '\ufeffbom')), { name: '\ufeffbom' }, 'a BOM is kept, not eaten')
  t.throws(() => decode('meta.v1.ObjectMeta', lengthDelimited(1, Buffer.from([0x61, 0xff]))), /not valid UTF-8 \(at name\)/)
  t.same(decode('authorization.v1.SubjectAccessReviewStatus', varintField(1, 7)), { allowed: true }, 'any non-zero bool is true, as in Go')
})

t.test('repeated fields: unpacked, packed; single fields: the last wins, messages merge', async (t) => {
  t.same(decode('authorization.v1.ResourceRule', Buffer.concat([lengthDelimited(1, 'get'), lengthDelimited(3, 'pods'), lengthDelimited(1, 'list')])), { verbs: ['get', 'list'], resources: ['pods'] })
  const schema: Schema = { List: { fields: { 1: { json: 'n', type: 'int32', repeated: true } } } }
  const packed = lengthDelimited(1, Buffer.concat([varint(1), varint(300), varint(-2)]))
  t.same(decodeMessage(schema, 'List', Buffer.concat([packed, varintField(1, 4)])), { n: [1, 300, -2, 4] })
  t.same(decode('meta.v1.ObjectMeta', Buffer.concat([lengthDelimited(1, 'a'), lengthDelimited(1, 'b')])), { name: 'b' })
  t.same(decode('meta.v1.ObjectMeta', Buffer.concat([lengthDelimited(1, 'a'), lengthDelimited(1, '')])), {}, 'a later zero value unsets the field')
  const twice = Buffer.concat([lengthDelimited(2, lengthDelimited(1, lengthDelimited(2, 'get'))), lengthDelimited(2, lengthDelimited(1, lengthDelimited(5, 'pods')))])
  t.same(decode('authorization.v1.SelfSubjectAccessReview', twice), { spec: { resourceAttributes: { verb: 'get', resource: 'pods' } } }, 'a repeated message field merges, as in Go')
  const times = Buffer.concat([lengthDelimited(8, varintField(1, 100)), lengthDelimited(8, varintField(1, 200))])
  t.same(decode('meta.v1.ObjectMeta', times), { creationTimestamp: '1970-01-01T00:03:20Z' }, 'a repeated Time: the last wins')
})

t.test('maps: entries as own properties, missing keys and values as zero', async (t) => {
  const entry = (key: Buffer, value: Buffer) => lengthDelimited(11, Buffer.concat([key, value]))
  const labels = decode('meta.v1.ObjectMeta', Buffer.concat([
    entry(lengthDelimited(1, '__proto__'), lengthDelimited(2, 'polluted')),
    entry(lengthDelimited(1, 'app'), lengthDelimited(2, 'web')),
    entry(Buffer.alloc(0), lengthDelimited(2, 'no key')),
    entry(lengthDelimited(1, 'empty'), Buffer.alloc(0)),
    entry(lengthDelimited(1, 'app'), Buffer.concat([lengthDelimited(2, 'api'), lengthDelimited(9, 'unknown')])),
  ])) as { labels: Record<string, unknown> }
  t.same(Object.keys(labels.labels), ['__proto__', 'app', '', 'empty'])
  t.equal(labels.labels.app, 'api', 'a repeated key: the last wins')
  t.equal(Object.getPrototypeOf(labels.labels), Object.prototype, 'a __proto__ key does not change the prototype')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal(JSON.parse(JSON.stringify(labels)).labels.__proto__, 'polluted', 'and survives JSON')
  t.same(decode('meta.v1.ObjectMeta', entry(lengthDelimited(1, 'x'), Buffer.alloc(0))), { labels: { x: '' } })
  const extra = decode('authorization.v1.SubjectAccessReviewSpec', lengthDelimited(5, lengthDelimited(1, 'scopes')))
  t.same(extra, { extra: { scopes: [] } }, 'a missing ExtraValue is an empty list')
  t.throws(() => decode('meta.v1.ObjectMeta', lengthDelimited(11, varintField(1, 5))), /field key \(string\) has wire type 0, not 2 \(at labels\)/)
})

t.test('unknown fields are skipped by wire type', async (t) => {
  const data = Buffer.concat([
    varintField(99, 5),
    tag(98, 1), Buffer.alloc(8),
    lengthDelimited(97, 'skipped'),
    tag(96, 5), Buffer.alloc(4),
    lengthDelimited(1, 'kept'),
  ])
  t.same(decode('meta.v1.ObjectMeta', data), { name: 'kept' })
  t.throws(() => decode('meta.v1.ObjectMeta', tag(95, 3)), /groups/)
})

t.test('malformed input is refused with where it broke', async (t) => {
  t.throws(() => decode('meta.v1.ObjectMeta', varintField(1, 5)), /field name \(string\) has wire type 0, not 2 \(at name\)/)
  t.throws(() => decode('meta.v1.ObjectMeta', lengthDelimited(7, 'x')), /field generation \(int64\) has wire type 2, not 0/)
  t.throws(() => decode('authorization.v1.SelfSubjectAccessReview', lengthDelimited(2, lengthDelimited(1, lengthDelimited(2, Buffer.from([0x80]))))), /\(at spec\.resourceAttributes\.verb\)/)
  t.throws(() => decode('authorization.v1.SelfSubjectAccessReview', lengthDelimited(2, Buffer.from([0x0a, 0x09, 0x12]))), /length 9 at byte 3 runs past the end of its data \(1 bytes left\) \(at spec\.resourceAttributes\)/)
  t.throws(() => decode('meta.v1.ObjectMeta', Buffer.from([0x0a])), /truncated varint/)
  t.throws(() => decode('meta.v1.ObjectMeta', Buffer.concat([tag(1, 2), varint(2n ** 40n)])), /beyond the 3145728-byte limit/)
  t.throws(() => decodeMessage(kubernetesSchema, 'nope.Message', Buffer.alloc(0)), /has no message nope.Message/)
})

t.test('a depth bomb through a recursive schema stops at the nesting limit', async (t) => {
  const schema: Schema = {
    Node: {
      fields: {
        1: { json: 'child', type: { message: 'Node' } },
        2: { json: 'name', type: 'string' },
        3: { json: 'more', type: { message: 'Node' }, map: true },
        4: { json: 'n', type: 'int32' },
      },
    },
  }
  let nested = lengthDelimited(2, 'leaf')
  for (let i = 0; i < maxNestingDepth; i++) nested = lengthDelimited(1, nested)
  let leaf = decodeMessage(schema, 'Node', nested) as Record<string, unknown>
  for (let i = 0; i < maxNestingDepth; i++) leaf = leaf.child as Record<string, unknown>
  t.same(leaf, { name: 'leaf' }, `${maxNestingDepth} levels are fine`)
  t.throws(() => decodeMessage(schema, 'Node', lengthDelimited(1, nested)), /nest deeper than 32 levels/)
  const bomb = nestedBomb([3, 2], 100_000)
  t.ok(bomb.length > 500_000)
  t.throws(() => decodeMessage(schema, 'Node', bomb), /nest deeper than 32 levels/, '100 000 levels through map values too')
  t.throws(() => decodeMessage(schema, 'Node', nestedBomb([1], 300_000)), /nest deeper than 32 levels/)
})

/** `levels` times the fields in `path`, each length-delimited around the next, built in one pass. */
function nestedBomb(path: number[], levels: number): Buffer {
  const headers: Buffer[] = []
  let size = 0
  for (let i = 0; i < levels; i++) {
    for (const field of [...path].reverse()) {
      const header = Buffer.concat([tag(field, 2), varint(size)])
      headers.push(header)
      size += header.length
    }
  }
  return Buffer.concat(headers.reverse())
}

t.test('a map key in an error path is cut short', async (t) => {
  const entry = lengthDelimited(5, Buffer.concat([lengthDelimited(1, 'k'.repeat(10_000)), lengthDelimited(2, varintField(1, 1))]))
  const err = t.throws(() => decode('authorization.v1.SubjectAccessReviewSpec', entry)) as Error
  t.match(err.message, /field items \(string\) has wire type 0, not 2 \(at extra\["k{64}…"\]\.items\)$/)
})
