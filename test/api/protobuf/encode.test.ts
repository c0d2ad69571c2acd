import t from 'tap'
import { decodeMessage } from '../../../src/api/protobuf/decode.ts'
import { writeMessage } from '../../../src/api/protobuf/encode.ts'
import { decodeProtobufObject, encodeProtobufObject } from '../../../src/api/protobuf/index.ts'
import { ProtoReader } from '../../../src/api/protobuf/reader.ts'
import { kubernetesSchema } from '../../../src/api/protobuf/schema.ts'
import { ProtoWriter } from '../../../src/api/protobuf/writer.ts'
import { lengthDelimited, varintField } from '../../helpers/protobuf.ts'

const encode = (name: string, value: unknown): Buffer => {
  const w = new ProtoWriter(16)
  writeMessage(w, kubernetesSchema, name, value)
  return w.finish()
}
const decode = (name: string, data: Uint8Array) => decodeMessage(kubernetesSchema, name, data)

t.test('the writer: varints, and runs whose length needs more than one byte', async (t) => {
  for (const n of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 31, 2 ** 53 - 1]) {
    const w = new ProtoWriter(1)
    w.varint(n)
    t.equal(new ProtoReader(w.finish()).varint(), BigInt(n), `varint ${n}`)
  }
  const w = new ProtoWriter(1)
  w.signedVarint(-1)
  t.equal(w.length, 10, 'a negative number takes ten bytes, as in Go')
  for (const size of [0, 127, 128, 200, 16383, 16384, 70_000]) {
    const w = new ProtoWriter(4)
    const outer = w.begin(1)
    w.string(2, 'é'.repeat(size / 2) + 'x'.repeat(size % 2))
    w.bytes(3, Buffer.alloc(size, 7))
    w.end(outer)
    w.string(4, 'after')
    const reader = new ProtoReader(w.finish())
    t.equal(reader.tag().field, 1)
    const inner = reader.message()
    inner.tag()
    t.equal(Buffer.from(inner.bytes()).toString(), 'é'.repeat(size / 2) + 'x'.repeat(size % 2), `a ${size}-byte string in place`)
    inner.tag()
    t.equal(inner.bytes().length, size)
    t.ok(inner.done)
    t.equal(reader.tag().field, 4, 'what follows a moved run is intact')
    t.equal(Buffer.from(reader.bytes()).toString(), 'after')
  }
})

t.test('fields are written in field-number order, only when present, maps sorted', async (t) => {
  const meta = encode('meta.v1.ObjectMeta', { labels: { b: '2', a: '1' }, name: 'n', generation: 0, namespace: undefined, annotations: null })
  const expected = Buffer.concat([
    lengthDelimited(1, 'n'),
    varintField(7, 0),
    lengthDelimited(11, Buffer.concat([lengthDelimited(1, 'a'), lengthDelimited(2, '1')])),
    lengthDelimited(11, Buffer.concat([lengthDelimited(1, 'b'), lengthDelimited(2, '2')])),
  ])
  t.same(meta, expected)
  t.same(encode('meta.v1.ObjectMeta', { unknownField: 'dropped', name: 'n' }), lengthDelimited(1, 'n'), 'fields the table does not know are left out')
})

