// Protobuf request bodies through parseBody and the server: decoded for every kind with a
// protobuf form, 400 when malformed or of the wrong kind, 415 for a kind without one.
import t from 'tap'
import { bodyKind, parseBody } from '../../src/apiserver/http-io.ts'
import { resolveRequest, type ResourceRequest } from '../../src/apiserver/request-info.ts'
import { ApiError } from '../../src/util/errors.ts'
import { kubectlBodies } from '../helpers/protobuf-kubectl-bodies.ts'
import { call, startTestServer, userCredentials } from '../helpers/apiserver.ts'
import { encodeObject } from '../helpers/protobuf.ts'

const protobuf = 'application/vnd.kubernetes.protobuf'
const body = (kind: string) => Buffer.from(kubectlBodies[kind], 'hex')
const request = (method: string, path: string) => resolveRequest(method, path, new URLSearchParams()) as ResourceRequest

t.test('bodyKind: the kinds a body may be', async (t) => {
  t.same(bodyKind(request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')), [{ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview' }])
  t.same(bodyKind(request('POST', '/api/v1/namespaces/ci/serviceaccounts/robot/token')), [{ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' }])
  t.same(bodyKind(request('PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/approval')), [{ apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest' }])
  t.same(bodyKind(request('POST', '/api/v1/namespaces/ci/configmaps')), [{ apiVersion: 'v1', kind: 'ConfigMap' }])
  t.same(bodyKind(request('POST', '/api/v1/namespaces/ci/pods/p/binding')), [{ apiVersion: 'v1', kind: 'Binding' }])
  t.same(bodyKind(request('PUT', '/apis/apps/v1/namespaces/ci/deployments/d/scale')), [{ apiVersion: 'autoscaling/v1', kind: 'Scale' }])
  t.same(bodyKind(request('DELETE', '/apis/apps/v1/namespaces/ci/deployments/d')).map((k) => `${k.apiVersion} ${k.kind}`), ['apps/v1 DeleteOptions', 'v1 DeleteOptions', 'meta.k8s.io/v1 DeleteOptions'])
  t.same(bodyKind(request('DELETE', '/api/v1/namespaces/ci/pods/p')).map((k) => k.apiVersion), ['v1', 'meta.k8s.io/v1'])
})

t.test('parseBody decodes protobuf for the kinds the request takes', async (t) => {
  const sa = { apiVersion: 'v1', kind: 'ServiceAccount' }
  t.same(parseBody(body('ServiceAccount'), protobuf, sa), { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'robot' } })
  const refused = (fn: () => unknown) => {
    try {
      fn()
    } catch (err) {
      return err as ApiError
    }
    throw new Error('expected a refusal')
  }
  const noKind = refused(() => parseBody(body('ServiceAccount'), protobuf))
  t.equal(noKind.code, 415, 'no expected kind: nothing to decode into')
  t.match(noKind.message, /accepted media types include: application\/json, application\/yaml, application\/vnd.kubernetes.protobuf/)
  t.equal(refused(() => parseBody(body('ServiceAccount'), protobuf, { apiVersion: 'example.com/v1', kind: 'Widget' })).code, 415, 'a kind without a protobuf form')
  t.equal(refused(() => parseBody(body('ServiceAccount'), protobuf, { apiVersion: 'v1', kind: 'ConfigMap' })).code, 400, 'a ServiceAccount where a ConfigMap was due')
  const wrong = refused(() => parseBody(body('TokenRequest'), protobuf, sa))
  t.equal(wrong.code, 400)
  t.equal(wrong.reason, 'BadRequest')
  t.match(wrong.message, /not valid Kubernetes protobuf: the body is a TokenRequest \(authentication.k8s.io\/v1\), but this request takes a ServiceAccount \(v1\)/)
  const truncated = refused(() => parseBody(body('ServiceAccount').subarray(0, 40), protobuf, sa))
  t.equal(truncated.code, 400)
  t.match(truncated.message, /runs past the end/)
  t.same(parseBody(Buffer.from('{"kind":"ServiceAccount"}'), 'application/json', sa), { kind: 'ServiceAccount' }, 'JSON is unchanged')
})

t.test('over HTTPS: protobuf reviews are answered, bad bodies are Status errors', async (t) => {
  const { url } = await startTestServer(t)
  const headers = { 'content-type': protobuf }
  const sar = await call(url, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body('SelfSubjectAccessReview'), headers)
  t.equal(sar.status, 201)
  t.same(sar.body.status, { allowed: true })
  t.same(sar.body.spec.resourceAttributes, { namespace: 'shop', verb: 'list', resource: 'pods', subresource: 'log' })
  const dev = await userCredentials('dana', ['dev'])
  const danaSar = await call(url, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body('SelfSubjectAccessReview'), headers, dev)
  t.equal(danaSar.body.status.allowed, false)
  for (const groups of [['dev'], ['dev', 'system:authenticated']]) {
    const json = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'dana', groups, extra: { scopes: ['a'] }, nonResourceAttributes: { path: '/healthz', verb: 'get' } } }
    const asProtobuf = await call(url, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', encodeObject(json), headers)
    const asJson = await call(url, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', json)
    t.equal(asProtobuf.status, 201, JSON.stringify(asProtobuf.body))
    t.same(asProtobuf.body, asJson.body, `the same answer as for JSON (groups ${groups})`)
    t.equal(asProtobuf.body.status.allowed, groups.includes('system:authenticated'), 'only system:authenticated may read /healthz')
  }
  const wrongKind = await call(url, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', body('SelfSubjectReview'), headers)
  t.equal(wrongKind.status, 400)
  t.equal(wrongKind.body.kind, 'Status')
  t.match(wrongKind.body.message, /but this request takes a TokenReview/)
  const garbage = await call(url, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', Buffer.from('k8s\0\x0a\xff\xff\xff\xff\x0f', 'latin1'), headers)
  t.equal(garbage.status, 400)
  t.match(garbage.body.message, /not valid Kubernetes protobuf: length .* is beyond the 3145728-byte limit/)
  const empty = await call(url, 'DELETE', '/api/v1/namespaces/default/serviceaccounts/default', Buffer.from('k8s\0', 'latin1'), headers)
  t.equal(empty.status, 400, 'an empty envelope is no DeleteOptions')
  t.match(empty.body.message, /does not name the object's apiVersion and kind/)
})
