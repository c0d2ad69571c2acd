import t from 'tap'
import { canDecodeProtobuf, decodeProtobufObject } from '../../../src/api/protobuf/index.ts'
import { resources } from '../../../src/api/registry.ts'
import { encodeObject, lengthDelimited, protobufKinds, sampleOf, varintField } from '../../helpers/protobuf.ts'
import { kubectlBodies } from '../../helpers/protobuf-kubectl-bodies.ts'

const body = (kind: string) => Buffer.from(kubectlBodies[kind], 'hex')
const magic = Buffer.from('k8s\0', 'latin1')
const envelope = (...fields: Buffer[]) => Buffer.concat([magic, ...fields])
const typeMeta = (apiVersion: string, kind: string) => lengthDelimited(1, Buffer.concat([lengthDelimited(1, apiVersion), lengthDelimited(2, kind)]))

t.test("what kubectl sends decodes to the JSON it would have sent", async (t) => {
  t.same(decodeProtobufObject(body('SelfSubjectAccessReview'), { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview' }), {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: {},
    spec: { resourceAttributes: { namespace: 'shop', verb: 'list', resource: 'pods', subresource: 'log' } },
    status: { allowed: false },
  })
  t.same(decodeProtobufObject(body('SelfSubjectRulesReview')), { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec: { namespace: 'kube-system' }, status: { incomplete: false } })
  t.same(decodeProtobufObject(body('SelfSubjectReview')), { kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', metadata: {}, status: { userInfo: {} } })
  t.same(decodeProtobufObject(body('ServiceAccount')), { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'robot' } })
  t.same(decodeProtobufObject(body('TokenRequest')), { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: {}, spec: { audiences: ['a', 'b'], expirationSeconds: 1200 }, status: { token: '' } })
  const csr = decodeProtobufObject(body('CertificateSigningRequest'), { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest' }) as Record<string, any>
  t.match(csr.metadata, { name: 'bob', uid: 'f7a15c8b-2d34-474e-80bb-afa659ac1b30', resourceVersion: '98', creationTimestamp: '2026-12-06T16:07:33Z' })
  t.match(csr.metadata.managedFields, [{ manager: 'kubectl-client-side-apply', operation: 'Update', time: '2026-12-06T16:07:33Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:usages': {} } } }])
  t.match(Buffer.from(csr.spec.request, 'base64').toString(), /^-----BEGIN CERTIFICATE REQUEST-----\n/)
  t.match(csr.spec, { signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'], username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] })
  t.same(csr.status.conditions, [{ type: 'Approved', reason: 'KubectlApprove', message: 'This CSR was approved by kubectl certificate approve.', lastUpdateTime: '2026-12-06T16:07:33Z', status: 'True' }])
  t.equal(csr.metadata.generation, undefined, "Go's zero values (generation 0, empty strings) are absent")
})

t.test('every kind weft serves, and its list, round-trips with every field set', async (t) => {
  const kinds = protobufKinds()
  for (const r of resources) {
    const apiVersion = r.group === '' ? r.version : `${r.group}/${r.version}`
    // CustomResourceDefinitions are served as JSON only (their JSONSchemaProps' protobuf special forms are not in the table).
    if (r.group === 'apiextensions.k8s.io') continue
    t.ok(kinds.some((k) => k.apiVersion === apiVersion && k.kind === r.kind), `${apiVersion} ${r.kind} has a protobuf form`)
  }
  for (const { apiVersion, kind, message } of kinds) {
    t.ok(canDecodeProtobuf({ apiVersion, kind }))
    const json = { kind, apiVersion, ...(sampleOf(message) as object) }
    t.same(decodeProtobufObject(encodeObject(json), { apiVersion, kind }), json, kind)
    t.same(decodeProtobufObject(encodeObject(json, { goZeros: true })), json, `${kind} with Go's zero values`)
  }
  t.notOk(canDecodeProtobuf({ apiVersion: 'example.com/v1', kind: 'Widget' }), 'custom resources have no protobuf form')
  t.notOk(canDecodeProtobuf({ apiVersion: 'v1', kind: 'Quantity' }), 'nor the special-form messages')
})

t.test('the envelope is checked before anything is decoded', async (t) => {
  t.throws(() => decodeProtobufObject(Buffer.alloc(0)), { name: 'ProtobufError', message: /does not start with the Kubernetes protobuf magic/ })
  t.throws(() => decodeProtobufObject(Buffer.from('k8s')), /magic/)
  t.throws(() => decodeProtobufObject(Buffer.from('{"kind":"Pod"}')), /magic/)
  t.throws(() => decodeProtobufObject(Buffer.concat([Buffer.from('k8s\x01', 'latin1'), body('ServiceAccount').subarray(4)])), /magic/)
  t.throws(() => decodeProtobufObject(envelope()), /does not name the object's apiVersion and kind/)
  t.throws(() => decodeProtobufObject(envelope(typeMeta('v1', ''))), /does not name/)
  t.throws(() => decodeProtobufObject(envelope(varintField(1, 3))), /runtime.Unknown field 1 has wire type 0/)
  t.throws(() => decodeProtobufObject(envelope(lengthDelimited(1, varintField(2, 1)))), /runtime.TypeMeta field 2 has wire type 0/)
  t.throws(() => decodeProtobufObject(envelope(typeMeta('v1', 'ServiceAccount'), lengthDelimited(3, 'gzip'))), /content encoding "gzip"/)
  t.throws(() => decodeProtobufObject(envelope(typeMeta('v1', 'ServiceAccount'), lengthDelimited(4, 'application/json'))), /content type "application\/json"/)
  t.same(decodeProtobufObject(envelope(typeMeta('v1', 'ServiceAccount'), lengthDelimited(9, 'future field'), lengthDelimited(4, 'application/vnd.kubernetes.protobuf'))), { kind: 'ServiceAccount', apiVersion: 'v1' })
  t.throws(() => decodeProtobufObject(envelope(lengthDelimited(1, Buffer.from([0x0a, 0x01, 0xc3])), lengthDelimited(2, 'x'))), /apiVersion is not valid UTF-8/)
  t.throws(() => decodeProtobufObject(body('ServiceAccount').subarray(0, 30)), /runs past the end/)
})

t.test('the kind must be the one the request takes, and one weft has a schema for', async (t) => {
  t.throws(
    () => decodeProtobufObject(body('TokenRequest'), { apiVersion: 'v1', kind: 'ServiceAccount' }),
    /the body is a TokenRequest \(authentication.k8s.io\/v1\), but this request takes a ServiceAccount \(v1\)/,
  )
  t.throws(() => decodeProtobufObject(body('SelfSubjectAccessReview'), { apiVersion: 'authorization.k8s.io/v1beta1', kind: 'SelfSubjectAccessReview' }), /but this request takes/)
  const widget = envelope(typeMeta('example.com/v1', 'Widget'), lengthDelimited(2, lengthDelimited(1, lengthDelimited(1, 'w'))))
  t.throws(() => decodeProtobufObject(widget), /weft cannot decode Widget \(example.com\/v1\) as protobuf: send it as JSON/)
  t.throws(() => decodeProtobufObject(widget, { apiVersion: 'example.com/v1', kind: 'Widget' }), /cannot decode Widget/)
  const configMap = envelope(typeMeta('v1', 'ConfigMap'), lengthDelimited(2, Buffer.concat([lengthDelimited(1, lengthDelimited(1, 'cm')), lengthDelimited(2, Buffer.concat([lengthDelimited(1, 'k'), lengthDelimited(2, 'v')]))])))
  t.same(decodeProtobufObject(configMap, { apiVersion: 'v1', kind: 'ConfigMap' }), { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'cm' }, data: { k: 'v' } })
})

t.test('names from the body are cut short in errors', async (t) => {
  const long = 'K'.repeat(100_000)
  const err = t.throws(() => decodeProtobufObject(envelope(typeMeta('v1', long)), { apiVersion: 'v1', kind: 'ServiceAccount' })) as Error
  t.ok(err.message.length < 300, err.message.slice(0, 300))
  t.match(err.message, /the body is a K{100}… \(v1\)/)
  const unknownKind = t.throws(() => decodeProtobufObject(envelope(typeMeta(long, 'X')))) as Error
  t.ok(unknownKind.message.length < 300)
})