t.test('special forms: times, durations, quantities, IntOrString, raw JSON', async (t) => {
  const time = encode('meta.v1.Time', '2024-05-06T14:53:20+02:00')
  t.same(time, Buffer.concat([varintField(1, 1715000000), varintField(2, 0)]), 'an offset is taken to UTC; Time has no fraction')
  t.equal(decode('meta.v1.Time', time), '2024-05-06T12:53:20Z')
  const micro = encode('meta.v1.MicroTime', '2024-05-06T12:53:20.001234Z')
  t.equal(decode('meta.v1.MicroTime', micro), '2024-05-06T12:53:20.001234Z')
  t.throws(() => encode('meta.v1.Time', 'yesterday'), /not an RFC 3339 time/)
  t.throws(() => encode('meta.v1.Time', '2024-13-45T00:00:00Z'), /not an RFC 3339 time/)
  t.equal(decode('meta.v1.Duration', encode('meta.v1.Duration', '1h30m')), '1h30m0s')
  t.throws(() => encode('meta.v1.Duration', '5 minutes'), /not a duration/)
  t.equal(decode('resource.Quantity', encode('resource.Quantity', '1.5Gi')), '1.5Gi')
  t.equal(decode('resource.Quantity', encode('resource.Quantity', 2)), '2', 'a number quantity becomes its text')
  t.equal(decode('intstr.IntOrString', encode('intstr.IntOrString', 0)), 0)
  t.equal(decode('intstr.IntOrString', encode('intstr.IntOrString', 'http')), 'http')
  t.throws(() => encode('intstr.IntOrString', 1.5), /not an int32/)
  const revision = { metadata: { name: 'r' }, data: { spec: { template: { x: [1, null, 'y'] } } }, revision: 3 }
  t.same(decode('apps.v1.ControllerRevision', encode('apps.v1.ControllerRevision', revision)), revision, 'a RawExtension holds its JSON')
})

t.test('a message that reads as 0 is kept where a scalar zero is dropped', async (t) => {
  const update = { maxUnavailable: 0, maxSurge: 0 }
  t.same(decode('apps.v1.RollingUpdateDeployment', encode('apps.v1.RollingUpdateDeployment', update)), update)
  t.same(decode('apps.v1.DeploymentSpec', encode('apps.v1.DeploymentSpec', { replicas: 0, minReadySeconds: 0 })), { replicas: 0 }, 'replicas is a pointer; minReadySeconds is omitempty')
})

t.test('inlined structs: JSON fields of the parent, a nested message on the wire', async (t) => {
  const volume = { name: 'cfg', configMap: { name: 'settings', defaultMode: 420 } }
  const bytes = encode('core.v1.Volume', volume)
  const reader = new ProtoReader(bytes)
  reader.tag()
  reader.bytes()
  t.equal(reader.tag().field, 2, 'the volume source is field 2')
  t.same(decode('core.v1.Volume', bytes), volume)
  const selector = { name: 'creds', key: 'password', optional: true }
  t.same(decode('core.v1.SecretKeySelector', encode('core.v1.SecretKeySelector', selector)), selector, 'LocalObjectReference inside a selector')
})

t.test('wrong JSON types are refused with where they were', async (t) => {
  t.throws(() => encode('meta.v1.ObjectMeta', { name: 5 }), { name: 'ProtobufError', message: /expected a string, not number 5 \(at name\)/ })
  t.throws(() => encode('meta.v1.ObjectMeta', { labels: ['a'] }), /a map must be a JSON object \(at labels\)/)
  t.throws(() => encode('meta.v1.ObjectMeta', { finalizers: 'x' }), /a list must be a JSON array/)
  t.throws(() => encode('apps.v1.DeploymentSpec', { replicas: 2 ** 31 }), /out of range for an int32 \(at replicas\)/)
  t.throws(() => encode('apps.v1.DeploymentSpec', { replicas: 1.5 }), /expected an integer/)
  t.throws(() => encode('apps.v1.DeploymentSpec', { paused: 'yes' }), /expected a boolean/)
  t.throws(() => encodeProtobufObject({ apiVersion: 'example.com/v1', kind: 'Widget' }), /Widget \(example.com\/v1\) has no protobuf form/)
})

t.test('a whole object: envelope around the message, decoded back', async (t) => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n' }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, protocol: 'TCP' }] }] } }
  const bytes = encodeProtobufObject(pod)
  t.same(bytes.subarray(0, 4), Buffer.from('k8s\0', 'latin1'))
  t.same(bytes.subarray(-4), Buffer.from([0x1a, 0x00, 0x22, 0x00]), 'empty content encoding and type written, as Go writes them')
  t.same(decodeProtobufObject(bytes), pod)
})
